using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using SharpEyes.Geo.Projection;

namespace SharpEyes.Geo.Coverage.Placement;

/// <summary>
/// Chooses up to k candidates that remove the most uncovered demand weight: lazy greedy (CELF) over the candidates,
/// within (1 − 1/e) of the optimum because the objective (partial credit per camera up to <see cref="DemandPoint.Required"/>)
/// is monotone submodular.
/// </summary>
/// <remarks>
/// A candidate covers a demand point when the point is within range and within hfov / 2 of the candidate's azimuth,
/// tested analytically in projection metres with the azimuth turned into a grid bearing by the meridian convergence at
/// the candidate (the same test as <see cref="Sector.Contains"/>). Demand points are found through a uniform grid hash
/// whose cells also keep the count and credit of their unsatisfied points: satisfied cells are skipped, and a cell
/// wholly inside a wedge is credited at once. The initial gains are evaluated in parallel, and so are long runs of
/// stale entries in the lazy phase. Deterministic: ties are broken by the lower candidate index, and lazy evaluation
/// picks exactly what plain greedy would. A chosen candidate is not offered again; other azimuths at the same position
/// stay available.
/// </remarks>
public static class GreedyPlacement
{
    /// <summary>Slack on the range in metres, as in <see cref="Sector"/>.</summary>
    private const double RangeSlack = 1e-9;

    /// <summary>Slack on cos(half-opening) per metre of distance, ≈ sin · 1e-9° as in <see cref="Sector"/>.</summary>
    private const double CosineSlack = 2e-11;

    /// <summary>Candidates per work item of the parallel initial evaluation.</summary>
    private const int ChunkSize = 2048;

    /// <summary>Largest batch of stale candidates re-evaluated at once in the lazy phase.</summary>
    private const int MaxBatch = 512;

    /// <summary>Batches at least this large are re-evaluated in parallel.</summary>
    private const int ParallelBatch = 16;

    /// <summary>
    /// Picks up to <paramref name="k"/> of <paramref name="candidates"/> for cameras of <paramref name="model"/>,
    /// stopping early when no candidate gains anything. Positions are in <paramref name="projection"/> metres;
    /// suggestions also carry WGS-84 lon/lat.
    /// </summary>
    public static PlacementResult Place(
        IReadOnlyList<DemandPoint> demand,
        IReadOnlyList<PlacementCandidate> candidates,
        CameraModel model,
        int k,
        LocalProjection projection,
        CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(demand);
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(projection);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        model.Validate();
        ct.ThrowIfCancellationRequested();

        var field = new DemandField(demand, model.RangeM);
        var wedges = new Wedges(candidates, model, projection, ct);
        double before = field.UncoveredWeight();

        int m = candidates.Count;
        var bounds = new double[m];
        var options = new ParallelOptions { CancellationToken = ct };
        Parallel.ForEach(Partitioner.Create(0, m, ChunkSize), options, range =>
        {
            for (int j = range.Item1; j < range.Item2; j++)
            {
                bounds[j] = field.Gain(wedges, j);
            }
        });

        // Every entry's priority is an upper bound of its current gain (submodularity); stamp = round it was computed in.
        var stamps = new int[m];
        var queue = new PriorityQueue<int, (double Gain, int Index)>(GainOrder.Instance);
        queue.EnqueueRange(Enumerable.Range(0, m).Where(j => bounds[j] > 0).Select(j => (j, (bounds[j], j))));

        var suggestions = new List<PlacementSuggestion>(Math.Min(k, m));
        var batch = new List<int>();
        double removed = 0;
        for (int round = 0; round < k; round++)
        {
            int chosen = -1;
            int batchSize = 1;
            while (queue.TryPeek(out int top, out _))
            {
                if (stamps[top] == round)
                {
                    chosen = queue.Dequeue();
                    break;
                }

                // Re-evaluate the stale entries at the top. When one pick changed many gains, the run of stale entries
                // is long: take them in growing batches and evaluate those in parallel. Evaluating more than strictly
                // needed never changes the pick (an up-to-date entry is only taken once it is on top).
                ct.ThrowIfCancellationRequested();
                batch.Clear();
                while (batch.Count < batchSize && queue.TryPeek(out int j, out _) && stamps[j] != round)
                {
                    batch.Add(queue.Dequeue());
                }

                ReEvaluate(field, wedges, batch, bounds, options);
                foreach (int j in batch)
                {
                    stamps[j] = round;
                    if (bounds[j] > 0)
                    {
                        queue.Enqueue(j, (bounds[j], j));
                    }
                }

                batchSize = Math.Min(batchSize * 2, MaxBatch);
            }

            if (chosen < 0)
            {
                break;
            }

            var (gainWeight, gainArea, completed, improved) = field.Apply(wedges, chosen);
            removed += gainWeight;
            var candidate = candidates[chosen];
            var (lon, lat) = projection.Unproject(candidate.X, candidate.Y);
            suggestions.Add(new PlacementSuggestion(
                round + 1, candidate.X, candidate.Y, lon, lat, candidate.AzimuthDeg, gainWeight, gainArea, completed, improved, candidate.Source));
        }

        return new PlacementResult(suggestions, before, Math.Max(0.0, before - removed), m, demand.Count);
    }

