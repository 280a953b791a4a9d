using NetTopologySuite.Geometries;
using NetTopologySuite.Operation.Overlay;
using NetTopologySuite.Operation.OverlayNG;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Regions;
using static SharpEyes.Geo.Tests.Coverage.CoverageFixtures;

namespace SharpEyes.Geo.Tests.Coverage;

public sealed class CoverageModelTests
{
    private const string West = "130127100001001";
    private const string East = "130127100001002";

    // Two squares sharing the meridian 114.60, which is the projection's central meridian (a straight line x = 0).
    private static readonly RegionIndex s_pair = new(
        [Square(West, 114.59, 37.69, 114.60, 37.70), Square(East, 114.60, 37.69, 114.61, 37.70)], []);

    [Fact]
    public void CameraOnASharedBorderAimedAlongItCountsHalfInEachGrid()
    {
        var camera = Camera("border", 114.60, 37.695, 0, 90, 100);
        var model = Model(s_pair, null, camera);
        double wedgeArea = Wedge.Metric(s_pair.Projection, camera).Area;

        foreach (string code in new[] { West, East })
        {
            var grid = model.Grid(code)!;
            Assert.Equal(1, grid.Cameras);
            Assert.Equal(1, grid.CamerasWorking);
            var share = Assert.Single(grid.Shares);
            Assert.Equal("border", share.CameraId);
            Assert.Equal(0.5, share.Share, 1e-9);
            Assert.Equal(0.5, grid.CameraEquivalents, 1e-9);
            Assert.Equal(wedgeArea / 2, grid.DeclaredCoveredM2, wedgeArea * 1e-9);
            Assert.Equal(wedgeArea / 2, grid.RealCoveredM2, wedgeArea * 1e-9);
            Assert.Equal(wedgeArea / 2, grid.PotentialCoveredM2, wedgeArea * 1e-9);
            Assert.True(grid.IsGap);
        }

        var shares = model.GridSharesOf("border");
        Assert.Equal([West, East], shares.Select(s => s.GridCode));
        Assert.All(shares, s => Assert.Equal(0.5, s.Share, 1e-9));
        Assert.Equal(West, model.CameraGridCode("border")); // on the border the lowest code wins
    }

    [Fact]
    public void GridInsideOneWedgeIsFullyCovered()
    {
        var index = new RegionIndex([Square("130127100002001", 114.6000, 37.7010, 114.6002, 37.7012)], []);
        var camera = Camera("c", 114.6001, 37.7000, 0, 90, 300);
        var model = Model(index, null, camera);
        var grid = model.Grid("130127100002001")!;

        Assert.Equal(1.0, grid.RealFraction);
        Assert.Equal(1.0, grid.DeclaredFraction);
        Assert.Equal(1.0, grid.PotentialFraction);
        Assert.Equal(grid.AreaM2, grid.RealCoveredM2);
        Assert.False(grid.IsGap);
        Assert.InRange(grid.AreaM2, 300, 500); // ≈ 17.6 m × 22.2 m
        Assert.Equal(grid.AreaM2 / Wedge.Metric(index.Projection, camera).Area, Assert.Single(grid.Shares).Share, 1e-9);
        Assert.True(model.UncoveredMetric("130127100002001", CoverageTruth.Real).IsEmpty);
        var uncovered = model.Uncovered("130127100002001", CoverageTruth.Real);
        Assert.True(uncovered.IsEmpty);
        Assert.Equal(4326, uncovered.SRID);
    }

