using NetTopologySuite.Geometries;
using SharpEyes.Geo.Coverage.Placement;

namespace SharpEyes.Geo.Tests.Placement;

public sealed class DemandSamplerTests
{
    private static readonly GeometryFactory s_factory = new(new PrecisionModel(), 0);

    private static readonly Func<double, double, int> s_noCameras = (_, _) => 0;

    [Theory]
    [InlineData(10_000, 0, 50)]
    [InlineData(10_000, 30, 50)]
    [InlineData(10_000, 17, 137)]
    [InlineData(3_000, 45, 21.5)]
    public void LatticeCountMatchesAreaOverSpacingSquared(double side, double rotationDeg, double spacing)
    {
        var square = Square(-side / 3, -side / 4, side, rotationDeg);

        var points = DemandSampler.GridArea([("G", square)], spacing, 1e-6, s_noCameras).ToList();

        double expected = square.Area / (spacing * spacing);
        Assert.InRange(points.Count, expected * 0.95, expected * 1.05);
        Assert.All(points, p =>
        {
            Assert.Equal(spacing * spacing, p.AreaM2, 9);
            Assert.Equal(1e-6 * spacing * spacing, p.Weight, 15);
            Assert.Equal((1, 0), (p.Required, p.Current));
            Assert.Null(p.SiteCode);
        });
    }

    [Theory]
    [InlineData(7.0)]
    [InlineData(10.0)]
    [InlineData(23.3)]
    public void NoPointOutsideAConcavePolygonWithAHole(double spacing)
    {
        // An L (0..100 × 0..30 plus 0..30 × 30..100) with a 10 × 10 hole at 10..20 × 10..20, checked analytically.
        var shell = s_factory.CreateLinearRing(
        [
            new(0, 0), new(100, 0), new(100, 30), new(30, 30), new(30, 100), new(0, 100), new(0, 0),
        ]);
        var hole = s_factory.CreateLinearRing([new(10, 10), new(10, 20), new(20, 20), new(20, 10), new(10, 10)]);
        var l = s_factory.CreatePolygon(shell, [hole]);

        var points = DemandSampler.GridArea([("L", l)], spacing, 1, s_noCameras).ToList();

        static bool Inside(double x, double y) =>
            ((x > 0 && x < 100 && y > 0 && y < 30) || (x > 0 && x < 30 && y > 0 && y < 100))
            && !(x >= 10 && x <= 20 && y >= 10 && y <= 20);
        Assert.NotEmpty(points);
        Assert.All(points, p => Assert.True(Inside(p.X, p.Y), $"({p.X}, {p.Y}) is outside the L"));
        // Every lattice point of the bounding box that is inside is produced.
        int expected = 0;
        for (double y = spacing / 2; y < 100; y += spacing)
        {
            for (double x = spacing / 2; x < 100; x += spacing)
            {
                expected += Inside(x, y) ? 1 : 0;
            }
        }

        Assert.Equal(expected, points.Count);
    }

    [Fact]
    public void NeighbouringGridsShareOneLatticeWithoutDoubleCounting()
    {
        var west = Square(-500, 0, 500, 0);
        var east = Square(0, 0, 500, 0);

        int separate = DemandSampler.GridArea([("W", west), ("E", east)], 40, 1, s_noCameras).Count();
        var both = DemandSampler.GridArea([("W", west), ("E", east)], 40, 1, s_noCameras).Select(p => (p.X, p.Y)).ToList();
        var rectangle = s_factory.CreatePolygon([new(-500, 0), new(500, 0), new(500, 500), new(-500, 500), new(-500, 0)]);
        int union = DemandSampler.GridArea([("U", rectangle)], 40, 1, s_noCameras).Count();

        Assert.Equal(24 * 12, union); // x = ±20 … ±460, y = 20 … 460
        Assert.Equal(union, separate);
        Assert.Equal(both.Count, both.Distinct().Count());
    }

    [Fact]
    public void GridAreaAlreadySeenByAWorkingCameraIsSkipped()
    {
        var square = Square(-1000, -1000, 2000, 0);

        var points = DemandSampler.GridArea([("G", square)], 50, 1, (x, _) => x < 0 ? 1 : 0).ToList();

        Assert.Equal(20 * 40, points.Count);
        Assert.All(points, p => Assert.True(p.X > 0));
    }

