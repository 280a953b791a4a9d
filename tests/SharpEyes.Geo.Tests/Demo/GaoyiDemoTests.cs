using NetTopologySuite.Geometries;
using NetTopologySuite.Operation.Union;
using SharpEyes.Geo.Datums;
using SharpEyes.Geo.Demo;
using SharpEyes.Geo.Projection;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Geo.Tests.Demo;

public sealed class GaoyiDemoTests
{
    private static readonly Lazy<(string Grids, string KeySites)> s_fresh = new(GaoyiDemo.Generate);

    [Fact]
    public void ShippedFilesEqualAFreshGeneration()
    {
        var (grids, keySites) = s_fresh.Value;
        if (Environment.GetEnvironmentVariable("REGENERATE_DEMO") == "1")
        {
            GaoyiDemo.WriteFiles(TestPaths.DemoDirectory);
        }

        var onDisk = File.ReadAllText(Path.Combine(TestPaths.DemoDirectory, GaoyiDemo.GridsFileName));
        var sitesOnDisk = File.ReadAllText(Path.Combine(TestPaths.DemoDirectory, GaoyiDemo.KeySitesFileName));
        Assert.Equal(grids, onDisk);
        Assert.Equal(keySites, sitesOnDisk);
        Assert.Equal(grids, GaoyiDemo.GridsGeoJson);
        Assert.Equal(keySites, GaoyiDemo.KeySitesGeoJson);
    }

    [Fact]
    public void GenerationIsRepeatable()
    {
        var again = GaoyiDemo.Generate();
        Assert.Equal(s_fresh.Value.Grids, again.GridsGeoJson);
        Assert.Equal(s_fresh.Value.KeySites, again.KeySitesGeoJson);
    }

    [Fact]
    public void GridsValidateAndFormTheRealHierarchy()
    {
        var result = GeoJsonImport.ParseGrids(GaoyiDemo.GridsGeoJson, Datum.Wgs84, [], new HashSet<string> { GaoyiDemo.CountyCode });

        Assert.True(result.Ok, string.Join("\n", result.Errors.Take(10)));
        var byLevel = result.Features.GroupBy(f => f.Level).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(1, byLevel[1]);
        Assert.Equal(5, byLevel[2]);
        Assert.Equal(107, byLevel[3]);
        Assert.Equal(107, byLevel[4]);
        Assert.Contains(result.Features, f => f.Code == "130127100201001" && f.Name == "东关村第一网格" && f.ParentCode == "130127100201");
        Assert.All(result.Features.Where(f => f.Level == 4), f => Assert.Equal(15, f.Code.Length));
    }

    [Fact]
    public void GridsPartitionTheCounty()
    {
        var result = GeoJsonImport.ParseGrids(GaoyiDemo.GridsGeoJson, Datum.Wgs84, [], new HashSet<string> { GaoyiDemo.CountyCode });
        var county = result.Features.Single(f => f.Level == 1).Geometry;
        var projection = LocalProjection.CenteredOn(county.EnvelopeInternal);
        double countyArea = projection.AreaM2(county);
        var grids = result.Features.Where(f => f.Level == 4).Select(f => f.Geometry).ToList();

        double sumOfAreas = grids.Sum(projection.AreaM2);
        double unionArea = projection.AreaM2(CascadedPolygonUnion.Union(grids));

        // The real county is about 220 km².
        Assert.InRange(countyArea, 200e6, 240e6);
        Assert.Equal(countyArea, sumOfAreas, countyArea * 0.001);
        Assert.Equal(countyArea, unionArea, countyArea * 0.001);
    }

    [Fact]
    public void CountyBorderIsTheShippedGcj02BorderConvertedToWgs84()
    {
        var result = GeoJsonImport.ParseGrids(GaoyiDemo.GridsGeoJson, Datum.Wgs84, [], new HashSet<string> { GaoyiDemo.CountyCode });
        var county = result.Features.Single(f => f.Level == 1).Geometry;

        // First vertex of the GCJ-02 source file, converted; the demo snaps to 1e-7°.
        var (lon, lat) = DatumConverter.Gcj02ToWgs84(114.725981, 37.630678);
        Assert.Contains(county.Coordinates, c => Math.Abs(c.X - lon) < 2e-7 && Math.Abs(c.Y - lat) < 2e-7);
        // GCJ-02 is offset by a few hundred metres: the WGS-84 border must not contain the raw GCJ vertex exactly.
        Assert.DoesNotContain(county.Coordinates, c => Math.Abs(c.X - 114.725981) < 1e-6 && Math.Abs(c.Y - 37.630678) < 1e-6);
    }

    [Fact]
    public void KeySitesValidateAndLieInTheirTownships()
    {
        var grids = GeoJsonImport.ParseGrids(GaoyiDemo.GridsGeoJson, Datum.Wgs84, [], new HashSet<string> { GaoyiDemo.CountyCode });
        var sites = GeoJsonImport.ParseKeySites(GaoyiDemo.KeySitesGeoJson, Datum.Wgs84);

        Assert.True(sites.Ok, string.Join("\n", sites.Errors));
        Assert.InRange(sites.Features.Count, 35, 45);
        var townships = grids.Features.Where(f => f.Level == 2).ToDictionary(f => f.Code, f => f.Geometry);
        foreach (var site in sites.Features)
        {
            string township = site.Code.Substring(3, 9);
            Assert.True(townships[township].Covers(site.Geometry), $"{site.Code} {site.Name} is outside {township}");
        }

        Assert.Contains(sites.Features, s => s.Category == "station" && s.Code.StartsWith("KS-130127100-", StringComparison.Ordinal));
        Assert.Contains(sites.Features, s => s.Name == "高邑镇中心小学" && s.Geometry is Polygon);
        foreach (var township in townships.Keys)
        {
            var own = sites.Features.Where(s => s.Code.Contains(township, StringComparison.Ordinal)).ToList();
            foreach (var category in new[] { "government", "school", "hospital", "market", "intersection" })
            {
                Assert.Contains(own, s => s.Category == category);
            }
        }
    }

    [Fact]
    public void SchoolRectangleHasItsNominalArea()
    {
        var sites = GeoJsonImport.ParseKeySites(GaoyiDemo.KeySitesGeoJson, Datum.Wgs84);
        var school = sites.Features.Single(s => s.Name == "高邑镇中心小学");
        var projection = LocalProjection.CenteredOn(school.Geometry.EnvelopeInternal);

        // 120 m × 80 m; snapping corners to 1e-7° moves them by ≤ 1 cm.
        Assert.Equal(9600, projection.AreaM2(school.Geometry), 5.0);
    }

    [Fact]
    public void CreateRegionIndexLocatesTheCountySeat()
    {
        var index = GaoyiDemo.CreateRegionIndex();
        var sites = index.KeySites.Where(s => s.Code.StartsWith("KS-130127100-", StringComparison.Ordinal));
        foreach (var site in sites)
        {
            var p = site.Geometry.InteriorPoint;
            var codes = index.Locate(p.X, p.Y);
            Assert.Equal("130127100", codes.TownshipCode);
            Assert.Equal("130127", codes.CountyCode);
            Assert.Equal(15, codes.GridCode.Length);
        }
    }
}