    [Theory]
    [InlineData(true, false, true)]
    [InlineData(false, false, false)] // offline
    [InlineData(true, true, false)] // faulty
    [InlineData(false, true, false)]
    public void RealCountsWorkingCamerasOnlyDeclaredCountsAll(bool online, bool faulty, bool counts)
    {
        var camera = Camera("c", 114.595, 37.695, 45, 60, 120, online: online, faulty: faulty);
        var model = Model(s_pair, null, camera);
        var grid = model.Grid(West)!;
        double wedgeArea = Wedge.Metric(s_pair.Projection, camera).Area;

        Assert.Equal(wedgeArea, grid.DeclaredCoveredM2, wedgeArea * 1e-9);
        Assert.Equal(counts ? wedgeArea : 0, grid.RealCoveredM2, wedgeArea * 1e-9);
        Assert.Equal(grid.DeclaredCoveredM2, grid.PotentialCoveredM2); // not PTZ
        Assert.Equal(1, grid.Cameras);
        Assert.Equal(counts ? 1 : 0, grid.CamerasWorking);
        Assert.Equal(counts ? 1 : 0, model.WorkingCamerasSeeing(Centre(s_pair, camera, 60).X, Centre(s_pair, camera, 60).Y));

        var summary = model.Summarize("");
        Assert.Equal(1, summary.Cameras);
        Assert.Equal(online ? 1 : 0, summary.CamerasOnline);
        Assert.Equal(faulty ? 1 : 0, summary.CamerasFaulty);
        Assert.Equal(counts ? 1 : 0, summary.CamerasWorking);
    }

    [Fact]
    public void PtzCurrentWedgeCountsForRealAndDeclaredItsCircleForPotential()
    {
        var ptz = Camera("ptz", 114.595, 37.695, 300, 50, 150, ptz: true);
        var model = Model(s_pair, null, ptz);
        var grid = model.Grid(West)!;
        double wedgeArea = Wedge.Metric(s_pair.Projection, ptz).Area;
        double circleArea = Wedge.Metric(s_pair.Projection, ptz, fullCircle: true).Area;

        // Potential is the circle, with the wedge's arc vertices (which stand a little outside the circle's chords).
        double potentialArea = Footprint(s_pair.Projection, ptz, CoverageTruth.Potential).Area;
        Assert.InRange(potentialArea - circleArea, 0, circleArea * 1e-3);
        Assert.Equal(wedgeArea, grid.RealCoveredM2, wedgeArea * 1e-9);
        Assert.Equal(wedgeArea, grid.DeclaredCoveredM2, wedgeArea * 1e-9);
        Assert.Equal(potentialArea, grid.PotentialCoveredM2, circleArea * 1e-9);
        Assert.Equal(Wedge.ExactArea(360, 150), circleArea, circleArea * 0.001);
        Assert.Equal(1.0, Assert.Single(grid.Shares).Share, 1e-12);
        Assert.Equal(0, model.Grid(East)!.Cameras); // the circle does not reach the east grid
        Assert.Equal(1, model.Summarize("").CamerasPtz);

        var potential = model.WedgeWgs84("ptz", potential: true);
        Assert.Equal(circleArea, s_pair.Projection.AreaM2(potential), circleArea * 1e-6);
        Assert.Equal(wedgeArea, s_pair.Projection.AreaM2(model.WedgeWgs84("ptz")), wedgeArea * 1e-6);

        double gridArea = grid.AreaM2;
        Assert.Equal(gridArea - potentialArea, model.UncoveredMetric(West, CoverageTruth.Potential).Area, gridArea * 1e-9);
        Assert.Equal(gridArea - wedgeArea, model.UncoveredMetric(West, CoverageTruth.Declared).Area, gridArea * 1e-9);
    }

    [Fact]
    public void PtzCircleAloneReachingAGridCountsOnlyForPotential()
    {
        // 100 m west of the border, aimed west: the wedge stays in the west grid, the 150 m circle crosses.
        var (lon, lat) = At(s_pair.Projection, 114.60, 37.695, 270, 100);
        var ptz = Camera("ptz", lon, lat, 270, 40, 150, ptz: true);
        var model = Model(s_pair, null, ptz);
        var east = model.Grid(East)!;

        Assert.Equal(0, east.Cameras);
        Assert.Equal(0, east.DeclaredCoveredM2);
        Assert.Empty(east.Shares);
        var circle = Wedge.Metric(s_pair.Projection, ptz, fullCircle: true);
        double expected = OverlayCoveredArea(s_pair.Projection.Project(s_pair.Grids.Single(g => g.Code == East).Geometry), [circle]);
        Assert.True(expected > 1000);
        Assert.Equal(expected, east.PotentialCoveredM2, expected * 1e-9);
    }

