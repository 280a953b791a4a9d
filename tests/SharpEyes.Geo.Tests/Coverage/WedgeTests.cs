using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Demo;
using SharpEyes.Geo.Projection;
using static SharpEyes.Geo.Tests.Coverage.CoverageFixtures;

namespace SharpEyes.Geo.Tests.Coverage;

public sealed class WedgeTests
{
    private readonly LocalProjection _projection = new(Lon0, Lat0);

    [Fact]
    public void NinetyDegreeThirtyMetreWedgeIsAQuarterDisc()
    {
        double exact = Wedge.ExactArea(90, 30);
        Assert.Equal(Math.PI * 900 / 4, exact);
        Assert.Equal(706.86, exact, 0.005);

        var wedge = Wedge.Metric(_projection, Camera("c", 114.62, 37.71, 30, 90, 30));
        Assert.True(wedge.IsValid);
        Assert.Equal(0, wedge.SRID);
        Assert.True(Math.Abs(wedge.Area - 706.86) / 706.86 < 0.001, $"area {wedge.Area}");
        Assert.True(wedge.Area < exact); // chords cut inside the arc
        Assert.Equal(1 + 24 + 1, wedge.NumPoints); // apex, ceil(90/4) = 23 chords = 24 arc points, closing point
        var (cx, cy) = _projection.Project(114.62, 37.71);
        Assert.Equal(cx, wedge.ExteriorRing.GetCoordinateN(0).X, 1e-9);
        Assert.Equal(cy, wedge.ExteriorRing.GetCoordinateN(0).Y, 1e-9);
    }

    [Fact]
    public void FullCircleHasNoApexAndADiscArea()
    {
        var disc = Wedge.Metric(_projection, Camera("c", 114.55, 37.68, 123, 360, 50));
        double exact = Wedge.ExactArea(360, 50);
        Assert.Equal(Math.PI * 2500, exact, 1e-9);
        Assert.Equal(90 + 1, disc.NumPoints);
        Assert.True(Math.Abs(disc.Area - exact) / exact < 0.001);
        Assert.True(disc.IsValid);

        // Every vertex is on the circle: no apex.
        var (cx, cy) = _projection.Project(114.55, 37.68);
        foreach (var c in disc.Coordinates)
        {
            Assert.Equal(50, Math.Sqrt(((c.X - cx) * (c.X - cx)) + ((c.Y - cy) * (c.Y - cy))), 1e-6);
        }

        // fullCircle ignores azimuth and opening; so does an opening beyond 360.
        var forced = Wedge.Metric(_projection, Camera("c", 114.55, 37.68, 10, 40, 50), fullCircle: true);
        Assert.True(forced.EqualsExact(disc));
        Assert.True(Wedge.Metric(_projection, Camera("c", 114.55, 37.68, 77, 400, 50)).EqualsExact(disc));
        Assert.Equal(exact, Wedge.ExactArea(400, 50));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(4, 1)]
    [InlineData(4.01, 2)]
    [InlineData(60, 15)]
    [InlineData(270, 68)]
    [InlineData(359, 90)]
    public void ArcIsSplitIntoChordsOfAtMostFourDegrees(double hfov, int chords)
    {
        var wedge = Wedge.Metric(_projection, Camera("c", Lon0, Lat0, 200, hfov, 100));
        Assert.Equal(1 + (chords + 1) + 1, wedge.NumPoints);
        Assert.True(wedge.IsValid);
        double loss = 1 - (wedge.Area / Wedge.ExactArea(hfov, 100));
        Assert.InRange(loss, 0, 0.001);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(90)]
    [InlineData(225)]
    public void WedgeIsCentredOnTheTrueAzimuthAwayFromTheCentralMeridian(double azimuth)
    {
        // 25 km east of the central meridian the convergence is ≈ 0.14°: the wedge must still point along the true
        // azimuth, so its arc vertices are exactly the ones Sector.Contains accepts.
        double lon = Lon0 + 0.28, lat = Lat0;
        Assert.True(Math.Abs(_projection.ConvergenceDegrees(lon, lat)) > 0.1);
        var camera = Camera("c", lon, lat, azimuth, 8, 200);
        var wedge = Wedge.Metric(_projection, camera);
        Assert.Equal(1 + 3 + 1, wedge.NumPoints); // two chords: the middle arc vertex is on the azimuth
        var middle = wedge.ExteriorRing.GetCoordinateN(2);
        var (mLon, mLat) = _projection.Unproject(middle.X, middle.Y);
        var (eLon, eLat) = At(_projection, lon, lat, azimuth, 200);
        Assert.Equal(eLon, mLon, 1e-9);
        Assert.Equal(eLat, mLat, 1e-9);

        // The edges lie on the opening's limits: just inside them is inside, just outside is not.
        foreach (double bearing in new[] { azimuth - 3.9, azimuth + 3.9 })
        {
            var (pLon, pLat) = At(_projection, lon, lat, bearing, 150);
            Assert.True(Sector.Contains(_projection, lon, lat, azimuth, 8, 200, pLon, pLat));
            var (x, y) = _projection.Project(pLon, pLat);
            Assert.True(wedge.Contains(wedge.Factory.CreatePoint(new NetTopologySuite.Geometries.Coordinate(x, y))));
        }
    }

    [Theory]
    [InlineData(0, 90)]
    [InlineData(30, 0)]
    [InlineData(0, 0)]
    public void NoRangeOrNoOpeningIsEmpty(double range, double hfov)
    {
        Assert.True(Wedge.Metric(_projection, Camera("c", Lon0, Lat0, 0, hfov, range)).IsEmpty);
    }

    [Fact]
    public void ContainsMetricMatchesContains()
    {
        var rng = new SplitMix64(99);
        double camLon = Lon0 + 0.1, camLat = Lat0 - 0.05;
        var (cx, cy) = _projection.Project(camLon, camLat);
        double convergence = _projection.ConvergenceDegrees(camLon, camLat);
        int inside = 0;
        for (int i = 0; i < 2000; i++)
        {
            double az = rng.NextDouble() * 360, hfov = rng.NextDouble() * 200, range = 10 + (rng.NextDouble() * 300);
            var (lon, lat) = At(_projection, camLon, camLat, rng.NextDouble() * 360, rng.NextDouble() * 400);
            var (x, y) = _projection.Project(lon, lat);
            bool expected = Sector.Contains(_projection, camLon, camLat, az, hfov, range, lon, lat);
            Assert.Equal(expected, Sector.ContainsMetric(cx, cy, convergence, az, hfov, range, x, y));
            inside += expected ? 1 : 0;
        }

        Assert.InRange(inside, 100, 1900);
    }
}
