using System.Collections.Concurrent;
using NetTopologySuite.Geometries;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Demo;
using SharpEyes.Geo.Regions;
using static SharpEyes.Geo.Tests.Coverage.CoverageFixtures;

namespace SharpEyes.Geo.Tests.Coverage;

public sealed class IncrementalCoverageTests
{
    private const string West = "130127100001001";
    private const string East = "130127100001002";

    private static readonly GridFeature[] s_squares =
        [Square(West, 114.59, 37.69, 114.60, 37.70), Square(East, 114.60, 37.69, 114.61, 37.70)];

    private static readonly RegionIndex s_pair = new(
        s_squares,
        [
            new KeySiteFeature("KS-W", "w", "school", 5, Wgs84.CreatePoint(new Coordinate(114.595, 37.6955))),
            new KeySiteFeature("KS-E", "e", "market", 3, MetricRectangle(ProjectionFor(s_squares), 400, 100, 450, 150)),
        ]);

    private static readonly CoverageRules s_rules = new();

    private enum Change
    {
        Move,
        Reaim,
        Status,
        Ptz,
        Remove,
        Add,
    }

    [Fact]
    public void OnlyTouchedGridsAndSitesAreRecomputedWithTheCameraAsCause()
    {
        var model = new CoverageModel(s_pair, s_rules);
        model.Recompute();

        // Looking at the west site from 30 m south.
        var camera = Camera("c1", 114.595, 37.6952, 0, 40, 60);
        model.Upsert(camera);
        var added = model.Recompute();
        Assert.Equal([West], added.Grids.Select(g => g.After.Code));
        Assert.Equal(["c1"], Assert.Single(added.Grids).Causes);
        Assert.NotNull(added.Grids[0].Before);
        Assert.Equal(["KS-W"], added.Sites.Select(s => s.After.Code));
        Assert.True(added.Sites[0].After.DeclaredCovered);
        Assert.False(added.Sites[0].Before!.DeclaredCovered);

        // Moved east: both grids (old and new wedge), the west site it left, the east site it now sees.
        var projection = s_pair.Projection;
        var (siteLon, siteLat) = projection.Unproject(425, 80);
        var moved = camera with { Lon = siteLon, Lat = siteLat };
        model.Upsert(moved);
        var change = model.Recompute();
        Assert.Equal([West, East], change.Grids.Select(g => g.After.Code));
        Assert.All(change.Grids, g => Assert.Equal(["c1"], g.Causes));
        Assert.Equal(["KS-E", "KS-W"], change.Sites.Select(s => s.After.Code));
        Assert.False(model.Site("KS-W")!.DeclaredCovered);
        Assert.True(model.Site("KS-E")!.DeclaredFraction > 0);

        // Unchanged upsert: nothing to do.
        model.Upsert(moved);
        Assert.Empty(model.Recompute().Grids);

        // Status only: the same grid and site, with equal declared and changed real coverage.
        model.Upsert(moved with { Online = false });
        var status = model.Recompute();
        var grid = Assert.Single(status.Grids);
        Assert.Equal(East, grid.After.Code);
        Assert.Equal(grid.Before!.DeclaredCoveredM2, grid.After.DeclaredCoveredM2);
        Assert.Equal(0, grid.After.RealCoveredM2);
        Assert.Equal(["KS-E"], status.Sites.Select(s => s.After.Code));

        // Two cameras changed before one recompute: both are causes, ordered.
        model.Upsert(Camera("c0", 114.6005, 37.6902, 0, 40, 60));
        model.Remove("c1");
        var both = model.Recompute();
        Assert.Equal(["c0", "c1"], Assert.Single(both.Grids).Causes);
        Assert.False(model.Remove("c1"));
    }