    [Fact]
    public void OverlappingWedgesCountTheirUnionOnce()
    {
        var a = Camera("a", 114.595, 37.695, 0, 90, 150);
        var b = Camera("b", 114.596, 37.695, 330, 60, 200, online: false);
        var model = Model(s_pair, null, a, b);
        var grid = model.Grid(West)!;
        var wa = Wedge.Metric(s_pair.Projection, a);
        var wb = Wedge.Metric(s_pair.Projection, b);
        Assert.True(wa.Intersection(wb).Area > 1000);

        Assert.Equal(wa.Union(wb).Area, grid.DeclaredCoveredM2, 1e-6);
        Assert.Equal(wa.Area, grid.RealCoveredM2, 1e-6);
        Assert.Equal(2, grid.Cameras);
        Assert.Equal(1, grid.CamerasWorking);
        Assert.Equal(["a", "b"], grid.Shares.Select(s => s.CameraId));
        Assert.Equal(2.0, grid.CameraEquivalents, 1e-12);
        Assert.Equal(1, model.WorkingCamerasSeeing(Centre(s_pair, a, 70).X, Centre(s_pair, a, 70).Y));
    }

    [Fact]
    public void AreasAgreeWithOverlayOnTheDemoCounty()
    {
        var index = DemoCounty;
        var cameras = RandomCameras(index, 250, 0xC0FFEE);
        var model = Model(index, null, [.. cameras]);
        var projection = index.Projection;
        var wedges = cameras.ToDictionary(c => c.Id, c => Wedge.Metric(projection, c));
        var unions = Enum.GetValues<CoverageTruth>().ToDictionary(
            truth => truth,
            truth => OverlayNGRobust.Union(cameras
                .Where(c => truth != CoverageTruth.Real || c.Working)
                .Select(c => Footprint(projection, c, truth))
                .Where(g => !g.IsEmpty)
                .ToList()));
        int checkedShares = 0;
        foreach (var gridFeature in model.LevelFourGrids)
        {
            var metric = projection.Project(gridFeature.Geometry);
            var grid = model.Grid(gridFeature.Code)!;
            double tolerance = 1e-6 + (grid.AreaM2 * 1e-9);
            Assert.Equal(metric.Area, grid.AreaM2, tolerance);
            Assert.Equal(Covered(metric, CoverageTruth.Real), grid.RealCoveredM2, tolerance);
            Assert.Equal(Covered(metric, CoverageTruth.Declared), grid.DeclaredCoveredM2, tolerance);
            Assert.Equal(Covered(metric, CoverageTruth.Potential), grid.PotentialCoveredM2, tolerance);
            Assert.True(grid.RealCoveredM2 <= grid.DeclaredCoveredM2 + tolerance, $"{grid}");
            Assert.True(grid.DeclaredCoveredM2 <= grid.PotentialCoveredM2 + tolerance, $"{grid}");

            var expectedShares = cameras
                .Select(c => (c.Id, Wedge: wedges[c.Id]))
                .Where(c => !c.Wedge.IsEmpty && c.Wedge.EnvelopeInternal.Intersects(metric.EnvelopeInternal))
                .Select(c => (c.Id, Inside: c.Wedge.Intersection(metric).Area, c.Wedge.Area))
                .Where(c => c.Inside > 1e-6)
                .ToList();
            Assert.Equal(expectedShares.Select(s => s.Id), grid.Shares.Select(s => s.CameraId));
            foreach (var (expected, actual) in expectedShares.Zip(grid.Shares))
            {
                Assert.Equal(expected.Inside / expected.Area, actual.Share, 1e-7);
                checkedShares++;
            }

            Assert.Equal(grid.Shares.Count, grid.Cameras);
            Assert.Equal(grid.Shares.Count(s => model.Camera(s.CameraId)!.Working), grid.CamerasWorking);
        }

        Assert.True(checkedShares > 200, $"only {checkedShares} shares");
        Assert.Contains(model.LevelFourGrids, g => model.Grid(g.Code)!.Shares.Count >= 3);

        // GridSharesOf gives each camera's shares, the same as the grids' (up to rounding), ordered by grid code.
        foreach (var camera in cameras)
        {
            var fromGrids = model.LevelFourGrids
                .SelectMany(g => model.Grid(g.Code)!.Shares.Where(s => s.CameraId == camera.Id).Select(s => new GridShare(g.Code, s.Share)))
                .ToList();
            var shares = model.GridSharesOf(camera.Id);
            Assert.Equal(fromGrids.Select(s => s.GridCode), shares.Select(s => s.GridCode));
            foreach (var (expected, actual) in fromGrids.Zip(shares))
            {
                Assert.Equal(expected.Share, actual.Share, 1e-12);
            }
        }

        // The county's grids tile it to the centimetre: a camera's shares add up to the part of its wedge inside it.
        var county = projection.Project(index.Grids.Single(g => g.Level == GridFeature.CountyLevel).Geometry);
        foreach (var camera in cameras.Take(60))
        {
            var wedge = wedges[camera.Id];
            double inCounty = wedge.IsEmpty ? 0 : wedge.Intersection(county).Area / wedge.Area;
            Assert.Equal(inCounty, model.GridSharesOf(camera.Id).Sum(s => s.Share), 1e-5);
        }

        double Covered(Geometry grid, CoverageTruth truth) =>
            OverlayNGRobust.Overlay(grid, unions[truth], SpatialFunction.Intersection).Area;
    }