    [Theory]
    [InlineData(0, 2, 1)]
    [InlineData(1, 2, 1)]
    [InlineData(2, 2, 0)]
    [InlineData(3, 2, 0)]
    public void PointSiteIsOneDemandPointUntilSatisfied(int current, int required, int expectedCount)
    {
        var site = s_factory.CreatePoint(new Coordinate(120, -45));

        var points = DemandSampler.KeySite("S1", site, 5, required, 30, (x, y) => x == 120 && y == -45 ? current : 99).ToList();

        Assert.Equal(expectedCount, points.Count);
        if (expectedCount == 1)
        {
            Assert.Equal(new DemandPoint(120, -45, 5, required, current, "S1", 0), points[0]);
        }
    }

    [Theory]
    [InlineData(50, 25, 16)] // √area / 4 = 25 is finer than the spacing
    [InlineData(10, 10, 100)] // the spacing is finer
    public void AreaSiteSharesItsWeightOverItsLattice(double spacing, double expectedSpacing, int expectedCount)
    {
        var site = Square(1000, 2000, 100, 0);

        var points = DemandSampler.KeySite("A", site, 8, 1, spacing, s_noCameras).ToList();

        Assert.Equal(expectedCount, points.Count);
        Assert.Equal(8, points.Sum(p => p.Weight), 9);
        Assert.Equal(10_000, points.Sum(p => p.AreaM2), 6);
        Assert.All(points, p =>
        {
            Assert.InRange(p.X, 1000, 1100);
            Assert.InRange(p.Y, 2000, 2100);
            Assert.Equal("A", p.SiteCode);
        });
        var xs = points.Select(p => p.X).Distinct().Order().ToList();
        Assert.Equal(expectedSpacing, xs[1] - xs[0], 9);
    }

    [Fact]
    public void AreaSiteKeepsOnlyItsUnsatisfiedPartWithTheirShares()
    {
        var site = Square(0, 0, 100, 0);

        var points = DemandSampler.KeySite("A", site, 8, 2, 50, (x, _) => x < 50 ? 2 : 1).ToList();

        Assert.Equal(8, points.Count); // the eastern half of the 4 × 4 lattice
        Assert.All(points, p => Assert.Equal((0.5, 625.0, 2, 1), (p.Weight, p.AreaM2, p.Required, p.Current)));
    }

    [Fact]
    public void AreaSiteTooThinForTheLatticeFallsBackToItsInteriorPoint()
    {
        // A diagonal strip 0.01 m high (area 4 m², so spacing √4 / 4 = 0.5 m): the centred lattice's y − x takes the
        // values −0.045 + 0.5·n, none of them inside the strip's 0.2 < y − x < 0.21.
        var sliver = s_factory.CreatePolygon([new(0, 0.2), new(400, 400.2), new(400, 400.21), new(0, 0.21), new(0, 0.2)]);

        var point = Assert.Single(DemandSampler.KeySite("T", sliver, 3, 1, 30, s_noCameras));

        Assert.Equal(3.0, point.Weight);
        Assert.Equal(4.0, point.AreaM2, 6);
        Assert.True(sliver.Covers(s_factory.CreatePoint(new Coordinate(point.X, point.Y))));
    }

    [Fact]
    public void BadArgumentsThrowEagerly()
    {
        var square = Square(0, 0, 10, 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => DemandSampler.GridArea([("G", square)], 0, 1, s_noCameras));
        Assert.Throws<ArgumentOutOfRangeException>(() => DemandSampler.KeySite("A", square, 0, 1, 10, s_noCameras));
        Assert.Throws<ArgumentOutOfRangeException>(() => DemandSampler.KeySite("A", square, 1, 0, 10, s_noCameras));
    }

    /// <summary>A square with its south-west corner at (x, y), rotated about that corner.</summary>
    internal static Polygon Square(double x, double y, double side, double rotationDeg)
    {
        double a = rotationDeg * Math.PI / 180;
        Coordinate Corner(double u, double v) => new(x + (u * Math.Cos(a)) - (v * Math.Sin(a)), y + (u * Math.Sin(a)) + (v * Math.Cos(a)));
        return s_factory.CreatePolygon([Corner(0, 0), Corner(side, 0), Corner(side, side), Corner(0, side), Corner(0, 0)]);
    }
}