    [Fact]
    public void IncrementalRecomputeEqualsAFreshRecomputeAll()
    {
        var index = DemoCounty;
        var projection = index.Projection;
        var rng = new SplitMix64(0x1C2E);
        var envelope = index.Grids.Single(g => g.Level == GridFeature.CountyLevel).Geometry.EnvelopeInternal;
        var cameras = RandomCameras(index, 300, 0xBEEF).ToDictionary(c => c.Id, StringComparer.Ordinal);
        var model = new CoverageModel(index, s_rules);
        foreach (var camera in cameras.Values)
        {
            model.Upsert(camera);
        }

        model.Recompute();
        AssertSameAsFresh(model, cameras.Values);

        var metricGrids = model.LevelFourGrids.ToDictionary(g => g.Code, g => projection.Project(g.Geometry), StringComparer.Ordinal);
        var metricSites = index.KeySites.ToDictionary(s => s.Code, s => projection.Project(s.Geometry), StringComparer.Ordinal);
        var kinds = new HashSet<Change>();
        int reportedGrids = 0, reportedSites = 0, added = 0;
        for (int op = 0; op < 60; op++)
        {
            var beforeGrids = model.GridsWithPrefix("").ToDictionary(g => g.Code, StringComparer.Ordinal);
            var beforeSites = model.SitesWithPrefix("").ToDictionary(s => s.Code, StringComparer.Ordinal);
            var ids = cameras.Keys.Order(StringComparer.Ordinal).ToList();
            var kind = (Change)rng.NextInt(6);
            string id = kind == Change.Add ? $"new-{added++:D3}" : ids[rng.NextInt(ids.Count)];
            var old = cameras.GetValueOrDefault(id);
            CameraFov? now = kind switch
            {
                Change.Move or Change.Add => RandomCamera(index, rng, id, envelope, projection, rng.NextInt(2) == 0),
                Change.Reaim => old! with { AzimuthDeg = rng.NextDouble() * 360, HfovDeg = 10 + (rng.NextDouble() * 200), RangeM = 20 + (rng.NextDouble() * 300) },
                Change.Status => rng.NextInt(2) == 0 ? old! with { Online = !old.Online } : old! with { Faulty = !old.Faulty },
                Change.Ptz => old! with { Ptz = !old.Ptz },
                _ => null,
            };
            if (now is null)
            {
                Assert.True(model.Remove(id));
                cameras.Remove(id);
            }
            else
            {
                model.Upsert(now);
                cameras[id] = now;
            }

            kinds.Add(kind);
            var changes = model.Recompute();

            // Reported with this camera as the cause and the previous value as Before.
            Assert.All(changes.Grids, g => Assert.Equal([id], g.Causes));
            Assert.All(changes.Sites, s => Assert.Equal([id], s.Causes));
            Assert.All(changes.Grids, g => Assert.Equal(beforeGrids[g.After.Code], g.Before));
            Assert.All(changes.Sites, s => Assert.Equal(beforeSites[s.After.Code], s.Before));
            reportedGrids += changes.Grids.Count;
            reportedSites += changes.Sites.Count;

            // Exactly what the old or new footprint touches: at least everything it overlaps, nothing it does not touch.
            var footprints = new[] { old, now }.OfType<CameraFov>().SelectMany(c => Footprints(projection, c)).ToList();
            var gridCodes = changes.Grids.Select(g => g.After.Code).ToHashSet(StringComparer.Ordinal);
            var touchedGrids = metricGrids.Where(g => footprints.Any(f => f.Intersects(g.Value))).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
            Assert.True(gridCodes.SetEquals(touchedGrids), $"op {op} {kind} {id}: reported [{string.Join(",", gridCodes)}], touched [{string.Join(",", touchedGrids)}]");
            foreach (var grid in model.GridsWithPrefix(""))
            {
                Assert.True(grid.Equals(beforeGrids[grid.Code]) || gridCodes.Contains(grid.Code), $"{grid.Code} changed but was not reported");
            }

            var wedges = new[] { old, now }.OfType<CameraFov>().ToList();
            var siteCodes = changes.Sites.Select(s => s.After.Code).ToHashSet(StringComparer.Ordinal);
            var touchedSites = index.KeySites
                .Where(s => wedges.Any(w => s.Geometry is Point p
                    ? w.RangeM > 0 && w.HfovDeg > 0 && Sector.Contains(projection, w.Lon, w.Lat, w.AzimuthDeg, w.HfovDeg, w.RangeM, p.X, p.Y)
                    : Wedge.Metric(projection, w).Intersects(metricSites[s.Code])))
                .Select(s => s.Code)
                .ToHashSet(StringComparer.Ordinal);
            Assert.True(siteCodes.SetEquals(touchedSites), $"op {op} {kind} {id}: sites [{string.Join(",", siteCodes)}] vs [{string.Join(",", touchedSites)}]");
            foreach (var site in model.SitesWithPrefix(""))
            {
                Assert.True(site.Equals(beforeSites[site.Code]) || siteCodes.Contains(site.Code), $"{site.Code} changed but was not reported");
            }

            AssertSameAsFresh(model, cameras.Values);
        }

        Assert.Equal(6, kinds.Count);
        Assert.True(reportedGrids > 60, $"only {reportedGrids} grid recomputations");
        Assert.True(reportedSites > 5, $"only {reportedSites} site recomputations");
    }