    [Fact]
    public void DegenerateLayoutsAgreeWithOverlay()
    {
        var projection = s_pair.Projection;
        var (poleLon, poleLat) = (projection.CenterLon, 37.695);
        var (cornerLon, cornerLat) = (114.60, 37.69);
        var cameras = new List<CameraFov>
        {
            // Four cameras on one pole on the central meridian (the border), edge to edge: shared radial edges.
            Camera("pole-n", poleLon, poleLat, 0, 90, 120),
            Camera("pole-e", poleLon, poleLat, 90, 90, 120),
            Camera("pole-s", poleLon, poleLat, 180, 90, 80, online: false),
            Camera("pole-w", poleLon, poleLat, 270, 90, 120, ptz: true),

            // Two identical cameras, and one aimed exactly along the border (its edges are vertical lines on it).
            Camera("twin-a", 114.597, 37.697, 30, 60, 90),
            Camera("twin-b", 114.597, 37.697, 30, 60, 90),
            Camera("along", poleLon, 37.6905, 0, 180, 60),

            // Apex on the grids' shared corner, and on the outer border looking out.
            Camera("corner", cornerLon, cornerLat, 0, 120, 100),
            Camera("outward", 114.61, 37.695, 90, 60, 100, ptz: true),
        };
        var model = Model(s_pair, null, [.. cameras]);
        foreach (var feature in s_pair.Grids)
        {
            var metric = projection.Project(feature.Geometry);
            var grid = model.Grid(feature.Code)!;
            double tolerance = 1e-6 + (grid.AreaM2 * 1e-9);
            foreach (var truth in Enum.GetValues<CoverageTruth>())
            {
                double expected = OverlayCoveredArea(metric, cameras.Where(c => truth != CoverageTruth.Real || c.Working).Select(c => Footprint(projection, c, truth)));
                double actual = truth switch
                {
                    CoverageTruth.Real => grid.RealCoveredM2,
                    CoverageTruth.Declared => grid.DeclaredCoveredM2,
                    _ => grid.PotentialCoveredM2,
                };
                Assert.True(Math.Abs(expected - actual) <= tolerance, $"{feature.Code} {truth}: overlay {expected}, sweep {actual}");
            }

            foreach (var share in grid.Shares)
            {
                var wedge = Wedge.Metric(projection, cameras.Single(c => c.Id == share.CameraId));
                Assert.Equal(wedge.Intersection(metric).Area / wedge.Area, share.Share, 1e-9);
            }
        }

        Assert.Equal(0.5, model.Grid(West)!.Shares.Single(s => s.CameraId == "pole-n").Share, 1e-9);
        Assert.Equal(1.0, model.Grid(West)!.Shares.Single(s => s.CameraId == "pole-w").Share, 1e-9);
        Assert.DoesNotContain(model.Grid(West)!.Shares, s => s.CameraId == "pole-e");
        Assert.DoesNotContain(model.Grid(East)!.Shares, s => s.CameraId == "outward");
        Assert.Equal(1.0, model.GridSharesOf("along").Sum(s => s.Share), 1e-9);
    }

