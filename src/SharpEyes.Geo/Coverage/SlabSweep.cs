using System.Runtime.CompilerServices;
using NetTopologySuite.Geometries;

namespace SharpEyes.Geo.Coverage;

/// <summary>
/// Exact areas of a polygonal region covered by polygonal shapes, by a sweep over vertical slabs: no overlay,
/// no noding, no topology to get wrong.
/// </summary>
/// <remarks>
/// <para>The slab boundaries are the x of every vertex of the region, of every shape vertex inside the region's
/// envelope, and of every crossing of two edges of different polygons inside it. Within a slab no edge starts, ends or
/// crosses another where it matters, so each polygon's cross-section is a fixed set of intervals whose ends move
/// linearly in x, and every measured length is linear in x: the slab's area is its width times the length at its
/// middle, exactly (up to rounding). A vertex or crossing outside the region's envelope changes nothing inside it: the
/// edges involved stay outside the region for the whole slab, since crossing the region's border would be an event.
/// The exception is a vertical edge, which crosses the region's border without a crossing event (it is not an edge of
/// any slab): its x is a boundary whenever it spans the region's y-range.</para>
/// <para>At the slab's middle x, each polygon's edges crossing x are sorted by y and read with the even–odd rule (a
/// valid polygon's rings, holes included, alternate in and out), giving for each y the region's parity and how many
/// shapes of each category contain it. An edge covers x in [x0, x1) so a polygon's crossings are always even.</para>
/// <para>Errors: a crossing of two almost parallel edges may be placed slightly off, which misplaces a sliver of
/// about its width times their separation; nothing can flip a whole region in or out.</para>
/// </remarks>
internal sealed class SlabSweep
{
    private const int RegionShape = -1;

    private Edge[] _edges = new Edge[256];
    private int _edgeCount;
    private readonly List<double> _xs = new(512);
    private int[] _active = new int[64];
    private int _activeCount;
    private double[] _keys = new double[64];
    private int[] _order = new int[64];
    private int[] _outside = new int[64];
    private bool[] _inside = [];
    private double[] _openedAt = [];
    private double[] _shapeArea = [];
    private int[] _masks = [];
    private int[] _counts = new int[4];
    private double[] _lengths = new double[4];
    private bool _windowed;
    private double _bottom;
    private double _top;

