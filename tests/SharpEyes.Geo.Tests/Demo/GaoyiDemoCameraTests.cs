using NetTopologySuite.Geometries;
using NetTopologySuite.Operation.Union;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Demo;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Geo.Tests.Demo;

public sealed class GaoyiDemoCameraTests
{
    private static readonly Lazy<RegionIndex> s_index = new(GaoyiDemo.CreateRegionIndex);

    private static IReadOnlyList<DemoCamera> Cameras => GaoyiDemoCameras.All;

    private static RegionIndex Index => s_index.Value;

    private static bool Sees(DemoCamera c, KeySiteFeature site)
    {
        var (lon, lat) = GaoyiDemoCameras.KeySiteCentre(site);
        return Sector.Contains(Index.Projection, c.Lon, c.Lat, c.AzimuthDeg, c.HfovDeg, c.RangeM, lon, lat);
    }

    private static List<DemoCamera> Seeing(KeySiteFeature site) => Cameras.Where(c => Sees(c, site)).ToList();

    [Fact]
    public void GenerationIsDeterministic()
    {
        var first = GaoyiDemoCameras.Generate();
        var second = GaoyiDemoCameras.Generate();

        Assert.NotEmpty(first);
        Assert.Equal(first, second);
        Assert.Equal(first, Cameras);
    }

