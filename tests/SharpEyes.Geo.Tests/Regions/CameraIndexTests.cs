using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Projection;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Geo.Tests.Regions;

public sealed class CameraIndexTests
{
    private const double Lon = 114.6;
    private const double Lat = 37.6;
    private static readonly LocalProjection s_local = new(Lon, Lat);

    private static (double Lon, double Lat) At(double bearingDeg, double distanceM)
    {
        double b = bearingDeg * Math.PI / 180;
        return s_local.Unproject(distanceM * Math.Sin(b), distanceM * Math.Cos(b));
    }

    [Fact]
    public void FixedCameraSeesOnlyItsSector()
    {
        var index = new CameraIndex();
        index.Upsert("cam-1", Lon, Lat, azimuthDeg: 90, hfovDeg: 60, rangeM: 50, ptz: false);

        var inside = At(100, 40);
        var behind = At(270, 10);
        var beyond = At(90, 55);
        Assert.Equal(["cam-1"], index.CamerasSeeing(inside.Lon, inside.Lat));
        Assert.Empty(index.CamerasSeeing(behind.Lon, behind.Lat));
        Assert.Empty(index.CamerasSeeing(beyond.Lon, beyond.Lat));
        Assert.Equal(["cam-1"], index.CamerasSeeing(Lon, Lat));
    }

    [Fact]
    public void PtzCameraSeesInEveryDirectionWithinRange()
    {
        var index = new CameraIndex();
        index.Upsert("ptz-1", Lon, Lat, azimuthDeg: 90, hfovDeg: 30, rangeM: 100, ptz: true);
        foreach (int bearing in new[] { 0, 90, 180, 270 })
        {
            var p = At(bearing, 95);
            Assert.Equal(["ptz-1"], index.CamerasSeeing(p.Lon, p.Lat));
            var q = At(bearing, 105);
            Assert.Empty(index.CamerasSeeing(q.Lon, q.Lat));
        }
    }

    [Fact]
    public void UpsertMovesAndRemoveForgets()
    {
        var index = new CameraIndex();
        index.Upsert("cam-1", Lon, Lat, 0, 90, 50, false);
        var north = At(0, 30);
        var south = At(180, 30);
        Assert.Single(index.CamerasSeeing(north.Lon, north.Lat));

        index.Upsert("cam-1", Lon, Lat, 180, 90, 50, false);
        Assert.Empty(index.CamerasSeeing(north.Lon, north.Lat));
        Assert.Single(index.CamerasSeeing(south.Lon, south.Lat));
        Assert.Equal(1, index.Count);

        Assert.True(index.Remove("cam-1"));
        Assert.False(index.Remove("cam-1"));
        Assert.Empty(index.CamerasSeeing(south.Lon, south.Lat));
        Assert.Equal(0, index.Count);
    }

    /// <summary>
    /// Answers are kept by point (alarm devices do not move) and follow every write: the same point asked again
    /// between writes, after a camera is added or removed, and past the bound of points kept.
    /// </summary>
    [Fact]
    public void RepeatedPointsFollowEveryWrite()
    {
        var index = new CameraIndex();
        var p = At(45, 20);
        for (int i = 0; i < 30; i++)
        {
            Assert.Equal(i, index.CamerasSeeing(p.Lon, p.Lat).Count);
            Assert.Equal(i, index.CamerasSeeing(p.Lon, p.Lat).Count); // the kept answer
            index.Upsert($"cam-{i:D2}", Lon, Lat, 45, 90, 50, false);
        }

        Assert.True(index.Remove("cam-00"));
        Assert.Equal(29, index.CamerasSeeing(p.Lon, p.Lat).Count);
        index.Upsert("cam-01", Lon, Lat, 225, 90, 50, false); // turned away
        Assert.Equal(28, index.CamerasSeeing(p.Lon, p.Lat).Count);
        Assert.DoesNotContain("cam-01", index.CamerasSeeing(p.Lon, p.Lat));

        // More distinct points than are kept: the store is emptied when full, and every answer stays right.
        for (int i = 0; i < CameraIndex.MaxCachedPoints + 100; i++)
        {
            var q = At(45, 10 + (i * 1e-4));
            Assert.Equal(28, index.CamerasSeeing(q.Lon, q.Lat).Count);
        }

        Assert.Equal(28, index.CamerasSeeing(p.Lon, p.Lat).Count);
    }

