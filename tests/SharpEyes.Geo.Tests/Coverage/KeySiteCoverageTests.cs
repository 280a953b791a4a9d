using NetTopologySuite.Geometries;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Demo;
using SharpEyes.Geo.Projection;
using SharpEyes.Geo.Regions;
using static SharpEyes.Geo.Tests.Coverage.CoverageFixtures;

namespace SharpEyes.Geo.Tests.Coverage;

public sealed class KeySiteCoverageTests
{
    private const string GridCode = "130127100003001";

    // One 0.04° square grid centred on (114.6, 37.7): the index's projection is centred there too.
    private static readonly GridFeature s_grid = Square(GridCode, Lon0 - 0.02, Lat0 - 0.02, Lon0 + 0.02, Lat0 + 0.02);
    private static readonly LocalProjection s_projection = ProjectionFor([s_grid]);

    private static RegionIndex Index(params KeySiteFeature[] sites)
    {
        var index = new RegionIndex([s_grid], sites);
        Assert.Equal(s_projection.CenterLon, index.Projection.CenterLon);
        Assert.Equal(s_projection.CenterLat, index.Projection.CenterLat);
        return index;
    }

    private static KeySiteFeature PointSite(string code, string category, double lon, double lat) =>
        new(code, code, category, 4, Wgs84.CreatePoint(new Coordinate(lon, lat)));

    [Theory]
    [InlineData(100, 50, true)] // on the azimuth, inside the range
    [InlineData(125, 50, true)] // inside the 60° opening
    [InlineData(135, 50, false)] // outside the opening
    [InlineData(100, 130, false)] // beyond the range
    [InlineData(280, 20, false)] // behind
    public void PointSiteIsSeenWhenInsideTheSector(double bearing, double distance, bool seen)
    {
        const double camLon = 114.61, camLat = 37.705;
        var (lon, lat) = At(s_projection, camLon, camLat, bearing, distance);
        var index = Index(PointSite("P", "school", lon, lat));
        var model = Model(index, null, Camera("cam", camLon, camLat, 100, 60, 120));
        var site = model.Site("P")!;

        Assert.False(site.IsArea);
        Assert.Equal(1, site.RequiredCameras);
        Assert.Equal(1.0, site.RequiredFraction);
        Assert.Equal(seen, site.RealCovered);
        Assert.Equal(seen, site.DeclaredCovered);
        Assert.Equal(seen ? 1.0 : 0.0, site.RealFraction);
        Assert.Equal(seen ? new[] { "cam" } : [], site.WorkingCameras);
        Assert.Equal(seen, Sector.Contains(index.Projection, camLon, camLat, 100, 60, 120, lon, lat));
        Assert.Equal(GridCode, site.GridCode);
        Assert.Equal(4, site.Priority);
        Assert.Equal("school", site.Category);
    }

    [Theory]
    [InlineData(1, 0, 0, false, false)]
    [InlineData(2, 0, 0, true, true)]
    [InlineData(3, 0, 0, true, true)]
    [InlineData(1, 1, 0, false, true)] // one working, one offline
    [InlineData(1, 0, 1, false, true)] // one working, one faulty
    [InlineData(0, 2, 0, false, true)]
    public void IntersectionNeedsTwoWorkingCameras(int working, int offline, int faulty, bool real, bool declared)
    {
        var index = Index(PointSite("X", "intersection", 114.6, 37.7));
        var cameras = new List<CameraFov>();
        int n = 0;
        void Add(bool online, bool isFaulty)
        {
            // Around the point at 40 m, each aimed at it.
            double bearing = n++ * 70;
            var (lon, lat) = At(s_projection, 114.6, 37.7, bearing, 40);
            cameras.Add(Camera($"c{n}", lon, lat, (bearing + 180) % 360, 30, 60, online: online, faulty: isFaulty));
        }

        for (int i = 0; i < working; i++)
        {
            Add(true, false);
        }

        for (int i = 0; i < offline; i++)
        {
            Add(false, false);
        }

        for (int i = 0; i < faulty; i++)
        {
            Add(true, true);
        }

        var model = Model(index, null, [.. cameras]);
        var site = model.Site("X")!;
        Assert.Equal(2, site.RequiredCameras);
        Assert.Equal(real, site.RealCovered);
        Assert.Equal(declared, site.DeclaredCovered);
        Assert.Equal(working, site.WorkingCameras.Count);
        Assert.Equal(working + offline + faulty, site.DeclaredCameras.Count);
        Assert.Equal(site.DeclaredCameras.Order(StringComparer.Ordinal), site.DeclaredCameras);
        Assert.Equal(real ? 1 : 0, site.RealFraction);
        Assert.Equal(declared ? 1 : 0, site.DeclaredFraction);
        var (x, y) = index.Projection.Project(114.6, 37.7);
        Assert.Equal(working, model.WorkingCamerasSeeing(x, y));
    }