    private static void ReEvaluate(DemandField field, Wedges wedges, List<int> batch, double[] gains, ParallelOptions options)
    {
        if (batch.Count < ParallelBatch)
        {
            foreach (int j in batch)
            {
                gains[j] = field.Gain(wedges, j);
            }

            return;
        }

        Parallel.For(0, batch.Count, options, b => gains[batch[b]] = field.Gain(wedges, batch[b]));
    }

    /// <summary>Higher gain first, then the lower candidate index.</summary>
    private sealed class GainOrder : IComparer<(double Gain, int Index)>
    {
        public static readonly GainOrder Instance = new();

        public int Compare((double Gain, int Index) a, (double Gain, int Index) b)
        {
            int c = b.Gain.CompareTo(a.Gain);
            return c != 0 ? c : a.Index.CompareTo(b.Index);
        }
    }

    /// <summary>How a cell of the demand hash lies relative to a wedge.</summary>
    private enum CellRelation
    {
        Outside,
        Partial,
        Inside,
    }

    /// <summary>The candidates as wedges: apex, unit vector of the grid bearing, shared opening and range.</summary>
    private sealed class Wedges
    {
        public Wedges(IReadOnlyList<PlacementCandidate> candidates, CameraModel model, LocalProjection projection, CancellationToken ct)
        {
            int m = candidates.Count;
            X = new double[m];
            Y = new double[m];
            Ux = new double[m];
            Uy = new double[m];
            Range = model.RangeM;
            RangeSquared = (model.RangeM + RangeSlack) * (model.RangeM + RangeSlack);
            Full = model.HfovDeg >= 360.0;
            Convex = model.HfovDeg <= 180.0;
            double half = model.HfovDeg / 2.0 * Math.PI / 180.0;
            CosHalf = Math.Cos(half);
            SinHalf = Math.Sin(half);

            for (int j = 0; j < m; j++)
            {
                var c = candidates[j] ?? throw new ArgumentException($"Candidate {j} is null.", nameof(candidates));
                if (!double.IsFinite(c.X) || !double.IsFinite(c.Y) || !double.IsFinite(c.AzimuthDeg))
                {
                    throw new ArgumentException($"Candidate {j} has a non-finite position or azimuth.", nameof(candidates));
                }
            }

            var xs = X;
            var ys = Y;
            var ux = Ux;
            var uy = Uy;
            Parallel.ForEach(Partitioner.Create(0, m, ChunkSize), new ParallelOptions { CancellationToken = ct }, range =>
            {
                // Candidates come in runs at one position (8 azimuths): compute the convergence once per run.
                double lastX = double.NaN, lastY = double.NaN, convergence = 0;
                for (int j = range.Item1; j < range.Item2; j++)
                {
                    var c = candidates[j];
                    if (c.X != lastX || c.Y != lastY)
                    {
                        var (lon, lat) = projection.Unproject(c.X, c.Y);
                        convergence = projection.ConvergenceDegrees(lon, lat);
                        lastX = c.X;
                        lastY = c.Y;
                    }

                    double bearing = (c.AzimuthDeg + convergence) * Math.PI / 180.0;
                    xs[j] = c.X;
                    ys[j] = c.Y;
                    ux[j] = Math.Sin(bearing);
                    uy[j] = Math.Cos(bearing);
                }
            });
        }

