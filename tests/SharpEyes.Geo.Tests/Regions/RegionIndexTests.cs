using NetTopologySuite.Geometries;
using SharpEyes.Geo.Datums;
using SharpEyes.Geo.Demo;
using SharpEyes.Geo.Regions;
using static SharpEyes.Geo.Tests.Regions.GeoJsonFixtures;

namespace SharpEyes.Geo.Tests.Regions;

public sealed class RegionIndexTests
{
    private static readonly GeometryFactory s_factory = new(new PrecisionModel(), 4326);

    private static RegionIndex FixtureIndex(params KeySiteFeature[] sites)
    {
        var grids = GeoJsonImport.ParseGrids(Valid, Datum.Wgs84, [], KnownCounties);
        Assert.True(grids.Ok);
        return new RegionIndex(grids.Features, sites);
    }

    [Theory]
    [InlineData(114.55, 37.55, "130127100201001", "130127100201", "130127100", "130127")] // in the grid
    [InlineData(114.55, 37.65, "130127100", "", "130127100", "130127")] // township without villages there
    [InlineData(114.65, 37.55, "130127101", "", "130127101", "130127")]
    [InlineData(114.80, 37.55, "", "", "", "")] // outside the county
    public void LocatesTheFinestFeature(double lon, double lat, string grid, string village, string township, string county)
    {
        var codes = FixtureIndex().Locate(lon, lat);
        Assert.Equal(new RegionCodes(grid, village, township, county), codes);
        Assert.Equal(grid.Length == 0, codes.IsEmpty);
    }

    [Fact]
    public void SharedBorderResolvesToTheLowestCode()
    {
        var codes = FixtureIndex().Locate(114.6, 37.65);
        Assert.Equal("130127100", codes.GridCode);
    }

    [Fact]
    public void ProjectionIsCentredOnTheGrids()
    {
        var index = FixtureIndex();
        Assert.Equal(114.6, index.Projection.CenterLon, 1e-12);
        Assert.Equal(37.6, index.Projection.CenterLat, 1e-12);
        Assert.Equal(5, index.Grids.Count);
    }

    [Fact]
    public void EmptyIndexLocatesNothingAndHasADefaultProjection()
    {
        var index = new RegionIndex([], []);
        Assert.Equal(RegionCodes.None, index.Locate(114.6, 37.6));
        Assert.Equal(RegionIndex.DefaultCenterLon, index.Projection.CenterLon);
        Assert.Empty(index.KeySitesNear(114.6, 37.6, 1000));
    }

    [Fact]
    public void KeySitesNearAreSortedByDistanceAndInsideMeansZero()
    {
        var local = new SharpEyes.Geo.Projection.LocalProjection(114.55, 37.55);
        Point At(double x, double y)
        {
            var (lon, lat) = local.Unproject(x, y);
            return s_factory.CreatePoint(new Coordinate(lon, lat));
        }

        var square = (Polygon)local.Unproject(s_factory.CreatePolygon(
        [
            new Coordinate(-50, -50), new Coordinate(50, -50), new Coordinate(50, 50), new Coordinate(-50, 50), new Coordinate(-50, -50),
        ]));
        var market = new KeySiteFeature("KS-A", "集贸市场", "market", 3, square);
        var crossing = new KeySiteFeature("KS-B", "十字路口", "intersection", 4, At(300, 0));
        var school = new KeySiteFeature("KS-C", "小学", "school", 5, At(0, 180));
        var far = new KeySiteFeature("KS-D", "远处", "other", 1, At(3000, 0));
        var index = FixtureIndex(far, crossing, school, market);

        var near = index.KeySitesNear(114.55, 37.55, 500);

        Assert.Equal(["KS-A", "KS-C", "KS-B"], near.Select(n => n.Site.Code));
        Assert.Equal(0, near[0].DistanceM);
        Assert.Equal(180, near[1].DistanceM, 0.05);
        Assert.Equal(300, near[2].DistanceM, 0.05);

        // From outside the square: distance to its edge.
        var (lon, lat) = local.Unproject(150, 0);
        var fromEdge = index.KeySitesNear(lon, lat, 120);
        var only = Assert.Single(fromEdge);
        Assert.Equal("KS-A", only.Site.Code);
        Assert.Equal(100, only.DistanceM, 0.05);
    }

    [Fact]
    public void LocatesAMillionPointsOnTheDemoData()
    {
        var index = GaoyiDemo.CreateRegionIndex();
        var county = index.Grids.Single(g => g.Level == 1).Geometry;
        var envelope = county.EnvelopeInternal;
        double expectedFraction = county.Area / (envelope.Width * envelope.Height);

        const int n = 1_000_000;
        int inside = 0;
        int inGrid = 0;
        ulong state = 12345;
        for (int i = 0; i < n; i++)
        {
            state = (state * 6364136223846793005UL) + 1442695040888963407UL;
            double u = (state >> 11) * (1.0 / (1UL << 53));
            state = (state * 6364136223846793005UL) + 1442695040888963407UL;
            double v = (state >> 11) * (1.0 / (1UL << 53));
            var codes = index.Locate(envelope.MinX + (u * envelope.Width), envelope.MinY + (v * envelope.Height));
            if (!codes.IsEmpty)
            {
                inside++;
                if (codes.GridCode.Length == 15)
                {
                    inGrid++;
                }
            }
        }

        // The grids partition the county: every located point is in a grid, in the expected proportion.
        Assert.Equal(inside, inGrid);
        Assert.Equal(expectedFraction, inside / (double)n, 0.003);
    }

    [Fact]
    public void AgreesWithBruteForceOnTheDemoData()
    {
        var index = GaoyiDemo.CreateRegionIndex();
        var grids = index.Grids.Where(g => g.Level == 4).ToList();
        var envelope = index.Grids.Single(g => g.Level == 1).Geometry.EnvelopeInternal;
        for (int i = 0; i < 2000; i++)
        {
            double lon = envelope.MinX + ((i * 0.6180339887 % 1) * envelope.Width);
            double lat = envelope.MinY + ((i * 0.7548776662 % 1) * envelope.Height);
            var point = s_factory.CreatePoint(new Coordinate(lon, lat));
            var expected = grids.Where(g => g.Geometry.Covers(point)).Select(g => g.Code).Order(StringComparer.Ordinal).FirstOrDefault() ?? string.Empty;
            Assert.Equal(expected, index.Locate(lon, lat).GridCode);
        }
    }
}