    [Theory]
    [InlineData(0.79, false)]
    [InlineData(0.81, true)]
    [InlineData(0.80, true)]
    [InlineData(0.50, false)]
    [InlineData(1.00, true)]
    public void AreaSiteIsCoveredFromEightyPercent(double fraction, bool covered)
    {
        // The camera stands on the central meridian 500 m south of the site, aimed 45° with a 90° opening: its
        // wedge is the quadrant x ≥ 0 (north-east of it), so it covers the part of the site east of x = 0.
        const double width = 100;
        var site = new KeySiteFeature("A", "A", "market", 3, MetricRectangle(s_projection, -(1 - fraction) * width, 0, fraction * width, 80));
        var index = Index(site);
        double camLat = s_projection.Unproject(0, -500).Lat;
        var model = Model(index, null, Camera("cam", s_projection.CenterLon, camLat, 45, 90, 3000));
        var coverage = model.Site("A")!;

        Assert.True(coverage.IsArea);
        Assert.Equal(width * 80, coverage.AreaM2, 1e-6);
        Assert.Equal(0.8, coverage.RequiredFraction);
        Assert.Equal(fraction, coverage.RealFraction, 1e-9);
        Assert.Equal(fraction, coverage.DeclaredFraction, 1e-9);
        Assert.Equal(covered, coverage.RealCovered);
        Assert.Equal(covered, coverage.DeclaredCovered);
        Assert.Equal(["cam"], coverage.WorkingCameras);
    }

    [Fact]
    public void KCoverageOfTwoOverlappingWedgesIsTheirIntersection()
    {
        var rules = new CoverageRules { MinCamerasByCategory = new Dictionary<string, int> { ["square"] = 2 } };
        var site = new KeySiteFeature("S", "S", "square", 5, MetricRectangle(s_projection, -400, -400, 400, 400));
        var index = Index(site);
        var a = Camera("a", Lon0, Lat0, 30, 90, 200);
        var (bLon, bLat) = At(index.Projection, Lon0, Lat0, 90, 120);
        var b = Camera("b", bLon, bLat, 340, 70, 250);
        var model = Model(index, rules, a, b);
        var coverage = model.Site("S")!;

        var wa = Wedge.Metric(index.Projection, a);
        var wb = Wedge.Metric(index.Projection, b);
        double overlap = wa.Intersection(wb).Area;
        Assert.True(overlap > 2000, $"overlap {overlap}");
        Assert.Equal(2, coverage.RequiredCameras);
        Assert.Equal(overlap, coverage.DeclaredFraction * coverage.AreaM2, overlap * 1e-9);
        Assert.Equal(overlap, coverage.RealFraction * coverage.AreaM2, overlap * 1e-9);
        Assert.Equal(["a", "b"], coverage.WorkingCameras);
        Assert.False(coverage.RealCovered);

        // k = 1 is the union.
        var union = Model(index, new CoverageRules { MinCamerasByCategory = new Dictionary<string, int>() }, a, b).Site("S")!;
        Assert.Equal(1, union.RequiredCameras);
        Assert.Equal(wa.Union(wb).Area, union.DeclaredFraction * union.AreaM2, 1e-6);
    }