    [Fact]
    public void UncoveredIsTheGridMinusTheTruthsWedges()
    {
        var index = DemoCounty;
        var cameras = RandomCameras(index, 200, 42);
        var model = Model(index, null, [.. cameras]);
        foreach (var truth in Enum.GetValues<CoverageTruth>())
        {
            foreach (var grid in model.LevelFourGrids.Take(30))
            {
                var coverage = model.Grid(grid.Code)!;
                double covered = truth switch
                {
                    CoverageTruth.Real => coverage.RealCoveredM2,
                    CoverageTruth.Declared => coverage.DeclaredCoveredM2,
                    _ => coverage.PotentialCoveredM2,
                };
                var uncovered = model.UncoveredMetric(grid.Code, truth);
                Assert.True(uncovered is Polygon or MultiPolygon);
                Assert.Equal(coverage.AreaM2 - covered, uncovered.Area, 1e-6 + (coverage.AreaM2 * 1e-9));
                var wgs84 = model.Uncovered(grid.Code, truth);
                Assert.Equal(4326, wgs84.SRID);
                Assert.Equal(uncovered.Area, index.Projection.AreaM2(wgs84), 1e-3 + (uncovered.Area * 1e-6));
            }
        }

        Assert.Throws<KeyNotFoundException>(() => model.Uncovered("999999999999999", CoverageTruth.Real));
    }

    [Fact]
    public void WorkingCamerasSeeingUsesTheAnalyticSector()
    {
        var a = Camera("a", 114.595, 37.695, 90, 60, 100);
        var b = Camera("b", 114.595, 37.695, 100, 30, 200);
        var c = Camera("c", 114.595, 37.695, 100, 30, 200, online: false);
        var model = Model(s_pair, null, a, b, c);
        var projection = s_pair.Projection;
        (double X, double Y) P(double bearing, double distance)
        {
            var (lon, lat) = At(projection, 114.595, 37.695, bearing, distance);
            return projection.Project(lon, lat);
        }

        Assert.Equal(2, Count(P(100, 50)));
        Assert.Equal(1, Count(P(100, 150))); // beyond a's range
        Assert.Equal(1, Count(P(65, 50))); // outside b's 85–115
        Assert.Equal(0, Count(P(270, 50)));
        Assert.Equal(0, Count(P(100, 250)));
        Assert.Equal(2, Count(projection.Project(114.595, 37.695))); // the apex is seen

        int Count((double X, double Y) p) => model.WorkingCamerasSeeing(p.X, p.Y);
    }

    [Fact]
    public void WideCamerasAreFoundByPointQueries()
    {
        var wide = Camera("wide", 114.60, 37.695, 0, 360, 12_000);
        var model = Model(s_pair, null, wide);
        var (x, y) = s_pair.Projection.Project(114.67, 37.70);
        Assert.Equal(1, model.WorkingCamerasSeeing(x, y));
        Assert.Equal(1.0, model.Grid(East)!.RealFraction);
        Assert.True(model.Remove("wide"));
        Assert.Equal(0, model.WorkingCamerasSeeing(x, y));
    }