        public double[] X { get; }

        public double[] Y { get; }

        public double[] Ux { get; }

        public double[] Uy { get; }

        public double Range { get; }

        public double RangeSquared { get; }

        public bool Full { get; }

        /// <summary>Openings up to 180°: the wedge is the disc cut by two half-planes.</summary>
        public bool Convex { get; }

        public double CosHalf { get; }

        public double SinHalf { get; }

        /// <summary>The wedge's bounding box: apex, arc ends, and the axis directions the arc passes through.</summary>
        public (double MinX, double MinY, double MaxX, double MaxY) Bounds(int j)
        {
            double x = X[j], y = Y[j], r = Range;
            if (!Convex)
            {
                // Openings over 180°: the circle's box is tight enough.
                return (x - r, y - r, x + r, y + r);
            }

            var (ax, ay, bx, by) = Edges(j);
            double minX = Math.Min(0, Math.Min(ax, bx)), maxX = Math.Max(0, Math.Max(ax, bx));
            double minY = Math.Min(0, Math.Min(ay, by)), maxY = Math.Max(0, Math.Max(ay, by));
            double ux = Ux[j], uy = Uy[j];
            if (uy >= CosHalf)
            {
                maxY = 1;
            }

            if (-uy >= CosHalf)
            {
                minY = -1;
            }

            if (ux >= CosHalf)
            {
                maxX = 1;
            }

            if (-ux >= CosHalf)
            {
                minX = -1;
            }

            return (x + (minX * r), y + (minY * r), x + (maxX * r), y + (maxY * r));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Covers(int j, double px, double py)
        {
            double dx = px - X[j];
            double dy = py - Y[j];
            double d2 = (dx * dx) + (dy * dy);
            if (d2 > RangeSquared)
            {
                return false;
            }

            if (Full)
            {
                return true;
            }

            double d = Math.Sqrt(d2);
            return (dx * Ux[j]) + (dy * Uy[j]) >= d * (CosHalf - CosineSlack);
        }

        /// <summary>
        /// Whether the square [x0, x0 + size] × [y0, y0 + size] misses the wedge, lies inside it, or neither. Up to
        /// 180° the wedge is convex (the disc cut by two half-planes), so it holds the square when it holds the four
        /// corners; a wider wedge is taken as its two convex halves either side of the axis.
        /// </summary>
        public CellRelation Classify(int j, double x0, double y0, double size)
        {
            double cx = X[j], cy = Y[j];
            double left = x0 - cx, right = left + size, bottom = y0 - cy, top = bottom + size;
            double nearX = left > 0 ? left : (right < 0 ? right : 0);
            double nearY = bottom > 0 ? bottom : (top < 0 ? top : 0);
            if ((nearX * nearX) + (nearY * nearY) > RangeSquared)
            {
                return CellRelation.Outside;
            }

            double farX = Math.Max(-left, right), farY = Math.Max(-bottom, top);
            bool withinRange = (farX * farX) + (farY * farY) <= Range * Range;
            if (Full)
            {
                return withinRange ? CellRelation.Inside : CellRelation.Partial;
            }

            var (cwX, cwY, ccwX, ccwY) = Edges(j);
            if (Convex)
            {
                return Between(ccwX, ccwY, cwX, cwY, left, right, bottom, top, withinRange);
            }

            var first = Between(ccwX, ccwY, Ux[j], Uy[j], left, right, bottom, top, withinRange);
            var second = Between(Ux[j], Uy[j], cwX, cwY, left, right, bottom, top, withinRange);
            return first == CellRelation.Inside || second == CellRelation.Inside ? CellRelation.Inside
                : first == CellRelation.Outside && second == CellRelation.Outside ? CellRelation.Outside
                : CellRelation.Partial;
        }

        /// <summary>
        /// The square (relative to the apex) against the convex cone from direction e1 clockwise to e2 (at most
        /// 180°): clockwise of e1 and counter-clockwise of e2, where cross(e, p) = e.x·p.y − e.y·p.x is negative when
        /// p is clockwise of e.
        /// </summary>
        private static CellRelation Between(
            double e1x, double e1y, double e2x, double e2y, double left, double right, double bottom, double top, bool withinRange)
        {
            int afterE1 = 0, beforeE2 = 0;
            Corner(left, bottom);
            Corner(right, bottom);
            Corner(left, top);
            Corner(right, top);
            if (afterE1 == 0 || beforeE2 == 0)
            {
                return CellRelation.Outside; // all four corners beyond one edge's half-plane
            }

            return withinRange && afterE1 == 4 && beforeE2 == 4 ? CellRelation.Inside : CellRelation.Partial;

            void Corner(double px, double py)
            {
                afterE1 += (e1x * py) - (e1y * px) <= 0 ? 1 : 0;
                beforeE2 += (e2x * py) - (e2y * px) >= 0 ? 1 : 0;
            }
        }

        /// <summary>Unit vectors of the wedge's edges: the axis turned clockwise (+hfov/2) and counter-clockwise.</summary>
        private (double Ax, double Ay, double Bx, double By) Edges(int j)
        {
            double ux = Ux[j], uy = Uy[j];
            return (
                (ux * CosHalf) + (uy * SinHalf), (uy * CosHalf) - (ux * SinHalf),
                (ux * CosHalf) - (uy * SinHalf), (uy * CosHalf) + (ux * SinHalf));
        }
    }