    [Fact]
    public async Task ReadersRunSafelyWhileTheWriterChangesCameras()
    {
        var index = DemoCounty;
        var cameras = RandomCameras(index, 200, 77).ToDictionary(c => c.Id, StringComparer.Ordinal);
        var model = new CoverageModel(index, s_rules);
        foreach (var camera in cameras.Values)
        {
            model.Upsert(camera);
        }

        model.Recompute();
        var errors = new ConcurrentQueue<Exception>();
        var codes = model.LevelFourGrids.Select(g => g.Code).ToArray();
        var ids = cameras.Keys.ToArray();
        int done = 0;
        long reads = 0;
        var readers = Enumerable.Range(0, 2).Select(r => Task.Run(() =>
        {
            var rng = new SplitMix64((ulong)r + 1);
            do
            {
                try
                {
                    string code = codes[rng.NextInt(codes.Length)];
                    var grid = model.Grid(code)!;
                    Assert.InRange(grid.RealFraction, 0, 1);
                    Assert.InRange(grid.RealCoveredM2, 0, grid.DeclaredCoveredM2 + 1e-6);
                    Assert.Equal(codes.Length, model.GridsWithPrefix("").Count);
                    Assert.True(model.Summarize("130127").Grids == codes.Length);
                    model.SitesWithPrefix("130127");
                    model.Cameras();
                    _ = model.CameraCount;
                    string id = ids[rng.NextInt(ids.Length)];
                    model.Camera(id);
                    model.GridSharesOf(id);
                    model.CameraGridCode(id);
                    model.WorkingCamerasSeeing((rng.NextDouble() - 0.5) * 20_000, (rng.NextDouble() - 0.5) * 20_000);
                    model.UncoveredMetric(code, (CoverageTruth)rng.NextInt(3));
                    try
                    {
                        model.WedgeWgs84(id, potential: rng.NextInt(2) == 0);
                    }
                    catch (KeyNotFoundException)
                    {
                        // Removed by the writer meanwhile.
                    }

                    Interlocked.Increment(ref reads);
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                }
            }
            while (Volatile.Read(ref done) == 0);
        })).ToArray();

        var rng = new SplitMix64(5150);
        var envelope = index.Grids.Single(g => g.Level == GridFeature.CountyLevel).Geometry.EnvelopeInternal;
        for (int i = 0; i < 150; i++)
        {
            string id = ids[rng.NextInt(ids.Length)];
            if (rng.NextInt(5) == 0 && cameras.Remove(id))
            {
                model.Remove(id);
            }
            else
            {
                var camera = RandomCamera(index, rng, id, envelope, index.Projection, rng.NextInt(2) == 0);
                cameras[id] = camera;
                model.Upsert(camera);
            }

            if (i % 10 == 9)
            {
                model.Recompute();
            }
        }

        model.Recompute();
        Volatile.Write(ref done, 1);
        await Task.WhenAll(readers);

        Assert.Empty(errors);
        Assert.True(Interlocked.Read(ref reads) >= 2);
        AssertSameAsFresh(model, cameras.Values);
    }

