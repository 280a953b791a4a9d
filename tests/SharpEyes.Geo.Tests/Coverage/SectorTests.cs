using NetTopologySuite.Geometries;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Projection;

namespace SharpEyes.Geo.Tests.Coverage;

public sealed class SectorTests
{
    private const double CamLon = 114.75;
    private const double CamLat = 37.65;

    // Deliberately not centred on the camera: Contains must correct for meridian convergence (~0.09° here).
    private readonly LocalProjection _county = new(114.6, 37.6);

    /// <summary>A point at a true bearing and distance from the camera (exact, via a projection centred on it).</summary>
    private static (double Lon, double Lat) Offset(double bearingDeg, double distanceM)
    {
        var local = new LocalProjection(CamLon, CamLat);
        double b = bearingDeg * Math.PI / 180;
        return local.Unproject(distanceM * Math.Sin(b), distanceM * Math.Cos(b));
    }

    [Theory]
    [InlineData(90, 60, 50, 100, 40, true)] // inside
    [InlineData(90, 60, 50, 119.5, 40, true)] // just inside the edge
    [InlineData(90, 60, 50, 120.5, 40, false)] // just outside the edge
    [InlineData(90, 60, 50, 90, 49.9, true)] // just inside the range
    [InlineData(90, 60, 50, 90, 50.1, false)] // just beyond the range
    [InlineData(90, 60, 50, 270, 10, false)] // behind
    [InlineData(0, 10, 100, 356, 50, true)] // wraps through north
    [InlineData(355, 20, 100, 4, 50, true)] // wraps the other way
    [InlineData(355, 20, 100, 6, 50, false)]
    [InlineData(0, 360, 30, 200, 29, true)] // full circle
    [InlineData(0, 400, 30, 200, 31, false)] // full circle, beyond range
    [InlineData(180, 270, 80, 30, 50, false)] // reflex opening: 45..315 covered, 30 is not
    [InlineData(180, 270, 80, 50, 50, true)]
    public void Contains(double azimuth, double hfov, double range, double bearing, double distance, bool expected)
    {
        var (lon, lat) = Offset(bearing, distance);
        Assert.Equal(expected, Sector.Contains(_county, CamLon, CamLat, azimuth, hfov, range, lon, lat));
    }

    [Fact]
    public void ApexIsInside()
    {
        Assert.True(Sector.Contains(_county, CamLon, CamLat, 45, 10, 5, CamLon, CamLat));
    }

    [Fact]
    public void NinetyDegreeThirtyMetreWedgeHasAQuarterDiscArea()
    {
        var wedge = Sector.BuildWedge(_county, CamLon, CamLat, 30, 90, 30, segmentsPerQuarter: 64);

        double expected = Math.PI * 30 * 30 / 4; // 706.86 m²
        Assert.Equal(706.86, expected, 0.01);
        Assert.Equal(expected, _county.AreaM2(wedge), expected * 0.005);
        Assert.True(wedge.IsValid);
        Assert.Equal(4326, wedge.SRID);
    }

    [Fact]
    public void FullCircleWedgeIsADisc()
    {
        var disc = Sector.BuildWedge(_county, CamLon, CamLat, 0, 360, 100);
        Assert.Equal(Math.PI * 100 * 100, _county.AreaM2(disc), Math.PI * 100 * 100 * 0.005);
        Assert.Equal(64 + 1, disc.ExteriorRing.NumPoints); // 4 quarters × 16 chords, closed, no apex
    }

    [Fact]
    public void WedgeAgreesWithContains()
    {
        var wedge = Sector.BuildWedge(_county, CamLon, CamLat, 300, 70, 60, segmentsPerQuarter: 32);
        var factory = new GeometryFactory(new PrecisionModel(), 4326);
        int checkedPoints = 0;
        for (int bearing = 0; bearing < 360; bearing += 5)
        {
            foreach (double distance in new[] { 5.0, 30.0, 55.0, 65.0 })
            {
                // Stay clear of the edges, where a chord and the arc legitimately differ.
                double offEdge = Math.Abs(Sector.AngleDifference(bearing, 300)) - 35;
                if (Math.Abs(offEdge) < 2 || Math.Abs(distance - 60) < 1)
                {
                    continue;
                }

                var (lon, lat) = Offset(bearing, distance);
                bool inside = Sector.Contains(_county, CamLon, CamLat, 300, 70, 60, lon, lat);
                Assert.Equal(inside, wedge.Contains(factory.CreatePoint(new Coordinate(lon, lat))));
                checkedPoints++;
            }
        }

        Assert.True(checkedPoints > 200);
    }

    [Theory]
    [InlineData(10, 350, 20)]
    [InlineData(350, 10, -20)]
    [InlineData(180, 0, -180)]
    [InlineData(720, 0, 0)]
    [InlineData(-90, 90, -180)]
    public void AngleDifferenceIsNormalised(double a, double b, double expected)
    {
        Assert.Equal(expected, Sector.AngleDifference(a, b), 1e-12);
    }
}