    [Theory]
    [InlineData(1, 11UL)]
    [InlineData(2, 12UL)]
    [InlineData(3, 13UL)]
    public void KCoveredAreaAgreesWithTheLayeredOverlay(int k, ulong seed)
    {
        var rules = new CoverageRules { MinCamerasByCategory = new Dictionary<string, int> { ["stadium"] = k } };
        var rng = new SplitMix64(seed);
        var site = new KeySiteFeature("S", "S", "stadium", 3, MetricRectangle(s_projection, -150, -100, 150, 100));
        var index = Index(site);
        var cameras = new List<CameraFov>();
        for (int i = 0; i < 20; i++)
        {
            var (lon, lat) = index.Projection.Unproject((rng.NextDouble() - 0.5) * 500, (rng.NextDouble() - 0.5) * 400);
            cameras.Add(Camera($"c{i:D2}", lon, lat, rng.NextDouble() * 360, 20 + (rng.NextDouble() * 120), 50 + (rng.NextDouble() * 200), online: rng.NextDouble() > 0.3));
        }

        var model = Model(index, rules, [.. cameras]);
        var coverage = model.Site("S")!;
        var siteMetric = index.Projection.Project(site.Geometry);
        var wedges = cameras.Select(c => (Geometry)Wedge.Metric(index.Projection, c)).ToList();
        var working = cameras.Select((c, i) => (c, i)).Where(x => x.c.Working).Select(x => wedges[x.i]).ToList();

        double declared = OverlayKCoveredArea(siteMetric, wedges, k);
        double real = OverlayKCoveredArea(siteMetric, working, k);
        Assert.True(declared > 0);
        Assert.Equal(declared / siteMetric.Area, coverage.DeclaredFraction, 1e-7);
        Assert.Equal(real / siteMetric.Area, coverage.RealFraction, 1e-7);
        var seeing = cameras.Where((c, i) => wedges[i].Intersection(siteMetric).Area > 1e-6).Select(c => c.Id).ToList();
        Assert.Equal(seeing, coverage.DeclaredCameras);
        Assert.Equal(seeing.Where(id => cameras.Single(c => c.Id == id).Working), coverage.WorkingCameras);
    }

    [Fact]
    public void AreaSiteTouchedOnlyAlongAnEdgeIsNotSeen()
    {
        // The wedge's west edge runs along the site's east side (x = 0): they touch but do not overlap.
        var site = new KeySiteFeature("T", "T", "market", 3, MetricRectangle(s_projection, -100, 0, 0, 80));
        var index = Index(site);
        double camLat = s_projection.Unproject(0, -500).Lat;
        var model = Model(index, null, Camera("cam", s_projection.CenterLon, camLat, 45, 90, 3000));
        var coverage = model.Site("T")!;
        Assert.Empty(coverage.DeclaredCameras);
        Assert.Equal(0, coverage.DeclaredFraction, 1e-9);
    }

    [Fact]
    public void SitesOfTheDemoCountyAreLocatedInTheirGrids()
    {
        var model = Model(DemoCounty, null, [.. RandomCameras(DemoCounty, 300, 5)]);
        var sites = model.SitesWithPrefix("");
        Assert.Equal(40, sites.Count);
        Assert.Equal(sites.Select(s => s.Code).Order(StringComparer.Ordinal), sites.Select(s => s.Code));
        foreach (var site in sites)
        {
            var feature = DemoCounty.KeySites.Single(k => k.Code == site.Code);
            var anchor = feature.Geometry is Point p ? p : feature.Geometry.InteriorPoint;
            Assert.Equal(DemoCounty.Locate(anchor.X, anchor.Y).GridCode, site.GridCode);
            Assert.Equal(15, site.GridCode.Length); // a level-4 grid (village code + 3 digits)
            Assert.Equal(feature.Geometry is Polygon, site.IsArea);
            Assert.Equal(site.Category == "intersection" ? 2 : 1, site.RequiredCameras);
            Assert.True(site.WorkingCameras.All(site.DeclaredCameras.Contains));
            Assert.InRange(site.RealFraction, 0, site.DeclaredFraction);
        }

        Assert.Contains(sites, s => s.IsArea && s.DeclaredFraction > 0);
        Assert.Contains(sites, s => !s.IsArea && s.DeclaredCovered);
        Assert.Equal(sites.Where(s => s.GridCode.StartsWith("130127100", StringComparison.Ordinal)), model.SitesWithPrefix("130127100"));
    }
}