    /// <summary>
    /// A grid of 400 overlapping wedges (issue 17's densest case): a change recomputes only the tiles the camera's old and
    /// new footprint touch, and after every change the grid equals, bit for bit, a fresh model's full recompute, and its
    /// areas equal NetTopologySuite's overlay of the same wedges.
    /// </summary>
    [Fact]
    public void ADenseGridRecomputedTileByTileEqualsAFullRecomputeAndTheOverlay()
    {
        var projection = s_pair.Projection;
        var west = s_squares[0].Geometry.EnvelopeInternal;
        var rng = new SplitMix64(0xD3A5E);
        CameraFov Random(string id)
        {
            double lon = west.MinX + (rng.NextDouble() * west.Width), lat = west.MinY + (rng.NextDouble() * west.Height);
            return new CameraFov(id, lon, lat, rng.NextDouble() * 360, rng.NextDouble() < 0.05 ? 360 : 20 + (rng.NextDouble() * 120),
                20 + (rng.NextDouble() * 100), rng.NextDouble() < 0.15, rng.NextDouble() > 0.1, rng.NextDouble() < 0.05);
        }

        var cameras = Enumerable.Range(0, 400).Select(i => Random($"d{i:D3}")).ToDictionary(c => c.Id, StringComparer.Ordinal);
        var model = new CoverageModel(s_pair, s_rules);
        foreach (var camera in cameras.Values)
        {
            model.Upsert(camera);
        }

        model.Recompute();
        Assert.True(model.Grid(West)!.Shares.Count >= 390, $"{model.Grid(West)!.Shares.Count} cameras in the grid");
        var metricWest = projection.Project(s_squares[0].Geometry);
        for (int op = 0; op < 25; op++)
        {
            var id = $"d{rng.NextInt(400):D3}";
            var changed = (op % 3) switch
            {
                0 => Random(id),
                1 => cameras[id] with { Online = !cameras[id].Online },
                _ => cameras[id] with { AzimuthDeg = (cameras[id].AzimuthDeg + 40) % 360 },
            };
            cameras[id] = changed;
            model.Upsert(changed);
            model.Recompute();
            AssertSameAsFresh(model, cameras.Values);
        }

        // Fewer cameras, then more again: the grid's tiling changes size on the way (it follows the count of
        // footprints), and every step still equals a fresh model.
        for (int op = 0; op < 8; op++)
        {
            var ids = cameras.Keys.Order(StringComparer.Ordinal).Skip(op * 7).Take(7).ToList();
            foreach (var id in ids)
            {
                Assert.True(model.Remove(id));
                cameras.Remove(id);
            }

            model.Recompute();
            AssertSameAsFresh(model, cameras.Values);
        }

        for (int op = 0; op < 4; op++)
        {
            foreach (var camera in Enumerable.Range(0, 14).Select(i => Random($"e{op}{i:D2}")))
            {
                model.Upsert(camera);
                cameras[camera.Id] = camera;
            }

            model.Recompute();
            AssertSameAsFresh(model, cameras.Values);
        }

        var grid = model.Grid(West)!;
        var working = cameras.Values.Where(c => c.Working).Select(c => (Geometry)Wedge.Metric(projection, c)).ToList();
        var declared = cameras.Values.Select(c => (Geometry)Wedge.Metric(projection, c)).ToList();
        Assert.Equal(OverlayCoveredArea(metricWest, working), grid.RealCoveredM2, grid.AreaM2 * 1e-7);
        Assert.Equal(OverlayCoveredArea(metricWest, declared), grid.DeclaredCoveredM2, grid.AreaM2 * 1e-7);
        var potential = cameras.Values.Select(c => Footprint(projection, c, CoverageTruth.Potential)).ToList();
        Assert.Equal(OverlayCoveredArea(metricWest, potential), grid.PotentialCoveredM2, grid.AreaM2 * 1e-7);

        // Each camera's share of the grid is its own wedge's area inside the grid (summed over the tiles it reaches,
        // most of it measured in tiles its wedge spills past), against the overlay of that one wedge.
        var shares = grid.Shares.ToDictionary(s => s.CameraId, s => s.Share, StringComparer.Ordinal);
        int checkedShares = 0;
        foreach (var camera in cameras.Values)
        {
            var wedge = Wedge.Metric(projection, camera);
            double expected = Math.Min(1.0, metricWest.Intersection(wedge).Area / wedge.Area);
            if (expected > 1e-4)
            {
                Assert.True(shares.TryGetValue(camera.Id, out double share), $"{camera.Id} sees {expected:P2} of the grid but has no share");
                Assert.Equal(expected, share, 1e-7);
                checkedShares++;
            }
        }

        Assert.True(checkedShares >= 390, $"{checkedShares} shares checked");
    }

