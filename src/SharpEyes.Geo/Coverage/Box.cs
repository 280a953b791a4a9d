using NetTopologySuite.Geometries;

namespace SharpEyes.Geo.Coverage;

/// <summary>
/// A geometry's envelope held by value. NetTopologySuite's <see cref="Geometry.EnvelopeInternal"/> returns a new copy
/// of the cached envelope on every call (48 bytes; checked against NetTopologySuite 2.6): the coverage loops asked every
/// member of a grid for it once per tile, and those copies were half of everything a bulk registration allocated.
/// A box is taken once, when a footprint is built, and its <see cref="Intersects"/> answers as the envelope's does.
/// </summary>
internal readonly record struct Box(double MinX, double MinY, double MaxX, double MaxY, bool IsNull)
{
    /// <summary>The box of nothing: it intersects nothing, as an empty geometry's null envelope.</summary>
    public static readonly Box Null = new(0, 0, -1, -1, IsNull: true);

    /// <summary>The geometry's envelope, read once (null for an empty geometry).</summary>
    public static Box Of(Geometry geometry)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        var e = geometry.EnvelopeInternal;
        return e.IsNull ? Null : new Box(e.MinX, e.MinY, e.MaxX, e.MaxY, IsNull: false);
    }

    /// <summary>As <see cref="Envelope.Intersects(Envelope)"/>: false when either is null, else true when they share a point.</summary>
    public bool Intersects(Envelope other) =>
        !IsNull && !other.IsNull && !(other.MinX > MaxX || other.MaxX < MinX || other.MinY > MaxY || other.MaxY < MinY);
}
