using NetTopologySuite.Geometries;
using SharpEyes.Geo.Projection;

namespace SharpEyes.Geo.Tests.Projection;

public sealed class LocalProjectionTests
{
    private static readonly GeometryFactory s_factory = new(new PrecisionModel(), 4326);
    private readonly LocalProjection _gaoyi = new(114.6, 37.6);

    [Fact]
    public void CentreMapsToOrigin()
    {
        var (x, y) = _gaoyi.Project(114.6, 37.6);
        Assert.Equal(0, x, 1e-6);
        Assert.Equal(0, y, 1e-6);
        Assert.Equal((114.6, 37.6), (_gaoyi.CenterLon, _gaoyi.CenterLat));
    }

    [Fact]
    public void AxesPointEastAndNorth()
    {
        var east = _gaoyi.Project(114.61, 37.6);
        var north = _gaoyi.Project(114.6, 37.61);
        Assert.True(east.X > 800 && Math.Abs(east.Y) < 1);
        Assert.True(north.Y > 1100 && Math.Abs(north.X) < 1e-6);
        // One hundredth of a degree of latitude at 37.6° N is about 1109.9 m (meridian arc).
        Assert.Equal(Vincenty.DistanceM(114.6, 37.6, 114.6, 37.61), north.Y, 0.01);
    }

    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.3, 0.0)]
    [InlineData(-0.3, 0.25)]
    [InlineData(0.2, -0.27)]
    [InlineData(-0.35, -0.3)]
    public void ProjectUnprojectRoundTrips(double dLon, double dLat)
    {
        var (x, y) = _gaoyi.Project(114.6 + dLon, 37.6 + dLat);
        var (lon, lat) = _gaoyi.Unproject(x, y);
        Assert.Equal(114.6 + dLon, lon, 1e-10);
        Assert.Equal(37.6 + dLat, lat, 1e-10);
    }

    [Theory]
    [InlineData(114.6, 37.6, 114.9, 37.6)] // 26 km east
    [InlineData(114.3, 37.35, 114.9, 37.85)] // 77 km diagonal across a ±30 km box
    [InlineData(114.35, 37.8, 114.36, 37.81)] // 1.4 km at the edge
    [InlineData(114.85, 37.35, 114.85, 37.36)] // north-south at the corner
    [InlineData(114.6, 37.6, 114.6001, 37.6)] // 8.8 m
    public void DistancesAgreeWithVincentyWithinAThousandth(double lon1, double lat1, double lon2, double lat2)
    {
        double expected = Vincenty.DistanceM(lon1, lat1, lon2, lat2);
        double actual = _gaoyi.DistanceM(lon1, lat1, lon2, lat2);
        Assert.Equal(expected, actual, expected * 0.001);
        // In fact it is two orders of magnitude better.
        Assert.Equal(expected, actual, expected * 2e-5);
    }

    [Fact]
    public void AreaOfAProjectedSquareKilometre()
    {
        // A 1 km × 1 km square built in metres 20 km from the centre, then taken back to lon/lat.
        var metric = s_factory.CreatePolygon(
        [
            new Coordinate(20000, 5000), new Coordinate(21000, 5000), new Coordinate(21000, 6000),
            new Coordinate(20000, 6000), new Coordinate(20000, 5000),
        ]);
        var wgs84 = _gaoyi.Unproject(metric);
        Assert.Equal(4326, wgs84.SRID);
        Assert.Equal(1e6, _gaoyi.AreaM2(wgs84), 1e-3);
        var back = _gaoyi.Project(wgs84);
        Assert.True(back.EqualsExact(metric, 1e-3)); // forward and inverse series agree to well under 1 mm
    }

    [Fact]
    public void AreaOfALatLonCellMatchesTheEllipsoidalFormula()
    {
        // Exact area of a lon/lat cell on the ellipsoid: authalic-latitude formula (independent of the projection).
        double lon0 = 114.55, lon1 = 114.65, lat0 = 37.55, lat1 = 37.65;
        var cell = s_factory.CreatePolygon(
        [
            new Coordinate(lon0, lat0), new Coordinate(lon1, lat0), new Coordinate(lon1, lat1),
            new Coordinate(lon0, lat1), new Coordinate(lon0, lat0),
        ]);
        double expected = EllipsoidCellArea(lon0, lon1, lat0, lat1);
        // Straight chords in the projection versus parallels: sagitta effect is < 1e-6 relative at this size.
        Assert.Equal(expected, _gaoyi.AreaM2(cell), expected * 1e-4);
    }

    [Fact]
    public void ConvergenceIsZeroOnTheCentralMeridianAndGrowsAway()
    {
        Assert.Equal(0, _gaoyi.ConvergenceDegrees(114.6, 37.9), 1e-6);
        // |γ| ≈ Δλ·sin φ for small Δλ: 0.3° · sin 37.6° ≈ 0.183°. East of the central meridian, meridians lean
        // towards it going north, so true north points west of grid north: a negative (anticlockwise) angle.
        Assert.Equal(-0.3 * Math.Sin(37.6 * Math.PI / 180), _gaoyi.ConvergenceDegrees(114.9, 37.6), 1e-3);
        Assert.Equal(0.3 * Math.Sin(37.6 * Math.PI / 180), _gaoyi.ConvergenceDegrees(114.3, 37.6), 1e-3);
    }

    [Fact]
    public void RejectsOutOfRangeCentres()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LocalProjection(200, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LocalProjection(0, 89));
    }

    private static double EllipsoidCellArea(double lon0, double lon1, double lat0, double lat1)
    {
        const double a = 6378137.0, f = 1 / 298.257223563;
        double e2 = f * (2 - f), e = Math.Sqrt(e2);
        static double Q(double phi, double e, double e2)
        {
            double s = Math.Sin(phi);
            return (1 - e2) * ((s / (1 - (e2 * s * s))) - (1 / (2 * e) * Math.Log((1 - (e * s)) / (1 + (e * s)))));
        }

        double dLambda = (lon1 - lon0) * Math.PI / 180;
        return a * a / 2 * dLambda * (Q(lat1 * Math.PI / 180, e, e2) - Q(lat0 * Math.PI / 180, e, e2));
    }
}
