using NetTopologySuite.Geometries;
using NetTopologySuite.Geometries.Prepared;
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

    public static Geometry Intersection(Geometry a, Geometry b) =>
        Polygonal(OverlayNGRobust.Overlay(a, b, SpatialFunction.Intersection));

    public static Geometry Difference(Geometry a, Geometry b) =>
        Polygonal(OverlayNGRobust.Overlay(a, b, SpatialFunction.Difference));

    public static Geometry Union(Geometry a, Geometry b) =>
        Polygonal(OverlayNGRobust.Overlay(a, b, SpatialFunction.Union));

    /// <summary>The union of polygonal pieces (empty polygon when there are none).</summary>
    public static Geometry Union(IReadOnlyList<Geometry> pieces) => pieces.Count switch
    {
        0 => Empty,
        1 => pieces[0],
        _ => Polygonal(OverlayNGRobust.Union(pieces, Wedge.MetricFactory)),
    };

    /// <summary>
    /// The area of the union of polygonal pieces. Pieces are first grouped into clusters of overlapping envelopes:
    /// a lone piece adds its own area, and only clusters are unioned (in their input order, so the result is
    /// deterministic for a given order).
    /// </summary>
    public static double UnionArea(IReadOnlyList<Geometry> pieces)
    {
        switch (pieces.Count)
        {
            case 0:
                return 0;
            case 1:
                return pieces[0].Area;
        }

        int n = pieces.Count;
        var parent = new int[n];
        for (int i = 0; i < n; i++)
        {
            parent[i] = i;
        }

        // Sweep along x: pieces sorted by MinX; only pieces whose x-ranges overlap can have intersecting envelopes.
        var order = new int[n];
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) =>
        {
            int c = pieces[a].EnvelopeInternal.MinX.CompareTo(pieces[b].EnvelopeInternal.MinX);
            return c != 0 ? c : a.CompareTo(b);
        });
        for (int oi = 0; oi < n; oi++)
        {
            var ei = pieces[order[oi]].EnvelopeInternal;
            for (int oj = oi + 1; oj < n; oj++)
            {
                var ej = pieces[order[oj]].EnvelopeInternal;
                if (ej.MinX > ei.MaxX)
                {
                    break;
                }

                if (ei.Intersects(ej))
                {
                    Join(parent, order[oi], order[oj]);
                }
            }
        }

        var clusters = new Dictionary<int, List<Geometry>>();
        var roots = new List<int>();
        for (int i = 0; i < n; i++)
        {
            int root = Find(parent, i);
            if (!clusters.TryGetValue(root, out var list))
            {
                list = [];
                clusters[root] = list;
                roots.Add(root);
            }

            list.Add(pieces[i]);
        }

        double area = 0;
        foreach (int root in roots)
        {
            var cluster = clusters[root];
            area += cluster.Count == 1 ? cluster[0].Area : Union(cluster).Area;
        }

        return area;
    }

    /// <summary>
    /// The area covered by at least <paramref name="k"/> of the pieces: layers L1..Lk, and for each piece w,
    /// L_m = L_m ∪ (w ∩ L_{m−1}) for m = k..2, then L1 = L1 ∪ w. k ≤ 1 is a plain union.
    /// </summary>
    public static double KCoveredArea(IReadOnlyList<Geometry> pieces, int k)
    {
        if (k <= 1)
        {
            return UnionArea(pieces);
        }

        if (pieces.Count < k)
        {
            return 0;
        }

        var layers = new Geometry?[k + 1];
        foreach (var piece in pieces)
        {
            for (int m = k; m >= 2; m--)
            {
                var below = layers[m - 1];
                if (below is null || !below.EnvelopeInternal.Intersects(piece.EnvelopeInternal))
                {
                    continue;
                }

                var overlap = Intersection(piece, below);
                if (overlap.IsEmpty)
                {
                    continue;
                }

                layers[m] = layers[m] is { } current ? Union(current, overlap) : overlap;
            }

            layers[1] = layers[1] is { } first ? Union(first, piece) : piece;
        }

        return layers[k]?.Area ?? 0;
    }

    private static int Find(int[] parent, int i)
    {
        while (parent[i] != i)
        {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }

        return i;
    }

    private static void Join(int[] parent, int a, int b)
    {
        int ra = Find(parent, a);
        int rb = Find(parent, b);
        if (ra != rb)
        {
            parent[Math.Max(ra, rb)] = Math.Min(ra, rb);
        }
    }
}

/// <summary>
/// A polygonal area that pieces are clipped to, with a prepared copy built on first need. Not thread-safe: each
/// computation makes its own (a prepared geometry builds its indexes lazily).
/// </summary>
internal sealed class ClipTarget(Geometry geometry, double area)
{
    private IPreparedGeometry? _prepared;

    public Geometry Geometry { get; } = geometry;

    public Envelope Envelope { get; } = geometry.EnvelopeInternal;

    public double Area { get; } = area;

    /// <summary>
    /// The part of <paramref name="piece"/> inside the target and its area: the piece itself when the target covers
    /// it, null with area 0 when their envelopes are disjoint.
    /// </summary>
    public (Geometry? Piece, double Area) Clip(Geometry piece, double pieceArea)
    {
        var pieceEnvelope = piece.EnvelopeInternal;
        if (piece.IsEmpty || !pieceEnvelope.Intersects(Envelope))
        {
            return (null, 0);
        }

        if (Envelope.Covers(pieceEnvelope))
        {
            _prepared ??= PreparedGeometryFactory.Prepare(Geometry);
            if (_prepared.Covers(piece))
            {
                return (piece, pieceArea);
            }
        }

        var clipped = CoverageGeometry.Intersection(piece, Geometry);
        return clipped.IsEmpty ? (null, 0) : (clipped, clipped.Area);
    }
}