    /// <summary>
    /// A status change (online, faulty) leaves the footprint as it was, so only the tiles under the wedge are measured
    /// again, and only when the camera starts or stops working; a PTZ camera's circle reaches tiles its wedge does not.
    /// PTZ cameras of a dense grid go offline, come back, turn faulty and back, several in one batch too: after each
    /// recompute the model equals a fresh full recompute bit for bit, and the grid's real coverage moves exactly when a
    /// camera started or stopped working and its wedge reaches uncovered ground.
    /// </summary>
    [Fact]
    public void StatusChangesOfPtzCamerasInADenseGridEqualAFullRecompute()
    {
        var projection = s_pair.Projection;
        var west = s_squares[0].Geometry.EnvelopeInternal;
        var rng = new SplitMix64(0x57A7E);
        var cameras = Enumerable.Range(0, 400).Select(i => new CameraFov(
                $"p{i:D3}", west.MinX + (rng.NextDouble() * west.Width), west.MinY + (rng.NextDouble() * west.Height), rng.NextDouble() * 360,
                20 + (rng.NextDouble() * 120), 20 + (rng.NextDouble() * 100), Ptz: i % 3 == 0, Online: true, Faulty: false))
            .ToDictionary(c => c.Id, StringComparer.Ordinal);
        var model = new CoverageModel(s_pair, s_rules);
        foreach (var camera in cameras.Values)
        {
            model.Upsert(camera);
        }

        model.Recompute();
        var ptz = cameras.Values.Where(c => c.Ptz).Select(c => c.Id).Order(StringComparer.Ordinal).ToList();
        int moved = 0;
        for (int op = 0; op < 16; op++)
        {
            double realBefore = model.Grid(West)!.RealCoveredM2;
            int n = op % 4 == 3 ? 5 : 1;
            var changedIds = Enumerable.Range(0, n).Select(_ => ptz[rng.NextInt(ptz.Count)]).Distinct(StringComparer.Ordinal).ToList();
            using (model.BeginBatch())
            {
                foreach (var id in changedIds)
                {
                    var camera = cameras[id];
                    cameras[id] = (op % 2 == 0) ? camera with { Online = !camera.Online } : camera with { Faulty = !camera.Faulty };
                    model.Upsert(cameras[id]);
                }
            }

            var changes = model.Recompute();
            Assert.Contains(changes.Grids, g => g.After.Code == West);
            AssertSameAsFresh(model, cameras.Values);
            moved += model.Grid(West)!.RealCoveredM2.Equals(realBefore) ? 0 : 1;
        }

        // The toggles changed what working cameras cover (so the tiles under the wedges were measured again), and the
        // potential coverage, which the circles make, stayed what the overlay of every footprint gives.
        Assert.True(moved >= 8, $"real coverage moved in only {moved} of 16 recomputes");
        var potential = cameras.Values.Select(c => Footprint(projection, c, CoverageTruth.Potential)).ToList();
        var grid = model.Grid(West)!;
        Assert.Equal(OverlayCoveredArea(projection.Project(s_squares[0].Geometry), potential), grid.PotentialCoveredM2, grid.AreaM2 * 1e-7);
    }