    /// <summary>
    /// Demand points sorted into a uniform grid hash (CSR layout), with the state of the greedy run and, per cell, the
    /// number and credit of its unsatisfied points so that empty cells are skipped and cells inside a wedge are summed
    /// at once.
    /// </summary>
    private sealed class DemandField
    {
        /// <summary>Cells with more points than this are classified against a wedge before testing point by point.</summary>
        private const int ClassifyAbove = 6;

        private readonly double[] _x;
        private readonly double[] _y;
        private readonly double[] _credit; // Weight / Required
        private readonly double[] _areaCredit; // AreaM2 / Required
        private readonly int[] _remaining; // Required − Current − added, clamped at 0
        private readonly int[] _site; // index into _siteCodes, −1 for none
        private readonly string[] _siteCodes;
        private readonly int[] _siteOpen; // unsatisfied points per site
        private readonly int[] _cellStart;
        private readonly int[] _cellOpen; // unsatisfied points per cell
        private readonly double[] _cellCredit; // Σ credit of the unsatisfied points per cell, in point order
        private readonly double _minX;
        private readonly double _minY;
        private readonly double _cellSize;
        private readonly int _columns;
        private readonly int _rows;

        public DemandField(IReadOnlyList<DemandPoint> demand, double range)
        {
            int n = demand.Count;
            double minX = double.PositiveInfinity, minY = double.PositiveInfinity;
            double maxX = double.NegativeInfinity, maxY = double.NegativeInfinity;
            for (int i = 0; i < n; i++)
            {
                var d = demand[i] ?? throw new ArgumentException($"Demand point {i} is null.", nameof(demand));
                if (!double.IsFinite(d.X) || !double.IsFinite(d.Y))
                {
                    throw new ArgumentException($"Demand point {i} has a non-finite position.", nameof(demand));
                }

                if (!(d.Weight > 0) || !double.IsFinite(d.Weight) || d.Required < 1 || d.Current < 0 || !(d.AreaM2 >= 0) || !double.IsFinite(d.AreaM2))
                {
                    throw new ArgumentException(
                        $"Demand point {i} needs Weight > 0, Required ≥ 1, Current ≥ 0 and a finite AreaM2 ≥ 0.", nameof(demand));
                }

                minX = Math.Min(minX, d.X);
                minY = Math.Min(minY, d.Y);
                maxX = Math.Max(maxX, d.X);
                maxY = Math.Max(maxY, d.Y);
            }

            if (n == 0)
            {
                minX = minY = maxX = maxY = 0;
            }

            // Cells of a sixteenth of the range (large wedges then cover many whole cells), widened until the table
            // holds at most about two cells per point.
            double width = maxX - minX, height = maxY - minY;
            double cell = Math.Max(range / 16.0, Math.Sqrt(width * height / Math.Max(1, 2 * n)));
            cell = Math.Max(cell, Math.Max(width, height) / 65536.0);
            _cellSize = cell;
            _minX = minX;
            _minY = minY;
            _columns = (int)Math.Floor(width / cell) + 1;
            _rows = (int)Math.Floor(height / cell) + 1;
            int cells = _columns * _rows;

            var cellOf = new int[n];
            _cellStart = new int[cells + 1];
            for (int i = 0; i < n; i++)
            {
                int c = CellIndex(demand[i].X, demand[i].Y);
                cellOf[i] = c;
                _cellStart[c + 1]++;
            }

            for (int c = 0; c < cells; c++)
            {
                _cellStart[c + 1] += _cellStart[c];
            }

            _x = new double[n];
            _y = new double[n];
            _credit = new double[n];
            _areaCredit = new double[n];
            _remaining = new int[n];
            _site = new int[n];
            var siteIndex = new Dictionary<string, int>(StringComparer.Ordinal);
            var siteCodes = new List<string>();
            var fill = (int[])_cellStart.Clone();
            for (int i = 0; i < n; i++)
            {
                var d = demand[i];
                int s = fill[cellOf[i]]++;
                _x[s] = d.X;
                _y[s] = d.Y;
                _credit[s] = d.Weight / d.Required;
                _areaCredit[s] = d.AreaM2 / d.Required;
                _remaining[s] = Math.Max(0, d.Required - d.Current);
                if (d.SiteCode is null)
                {
                    _site[s] = -1;
                }
                else
                {
                    if (!siteIndex.TryGetValue(d.SiteCode, out int site))
                    {
                        site = siteCodes.Count;
                        siteIndex[d.SiteCode] = site;
                        siteCodes.Add(d.SiteCode);
                    }

                    _site[s] = site;
                }
            }

            _siteCodes = siteCodes.ToArray();
            _siteOpen = new int[_siteCodes.Length];
            _cellOpen = new int[cells];
            _cellCredit = new double[cells];
            for (int c = 0; c < cells; c++)
            {
                for (int s = _cellStart[c]; s < _cellStart[c + 1]; s++)
                {
                    if (_remaining[s] > 0)
                    {
                        _cellOpen[c]++;
                        if (_site[s] >= 0)
                        {
                            _siteOpen[_site[s]]++;
                        }
                    }
                }

                UpdateCellCredit(c);
            }
        }

