using System.Diagnostics;
using System.Text.Json;
using NetTopologySuite.Geometries;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Demo;
using SharpEyes.Geo.Projection;
using SharpEyes.Geo.Regions;
using SharpEyes.Geo.Tests.Oracle;
using static SharpEyes.Geo.Tests.Coverage.CoverageFixtures;

namespace SharpEyes.Geo.Tests.Coverage;

/// <summary>
/// Independent oracle: @turf/turf (polyclip-ts overlay, spherical area) computes grid ∩ union(wedges) from the
/// WGS-84 wedges the model publishes; the model's ellipsoidal-projection areas must agree within 0.5 %.
/// </summary>
public sealed class CoverageOracleTests
{
    /// <summary>Turf's spherical areas against our ellipsoidal ones: about 0.05 % apart at 37° N, well within this.</summary>
    private const double RelativeTolerance = 0.005;

    [Fact]
    public async Task DemoGridAreasAgreeWithTurf()
    {
        NodeOracle.SkipUnlessAvailable();
        var index = DemoCounty;
        var cameras = RandomCameras(index, 400, 0x7E57);
        var model = Model(index, null, [.. cameras]);

        var cases = new List<object>();
        var expected = new List<(string Code, CoverageTruth Truth, double Area, double Covered)>();
        foreach (var grid in model.LevelFourGrids)
        {
            var coverage = model.Grid(grid.Code)!;
            foreach (var truth in Enum.GetValues<CoverageTruth>())
            {
                cases.Add(new { grid = ToGeoJson(grid.Geometry), wedges = WedgesNear(model, cameras, grid.Geometry.EnvelopeInternal, truth) });
                expected.Add((grid.Code, truth, coverage.AreaM2, Covered(coverage, truth)));
            }
        }

        var results = await RunAsync(cases);
        int nonZero = 0;
        double worst = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            var (code, truth, area, covered) = expected[i];
            var result = results[i];
            AssertClose(area, result.GetProperty("grid").GetDouble(), $"{code} area");
            worst = Math.Max(worst, AssertClose(covered, result.GetProperty("covered").GetDouble(), $"{code} {truth} covered"));
            nonZero += covered > 0 ? 1 : 0;
        }

