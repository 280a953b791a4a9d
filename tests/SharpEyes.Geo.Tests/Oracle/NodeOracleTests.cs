using System.Diagnostics;
using System.Text.Json;
using NetTopologySuite.Geometries;
using SharpEyes.Geo.Datums;
using SharpEyes.Geo.Demo;
using SharpEyes.Geo.Projection;

namespace SharpEyes.Geo.Tests.Oracle;

/// <summary>Independent oracles: @turf/turf for point-in-polygon, gcoord for the datum conversions.</summary>
public sealed class NodeOracleTests
{
    private static readonly GeometryFactory s_factory = new(new PrecisionModel(), 4326);

    [Fact]
    public async Task PointInGridAgreesWithTurf()
    {
        NodeOracle.SkipUnlessAvailable();
        var index = GaoyiDemo.CreateRegionIndex();
        var envelope = index.Grids.Single(g => g.Level == 1).Geometry.EnvelopeInternal.Copy();
        envelope.ExpandBy(0.01);

        var points = new List<double[]>();
        ulong state = 20240127;
        for (int i = 0; i < 2000; i++)
        {
            state = (state * 6364136223846793005UL) + 1442695040888963407UL;
            double u = (state >> 11) * (1.0 / (1UL << 53));
            state = (state * 6364136223846793005UL) + 1442695040888963407UL;
            double v = (state >> 11) * (1.0 / (1UL << 53));
            points.Add([envelope.MinX + (u * envelope.Width), envelope.MinY + (v * envelope.Height)]);
        }

        var stopwatch = Stopwatch.StartNew();
        using var result = await NodeOracle.RunAsync(
            "point-in-grid.mjs",
            new { geojson = Path.Combine(TestPaths.DemoDirectory, GaoyiDemo.GridsFileName), points });
        TestContext.Current.SendDiagnosticMessage($"turf point-in-grid oracle: {stopwatch.ElapsedMilliseconds} ms");

        var containing = result.RootElement.GetProperty("containing");
        Assert.Equal(points.Count, containing.GetArrayLength());
        int compared = 0, located = 0;
        for (int i = 0; i < points.Count; i++)
        {
            double lon = points[i][0], lat = points[i][1];
            if (NearABoundary(index, lon, lat))
            {
                continue;
            }

            var turfCodes = containing[i].EnumerateArray().Select(e => e.GetString()!).ToList();
            string expected = turfCodes.OrderByDescending(c => c.Length).ThenBy(c => c, StringComparer.Ordinal).FirstOrDefault() ?? string.Empty;
            var codes = index.Locate(lon, lat);
            Assert.True(expected == codes.GridCode, $"({lon}, {lat}): turf says '{expected}', RegionIndex says '{codes.GridCode}'");
            if (!codes.IsEmpty)
            {
                Assert.Equal(4, turfCodes.Count); // county, township, village, grid — the hierarchy nests
                Assert.Contains(codes.VillageCode, turfCodes);
                Assert.Contains(codes.TownshipCode, turfCodes);
                Assert.Contains(codes.CountyCode, turfCodes);
                located++;
            }

            compared++;
        }

        Assert.True(compared > 1990, $"only {compared} points compared");
        Assert.True(located > 1000, $"only {located} points inside the county");
    }

    [Fact]
    public async Task DatumsAgreeWithGcoord()
    {
        NodeOracle.SkipUnlessAvailable();
        var points = new List<double[]>();
        ulong state = 7;
        for (int i = 0; i < 1000; i++)
        {
            state = (state * 6364136223846793005UL) + 1442695040888963407UL;
            double u = (state >> 11) * (1.0 / (1UL << 53));
            state = (state * 6364136223846793005UL) + 1442695040888963407UL;
            double v = (state >> 11) * (1.0 / (1UL << 53));
            points.Add([73.5 + (u * 61.5), 18.0 + (v * 35.5)]);
        }

        // A few points outside the box, which both sides leave unchanged.
        points.Add([2.3522, 48.8566]);
        points.Add([139.6917, 35.6895]);

        var stopwatch = Stopwatch.StartNew();
        using var result = await NodeOracle.RunAsync("datums.mjs", new { points });
        TestContext.Current.SendDiagnosticMessage($"gcoord datum oracle: {stopwatch.ElapsedMilliseconds} ms");

        var results = result.RootElement.GetProperty("results");
        Assert.Equal(points.Count, results.GetArrayLength());
        double worstInverseM = 0;
        for (int i = 0; i < points.Count; i++)
        {
            double lon = points[i][0], lat = points[i][1];
            var r = results[i];
            AssertClose(DatumConverter.Wgs84ToGcj02(lon, lat), r.GetProperty("wgs2gcj"), 1e-6);
            AssertClose(DatumConverter.Gcj02ToBd09(lon, lat), r.GetProperty("gcj2bd"), 1e-6);
            AssertClose(DatumConverter.Bd09ToGcj02(lon, lat), r.GetProperty("bd2gcj"), 1e-6);
            AssertClose(DatumConverter.Wgs84ToBd09(lon, lat), r.GetProperty("wgs2bd"), 1e-6);

            // gcoord's inverse stops once its forward residual is below 1e-6° (≈ 0.1 m), ours at 1e-10°:
            // they agree within 0.5 m, and ours round-trips to well under a millimetre.
            var ours = DatumConverter.Gcj02ToWgs84(lon, lat);
            double differenceM = MetresBetween(ours, Read(r.GetProperty("gcj2wgs")));
            worstInverseM = Math.Max(worstInverseM, differenceM);
            Assert.True(differenceM < 0.5, $"GCJ→WGS at ({lon}, {lat}) differs from gcoord by {differenceM:F3} m");
            Assert.True(MetresBetween(DatumConverter.Bd09ToWgs84(lon, lat), Read(r.GetProperty("bd2wgs"))) < 0.5);
            var forward = DatumConverter.Wgs84ToGcj02(ours.Lon, ours.Lat);
            if (!DatumConverter.IsOutsideChina(ours.Lon, ours.Lat))
            {
                Assert.True(MetresBetween(forward, (lon, lat)) < 1e-3, "round trip GCJ→WGS→GCJ must be within 1 mm");
            }
        }

        TestContext.Current.SendDiagnosticMessage($"largest GCJ→WGS difference from gcoord: {worstInverseM:F4} m");
    }

    private static bool NearABoundary(SharpEyes.Geo.Regions.RegionIndex index, double lon, double lat)
    {
        var point = s_factory.CreatePoint(new Coordinate(lon, lat));
        foreach (var grid in index.Grids)
        {
            var envelope = grid.Geometry.EnvelopeInternal;
            if (lon < envelope.MinX - 1e-9 || lon > envelope.MaxX + 1e-9 || lat < envelope.MinY - 1e-9 || lat > envelope.MaxY + 1e-9)
            {
                continue;
            }

            if (grid.Geometry.Boundary.IsWithinDistance(point, 1e-9))
            {
                return true;
            }
        }

        return false;
    }

    private static (double Lon, double Lat) Read(JsonElement pair) => (pair[0].GetDouble(), pair[1].GetDouble());

    private static void AssertClose((double Lon, double Lat) ours, JsonElement theirs, double tolerance)
    {
        var (lon, lat) = Read(theirs);
        Assert.Equal(lon, ours.Lon, tolerance);
        Assert.Equal(lat, ours.Lat, tolerance);
    }

    private static double MetresBetween((double Lon, double Lat) a, (double Lon, double Lat) b) =>
        new LocalProjection(a.Lon, Math.Clamp(a.Lat, -80, 80)).DistanceM(a.Lon, a.Lat, b.Lon, b.Lat);
}
