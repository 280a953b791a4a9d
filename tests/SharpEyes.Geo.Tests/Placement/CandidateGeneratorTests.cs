using NetTopologySuite.Geometries;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Coverage.Placement;
using SharpEyes.Geo.Projection;

namespace SharpEyes.Geo.Tests.Placement;

public sealed class CandidateGeneratorTests
{
    private static readonly GeometryFactory s_factory = new(new PrecisionModel(), 0);
    private static readonly LocalProjection s_projection = new(114.6, 37.6);

    [Theory]
    [InlineData(0, 0)]
    [InlineData(25_000, -8_000)] // far from the central meridian: the aim must allow for convergence
    [InlineData(-40_000, 30_000)]
    public void KeySiteRingIsAimedAtTheSiteAndTheSiteGetsEveryAzimuth(double x, double y)
    {
        var model = new CameraModel(60, 50);
        var site = s_factory.CreatePoint(new Coordinate(x, y));

        var candidates = CandidateGenerator.Generate([("K1", site)], [], model, 50, s_projection);

        Assert.Equal(16, candidates.Count);
        Assert.All(candidates, c => Assert.Equal("key-site:K1", c.Source));
        var (siteLon, siteLat) = s_projection.Unproject(x, y);
        foreach (var ring in candidates.Take(8))
        {
            Assert.Equal(30.0, Math.Sqrt(Math.Pow(ring.X - x, 2) + Math.Pow(ring.Y - y, 2)), 9);
            Assert.InRange(ring.AzimuthDeg, 0, 360);
            var (lon, lat) = s_projection.Unproject(ring.X, ring.Y);
            // A 0.001° wedge only sees the site when the azimuth points straight at it.
            Assert.True(Sector.Contains(s_projection, lon, lat, ring.AzimuthDeg, 0.001, 50, siteLon, siteLat));
        }

        Assert.Equal([0.0, 45, 90, 135, 180, 225, 270, 315], candidates.Skip(8).Select(c => c.AzimuthDeg));
        Assert.All(candidates.Skip(8), c => Assert.Equal((x, y), (c.X, c.Y)));
    }

    [Fact]
    public void AreaSiteCandidatesCentreOnItsInteriorPoint()
    {
        var site = DemandSamplerTests.Square(100, 100, 40, 0);

        var candidates = CandidateGenerator.Generate([("A", site)], [], new CameraModel(90, 100), 100, s_projection);

        Assert.All(candidates.Skip(8), c => Assert.True(site.Covers(s_factory.CreatePoint(new Coordinate(c.X, c.Y)))));
        Assert.All(candidates.Take(8), c => Assert.Equal(60.0, site.InteriorPoint.Coordinate.Distance(new Coordinate(c.X, c.Y)), 9));
    }

    [Fact]
    public void KeySitePositionsOutsideTheRegionAreDropped()
    {
        var region = DemandSamplerTests.Square(0, 0, 1000, 0);
        // 10 m inside the western edge: of the ring at 30 m, the positions at 225°, 270° and 315° fall outside.
        var site = s_factory.CreatePoint(new Coordinate(10, 500));
        var outside = s_factory.CreatePoint(new Coordinate(-200, 500));

        var candidates = CandidateGenerator.Generate([("K", site), ("X", outside)], [("G", region)], new CameraModel(60, 50), 1000, s_projection)
            .Where(c => c.Source.StartsWith("key-site:", StringComparison.Ordinal))
            .ToList();

        Assert.Equal(5 + 8, candidates.Count);
        Assert.All(candidates, c => Assert.Equal("key-site:K", c.Source));
        Assert.All(candidates, c => Assert.True(region.Covers(s_factory.CreatePoint(new Coordinate(c.X, c.Y)))));
    }

    [Fact]
    public void GridCandidatesWalkTheBoundaryAndFillTheInterior()
    {
        var grid = DemandSamplerTests.Square(0, 0, 1000, 0);

        var candidates = CandidateGenerator.Generate([], [("G1", grid)], new CameraModel(60, 100), 100, s_projection);

        // 40 boundary positions (4000 m / 100 m; the walk's return to the start is the first position again) and the
        // 10 × 10 lattice at 50, 150, …, 950, each with 8 azimuths.
        Assert.Equal((40 + 100) * 8, candidates.Count);
        Assert.All(candidates, c => Assert.Equal("grid:G1", c.Source));
        Assert.All(candidates, c => Assert.True(grid.Covers(s_factory.CreatePoint(new Coordinate(c.X, c.Y)))));
        Assert.Equal(40, candidates.Count(c => c.AzimuthDeg == 0 && (c.X == 0 || c.X == 1000 || c.Y == 0 || c.Y == 1000)));
        Assert.All(candidates.Chunk(8), run => Assert.Equal([0.0, 45, 90, 135, 180, 225, 270, 315], run.Select(c => c.AzimuthDeg)));
    }

    [Fact]
    public void SharedBordersDoNotGiveDuplicatePositions()
    {
        // Two grids sharing a border walked in opposite directions from different starts.
        var west = s_factory.CreatePolygon([new(-500, 0), new(0, 0), new(0, 510), new(-500, 510), new(-500, 0)]);
        var east = s_factory.CreatePolygon([new(0, 510), new(0, 0), new(500, 0), new(500, 510), new(0, 510)]);
        double step = 60;

        var positions = CandidateGenerator.Generate([], [("W", west), ("E", east)], new CameraModel(60, 60), step, s_projection)
            .Select(c => (c.X, c.Y))
            .Distinct()
            .ToList();

        for (int a = 0; a < positions.Count; a++)
        {
            for (int b = a + 1; b < positions.Count; b++)
            {
                double d = Math.Sqrt(Math.Pow(positions[a].X - positions[b].X, 2) + Math.Pow(positions[a].Y - positions[b].Y, 2));
                Assert.True(d >= step / 2, $"{positions[a]} and {positions[b]} are {d:F2} m apart");
            }
        }

        // The shared border (x = 0) still has positions on it.
        Assert.Contains(positions, p => p.X == 0 && p.Y > 0 && p.Y < 510);
    }
}