    [Fact]
    public void DeviceIdsAreWellFormedUniqueAndSorted()
    {
        foreach (var camera in Cameras)
        {
            Assert.Matches("^[0-9]{20}$", camera.DeviceId);
            Assert.StartsWith("130127", camera.DeviceId, StringComparison.Ordinal);
            Assert.Equal("1301270000", camera.DeviceId[..10]);
            Assert.Contains(camera.DeviceId[10..13], new[] { "131", "132" });
            Assert.Equal('0', camera.DeviceId[13]);
        }

        Assert.Equal(Cameras.Count, Cameras.Select(c => c.DeviceId).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(Cameras.Select(c => c.DeviceId).Order(StringComparer.Ordinal), Cameras.Select(c => c.DeviceId));
        Assert.Contains(Cameras, c => c.DeviceId[10..13] == "131");
        Assert.Contains(Cameras, c => c.DeviceId[10..13] == "132");
    }

    [Fact]
    public void CountsAndProportionsAreInTheirBounds()
    {
        int n = Cameras.Count;
        double offline = Cameras.Count(c => !c.Online) / (double)n;
        double ptz = Cameras.Count(c => c.Ptz) / (double)n;
        double notHd = Cameras.Count(c => c.ResolutionHeight < 1080) / (double)n;

        Assert.InRange(n, 600, 900);
        Assert.InRange(offline, 0.07, 0.09); // about 8 %
        Assert.InRange(ptz, 0.12, 0.18); // about 15 %
        Assert.InRange(notHd, 0.05, 0.15); // about 10 % at 1280×720
        Assert.Contains(Cameras, c => c.Ptz && !c.Online);
    }

    [Fact]
    public void EveryCameraIsInsideTheCountyAtADistinctPosition()
    {
        var county = Index.Grids.Single(g => g.Level == GridFeature.CountyLevel).Geometry;
        var factory = new GeometryFactory(new PrecisionModel(), 4326);

        Assert.All(Cameras, c => Assert.True(county.Contains(factory.CreatePoint(new Coordinate(c.Lon, c.Lat))), c.DeviceId));
        Assert.Equal(Cameras.Count, Cameras.Select(c => (c.Lon, c.Lat)).Distinct().Count());
    }

    [Fact]
    public void CamerasCarryPlausibleOpticsNamesAndModels()
    {
        Assert.All(Cameras, c =>
        {
            Assert.InRange(c.AzimuthDeg, 0.0, 359.99);
            if (c.Ptz)
            {
                Assert.Equal(60, c.HfovDeg);
                Assert.InRange(c.RangeM, 100, 200);
                Assert.EndsWith("号球机", c.Name, StringComparison.Ordinal);
                Assert.StartsWith("DS-2DE", c.Model, StringComparison.Ordinal);
            }
            else
            {
                Assert.EndsWith("号枪机", c.Name, StringComparison.Ordinal);
                Assert.StartsWith("DS-2C", c.Model, StringComparison.Ordinal);
            }

            Assert.Contains((c.ResolutionWidth, c.ResolutionHeight), new[] { (1920, 1080), (2560, 1440), (1280, 720) });
        });
        Assert.Equal(Cameras.Count, Cameras.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void KeySiteCamerasStandBesideTheirSiteAndSeeItsCentre()
    {
        var sites = Index.KeySites.ToDictionary(s => s.Code, StringComparer.Ordinal);
        var siteCameras = Cameras.Where(c => c.SiteCode.Length > 0).ToList();

        Assert.NotEmpty(siteCameras);
        foreach (var camera in siteCameras)
        {
            var site = sites[camera.SiteCode];
            Assert.True(Sees(camera, site), $"{camera.DeviceId} does not see {site.Code}");
            Assert.False(camera.Ptz);
            Assert.InRange(camera.HfovDeg, 60, 100);
            Assert.InRange(camera.RangeM, 40, 120);
            Assert.StartsWith(site.Name, camera.Name, StringComparison.Ordinal);
            double distance = Index.Projection.Project(site.Geometry)
                .Distance(Index.Projection.Project(new GeometryFactory().CreatePoint(new Coordinate(camera.Lon, camera.Lat))));
            Assert.InRange(distance, 9.99, 40.01);
        }
    }

    [Fact]
    public void IntersectionsMostlyHaveTwoCamerasFromDifferentSides()
    {
        var intersections = Index.KeySites.Where(s => s.Category == "intersection").ToList();
        var counts = intersections.ToDictionary(s => s.Code, s => Cameras.Count(c => c.SiteCode == s.Code));

        Assert.True(counts.Values.Count(n => n == 2) > counts.Values.Count(n => n < 2), string.Join(", ", counts));
        foreach (var site in intersections.Where(s => counts[s.Code] == 2))
        {
            var (lon, lat) = GaoyiDemoCameras.KeySiteCentre(site);
            var (sx, sy) = Index.Projection.Project(lon, lat);
            var bearings = Cameras.Where(c => c.SiteCode == site.Code).Select(c =>
            {
                var (x, y) = Index.Projection.Project(c.Lon, c.Lat);
                return Math.Atan2(x - sx, y - sy) * 180 / Math.PI;
            }).ToList();
            Assert.True(Math.Abs(Sector.AngleDifference(bearings[0], bearings[1])) >= 119.9, site.Code);
        }
    }

    [Fact]
    public void UncoveredKeySitesAreExactlyTheChosenBlindSpots()
    {
        var uncovered = GaoyiDemoCameras.UncoveredKeySiteCodes;
        var withoutInstalledCamera = Index.KeySites.Where(s => !Cameras.Any(c => c.SiteCode == s.Code)).Select(s => s.Code);
        var unseen = Index.KeySites.Where(s => Seeing(s).Count == 0).Select(s => s.Code);
        var blind = Index.KeySites.Where(s => uncovered.Contains(s.Code)).ToList();

        Assert.InRange(uncovered.Count, 3, 5);
        Assert.Equal(uncovered, withoutInstalledCamera);
        Assert.Equal(uncovered, unseen);
        Assert.Contains(blind, s => s.Category is "school" or "hospital");
        Assert.True(blind.Average(s => s.Priority) < Index.KeySites.Average(s => s.Priority));
    }

    [Fact]
    public void SomeIntersectionIsSeenByExactlyOneCamera()
    {
        Assert.Contains(Index.KeySites, s => s.Category == "intersection" && Seeing(s).Count == 1);
    }

    [Fact]
    public void SomeKeySiteIsSeenOnlyByAnOfflineCamera()
    {
        Assert.Contains(Index.KeySites, s => Seeing(s) is [{ Online: false } only] && only.SiteCode == s.Code);
    }

    [Fact]
    public void MostAreaSitesAreFourFifthsCoveredByTheirCameras()
    {
        var projection = Index.Projection;
        var fractions = new List<double>();
        foreach (var site in Index.KeySites.Where(s => s.Geometry is Polygon))
        {
            var own = Cameras.Where(c => c.SiteCode == site.Code).ToList();
            if (own.Count == 0)
            {
                continue;
            }

            Assert.InRange(own.Count, 1, 4);
            var wedges = own.Select(c => projection.Project(Sector.BuildWedge(projection, c.Lon, c.Lat, c.AzimuthDeg, c.HfovDeg, c.RangeM))).ToList();
            var metric = projection.Project(site.Geometry);
            fractions.Add(CascadedPolygonUnion.Union(wedges).Intersection(metric).Area / metric.Area);
        }

        Assert.True(fractions.Count(f => f >= 0.79) >= 0.75 * fractions.Count, string.Join(", ", fractions.Select(f => f.ToString("F2"))));
    }

    [Fact]
    public void VillageCamerasStandInTheirVillageNearItsCentre()
    {
        var villages = Index.Grids.Where(g => g.Level == GridFeature.VillageLevel).ToDictionary(g => g.Code, StringComparer.Ordinal);
        var villageCameras = Cameras.Where(c => c.SiteCode.Length == 0).ToList();
        var perVillage = villageCameras.GroupBy(c => Index.Locate(c.Lon, c.Lat).VillageCode).ToDictionary(g => g.Key, g => g.ToList());

        Assert.Equal(villages.Count, perVillage.Count);
        foreach (var (code, cameras) in perVillage)
        {
            var village = villages[code];
            var centre = village.Geometry.InteriorPoint.Coordinate;
            Assert.InRange(cameras.Count, 3, 10);
            foreach (var camera in cameras)
            {
                Assert.InRange(Index.Projection.DistanceM(centre.X, centre.Y, camera.Lon, camera.Lat), 29.9, 400.1);
                Assert.True(village.Geometry.Contains(new GeometryFactory().CreatePoint(new Coordinate(camera.Lon, camera.Lat))), camera.DeviceId);
                if (!camera.Ptz)
                {
                    Assert.InRange(camera.HfovDeg, 50, 110);
                    Assert.InRange(camera.RangeM, 30, 150);
                }
            }
        }
    }
}