    /// <summary>
    /// Measures the region against the shapes (with <paramref name="boxes"/>, their envelopes: <see cref="Box.Of"/>).
    /// Each shape counts in the categories of the bits of its mask;
    /// <paramref name="covered"/>[c] receives the area of the region inside at least <paramref name="thresholds"/>[c]
    /// shapes of category c, and <paramref name="inside"/>[i] the area of shape i inside the region.
    /// Not thread-safe: one instance per thread.
    /// </summary>
    /// <remarks>
    /// With a <paramref name="window"/> (a rectangle), only the part of the region inside it is measured: the sums of
    /// the measures of rectangles that tile the region's envelope are the measures of the whole region (up to rounding),
    /// which lets a caller recompute only the rectangles a change touched. The window's sides are cuts like the
    /// region's edges: its x are slab boundaries, and so is every x where an edge crosses its bottom or top.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot numeric loops: skip tier-0 and on-stack replacement
    public void Measure(
        Geometry region,
        IReadOnlyList<Geometry> shapes,
        IReadOnlyList<Box> boxes,
        IReadOnlyList<int> masks,
        ReadOnlySpan<int> thresholds,
        Span<double> covered,
        Span<double> inside,
        Envelope? window = null)
    {
        int categories = thresholds.Length;
        covered.Clear();
        inside.Clear();
        var envelope = region.EnvelopeInternal;
        if (window is not null)
        {
            envelope = envelope.Intersection(window);
        }

        if (region.IsEmpty || shapes.Count == 0 || envelope.IsNull || !(envelope.Width > 0) || !(envelope.Height > 0))
        {
            return;
        }

        _windowed = window is not null;
        _bottom = envelope.MinY;
        _top = envelope.MaxY;
        Prepare(shapes.Count, categories);
        for (int i = 0; i < shapes.Count; i++)
        {
            _masks[i] = masks[i];
        }

        _edgeCount = 0;
        _xs.Clear();
        if (_windowed)
        {
            _xs.Add(envelope.MinX);
            _xs.Add(envelope.MaxX);
        }

        AddPolygonal(region, RegionShape, envelope, isRegion: true);
        for (int i = 0; i < shapes.Count; i++)
        {
            if (boxes[i].Intersects(envelope))
            {
                AddPolygonal(shapes[i], i, envelope, isRegion: false);
            }
        }

        Array.Sort(_edges, 0, _edgeCount, EdgeByX0.Instance);
        AddCrossings(envelope);
        _xs.Sort();

        _activeCount = 0;
        int next = 0;
        for (int s = 0; s + 1 < _xs.Count; s++)
        {
            double xa = _xs[s], xb = _xs[s + 1];
            if (!(xb > xa) || xa < envelope.MinX || xb > envelope.MaxX)
            {
                continue;
            }

            double xm = xa + ((xb - xa) * 0.5);

            // Active edges: x0 <= xm < x1 (half-open, so each polygon crosses the line an even number of times).
            int n = 0;
            for (int a = 0; a < _activeCount; a++)
            {
                int e = _active[a];
                if (_edges[e].X1 > xm)
                {
                    _active[n++] = e;
                }
            }

            _activeCount = n;
            for (; next < _edgeCount && _edges[next].X0 <= xm; next++)
            {
                // An edge may start and end within one slab's left part (its ends being outside the region's
                // envelope are no slab boundaries): it is not active at the middle.
                if (_edges[next].X1 <= xm)
                {
                    continue;
                }

                if (_activeCount == _active.Length)
                {
                    Array.Resize(ref _active, _active.Length * 2);
                }

                _active[_activeCount++] = next;
            }

            SweepSlab(xm, xb - xa, thresholds, covered);
        }

        for (int i = 0; i < shapes.Count; i++)
        {
            inside[i] = _shapeArea[i];
        }
    }

    private void Prepare(int shapes, int categories)
    {
        if (_inside.Length < shapes)
        {
            int size = Math.Max(shapes, _inside.Length * 2);
            _inside = new bool[size];
            _openedAt = new double[size];
            _shapeArea = new double[size];
            _masks = new int[size];
        }

        Array.Clear(_inside, 0, shapes);
        Array.Clear(_shapeArea, 0, shapes);
        if (_counts.Length < categories)
        {
            _counts = new int[categories];
            _lengths = new double[categories];
        }
    }

    private void AddPolygonal(Geometry geometry, int shape, Envelope region, bool isRegion)
    {
        for (int g = 0; g < geometry.NumGeometries; g++)
        {
            if (geometry.GetGeometryN(g) is not Polygon polygon || polygon.IsEmpty)
            {
                continue;
            }

            AddRing(polygon.ExteriorRing.CoordinateSequence, shape, region, isRegion);
            for (int h = 0; h < polygon.NumInteriorRings; h++)
            {
                AddRing(polygon.GetInteriorRingN(h).CoordinateSequence, shape, region, isRegion);
            }
        }
    }