        public double UncoveredWeight()
        {
            double total = 0;
            for (int s = 0; s < _x.Length; s++)
            {
                total += _credit[s] * _remaining[s];
            }

            return total;
        }

        /// <summary>Weight candidate <paramref name="j"/> would remove now. Thread-safe while nothing is applied.</summary>
        public double Gain(Wedges wedges, int j)
        {
            if (!TryCellRange(wedges, j, out int c0, out int c1, out int r0, out int r1))
            {
                return 0;
            }

            double gain = 0;
            for (int r = r0; r <= r1; r++)
            {
                for (int c = c0; c <= c1; c++)
                {
                    int cell = (r * _columns) + c;
                    if (_cellOpen[cell] == 0)
                    {
                        continue;
                    }

                    var relation = Relation(wedges, j, cell, c, r);
                    if (relation == CellRelation.Inside)
                    {
                        gain += _cellCredit[cell];
                        continue;
                    }

                    if (relation == CellRelation.Outside)
                    {
                        continue;
                    }

                    for (int s = _cellStart[cell]; s < _cellStart[cell + 1]; s++)
                    {
                        if (_remaining[s] > 0 && wedges.Covers(j, _x[s], _y[s]))
                        {
                            gain += _credit[s];
                        }
                    }
                }
            }

            return gain;
        }