        TestContext.Current.SendDiagnosticMessage($"turf coverage oracle, demo county: {expected.Count} cases, {nonZero} covered, worst relative difference {worst:P3}");
        Assert.True(nonZero > 150, $"only {nonZero} cases with coverage");
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    public async Task SyntheticGridAreasAgreeWithTurf(ulong seed)
    {
        NodeOracle.SkipUnlessAvailable();
        var rng = new SplitMix64(seed);

        // A 3 × 3 tiling of jittered quadrilaterals, 1.2 km × 1 km, somewhere around the county.
        var local = new LocalProjection(114.3 + (rng.NextDouble() * 0.6), 37.5 + (rng.NextDouble() * 0.4));
        const int n = 3;
        const double width = 1200, height = 1000;
        var corners = new (double X, double Y)[n + 1, n + 1];
        for (int i = 0; i <= n; i++)
        {
            for (int j = 0; j <= n; j++)
            {
                bool inner = i > 0 && i < n && j > 0 && j < n;
                corners[i, j] = ((i * width / n) + (inner ? (rng.NextDouble() - 0.5) * 150 : 0), (j * height / n) + (inner ? (rng.NextDouble() - 0.5) * 150 : 0));
            }
        }

        Coordinate C((double X, double Y) p)
        {
            var (lon, lat) = local.Unproject(p.X, p.Y);
            return new Coordinate(lon, lat);
        }

        var grids = new List<GridFeature>();
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                var ring = new[] { C(corners[i, j]), C(corners[i + 1, j]), C(corners[i + 1, j + 1]), C(corners[i, j + 1]), C(corners[i, j]) };
                grids.Add(Grid($"130127100004{(i * n) + j:D3}", Wgs84.CreatePolygon(ring)));
            }
        }

        // Cameras well inside the tiling, so their union lies within it; many cross the inner borders.
        var cameras = new List<CameraFov>();
        for (int c = 0; c < 45; c++)
        {
            var (lon, lat) = local.Unproject(160 + (rng.NextDouble() * (width - 320)), 160 + (rng.NextDouble() * (height - 320)));
            cameras.Add(Camera(
                $"s{c:D2}",
                lon,
                lat,
                rng.NextDouble() * 360,
                rng.NextDouble() < 0.1 ? 360 : 10 + (rng.NextDouble() * 170),
                20 + (rng.NextDouble() * 130),
                ptz: rng.NextDouble() < 0.3,
                online: rng.NextDouble() > 0.2));
        }

        var index = new RegionIndex(grids, []);
        var model = Model(index, null, [.. cameras]);
        var outline = Wgs84.CreatePolygon([C(corners[0, 0]), C(corners[n, 0]), C(corners[n, n]), C(corners[0, n]), C(corners[0, 0])]);
        var cases = new List<object>();
        foreach (var grid in grids)
        {
            foreach (var truth in Enum.GetValues<CoverageTruth>())
            {
                cases.Add(new { grid = ToGeoJson(grid.Geometry), wedges = WedgesNear(model, cameras, grid.Geometry.EnvelopeInternal, truth) });
            }
        }

        foreach (var truth in Enum.GetValues<CoverageTruth>())
        {
            cases.Add(new { grid = ToGeoJson(outline), wedges = WedgesNear(model, cameras, outline.EnvelopeInternal, truth) });
        }

        var results = await RunAsync(cases);
        int k = 0;
        double worst = 0;
        var totals = new double[3];
        foreach (var grid in grids)
        {
            var coverage = model.Grid(grid.Code)!;
            foreach (var truth in Enum.GetValues<CoverageTruth>())
            {
                var result = results[k++];
                AssertClose(coverage.AreaM2, result.GetProperty("grid").GetDouble(), $"{grid.Code} area");
                worst = Math.Max(worst, AssertClose(Covered(coverage, truth), result.GetProperty("covered").GetDouble(), $"{grid.Code} {truth} covered"));
                totals[(int)truth] += Covered(coverage, truth);
            }
        }

        // The grids tile the outline and the wedges lie inside it: their covered areas add up to turf's union.
        foreach (var truth in Enum.GetValues<CoverageTruth>())
        {
            var result = results[k++];
            worst = Math.Max(worst, AssertClose(totals[(int)truth], result.GetProperty("union").GetDouble(), $"{truth} union"));
            AssertClose(totals[(int)truth], result.GetProperty("covered").GetDouble(), $"{truth} covered");
        }

        TestContext.Current.SendDiagnosticMessage($"turf coverage oracle, synthetic seed {seed}: worst relative difference {worst:P3}");
        Assert.True(model.LevelFourGrids.Count(g => model.Grid(g.Code)!.Cameras > 0) >= 6);
        Assert.Contains(model.LevelFourGrids, g => model.Grid(g.Code)!.Shares.Any(s => s.Share is > 0 and < 1));
    }

    private static double Covered(GridCoverage coverage, CoverageTruth truth) => truth switch
    {
        CoverageTruth.Real => coverage.RealCoveredM2,
        CoverageTruth.Declared => coverage.DeclaredCoveredM2,
        _ => coverage.PotentialCoveredM2,
    };

    /// <summary>
    /// The truth's WGS-84 footprints (as the model publishes them for maps) of every camera whose footprint's
    /// envelope meets the envelope: chosen here, not by the model's own bookkeeping.
    /// </summary>
    private static List<object> WedgesNear(CoverageModel model, IEnumerable<CameraFov> cameras, Envelope envelope, CoverageTruth truth)
    {
        var wedges = new List<object>();
        foreach (var camera in cameras)
        {
            if (truth == CoverageTruth.Real && !camera.Working)
            {
                continue;
            }

            var footprints = new List<Geometry> { model.WedgeWgs84(camera.Id) };
            if (truth == CoverageTruth.Potential && camera.Ptz)
            {
                footprints.Add(model.WedgeWgs84(camera.Id, potential: true));
            }

            foreach (var footprint in footprints)
            {
                if (!footprint.IsEmpty && footprint.EnvelopeInternal.Intersects(envelope))
                {
                    wedges.Add(ToGeoJson(footprint));
                }
            }
        }

        return wedges;
    }

    private static async Task<List<JsonElement>> RunAsync(List<object> cases)
    {
        var stopwatch = Stopwatch.StartNew();
        using var document = await NodeOracle.RunAsync("coverage-areas.mjs", new { cases });
        TestContext.Current.SendDiagnosticMessage($"turf coverage oracle: {cases.Count} cases in {stopwatch.ElapsedMilliseconds} ms");
        var results = document.RootElement.GetProperty("results").EnumerateArray().Select(e => e.Clone()).ToList();
        Assert.Equal(cases.Count, results.Count);
        return results;
    }

    /// <summary>Asserts ours and turf's are within <see cref="RelativeTolerance"/>; returns their relative difference.</summary>
    private static double AssertClose(double ours, double turf, string what)
    {
        double difference = Math.Abs(ours - turf);
        double relative = difference == 0 ? 0 : difference / Math.Max(ours, turf);
        Assert.True(
            difference <= RelativeTolerance * Math.Max(ours, turf),
            $"{what}: ours {ours:F3} m², turf {turf:F3} m² ({relative:P3} apart)");
        return relative;
    }

    /// <summary>A Polygon or MultiPolygon as a GeoJSON geometry object (lon/lat).</summary>
    private static object ToGeoJson(Geometry geometry) => geometry switch
    {
        Polygon polygon => new { type = "Polygon", coordinates = Rings(polygon) },
        MultiPolygon multi => new
        {
            type = "MultiPolygon",
            coordinates = Enumerable.Range(0, multi.NumGeometries).Select(i => Rings((Polygon)multi.GetGeometryN(i))).ToArray(),
        },
        _ => throw new ArgumentException($"Not polygonal: {geometry.GeometryType}", nameof(geometry)),
    };

    private static double[][][] Rings(Polygon polygon) =>
        new[] { polygon.ExteriorRing }.Concat(polygon.InteriorRings)
            .Select(ring => ring.Coordinates.Select(c => new[] { c.X, c.Y }).ToArray())
            .ToArray();
}