    /// <summary>
    /// A recompute within a time budget leaves what it did not reach dirty, with its causes: calls until nothing is
    /// dirty report every grid and site once, with the cameras that made it dirty, and end equal to a fresh model.
    /// </summary>
    [Fact]
    public void ARecomputeWithinABudgetLeavesTheRestForTheNextCall()
    {
        var cameras = RandomCameras(DemoCounty, 200, 0xB0D6E7);
        var model = new CoverageModel(DemoCounty, s_rules);
        model.Recompute();
        foreach (var camera in cameras)
        {
            model.Upsert(camera);
        }

        var grids = new List<string>();
        var causes = new HashSet<string>(StringComparer.Ordinal);
        int calls = 0;
        while (model.HasDirty)
        {
            var part = model.Recompute(TimeSpan.Zero); // one batch per call
            Assert.NotEmpty(part.Grids.Select(g => g.After.Code).Concat(part.Sites.Select(s => s.After.Code)));
            grids.AddRange(part.Grids.Select(g => g.After.Code));
            causes.UnionWith(part.Grids.SelectMany(g => g.Causes));
            calls++;
            Assert.True(calls < 10_000, "the budgeted recompute does not finish");
        }

        Assert.True(calls > 1, $"one call recomputed everything ({calls})");
        Assert.Equal(grids.Count, grids.Distinct(StringComparer.Ordinal).Count());
        Assert.True(causes.IsSupersetOf(cameras.Where(c => model.GridSharesOf(c.Id).Count > 0).Select(c => c.Id)),
            "every camera with a share in a grid is a cause of that grid's recompute");
        Assert.True(causes.IsSubsetOf(cameras.Select(c => c.Id)));
        Assert.Empty(model.Recompute().Grids);
        AssertSameAsFresh(model, cameras);
    }

