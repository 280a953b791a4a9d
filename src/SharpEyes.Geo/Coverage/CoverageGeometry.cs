using NetTopologySuite.Geometries;
using NetTopologySuite.Operation.Overlay;
using NetTopologySuite.Operation.OverlayNG;

namespace SharpEyes.Geo.Coverage;

/// <summary>
/// Overlay helpers on metric polygons (OverlayNGRobust throughout). Inputs are never modified; every result is a
/// fresh geometry, so inputs may be shared between threads.
/// </summary>
internal static class CoverageGeometry
{
    /// <summary>An overlap smaller than this fraction of the smaller area is a touch, not an overlap (rounding).</summary>
    public const double PositiveAreaTolerance = 1e-9;

    public static readonly Polygon Empty = Wedge.MetricFactory.CreatePolygon();

    /// <summary>True when an overlap of <paramref name="overlap"/> m² between areas a and b counts as positive.</summary>
    public static bool IsPositive(double overlap, double a, double b) =>
        overlap > 0 && overlap > PositiveAreaTolerance * Math.Min(a, b);

    /// <summary>Caches every envelope of the geometry and its parts (NTS computes them lazily, which races).</summary>
    public static T Freeze<T>(T geometry)
        where T : Geometry
    {
        _ = geometry.EnvelopeInternal;
        for (int i = 0; i < geometry.NumGeometries; i++)
        {
            var part = geometry.GetGeometryN(i);
            _ = part.EnvelopeInternal;
            if (part is Polygon polygon)
            {
                _ = polygon.ExteriorRing.EnvelopeInternal;
                foreach (var hole in polygon.InteriorRings)
                {
                    _ = hole.EnvelopeInternal;
                }
            }
        }

        return geometry;
    }

    /// <summary>The polygonal part of an overlay result (drops touching lines and points), possibly empty.</summary>
    public static Geometry Polygonal(Geometry geometry)
    {
        if (geometry is Polygon or MultiPolygon)
        {
            return geometry;
        }

        if (geometry.IsEmpty)
        {
            return Empty;
        }

        var polygons = new List<Polygon>();
        for (int i = 0; i < geometry.NumGeometries; i++)
        {
            switch (geometry.GetGeometryN(i))
            {
                case Polygon { IsEmpty: false } p:
                    polygons.Add(p);
                    break;
                case MultiPolygon m:
                    for (int j = 0; j < m.NumGeometries; j++)
                    {
                        polygons.Add((Polygon)m.GetGeometryN(j));
                    }

                    break;
            }
        }

        return polygons.Count switch
        {
            0 => Empty,
            1 => polygons[0],
            _ => geometry.Factory.CreateMultiPolygon(polygons.ToArray()),
        };
    }

    public static Geometry Difference(Geometry a, Geometry b) =>
        Polygonal(OverlayNGRobust.Overlay(a, b, SpatialFunction.Difference));

    /// <summary>The union of polygonal pieces (empty polygon when there are none).</summary>
    public static Geometry Union(IReadOnlyList<Geometry> pieces) => pieces.Count switch
    {
        0 => Empty,
        1 => pieces[0],
        _ => Polygonal(OverlayNGRobust.Union(pieces, Wedge.MetricFactory)),
    };
}
