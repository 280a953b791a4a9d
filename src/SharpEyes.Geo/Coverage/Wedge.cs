using NetTopologySuite.Geometries;
using NetTopologySuite.Geometries.Implementation;
using SharpEyes.Geo.Projection;

namespace SharpEyes.Geo.Coverage;

/// <summary>A camera's wedge as a polygon in a <see cref="LocalProjection"/>'s metres, and its exact area.</summary>
public static class Wedge
{
    /// <summary>The largest angle one chord of the arc spans: a chord loses under 0.1 % of its sector's area.</summary>
    public const double MaxChordDegrees = 4.0;

    internal static readonly GeometryFactory MetricFactory = new(new PrecisionModel(), 0);

    /// <summary>Sine and cosine of the full circle's vertex bearings, 0° to 356° by 4°.</summary>
    private static readonly (double Sin, double Cos)[] s_circle = Enumerable
        .Range(0, (int)(360.0 / MaxChordDegrees))
        .Select(i => Math.SinCos(i * MaxChordDegrees * Math.PI / 180.0))
        .ToArray();

    /// <summary>
    /// The camera's wedge in <paramref name="projection"/>'s metres (SRID 0): the apex, then the arc from azimuth −
    /// hfov/2 to azimuth + hfov/2 split into ceil(opening / <see cref="MaxChordDegrees"/>) equal chords. The azimuth is
    /// corrected for the meridian convergence at the camera, as <see cref="Sector.BuildWedge"/> does. A full circle
    /// (hfov ≥ 360, or <paramref name="fullCircle"/>, which ignores azimuth and hfov) has no apex: 90 chords starting
    /// at grid north. A camera with a zero range (or a zero opening, unless <paramref name="fullCircle"/>) gives an
    /// empty polygon.
    /// </summary>
    public static Polygon Metric(LocalProjection projection, CameraFov camera, bool fullCircle = false)
    {
        ArgumentNullException.ThrowIfNull(projection);
        ArgumentNullException.ThrowIfNull(camera);
        var (cx, cy) = projection.Project(camera.Lon, camera.Lat);
        double gridAzimuth = camera.AzimuthDeg + projection.ConvergenceDegrees(camera.Lon, camera.Lat);
        return Metric(cx, cy, gridAzimuth, camera.HfovDeg, camera.RangeM, fullCircle);
    }

    /// <summary>π r² · min(hfov, 360) / 360: the area of the true circular sector.</summary>
    public static double ExactArea(double hfovDeg, double rangeM) =>
        Math.PI * rangeM * rangeM * Math.Clamp(hfovDeg, 0.0, 360.0) / 360.0;

    /// <summary>The wedge of a camera at (cx, cy) metres with its azimuth already in grid degrees.</summary>
    internal static Polygon Metric(double cx, double cy, double gridAzimuthDeg, double hfovDeg, double rangeM, bool fullCircle)
    {
        bool full = fullCircle || hfovDeg >= 360.0;
        if (!(rangeM > 0) || !(full || hfovDeg > 0))
        {
            return MetricFactory.CreatePolygon();
        }

        double opening = full ? 360.0 : hfovDeg;
        int segments = Math.Max(1, (int)Math.Ceiling(opening / MaxChordDegrees));
        double start = full ? 0.0 : gridAzimuthDeg - (opening / 2.0);
        double step = opening / segments;

        int arcPoints = full ? segments : segments + 1;
        int points = arcPoints + (full ? 1 : 2);
        var xy = new double[points * 2];
        int n = 0;
        if (!full)
        {
            xy[n++] = cx;
            xy[n++] = cy;
        }

        for (int i = 0; i < arcPoints; i++)
        {
            var (sin, cos) = full ? s_circle[i] : Math.SinCos((start + (i * step)) * Math.PI / 180.0);
            xy[n++] = cx + (rangeM * sin);
            xy[n++] = cy + (rangeM * cos);
        }

        xy[n++] = xy[0];
        xy[n] = xy[1];

        // One packed array of x, y pairs rather than an object per vertex: a county's 40,000 wedges held a million
        // Coordinate objects, 40 % of the heap's objects, each one for the full collection to mark.
        var ring = MetricFactory.CreateLinearRing(new PackedDoubleCoordinateSequence(xy, 2, 0));
        var polygon = MetricFactory.CreatePolygon(ring);
        _ = polygon.EnvelopeInternal; // Cache the envelope now: the polygon is shared across threads.
        _ = polygon.ExteriorRing.EnvelopeInternal;
        return polygon;
    }
}