    /// <summary>
    /// A batch of writes (<see cref="CoverageModel.BeginBatch"/>, as a bulk registration makes one) ends with the same
    /// model as the same writes one at a time: cameras added, one registered twice with another wedge, one added and
    /// removed within the batch, existing ones moved, re-aimed, taken offline and removed. Until the batch ends readers
    /// see the camera lists as they were; a recompute inside the batch merges what is pending first.
    /// </summary>
    [Fact]
    public void ABatchOfWritesEndsEqualToTheSameWritesOneByOne()
    {
        var index = DemoCounty;
        var envelope = index.Grids.Single(g => g.Level == GridFeature.CountyLevel).Geometry.EnvelopeInternal;
        var existing = RandomCameras(index, 150, 0xBA7C).ToList();
        var batched = new CoverageModel(index, s_rules);
        var single = new CoverageModel(index, s_rules);
        foreach (var camera in existing)
        {
            batched.Upsert(camera);
            single.Upsert(camera);
        }

        batched.Recompute();
        single.Recompute();
        var rng = new SplitMix64(0xBA7C2);
        var writes = new List<(string Id, CameraFov? Camera)>();
        for (int i = 0; i < 120; i++)
        {
            writes.Add(($"b{i:D3}", RandomCamera(index, rng, $"b{i:D3}", envelope, index.Projection, rng.NextInt(2) == 0)));
        }

        writes.Add(("b007", RandomCamera(index, rng, "b007", envelope, index.Projection, nearSite: false))); // twice in the batch
        writes.Add(("b011", null)); // added and removed in the batch
        foreach (var camera in existing.Take(40))
        {
            writes.Add(rng.NextInt(4) switch
            {
                0 => (camera.Id, null),
                1 => (camera.Id, camera with { Online = !camera.Online }),
                2 => (camera.Id, camera with { AzimuthDeg = (camera.AzimuthDeg + 90) % 360 }),
                _ => (camera.Id, RandomCamera(index, rng, camera.Id, envelope, index.Projection, nearSite: true)),
            });
        }

        double Uncovered(CoverageModel model) => model.LevelFourGrids.Sum(g => model.UncoveredMetric(g.Code, CoverageTruth.Declared).Area);
        var before = Uncovered(batched);
        using (batched.BeginBatch())
        {
            using (batched.BeginBatch())
            {
                foreach (var (id, camera) in writes.Take(60))
                {
                    Apply(batched, id, camera);
                }
            }

            foreach (var (id, camera) in writes.Skip(60))
            {
                Apply(batched, id, camera);
            }

            // Still open: the cameras are there, the grids' lists (read by UncoveredMetric) not yet.
            var ids = existing.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
            foreach (var (id, camera) in writes)
            {
                _ = camera is null ? ids.Remove(id) : ids.Add(id);
            }

            Assert.Equal(ids.Count, batched.CameraCount);
            Assert.Equal(before, Uncovered(batched));
        }

        foreach (var (id, camera) in writes)
        {
            Apply(single, id, camera);
        }

        var changedBatched = batched.Recompute();
        var changedSingle = single.Recompute();
        Assert.Equal(changedSingle.Grids.Select(g => (g.Before, g.After, string.Join(",", g.Causes))), changedBatched.Grids.Select(g => (g.Before, g.After, string.Join(",", g.Causes))));
        Assert.Equal(changedSingle.Sites.Select(s => (s.Before, s.After, string.Join(",", s.Causes))), changedBatched.Sites.Select(s => (s.Before, s.After, string.Join(",", s.Causes))));
        var cameras = single.Cameras();
        Assert.Equal(cameras, batched.Cameras());
        AssertSameAsFresh(batched, cameras);
        foreach (var camera in cameras)
        {
            Assert.Equal(single.GridSharesOf(camera.Id), batched.GridSharesOf(camera.Id));
        }

        for (int i = 0; i < 500; i++)
        {
            var (x, y) = ((rng.NextDouble() - 0.5) * 12_000, (rng.NextDouble() - 0.5) * 12_000);
            Assert.Equal(single.WorkingCamerasSeeing(x, y), batched.WorkingCamerasSeeing(x, y));
        }

        foreach (var grid in batched.LevelFourGrids)
        {
            Assert.Equal(single.UncoveredMetric(grid.Code, CoverageTruth.Potential).Area, batched.UncoveredMetric(grid.Code, CoverageTruth.Potential).Area);
        }

        // A recompute while a batch is open merges the pending lists first.
        var extra = RandomCamera(index, rng, "c-extra", envelope, index.Projection, nearSite: false);
        using (batched.BeginBatch())
        {
            batched.Upsert(extra);
            single.Upsert(extra);
            Assert.Equal(single.Recompute().Grids.Select(g => g.After), batched.Recompute().Grids.Select(g => g.After));
        }

        AssertSameAsFresh(batched, single.Cameras());

        static void Apply(CoverageModel model, string id, CameraFov? camera)
        {
            if (camera is null)
            {
                model.Remove(id);
            }
            else
            {
                model.Upsert(camera);
            }
        }
    }

    /// <summary>Every grid and site of the model equals, bit for bit, a fresh model's (cameras added in reverse).</summary>
    private static void AssertSameAsFresh(CoverageModel model, IEnumerable<CameraFov> cameras)
    {
        var fresh = new CoverageModel(model.Regions, model.Rules);
        foreach (var camera in cameras.OrderByDescending(c => c.Id, StringComparer.Ordinal))
        {
            fresh.Upsert(camera);
        }

        fresh.RecomputeAll();
        Assert.Equal(fresh.GridsWithPrefix(""), model.GridsWithPrefix(""));
        Assert.Equal(fresh.SitesWithPrefix(""), model.SitesWithPrefix(""));
        Assert.Equal(fresh.Summarize(""), model.Summarize(""));
        Assert.Equal(fresh.Cameras(), model.Cameras());
    }

    private static IEnumerable<Geometry> Footprints(SharpEyes.Geo.Projection.LocalProjection projection, CameraFov camera)
    {
        yield return Wedge.Metric(projection, camera);
        if (camera.Ptz)
        {
            yield return Wedge.Metric(projection, camera, fullCircle: true);
        }
    }
}