    [Fact]
    public void WideRangeCamerasAreFound()
    {
        var index = new CameraIndex();
        index.Upsert("tower", Lon, Lat, 0, 360, 20_000, false);
        var p = At(123, 19_000);
        Assert.Equal(["tower"], index.CamerasSeeing(p.Lon, p.Lat));
        Assert.True(index.Remove("tower"));
        Assert.Empty(index.CamerasSeeing(p.Lon, p.Lat));
    }

    [Fact]
    public void TwentyThousandCamerasAgreeWithBruteForceSectors()
    {
        var index = new CameraIndex();
        var cameras = new List<(string Id, double Lon, double Lat, double Az, double Hfov, double Range, bool Ptz)>();
        ulong state = 99;
        double Next()
        {
            state = (state * 6364136223846793005UL) + 1442695040888963407UL;
            return (state >> 11) * (1.0 / (1UL << 53));
        }

        for (int i = 0; i < 20_000; i++)
        {
            var camera = ($"cam-{i:D5}", 114.45 + (Next() * 0.3), 37.45 + (Next() * 0.3), Next() * 360, 30 + (Next() * 90), 20 + (Next() * 200), Next() < 0.1);
            cameras.Add(camera);
            index.Upsert(camera.Item1, camera.Item2, camera.Item3, camera.Item4, camera.Item5, camera.Item6, camera.Item7);
        }

        var projections = cameras.Select(c => new LocalProjection(c.Lon, c.Lat)).ToArray();
        int hits = 0;
        for (int q = 0; q < 2000; q++)
        {
            // Half the probes near a camera (so there are hits), half anywhere.
            var near = cameras[(int)(Next() * cameras.Count)];
            double lon = q % 2 == 0 ? near.Lon + ((Next() - 0.5) * 0.004) : 114.45 + (Next() * 0.3);
            double lat = q % 2 == 0 ? near.Lat + ((Next() - 0.5) * 0.004) : 37.45 + (Next() * 0.3);
            var expected = new List<string>();
            for (int i = 0; i < cameras.Count; i++)
            {
                var c = cameras[i];
                if (Math.Abs(c.Lat - lat) > 0.003 || Math.Abs(c.Lon - lon) > 0.004)
                {
                    continue; // > 220 m away in latitude or longitude: beyond every range here
                }

                if (Sector.Contains(projections[i], c.Lon, c.Lat, c.Az, c.Ptz ? 360 : c.Hfov, c.Range, lon, lat))
                {
                    expected.Add(c.Id);
                }
            }

            Assert.Equal(expected.Order(StringComparer.Ordinal), index.CamerasSeeing(lon, lat));
            hits += expected.Count;
        }

        Assert.True(hits > 100, $"only {hits} hits: the test would prove little");
    }

    [Fact]
    public async Task ReadersRunConcurrentlyWithAWriter()
    {
        var index = new CameraIndex();
        for (int i = 0; i < 1000; i++)
        {
            index.Upsert($"static-{i}", Lon + (i * 1e-4), Lat, 0, 360, 30, false);
        }

        var probe = At(0, 10);
        var token = TestContext.Current.CancellationToken;
        var writer = Task.Run(
            () =>
        {
            for (int round = 0; round < 2000; round++)
            {
                index.Upsert("moving", Lon + ((round % 100) * 1e-3), Lat, round % 360, 90, 100, round % 2 == 0);
                if (round % 10 == 0)
                {
                    index.Remove("moving");
                }
            }
        },
            token);
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(
            () =>
        {
            int reads = 0;
            while (!writer.IsCompleted)
            {
                var seen = index.CamerasSeeing(probe.Lon, probe.Lat);
                // static-0 sits at the centre with a 30 m full circle and never moves: it must always be seen.
                Assert.Contains("static-0", seen);
                Assert.Equal(seen.Count, seen.Distinct().Count());
                reads++;
            }

            return reads;
        },
            token)).ToArray();

        await writer;
        var reads = await Task.WhenAll(readers);
        Assert.All(reads, r => Assert.True(r >= 0));
        Assert.Equal(1001, index.Count);
    }
}