    /// <remarks>
    /// A run of consecutive edges wholly below the measured y-range, or wholly above it, goes in as one edge from the
    /// run's first point to its last. Such edges are never inside the range: they add no slab boundary and no
    /// crossing, and a slab's middle sees them only through how many of them a vertical line there crosses, whose
    /// parity is that of the one straight segment (which stays on the same side, a half-plane being convex). So every
    /// slab's counts and lengths are the same; a wedge reaching past a tile's top or bottom, or a PTZ camera's circle
    /// beside the region, brings one or two edges instead of dozens (a quarter of a full recompute's edges).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot numeric loops: skip tier-0 and on-stack replacement
    private void AddRing(CoordinateSequence ring, int shape, Envelope region, bool isRegion)
    {
        int count = ring.Count;
        if (count < 2)
        {
            return;
        }

        // Windowed, the region's own vertices and edges are cut like the shapes': only what lies in the window counts.
        bool every = isRegion && !_windowed;
        double bottom = _bottom, top = _top;
        int run = 0; // the side of the run of edges so far: −1 below the range, +1 above, 0 none
        double rx = 0, ry = 0; // the run's first point
        double px = ring.GetX(0), py = ring.GetY(0);
        for (int i = 1; i < count; i++)
        {
            double x = ring.GetX(i), y = ring.GetY(i);
            if (every || (x >= region.MinX && x <= region.MaxX && y >= region.MinY && y <= region.MaxY))
            {
                _xs.Add(x);
            }

            int side = Math.Max(y, py) < bottom ? -1 : Math.Min(y, py) > top ? 1 : 0;
            if (side != run)
            {
                if (run != 0)
                {
                    AddEdge(rx, ry, px, py, shape, region, levels: false);
                }

                run = side;
                rx = px;
                ry = py;
            }

            if (side == 0)
            {
                if (x == px)
                {
                    // A vertical edge covers no slab, but where it spans the region's y-range it may cut through the
                    // region, with both ends outside: its x must be a slab boundary.
                    if (!every && x > region.MinX && x < region.MaxX && Math.Max(y, py) >= region.MinY && Math.Min(y, py) <= region.MaxY)
                    {
                        _xs.Add(x);
                    }
                }
                else
                {
                    AddEdge(px, py, x, y, shape, region, levels: _windowed);
                }
            }

            px = x;
            py = y;
        }

        if (run != 0)
        {
            AddEdge(rx, ry, px, py, shape, region, levels: false);
        }
    }

    /// <summary>Adds the edge unless it is vertical or outside the region's x-range (it then never reaches a slab's middle).</summary>
    private void AddEdge(double px, double py, double x, double y, int shape, Envelope region, bool levels)
    {
        if (x == px || !(Math.Max(x, px) > region.MinX && Math.Min(x, px) < region.MaxX))
        {
            return;
        }

        if (_edgeCount == _edges.Length)
        {
            Array.Resize(ref _edges, _edges.Length * 2);
        }

        var edge = x < px ? new Edge(x, y, px, py, shape) : new Edge(px, py, x, y, shape);
        _edges[_edgeCount++] = edge;
        if (levels)
        {
            // Where the edge crosses the window's bottom or top, what lies inside the window changes.
            AddLevelCrossing(edge, _bottom, region);
            AddLevelCrossing(edge, _top, region);
        }
    }

    private void AddLevelCrossing(in Edge edge, double level, Envelope region)
    {
        if ((edge.Y0 < level && edge.Y1 > level) || (edge.Y0 > level && edge.Y1 < level))
        {
            double x = edge.X0 + ((level - edge.Y0) / edge.Slope);
            if (x > region.MinX && x < region.MaxX)
            {
                _xs.Add(x);
            }
        }
    }