        /// <summary>Adds candidate <paramref name="j"/>: credits the points it sees and reports what changed.</summary>
        public (double Weight, double Area, IReadOnlyList<string> Completed, IReadOnlyList<string> Improved) Apply(Wedges wedges, int j)
        {
            double gain = 0, area = 0;
            var touched = new SortedSet<string>(StringComparer.Ordinal);
            var completed = new SortedSet<string>(StringComparer.Ordinal);
            if (TryCellRange(wedges, j, out int c0, out int c1, out int r0, out int r1))
            {
                for (int r = r0; r <= r1; r++)
                {
                    for (int c = c0; c <= c1; c++)
                    {
                        int cell = (r * _columns) + c;
                        if (_cellOpen[cell] == 0)
                        {
                            continue;
                        }

                        var relation = Relation(wedges, j, cell, c, r);
                        if (relation == CellRelation.Outside)
                        {
                            continue;
                        }

                        bool changed = false;
                        for (int s = _cellStart[cell]; s < _cellStart[cell + 1]; s++)
                        {
                            if (_remaining[s] <= 0 || (relation == CellRelation.Partial && !wedges.Covers(j, _x[s], _y[s])))
                            {
                                continue;
                            }

                            gain += _credit[s];
                            area += _areaCredit[s];
                            if (--_remaining[s] == 0)
                            {
                                _cellOpen[cell]--;
                                changed = true;
                            }

                            int site = _site[s];
                            if (site < 0)
                            {
                                continue;
                            }

                            touched.Add(_siteCodes[site]);
                            if (_remaining[s] == 0 && --_siteOpen[site] == 0)
                            {
                                completed.Add(_siteCodes[site]);
                            }
                        }

                        if (changed)
                        {
                            UpdateCellCredit(cell);
                        }
                    }
                }
            }

            touched.ExceptWith(completed);
            return (gain, area, completed.ToArray(), touched.ToArray());
        }

        /// <summary>Small cells are tested point by point; larger ones are classified first.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private CellRelation Relation(Wedges wedges, int j, int cell, int column, int row) =>
            _cellStart[cell + 1] - _cellStart[cell] <= ClassifyAbove
                ? CellRelation.Partial
                : wedges.Classify(j, _minX + (column * _cellSize), _minY + (row * _cellSize), _cellSize);

        private void UpdateCellCredit(int cell)
        {
            double credit = 0;
            for (int s = _cellStart[cell]; s < _cellStart[cell + 1]; s++)
            {
                if (_remaining[s] > 0)
                {
                    credit += _credit[s];
                }
            }

            _cellCredit[cell] = credit;
        }

        private int CellIndex(double x, double y)
        {
            int c = Math.Clamp((int)Math.Floor((x - _minX) / _cellSize), 0, _columns - 1);
            int r = Math.Clamp((int)Math.Floor((y - _minY) / _cellSize), 0, _rows - 1);
            return (r * _columns) + c;
        }

        /// <summary>The columns and rows of cells the wedge's box overlaps; false when it misses the table.</summary>
        private bool TryCellRange(Wedges wedges, int j, out int c0, out int c1, out int r0, out int r1)
        {
            var (minX, minY, maxX, maxY) = wedges.Bounds(j);
            double fc0 = Math.Floor((minX - _minX) / _cellSize), fc1 = Math.Floor((maxX - _minX) / _cellSize);
            double fr0 = Math.Floor((minY - _minY) / _cellSize), fr1 = Math.Floor((maxY - _minY) / _cellSize);
            if (_x.Length == 0 || fc1 < 0 || fr1 < 0 || fc0 >= _columns || fr0 >= _rows)
            {
                c0 = c1 = r0 = r1 = 0;
                return false;
            }

            c0 = (int)Math.Max(0, fc0);
            c1 = (int)Math.Min(_columns - 1, fc1);
            r0 = (int)Math.Max(0, fr0);
            r1 = (int)Math.Min(_rows - 1, fr1);
            return true;
        }
    }
}