    [Fact]
    public void SummarizeFiltersByPrefix()
    {
        var index = DemoCounty;
        var cameras = RandomCameras(index, 120, 7);
        var model = Model(index, null, [.. cameras]);
        var all = model.Summarize("");
        Assert.Equal(107, all.Grids);
        Assert.Equal(40, all.KeySites);
        Assert.Equal(120, all.Cameras);
        Assert.Equal(model.LevelFourGrids.Sum(g => model.Grid(g.Code)!.RealCoveredM2), all.RealCoveredM2, 1e-6);
        Assert.Equal(model.LevelFourGrids.Count(g => model.Grid(g.Code)!.IsGap), all.GridGaps);
        Assert.Equal(cameras.Count(c => c.Working), all.CamerasWorking);
        Assert.Equal(cameras.Count(c => c.Ptz), all.CamerasPtz);
        Assert.Equal(model.SitesWithPrefix("").Count(s => s.RealCovered), all.KeySitesCoveredReal);
        Assert.Equal(model.SitesWithPrefix("").Count(s => s.DeclaredCovered), all.KeySitesCoveredDeclared);

        string town = "130127100";
        var part = model.Summarize(town);
        var grids = model.GridsWithPrefix(town);
        Assert.Equal(grids.Count, part.Grids);
        Assert.True(part.Grids is > 0 and < 107);
        Assert.All(grids, g => Assert.StartsWith(town, g.Code, StringComparison.Ordinal));
        Assert.Equal(grids.Sum(g => g.AreaM2), part.AreaM2, 1e-6);
        Assert.Equal(grids.Sum(g => g.DeclaredCoveredM2), part.DeclaredCoveredM2, 1e-6);
        Assert.Equal(cameras.Count(c => (model.CameraGridCode(c.Id) ?? "").StartsWith(town, StringComparison.Ordinal)), part.Cameras);
        Assert.Equal(model.SitesWithPrefix(town).Count, part.KeySites);
        Assert.True(part.Cameras > 0);

        var none = model.Summarize("999");
        Assert.Equal((0, 0, 0, 0.0), (none.Grids, none.KeySites, none.Cameras, none.AreaM2));
    }

    [Fact]
    public void GridTargetsDecideGaps()
    {
        var rules = new CoverageRules { DefaultGridTarget = 0.3, GridTargets = new Dictionary<string, double> { [East] = 0.01 } };
        var camera = Camera("c", 114.605, 37.695, 0, 90, 200);
        var model = Model(s_pair, rules, camera);
        Assert.Equal(0.3, model.Grid(West)!.Target);
        Assert.True(model.Grid(West)!.IsGap); // nothing there
        Assert.Equal(0.01, model.Grid(East)!.Target);
        Assert.False(model.Grid(East)!.IsGap); // ≈ 3 %
        Assert.Equal(1, model.Summarize("").GridGaps);
    }

    [Fact]
    public void FirstRecomputeComputesEverythingThenOnlyWhatIsDirty()
    {
        var model = new CoverageModel(DemoCounty, new CoverageRules());
        Assert.Null(model.Grid(model.LevelFourGrids[0].Code));

        var first = model.Recompute();
        Assert.Equal(107, first.Grids.Count);
        Assert.Equal(40, first.Sites.Count);
        Assert.All(first.Grids, g => Assert.Null(g.Before));
        Assert.All(first.Grids, g => Assert.Empty(g.Causes));
        Assert.Equal(first.Grids.Select(g => g.After.Code).Order(StringComparer.Ordinal), first.Grids.Select(g => g.After.Code));

        var nothing = model.Recompute();
        Assert.Empty(nothing.Grids);
        Assert.Empty(nothing.Sites);

        var all = model.RecomputeAll();
        Assert.Equal(107, all.Grids.Count);
        Assert.All(all.Grids, g => Assert.Equal(g.Before, g.After));
        Assert.All(all.Sites, s => Assert.Equal(s.Before, s.After));
        Assert.Equal(107, model.GridsWithPrefix("").Count);
        Assert.Equal(40, model.SitesWithPrefix("").Count);
    }

    [Fact]
    public void LevelFourGridsFallBackToTheFinestLevel()
    {
        Assert.Equal(107, new CoverageModel(DemoCounty, new CoverageRules()).LevelFourGrids.Count);
        var villages = DemoCounty.Grids.Where(g => g.Level == GridFeature.VillageLevel).ToList();
        var model = new CoverageModel(new RegionIndex(villages, []), new CoverageRules());
        Assert.Equal(villages.Select(v => v.Code), model.LevelFourGrids.Select(g => g.Code));
        Assert.Empty(new CoverageModel(new RegionIndex([], []), new CoverageRules()).LevelFourGrids);
    }