    /// <summary>Adds the x of every proper crossing of two edges of different polygons inside the region's envelope.</summary>
    /// <remarks>
    /// A crossing inside the envelope lies where both edges are inside it, so an edge is paired only with the edges
    /// that reach into its own part inside the envelope, in x (with a slack far above rounding, so no crossing the test
    /// accepts is lost). A tile's long edges (a wedge's sides) reach far beyond it; unclipped, each met every edge of
    /// its x-range. The test itself is unchanged for each pair, so the crossings found do not depend on the pruning.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot numeric loops: skip tier-0 and on-stack replacement
    private void AddCrossings(Envelope region)
    {
        int count = _edgeCount;
        var edges = _edges;
        double xSlack = (1e-9 * Math.Max(Math.Abs(region.MinX), Math.Abs(region.MaxX))) + (1e-7 * region.Width);
        double ySlack = (1e-9 * Math.Max(Math.Abs(region.MinY), Math.Abs(region.MaxY))) + (1e-7 * region.Height);
        double minY = region.MinY - ySlack, maxY = region.MaxY + ySlack;
        for (int i = 0; i < count; i++)
        {
            ref readonly var a = ref edges[i];
            double aLow = Math.Min(a.Y0, a.Y1), aHigh = Math.Max(a.Y0, a.Y1);
            if (aHigh < region.MinY || aLow > region.MaxY)
            {
                continue;
            }

            // a's part inside the envelope, in x: [first, last].
            double first = Math.Max(a.X0, region.MinX - xSlack), last = Math.Min(a.X1, region.MaxX + xSlack);
            if (aLow < minY || aHigh > maxY)
            {
                double xa = a.X0 + ((Math.Clamp(minY, aLow, aHigh) - a.Y0) / a.Slope);
                double xb = a.X0 + ((Math.Clamp(maxY, aLow, aHigh) - a.Y0) / a.Slope);
                first = Math.Max(first, Math.Min(xa, xb) - xSlack);
                last = Math.Min(last, Math.Max(xa, xb) + xSlack);
            }

            double low = Math.Max(aLow, region.MinY), high = Math.Min(aHigh, region.MaxY);
            for (int j = i + 1; j < count; j++)
            {
                ref readonly var b = ref edges[j];
                if (b.X0 >= last)
                {
                    break; // edges are in x-order: b and every later one start past a's part inside
                }

                if (b.Shape == a.Shape || b.X1 < first || Math.Max(b.Y0, b.Y1) < low || Math.Min(b.Y0, b.Y1) > high)
                {
                    continue;
                }

                double lo = b.X0; // b.X0 >= a.X0 (sorted)
                double hi = Math.Min(a.X1, b.X1);
                double dLo = a.YAt(lo) - b.YAt(lo);
                double dHi = a.YAt(hi) - b.YAt(hi);
                if ((dLo < 0 && dHi > 0) || (dLo > 0 && dHi < 0))
                {
                    double x = lo + ((hi - lo) * (dLo / (dLo - dHi)));
                    double y = a.YAt(x);
                    if (y >= region.MinY && y <= region.MaxY && x > region.MinX && x < region.MaxX)
                    {
                        _xs.Add(x);
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot numeric loops: skip tier-0 and on-stack replacement
    private void SweepSlab(double xm, double width, ReadOnlySpan<int> thresholds, Span<double> covered)
    {
        int n = _activeCount;
        if (_keys.Length < n)
        {
            _keys = new double[n * 2];
            _outside = new int[n * 2];
        }

        if (_order.Length < n)
        {
            _order = new int[n * 2];
        }

        int categories = thresholds.Length;
        var counts = _counts;
        var lengths = _lengths;
        Array.Clear(counts, 0, categories);
        Array.Clear(lengths, 0, categories);
        var masks = _masks;
        var keys = _keys;
        var order = _order;
        var outside = _outside;
        var active = _active;
        var edges = _edges;
        bool inRegion = false;
        double bottom = _bottom, top = _top; // lengths count inside the window (the region's own y-range unwindowed)

        // Only the edges inside the window's y-range at the middle are sorted. One below it only flips its polygon's
        // parity before any length is measured (lengths start at the bottom); one above it only closes what is still
        // open once every length is measured (they end at the top).
        // Keep the previous order (edges only swap at crossings, which are slab boundaries): insertion sort is
        // then close to linear. New edges were appended at the end of the active list in x order.
        int within = 0, below = 0, above = 0;
        for (int a = 0; a < n; a++)
        {
            int e = active[a];
            ref readonly var edge = ref edges[e];
            double y = edge.Y0 + ((xm - edge.X0) * edge.Slope);
            if (y <= bottom)
            {
                outside[below++] = e;
                int shape = edge.Shape;
                if (shape == RegionShape)
                {
                    inRegion = !inRegion;
                }
                else
                {
                    // Nothing is measured yet: a polygon opens at length 0, and one closed adds nothing.
                    Count(counts, masks[shape], Flip(shape, 0, width) ? 1 : -1, categories);
                }

                continue;
            }

            if (y >= top)
            {
                outside[n - ++above] = e;
                continue;
            }

            int k = within - 1;
            while (k >= 0 && keys[k] > y)
            {
                keys[k + 1] = keys[k];
                order[k + 1] = order[k];
                k--;
            }

            keys[k + 1] = y;
            order[k + 1] = e;
            within++;
        }

        // The next slab's active list: this order, then the edges outside the window (their order does not matter).
        // Short lists: plain loops beat a call each; the arrays then trade places rather than copy the sorted part.
        for (int a = 0; a < below; a++)
        {
            order[within + a] = outside[a];
        }

        for (int a = n - above; a < n; a++)
        {
            order[a] = outside[a];
        }

        (_active, _order) = (order, active);

        double regionLength = 0;
        double previous = bottom;
        for (int a = 0; a <= within; a++)
        {
            // The last step runs from the highest edge inside the window to its top.
            double y = a < within ? keys[a] : top;
            double step = y - previous;
            if (inRegion && step > 0)
            {
                regionLength += step;
                for (int c = 0; c < categories; c++)
                {
                    lengths[c] += counts[c] >= thresholds[c] ? step : 0.0;
                }
            }

            if (a == within)
            {
                break;
            }

            previous = y;
            int shape = edges[order[a]].Shape;
            if (shape == RegionShape)
            {
                inRegion = !inRegion;
                continue;
            }

            Count(counts, masks[shape], Flip(shape, regionLength, width) ? 1 : -1, categories);
        }

        // Edges above the window close every polygon still open (and leave every parity even for the next slab).
        for (int a = n - above; a < n; a++)
        {
            int shape = edges[outside[a]].Shape;
            if (shape == RegionShape)
            {
                continue;
            }

            Flip(shape, regionLength, width);
        }

        for (int c = 0; c < categories; c++)
        {
            covered[c] += lengths[c] * width;
        }
    }

    /// <summary>
    /// Crosses one edge of <paramref name="shape"/> at <paramref name="at"/> of the slab's length in the region: it
    /// enters the shape (true) or leaves it, adding the slab's area inside it. Answers whether it is now inside.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Flip(int shape, double at, double width)
    {
        bool now = !_inside[shape];
        _inside[shape] = now;
        if (now)
        {
            _openedAt[shape] = at;
        }
        else
        {
            _shapeArea[shape] += (at - _openedAt[shape]) * width;
        }

        return now;
    }

    /// <summary>Adds <paramref name="delta"/> to the count of every category in <paramref name="mask"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Count(int[] counts, int mask, int delta, int categories)
    {
        for (int c = 0; c < categories; c++)
        {
            counts[c] += delta & -((mask >> c) & 1);
        }
    }

    /// <summary>An edge with x0 &lt; x1 (never vertical), of a shape (or the region, −1).</summary>
    private readonly struct Edge(double x0, double y0, double x1, double y1, int shape)
    {
        public readonly double X0 = x0;
        public readonly double Y0 = y0;
        public readonly double X1 = x1;
        public readonly double Y1 = y1;
        public readonly double Slope = (y1 - y0) / (x1 - x0);
        public readonly int Shape = shape;

        public double YAt(double x) => x >= X1 ? Y1 : Y0 + ((Y1 - Y0) * ((x - X0) / (X1 - X0)));
    }

    private sealed class EdgeByX0 : IComparer<Edge>
    {
        public static readonly EdgeByX0 Instance = new();

        public int Compare(Edge a, Edge b) => a.X0.CompareTo(b.X0);
    }
}
