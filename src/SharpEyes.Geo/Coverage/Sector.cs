using NetTopologySuite.Geometries;
using SharpEyes.Geo.Projection;

namespace SharpEyes.Geo.Coverage;

/// <summary>
/// A fixed camera's field of view as a circular sector (wedge): apex at the camera, centred on its azimuth
/// (degrees clockwise from true north), opening = horizontal field of view, radius = effective range in metres.
/// An opening of 360° or more is the full circle.
/// </summary>
public static class Sector
{
    /// <summary>Slack for floating-point comparisons on the range (metres) and the half-opening (degrees).</summary>
    private const double Epsilon = 1e-9;

    /// <summary>
    /// True when (lon, lat) lies in the camera's sector: distance ≤ range and angular difference from the azimuth
    /// ≤ hfov/2. The apex itself is inside. Distances and bearings are measured in <paramref name="projection"/>,
    /// with the bearing corrected for meridian convergence at the camera.
    /// </summary>
    public static bool Contains(
        LocalProjection projection,
        double camLon,
        double camLat,
        double azimuthDeg,
        double hfovDeg,
        double rangeM,
        double lon,
        double lat)
    {
        ArgumentNullException.ThrowIfNull(projection);
        var (cx, cy) = projection.Project(camLon, camLat);
        var (px, py) = projection.Project(lon, lat);
        return ContainsMetric(cx, cy, projection.ConvergenceDegrees(camLon, camLat), azimuthDeg, hfovDeg, rangeM, px, py);
    }

    /// <summary>
    /// The test of <see cref="Contains"/> on coordinates already projected: the camera at (<paramref name="cx"/>,
    /// <paramref name="cy"/>) and the point at (<paramref name="x"/>, <paramref name="y"/>) in a projection's metres,
    /// <paramref name="convergenceDeg"/> the projection's meridian convergence at the camera
    /// (<see cref="LocalProjection.ConvergenceDegrees"/>), <paramref name="azimuthDeg"/> from true north.
    /// </summary>
    public static bool ContainsMetric(
        double cx,
        double cy,
        double convergenceDeg,
        double azimuthDeg,
        double hfovDeg,
        double rangeM,
        double x,
        double y)
    {
        double dx = x - cx;
        double dy = y - cy;
        double distance = Math.Sqrt((dx * dx) + (dy * dy));
        if (distance > rangeM + Epsilon)
        {
            return false;
        }

        if (hfovDeg >= 360.0 || distance == 0.0)
        {
            return true;
        }

        double gridBearing = Math.Atan2(dx, dy) * 180.0 / Math.PI;
        double trueBearing = gridBearing - convergenceDeg;
        return Math.Abs(AngleDifference(trueBearing, azimuthDeg)) <= (hfovDeg / 2.0) + Epsilon;
    }

    /// <summary>
    /// The wedge as a WGS-84 lon/lat polygon: apex, then the arc from azimuth − hfov/2 to azimuth + hfov/2 with
    /// <paramref name="segmentsPerQuarter"/> chords per 90° of arc (at least one chord). A full circle has no apex.
    /// </summary>
    public static Polygon BuildWedge(
        LocalProjection projection,
        double camLon,
        double camLat,
        double azimuthDeg,
        double hfovDeg,
        double rangeM,
        int segmentsPerQuarter = 16)
    {
        ArgumentNullException.ThrowIfNull(projection);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rangeM);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hfovDeg);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(segmentsPerQuarter);

        var (cx, cy) = projection.Project(camLon, camLat);
        double gridAzimuth = azimuthDeg + projection.ConvergenceDegrees(camLon, camLat);
        bool full = hfovDeg >= 360.0;
        double opening = full ? 360.0 : hfovDeg;
        int segments = Math.Max(1, (int)Math.Ceiling(opening / 90.0 * segmentsPerQuarter));
        double start = gridAzimuth - (opening / 2.0);
        double step = opening / segments;

        var coords = new List<Coordinate>(segments + 3);
        if (!full)
        {
            coords.Add(Unproject(projection, cx, cy));
        }

        int arcPoints = full ? segments : segments + 1;
        for (int i = 0; i < arcPoints; i++)
        {
            double a = (start + (i * step)) * Math.PI / 180.0;
            coords.Add(Unproject(projection, cx + (rangeM * Math.Sin(a)), cy + (rangeM * Math.Cos(a))));
        }

        coords.Add(coords[0].Copy());
        return s_factory.CreatePolygon(coords.ToArray());
    }

    /// <summary>Signed difference a − b normalised to [-180, 180).</summary>
    public static double AngleDifference(double a, double b)
    {
        double d = (a - b) % 360.0;
        if (d < -180.0)
        {
            d += 360.0;
        }
        else if (d >= 180.0)
        {
            d -= 360.0;
        }

        return d;
    }

    private static readonly GeometryFactory s_factory = new(new PrecisionModel(), 4326);

    private static Coordinate Unproject(LocalProjection projection, double x, double y)
    {
        var (lon, lat) = projection.Unproject(x, y);
        return new Coordinate(lon, lat);
    }
}