    [Fact]
    public void CamerasAreListedAndReplacedById()
    {
        var model = new CoverageModel(s_pair, new CoverageRules());
        model.Upsert(Camera("b", 114.595, 37.695, 0, 90, 50));
        model.Upsert(Camera("a", 114.605, 37.695, 0, 90, 50));
        model.Upsert(Camera("b", 114.596, 37.696, 10, 90, 50));
        Assert.Equal(2, model.CameraCount);
        Assert.Equal(["a", "b"], model.Cameras().Select(c => c.Id));
        Assert.Equal(114.596, model.Camera("b")!.Lon);
        Assert.Null(model.Camera("zzz"));
        Assert.Null(model.CameraGridCode("zzz"));
        Assert.Empty(model.GridSharesOf("zzz"));
        Assert.Throws<KeyNotFoundException>(() => model.WedgeWgs84("zzz"));
        Assert.True(model.Remove("a"));
        Assert.False(model.Remove("a"));
        Assert.Equal(["b"], model.Cameras().Select(c => c.Id));
        model.Upsert(Camera("out", 100, 30, 0, 90, 50));
        Assert.Equal(string.Empty, model.CameraGridCode("out"));
    }

    [Theory]
    [InlineData(double.NaN, 37.7, 0, 90, 50)]
    [InlineData(114.6, 95, 0, 90, 50)]
    [InlineData(114.6, 37.7, double.PositiveInfinity, 90, 50)]
    [InlineData(114.6, 37.7, 0, -1, 50)]
    [InlineData(114.6, 37.7, 0, 90, -5)]
    [InlineData(114.6, 37.7, 0, 90, double.NaN)]
    public void InvalidCamerasAreRejected(double lon, double lat, double azimuth, double hfov, double range)
    {
        var model = new CoverageModel(s_pair, new CoverageRules());
        Assert.ThrowsAny<ArgumentException>(() => model.Upsert(Camera("x", lon, lat, azimuth, hfov, range)));
        Assert.ThrowsAny<ArgumentException>(() => model.Upsert(Camera("", 114.6, 37.7, 0, 90, 50)));
        Assert.Equal(0, model.CameraCount);
    }

    [Fact]
    public void CameraWithNoRangeSeesNothing()
    {
        var model = Model(s_pair, null, Camera("blind", 114.595, 37.695, 0, 90, 0), Camera("flat", 114.595, 37.695, 0, 0, 100));
        Assert.Equal(0, model.Grid(West)!.Cameras);
        Assert.Equal(0, model.Grid(West)!.DeclaredCoveredM2);
        var (x, y) = s_pair.Projection.Project(114.595, 37.695);
        Assert.Equal(0, model.WorkingCamerasSeeing(x, y));
        Assert.True(model.WedgeWgs84("blind").IsEmpty);
        Assert.Equal(West, model.CameraGridCode("blind"));
    }

    [Fact]
    public void ResultsCompareByValue()
    {
        var a = new GridCoverage("g", 10, 1, 2, 3, 1, 1, 0.8, [new CameraShare("c", 0.5)]);
        var b = new GridCoverage("g", 10, 1, 2, 3, 1, 1, 0.8, new List<CameraShare> { new("c", 0.5) });
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, b with { Shares = [new CameraShare("c", 0.6)] });
        Assert.Equal(0.1, a.RealFraction, 1e-15);
        Assert.True(a.IsGap);
        Assert.Equal(0, (a with { AreaM2 = 0 }).RealFraction);

        var s = new KeySiteCoverage("k", "school", 5, "g", true, 100, 1, 0.8, ["a"], ["a", "b"], 0.5, 0.9, false, true);
        Assert.Equal(s, s with { DeclaredCameras = new List<string> { "a", "b" } });
        Assert.NotEqual(s, s with { WorkingCameras = [] });
    }

    /// <summary>A point along the camera's azimuth, in the projection's metres.</summary>
    private static (double X, double Y) Centre(RegionIndex index, CameraFov camera, double distance)
    {
        var (lon, lat) = At(index.Projection, camera.Lon, camera.Lat, camera.AzimuthDeg, distance);
        return index.Projection.Project(lon, lat);
    }
}
