using System.Collections.Concurrent;
using NetTopologySuite.Geometries;
using NetTopologySuite.Index.Strtree;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Geo.Coverage;

/// <summary>
/// Video coverage of a county's level-4 grids and key sites by its cameras, kept up to date incrementally.
/// Areas are square metres in <see cref="RegionIndex.Projection"/>.
/// </summary>
/// <remarks>
/// <para><b>Truths.</b> Real coverage counts the working cameras (online, not faulty) with their current wedges;
/// declared coverage every camera with its current wedge; potential coverage every camera, a PTZ one with its full
/// circle (together with its wedge, whose arc vertices stand slightly outside the circle's chords, so that potential
/// coverage always includes declared coverage). A grid's covered area is the area of the grid inside the union of the
/// truth's wedges. An area key site counts the part of it inside at least k wedges.</para>
/// <para><b>Areas.</b> Covered areas, shares and k-covered areas are measured by <see cref="SlabSweep"/>: one exact
/// sweep per grid (or site) over its wedges gives all three truths and every camera's share at once, with no overlay.
/// Only <see cref="Uncovered"/>, which needs the geometry, uses NetTopologySuite's OverlayNG (robust).</para>
/// <para><b>Incremental.</b> Each camera's metric wedge (and a PTZ camera's circle) is built once per
/// <see cref="Upsert"/>; the grids (by wedge or circle) and key sites (by wedge) it touches are found with STR trees
/// and an exact intersection test (touching counts), and the camera is listed in each. A change marks the grids and
/// sites touched by the old and the new footprint dirty; <see cref="Recompute"/> recomputes those only, from their
/// camera lists, and gives bit-for-bit the values <see cref="RecomputeAll"/> would.</para>
/// <para><b>Threads.</b> One writer at a time calls <see cref="Upsert"/>, <see cref="Remove"/>,
/// <see cref="Recompute"/> and <see cref="RecomputeAll"/> (they are serialised by a lock, which readers never take).
/// Any number of readers may call the query methods at any time: results are immutable records in concurrent
/// dictionaries, camera states are immutable, and per-grid/per-site/per-cell camera lists are arrays replaced on
/// write (copy-on-write), so a reader sees the old or the new list, never a half-written one. Shared geometries are
/// never mutated (their envelopes are computed up front, and no prepared geometry is shared).</para>
/// </remarks>
public sealed class CoverageModel
{
    /// <summary>Cell size (m) of the hash that answers <see cref="WorkingCamerasSeeing"/>.</summary>
    private const double CellM = 500.0;

    /// <summary>A camera spanning more cells than this goes to a list checked by every point query.</summary>
    private const int MaxCellsPerCamera = 256;

    /// <summary>
    /// Recompute runs in parallel from this many dirty tiles and key sites: a dense grid's tile takes a fraction of a
    /// millisecond, well above Parallel.For's overhead, so even one camera's two or three are worth spreading over the
    /// cores.
    /// </summary>
    private const int ParallelThreshold = 2;

    /// <summary>
    /// A grid is measured in tiles of about this many camera footprints each (<see cref="GridTiles"/>): a change recomputes
    /// only the tiles its old and new footprint touch, and the grid's figures are the sums over its tiles in a fixed
    /// order, so an incremental result equals a full one bit for bit.
    /// </summary>
    public const int DefaultFootprintsPerTile = 4;

    /// <summary>The smallest tile side (m); tiles are this times a power of two.</summary>
    private const double MinTileM = 25.0;

    /// <summary>At most this many tiles per grid (a county-sized grid with many cameras still has a bounded tile array).</summary>
    private const int MaxTilesPerGrid = 4096;

    /// <summary>Slack on the site area fraction threshold.</summary>
    private const double FractionSlack = 1e-9;

    private const int RealBit = 1 << 0;
    private const int DeclaredBit = 1 << 1;
    private const int PotentialBit = 1 << 2;

    /// <summary>
    /// The wide list's key among the pending cell changes: no cell has it (a cell key's halves are metres / <see cref="CellM"/>,
    /// far from 2³¹).
    /// </summary>
    private const long WideList = long.MinValue;

    private static readonly GeometryFactory s_wgs84 = new(new PrecisionModel(), 4326);

    [ThreadStatic]
    private static SlabSweep? t_sweep;

    [ThreadStatic]
    private static SweepInputs? t_inputs;

    private readonly Lock _writeLock = new();
    private readonly GridInfo[] _grids;
    private readonly SiteInfo[] _sites;
    private readonly Dictionary<string, int> _gridIndex;
    private readonly STRtree<int> _gridTree = new();
    private readonly STRtree<int> _siteTree = new();
    private readonly GridMember[][] _gridMembers;
    private readonly GridTiles[] _gridTiles;
    private readonly int _footprintsPerTile;
    private readonly CameraState[][] _siteMembers;
    private readonly ConcurrentDictionary<string, CameraState> _cameras = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, CameraState[]> _cells = new();
    private readonly ConcurrentDictionary<string, GridCoverage> _gridResults = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeySiteCoverage> _siteResults = new(StringComparer.Ordinal);
    private readonly Dictionary<int, HashSet<string>> _dirtyGrids = [];
    private readonly Dictionary<int, HashSet<string>> _dirtySites = [];
    private volatile CameraState[] _wide = [];
    private readonly PendingMembers _pending = new();
    private int _batchDepth;

    /// <param name="regions">The grids and key sites.</param>
    /// <param name="rules">Targets and thresholds.</param>
    /// <param name="footprintsPerTile">
    /// About how many camera footprints a tile of a grid should hold (<see cref="DefaultFootprintsPerTile"/>); 0 measures
    /// each grid whole, as before tiles (the benchmark's baseline).
    /// </param>
    public CoverageModel(RegionIndex regions, CoverageRules rules, int footprintsPerTile = DefaultFootprintsPerTile)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(footprintsPerTile);
        _footprintsPerTile = footprintsPerTile;
        ArgumentNullException.ThrowIfNull(regions);
        ArgumentNullException.ThrowIfNull(rules);
        Regions = regions;
        Rules = rules;
        var projection = regions.Projection;

        var levelFour = regions.Grids.Where(g => g.Level == GridFeature.GridLevel).ToList();
        if (levelFour.Count == 0 && regions.Grids.Count > 0)
        {
            int finest = regions.Grids.Max(g => g.Level);
            levelFour = regions.Grids.Where(g => g.Level == finest).ToList();
        }

        LevelFourGrids = levelFour; // RegionIndex orders grids by code.
        _grids = new GridInfo[levelFour.Count];
        _gridIndex = new Dictionary<string, int>(levelFour.Count, StringComparer.Ordinal);
        for (int i = 0; i < levelFour.Count; i++)
        {
            var metric = CoverageGeometry.Freeze(projection.Project(levelFour[i].Geometry));
            _grids[i] = new GridInfo(levelFour[i].Code, metric, metric.EnvelopeInternal, metric.Area);
            _gridIndex[levelFour[i].Code] = i;
            _gridTree.Insert(metric.EnvelopeInternal, i);
        }

        _sites = new SiteInfo[regions.KeySites.Count];
        for (int i = 0; i < _sites.Length; i++)
        {
            var site = regions.KeySites[i];
            // A point site is seen at its point, an area site over its area; any other geometry at its interior point.
            bool isArea = site.Geometry is Polygon or MultiPolygon && !site.Geometry.IsEmpty;
            var anchor = site.Geometry.IsEmpty
                ? new Coordinate(projection.CenterLon, projection.CenterLat)
                : site.Geometry is Point point ? point.Coordinate : site.Geometry.InteriorPoint.Coordinate;
            string gridCode = site.Geometry.IsEmpty ? string.Empty : regions.Locate(anchor.X, anchor.Y).GridCode;
            var (x, y) = projection.Project(anchor.X, anchor.Y);
            Geometry metric = isArea
                ? CoverageGeometry.Freeze(projection.Project(site.Geometry))
                : Wedge.MetricFactory.CreatePoint(new Coordinate(x, y));
            _ = metric.EnvelopeInternal;
            _sites[i] = new SiteInfo(
                site.Code,
                site.Category,
                site.Priority,
                gridCode,
                isArea,
                metric,
                isArea ? metric.Area : 0,
                x,
                y);
            if (!site.Geometry.IsEmpty)
            {
                _siteTree.Insert(metric.EnvelopeInternal, i);
            }
        }

        _gridTree.Build();
        _siteTree.Build();
        _gridMembers = new GridMember[_grids.Length][];
        Array.Fill(_gridMembers, []);
        _gridTiles = new GridTiles[_grids.Length];
        for (int i = 0; i < _grids.Length; i++)
        {
            _gridTiles[i] = new GridTiles(_grids[i].Envelope, 0, footprintsPerTile);
        }
        _siteMembers = new CameraState[_sites.Length][];
        Array.Fill(_siteMembers, []);

        // Nothing has been computed yet: the first Recompute computes everything.
        for (int i = 0; i < _grids.Length; i++)
        {
            _dirtyGrids[i] = new HashSet<string>(StringComparer.Ordinal);
            _gridTiles[i].MarkAll();
        }

        for (int i = 0; i < _sites.Length; i++)
        {
            _dirtySites[i] = new HashSet<string>(StringComparer.Ordinal);
        }
    }

    public RegionIndex Regions { get; }

    public CoverageRules Rules { get; }

    /// <summary>The grids whose area coverage is computed: level 4, or the finest level present when there is none.</summary>
    public IReadOnlyList<GridFeature> LevelFourGrids { get; }

    /// <summary>Number of cameras in the model.</summary>
    public int CameraCount => _cameras.Count;

    /// <summary>
    /// Adds a camera or replaces the one with its id (moved, re-aimed, status changed). Marks the grids and key sites
    /// touched by its old and new footprint dirty (nothing when the camera is unchanged). Writer only.
    /// </summary>
    public void Upsert(CameraFov camera)
    {
        Validate(camera);
        lock (_writeLock)
        {
            _cameras.TryGetValue(camera.Id, out var old);
            if (old is not null && old.Fov == camera)
            {
                return;
            }

            if (old is not null && SameGeometry(old.Fov, camera))
            {
                Restate(old, old.WithFov(camera));
                ApplyUnlessBatched();
                return;
            }

            var state = Build(camera);
            if (old is not null)
            {
                Detach(old);
            }

            Attach(state);
            _cameras[camera.Id] = state;
            ApplyUnlessBatched();
        }
    }

    /// <summary>
    /// Starts a batch of writes (writer only; batches nest, and the outermost one counts). A write records its changes
    /// to the grids', key sites' and cells' camera lists, which are merged into the lists readers see once per list
    /// (<see cref="ApplyPending"/>): at the end of each <see cref="Upsert"/> and <see cref="Remove"/>, or, while a batch
    /// is open, when it ends. Until then readers see the lists as they were; the cameras themselves and what they made
    /// dirty change at once, and <see cref="Recompute()"/> and <see cref="RecomputeAll"/> merge what is pending first.
    /// Registering n cameras into a grid of m one by one cost O(n·m) in copies and their garbage (about 14 MB of arrays
    /// per registration batch of 2,000 in the bench's area); a batch costs O(n log n + m).
    /// </summary>
    public WriteBatch BeginBatch()
    {
        lock (_writeLock)
        {
            _batchDepth++;
            return new WriteBatch(this);
        }
    }

    private void EndBatch()
    {
        lock (_writeLock)
        {
            if (_batchDepth > 0 && --_batchDepth == 0)
            {
                ApplyPending();
            }
        }
    }

    private void ApplyUnlessBatched()
    {
        if (_batchDepth == 0)
        {
            ApplyPending();
        }
    }

    /// <summary>Merges the pending list changes into the lists readers see (under the write lock).</summary>
    private void ApplyPending()
    {
        foreach (var (grid, changes) in _pending.Grids.Lists)
        {
            Volatile.Write(ref _gridMembers[grid], Merge(_gridMembers[grid], changes, static m => m.Camera.Fov.Id));
        }

        foreach (var (site, changes) in _pending.Sites.Lists)
        {
            Volatile.Write(ref _siteMembers[site], Merge(_siteMembers[site], changes, static c => c.Fov.Id));
        }

        foreach (var (key, changes) in _pending.Cells.Lists)
        {
            if (key == WideList)
            {
                _wide = Merge(_wide, changes, static c => c.Fov.Id);
                continue;
            }

            var merged = Merge(_cells.TryGetValue(key, out var cell) ? cell : [], changes, static c => c.Fov.Id);
            if (merged.Length == 0)
            {
                _cells.TryRemove(key, out _);
            }
            else
            {
                _cells[key] = merged;
            }
        }

        _pending.Clear();
    }

    /// <summary>
    /// A new array: <paramref name="sorted"/> (ordered by id) with each changed id replaced by its new value, or left out
    /// when that is null, and the new ids added in order. Each change is found by binary search and the runs between
    /// changes are block-copied: comparing every member's id instead chases three references per member through a cold
    /// heap (measured at ~150 ns a member). One change is one binary search and two block copies.
    /// </summary>
    private static T[] Merge<T>(T[] sorted, Dictionary<string, T?> changes, Func<T, string> idOf)
        where T : class
    {
        var ids = changes.Keys.ToArray();
        Array.Sort(ids, StringComparer.Ordinal);
        var at = new int[ids.Length];
        var found = new bool[ids.Length];
        int length = sorted.Length, lo = 0;
        for (int j = 0; j < ids.Length; j++)
        {
            int hi = sorted.Length;
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (string.CompareOrdinal(idOf(sorted[mid]), ids[j]) < 0)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }

            at[j] = lo;
            found[j] = lo < sorted.Length && string.Equals(idOf(sorted[lo]), ids[j], StringComparison.Ordinal);
            length += (changes[ids[j]] is not null ? 1 : 0) - (found[j] ? 1 : 0);
        }

        var merged = new T[length];
        int from = 0, to = 0;
        for (int j = 0; j < ids.Length; j++)
        {
            int run = at[j] - from;
            Array.Copy(sorted, from, merged, to, run);
            to += run;
            if (changes[ids[j]] is { } value)
            {
                merged[to++] = value;
            }

            from = at[j] + (found[j] ? 1 : 0);
        }

        Array.Copy(sorted, from, merged, to, sorted.Length - from);
        return merged;
    }

    /// <summary>An open batch of writes (<see cref="BeginBatch"/>); disposing it merges what is pending.</summary>
    public readonly struct WriteBatch(CoverageModel model) : IDisposable
    {
        public void Dispose() => model?.EndBatch();
    }

    /// <summary>Per list (a grid, a key site, a cell, the wide list), the camera ids changed and not yet merged, and their new entry (null: removed).</summary>
    private sealed class PendingLists<TKey, T>
        where TKey : notnull
        where T : class
    {
        public Dictionary<TKey, Dictionary<string, T?>> Lists { get; } = [];

        public void Set(TKey list, string id, T? value)
        {
            if (!Lists.TryGetValue(list, out var changes))
            {
                Lists[list] = changes = new Dictionary<string, T?>(StringComparer.Ordinal);
            }

            changes[id] = value;
        }
    }

    private sealed class PendingMembers
    {
        public PendingLists<int, GridMember> Grids { get; } = new();

        public PendingLists<int, CameraState> Sites { get; } = new();

        /// <summary>Per cell, and for the wide list under <see cref="WideList"/>.</summary>
        public PendingLists<long, CameraState> Cells { get; } = new();

        public void Clear()
        {
            Grids.Lists.Clear();
            Sites.Lists.Clear();
            Cells.Lists.Clear();
        }
    }

    /// <summary>Removes a camera, marking what it touched dirty; false when there was none with that id. Writer only.</summary>
    public bool Remove(string cameraId)
    {
        ArgumentNullException.ThrowIfNull(cameraId);
        lock (_writeLock)
        {
            if (!_cameras.TryGetValue(cameraId, out var old))
            {
                return false;
            }

            Detach(old);
            _cameras.TryRemove(cameraId, out _);
            ApplyUnlessBatched();
            return true;
        }
    }

    /// <summary>
    /// Recomputes the dirty grids and key sites (all of them on the first call) and returns them with their values
    /// before and after and the cameras that made them dirty. Writer only.
    /// </summary>
    public ChangedCoverage Recompute()
    {
        lock (_writeLock)
        {
            ApplyPending();
            var grids = _dirtyGrids.Keys.Order().ToArray();
            var sites = _dirtySites.Keys.Order().ToArray();
            return Compute(grids, sites);
        }
    }

    /// <summary>
    /// As <see cref="Recompute()"/>, but stops once <paramref name="budget"/> has passed: the dirty grids, then key
    /// sites, are recomputed in code order a few at a time (twice the processors, in parallel), and those not reached
    /// stay dirty, with their causes, for a later call (<see cref="HasDirty"/>). At least one batch is recomputed.
    /// Writer only.
    /// </summary>
    public ChangedCoverage Recompute(TimeSpan budget)
    {
        lock (_writeLock)
        {
            ApplyPending();
            var grids = _dirtyGrids.Keys.Order().ToArray();
            var sites = _dirtySites.Keys.Order().ToArray();
            int batch = Math.Max(2, Environment.ProcessorCount * 2);
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            var gridChanges = new List<(GridCoverage? Before, GridCoverage After, IReadOnlyList<string> Causes)>();
            var siteChanges = new List<(KeySiteCoverage? Before, KeySiteCoverage After, IReadOnlyList<string> Causes)>();
            int g = 0, k = 0;
            while (g < grids.Length || k < sites.Length)
            {
                var someGrids = grids.AsSpan(g, Math.Min(batch, grids.Length - g)).ToArray();
                var someSites = sites.AsSpan(k, Math.Min(batch - someGrids.Length, sites.Length - k)).ToArray();
                g += someGrids.Length;
                k += someSites.Length;
                var part = Compute(someGrids, someSites);
                gridChanges.AddRange(part.Grids);
                siteChanges.AddRange(part.Sites);
                if (System.Diagnostics.Stopwatch.GetElapsedTime(started) >= budget)
                {
                    break;
                }
            }

            return new ChangedCoverage(gridChanges, siteChanges);
        }
    }

    /// <summary>Some grid or key site waits for a recompute (a change since the last, or one a budget did not reach).</summary>
    public bool HasDirty
    {
        get
        {
            lock (_writeLock)
            {
                return _dirtyGrids.Count + _dirtySites.Count > 0;
            }
        }
    }

    /// <summary>Recomputes every grid and key site on all cores; returns them all, as <see cref="Recompute"/> does. Writer only.</summary>
    public ChangedCoverage RecomputeAll()
    {
        lock (_writeLock)
        {
            ApplyPending();
            foreach (var tiles in _gridTiles)
            {
                tiles.MarkAll();
            }

            return Compute(
                Enumerable.Range(0, _grids.Length).ToArray(),
                Enumerable.Range(0, _sites.Length).ToArray());
        }
    }

    /// <summary>The camera with that id, or null.</summary>
    public CameraFov? Camera(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        return _cameras.TryGetValue(id, out var state) ? state.Fov : null;
    }

    /// <summary>A snapshot of every camera, ordered by id.</summary>
    public IReadOnlyList<CameraFov> Cameras()
    {
        var list = _cameras.Values.Select(s => s.Fov).ToList();
        list.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        return list;
    }

    /// <summary>The last computed coverage of a grid of <see cref="LevelFourGrids"/>, or null.</summary>
    public GridCoverage? Grid(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        return _gridResults.TryGetValue(code, out var result) ? result : null;
    }

    /// <summary>The last computed coverage of the grids whose code starts with the prefix, ordered by code.</summary>
    public IReadOnlyList<GridCoverage> GridsWithPrefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var list = new List<GridCoverage>();
        foreach (var grid in _grids)
        {
            if (grid.Code.StartsWith(prefix, StringComparison.Ordinal) && _gridResults.TryGetValue(grid.Code, out var result))
            {
                list.Add(result);
            }
        }

        return list;
    }

    /// <summary>The last computed coverage of a key site, or null.</summary>
    public KeySiteCoverage? Site(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        return _siteResults.TryGetValue(code, out var result) ? result : null;
    }

    /// <summary>
    /// The last computed coverage of the key sites whose <see cref="KeySiteCoverage.GridCode"/> (the region they lie
    /// in) starts with the prefix, ordered by site code.
    /// </summary>
    public IReadOnlyList<KeySiteCoverage> SitesWithPrefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var list = new List<KeySiteCoverage>();
        foreach (var site in _sites)
        {
            if (site.GridCode.StartsWith(prefix, StringComparison.Ordinal) && _siteResults.TryGetValue(site.Code, out var result))
            {
                list.Add(result);
            }
        }

        return list;
    }

    /// <summary>Totals over the grids, key sites and cameras of a region (see <see cref="CoverageSummary"/>).</summary>
    public CoverageSummary Summarize(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        int grids = 0, gaps = 0;
        double area = 0, real = 0, declared = 0, potential = 0;
        foreach (var grid in _grids)
        {
            if (!grid.Code.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            grids++;
            area += grid.Area;
            if (_gridResults.TryGetValue(grid.Code, out var result))
            {
                real += result.RealCoveredM2;
                declared += result.DeclaredCoveredM2;
                potential += result.PotentialCoveredM2;
                gaps += result.IsGap ? 1 : 0;
            }
            else
            {
                gaps += Rules.GridTargetFor(grid.Code) > 0 ? 1 : 0;
            }
        }

        int sites = 0, sitesReal = 0, sitesDeclared = 0;
        foreach (var site in _sites)
        {
            if (!site.GridCode.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            sites++;
            if (_siteResults.TryGetValue(site.Code, out var result))
            {
                sitesReal += result.RealCovered ? 1 : 0;
                sitesDeclared += result.DeclaredCovered ? 1 : 0;
            }
        }

        int cameras = 0, online = 0, faulty = 0, working = 0, ptz = 0;
        foreach (var state in _cameras.Values)
        {
            if (!state.GridCode.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var fov = state.Fov;
            cameras++;
            online += fov.Online ? 1 : 0;
            faulty += fov.Faulty ? 1 : 0;
            working += fov.Working ? 1 : 0;
            ptz += fov.Ptz ? 1 : 0;
        }

        return new CoverageSummary(
            prefix, grids, area, real, declared, potential, sites, sitesReal, sitesDeclared, cameras, online, faulty, working, ptz, gaps);
    }

    /// <summary>The code of the finest grid the camera stands in ("" when outside every grid); null for an unknown camera.</summary>
    public string? CameraGridCode(string cameraId)
    {
        ArgumentNullException.ThrowIfNull(cameraId);
        return _cameras.TryGetValue(cameraId, out var state) ? state.GridCode : null;
    }

    /// <summary>
    /// The camera's current wedge (or, with <paramref name="potential"/>, a PTZ camera's full circle) in WGS-84
    /// lon/lat, for maps. Throws <see cref="KeyNotFoundException"/> for an unknown camera.
    /// </summary>
    public Geometry WedgeWgs84(string cameraId, bool potential = false)
    {
        var state = Require(cameraId);
        return ToWgs84(potential ? state.Circle : state.Wedge);
    }

    /// <summary>
    /// The fraction of the camera's current wedge inside each grid it overlaps with a positive area, ordered by grid
    /// code. Computed now from the current camera: once recomputed, the numbers of <see cref="GridCoverage.Shares"/>
    /// (up to rounding, as each grid's sweep also cuts at the other cameras' edges). Empty for an unknown camera.
    /// </summary>
    public IReadOnlyList<GridShare> GridSharesOf(string cameraId)
    {
        ArgumentNullException.ThrowIfNull(cameraId);
        if (!_cameras.TryGetValue(cameraId, out var state))
        {
            return [];
        }

        var shares = new List<GridShare>();
        var sweep = Sweep;
        Span<double> covered = stackalloc double[1];
        Span<double> inside = stackalloc double[1];
        foreach (var hit in state.Grids)
        {
            if (!hit.Wedge)
            {
                continue;
            }

            var grid = _grids[hit.Grid];
            sweep.Measure(grid.Metric, [state.Wedge], [state.WedgeBox], [1], [1], covered, inside);
            if (CoverageGeometry.IsPositive(inside[0], state.WedgeArea, grid.Area))
            {
                shares.Add(new GridShare(grid.Code, Math.Min(1.0, inside[0] / state.WedgeArea)));
            }
        }

        return shares;
    }

    /// <summary>
    /// The part of a grid of <see cref="LevelFourGrids"/> outside every wedge of the truth, in WGS-84 (an empty polygon
    /// when fully covered), from the current cameras. Throws <see cref="KeyNotFoundException"/> for an unknown grid.
    /// </summary>
    public Geometry Uncovered(string gridCode, CoverageTruth truth) => ToWgs84(UncoveredMetric(gridCode, truth));

    /// <summary>As <see cref="Uncovered"/>, in the projection's metres.</summary>
    public Geometry UncoveredMetric(string gridCode, CoverageTruth truth)
    {
        ArgumentNullException.ThrowIfNull(gridCode);
        if (!_gridIndex.TryGetValue(gridCode, out int index))
        {
            throw new KeyNotFoundException($"No level-4 grid '{gridCode}'.");
        }

        var grid = _grids[index];
        var pieces = new List<Geometry>();
        foreach (var member in Volatile.Read(ref _gridMembers[index]))
        {
            var camera = member.Camera;
            if (member.Wedge && (truth != CoverageTruth.Real || camera.Fov.Working))
            {
                pieces.Add(camera.Wedge);
            }

            if (member.Circle && truth == CoverageTruth.Potential && camera.HasDistinctCircle)
            {
                pieces.Add(camera.Circle);
            }
        }

        if (pieces.Count == 0)
        {
            return CoverageGeometry.Polygonal(grid.Metric.Copy());
        }

        var uncovered = CoverageGeometry.Difference(grid.Metric, CoverageGeometry.Union(pieces));
        return uncovered.IsEmpty ? Wedge.MetricFactory.CreatePolygon() : uncovered;
    }

    /// <summary>
    /// How many working cameras' current wedges contain the point (x, y) in the projection's metres, by the analytic
    /// sector test (<see cref="Sector.ContainsMetric"/>); for placement.
    /// </summary>
    public int WorkingCamerasSeeing(double x, double y)
    {
        int count = 0;
        if (_cells.TryGetValue(CellKey(CellOf(x), CellOf(y)), out var cell))
        {
            foreach (var state in cell)
            {
                count += state.Fov.Working && state.Sees(x, y) ? 1 : 0;
            }
        }

        foreach (var state in _wide)
        {
            count += state.Fov.Working && state.Sees(x, y) ? 1 : 0;
        }

        return count;
    }

    /// <summary>This thread's sweep (it keeps its buffers between uses).</summary>
    private static SlabSweep Sweep => t_sweep ??= new SlabSweep();

    /// <summary>This thread's lists of a measure's shapes, cleared for each use rather than built anew.</summary>
    private static SweepInputs Inputs => t_inputs ??= new SweepInputs();

    private Geometry ToWgs84(Geometry metric) => metric.IsEmpty ? s_wgs84.CreatePolygon() : Regions.Projection.Unproject(metric);

    private static void Validate(CameraFov camera)
    {
        ArgumentNullException.ThrowIfNull(camera);
        ArgumentException.ThrowIfNullOrEmpty(camera.Id, nameof(camera));
        if (!double.IsFinite(camera.Lon) || camera.Lon < -180 || camera.Lon > 180
            || !double.IsFinite(camera.Lat) || camera.Lat < -85 || camera.Lat > 85)
        {
            throw new ArgumentOutOfRangeException(nameof(camera), $"Camera '{camera.Id}': position must be lon -180..180, lat -85..85.");
        }

        if (!double.IsFinite(camera.AzimuthDeg) || !double.IsFinite(camera.HfovDeg) || camera.HfovDeg < 0
            || !double.IsFinite(camera.RangeM) || camera.RangeM < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(camera), $"Camera '{camera.Id}': azimuth, hfov ≥ 0 and range ≥ 0 must be finite.");
        }
    }

    private static bool SameGeometry(CameraFov a, CameraFov b) =>
        a.Lon.Equals(b.Lon) && a.Lat.Equals(b.Lat) && a.AzimuthDeg.Equals(b.AzimuthDeg)
        && a.HfovDeg.Equals(b.HfovDeg) && a.RangeM.Equals(b.RangeM) && a.Ptz == b.Ptz;

    private CameraState Require(string cameraId)
    {
        ArgumentNullException.ThrowIfNull(cameraId);
        return _cameras.TryGetValue(cameraId, out var state)
            ? state
            : throw new KeyNotFoundException($"No camera '{cameraId}'.");
    }

    /// <summary>Builds the camera's geometry and finds the grids, sites and cells it touches (writer only).</summary>
    private CameraState Build(CameraFov fov)
    {
        var projection = Regions.Projection;
        var (x, y) = projection.Project(fov.Lon, fov.Lat);
        double convergence = projection.ConvergenceDegrees(fov.Lon, fov.Lat);
        var wedge = Wedge.Metric(x, y, fov.AzimuthDeg + convergence, fov.HfovDeg, fov.RangeM, fullCircle: false);
        bool distinctCircle = fov.Ptz && fov.HfovDeg < 360.0 && fov.RangeM > 0;
        var circle = distinctCircle ? Wedge.Metric(x, y, 0, 360, fov.RangeM, fullCircle: true) : wedge;
        bool sees = fov.RangeM > 0 && fov.HfovDeg > 0;

        var grids = new List<GridHit>();
        var footprint = distinctCircle ? circle : wedge;
        string gridCode = Regions.Locate(fov.Lon, fov.Lat).GridCode;
        // The grid the camera stands in holds the wedge's apex (a full circle's centre): the wedge touches it, with no
        // exact test against the grid's outline (a village's runs to hundreds of vertices).
        int standsIn = !wedge.IsEmpty && _gridIndex.TryGetValue(gridCode, out int home) ? home : -1;
        if (!footprint.IsEmpty && _grids.Length > 0)
        {
            var candidates = _gridTree.Query(footprint.EnvelopeInternal).ToArray();
            Array.Sort(candidates);
            foreach (int g in candidates)
            {
                var grid = _grids[g];
                bool touchesWedge = g == standsIn || Touch.Intersects(wedge, grid.Metric);
                bool touchesCircle = distinctCircle && (touchesWedge || Touch.Intersects(circle, grid.Metric));
                if (touchesWedge || touchesCircle)
                {
                    grids.Add(new GridHit(g, touchesWedge, touchesCircle));
                }
            }
        }

        // The analytic sector bulges past the chords by at most r(1 − cos 2°) < 0.001 r.
        Envelope? seeEnvelope = null;
        var sites = new List<int>();
        if (sees)
        {
            seeEnvelope = wedge.EnvelopeInternal.Copy();
            seeEnvelope.ExpandBy((fov.RangeM * 1e-3) + 1e-6);
            if (_sites.Length > 0)
            {
                var candidates = _siteTree.Query(seeEnvelope).ToArray();
                Array.Sort(candidates);
                foreach (int s in candidates)
                {
                    var site = _sites[s];
                    bool touches = site.IsArea
                        ? Touch.Intersects(wedge, site.Metric)
                        : Sector.ContainsMetric(x, y, convergence, fov.AzimuthDeg, fov.HfovDeg, fov.RangeM, site.X, site.Y);
                    if (touches)
                    {
                        sites.Add(s);
                    }
                }
            }
        }

        long[]? cells = [];
        if (seeEnvelope is not null)
        {
            long x0 = CellOf(seeEnvelope.MinX), x1 = CellOf(seeEnvelope.MaxX);
            long y0 = CellOf(seeEnvelope.MinY), y1 = CellOf(seeEnvelope.MaxY);
            if ((x1 - x0 + 1) * (y1 - y0 + 1) > MaxCellsPerCamera)
            {
                cells = null;
            }
            else
            {
                var list = new List<long>();
                for (long cx = x0; cx <= x1; cx++)
                {
                    for (long cy = y0; cy <= y1; cy++)
                    {
                        list.Add(CellKey(cx, cy));
                    }
                }

                cells = list.ToArray();
            }
        }

        return new CameraState(
            fov,
            x,
            y,
            convergence,
            wedge,
            wedge.Area,
            Box.Of(wedge),
            circle,
            circle.Area,
            Box.Of(circle),
            distinctCircle,
            gridCode,
            grids.ToArray(),
            sites.ToArray(),
            cells);
    }

    /// <summary>Puts the camera in its grids', key sites' and cells' lists and marks them dirty (and, unless told not to, the tiles its footprint touches).</summary>
    private void Attach(CameraState state, bool markTiles = true)
    {
        string id = state.Fov.Id;
        foreach (var hit in state.Grids)
        {
            _pending.Grids.Set(hit.Grid, id, new GridMember(state, hit.Wedge, hit.Circle));
            MarkDirty(_dirtyGrids, hit.Grid, id);
            if (markTiles)
            {
                MarkTiles(hit, state);
            }
        }

        foreach (int s in state.Sites)
        {
            _pending.Sites.Set(s, id, state);
            MarkDirty(_dirtySites, s, id);
        }

        foreach (long key in state.Cells ?? [WideList])
        {
            _pending.Cells.Set(key, id, state);
        }
    }

    /// <summary>
    /// Replaces a camera whose footprint is unchanged (its status changed): its grids and key sites are dirty, but of a
    /// grid's tiles only those under its wedge, and only when it starts or stops working. A tile's figures depend on a
    /// camera's status through the wedge's real-coverage bit alone (its declared and potential bits, its PTZ circle and
    /// its area inside the tile are geometry), so the tiles only its circle reaches would be measured again to the same
    /// result: a PTZ camera going offline in a dense grid measured a dozen tiles for the two or three under its wedge.
    /// </summary>
    private void Restate(CameraState old, CameraState state)
    {
        Attach(state, markTiles: false); // the same lists: each entry is replaced
        if (old.Fov.Working != state.Fov.Working)
        {
            foreach (var hit in state.Grids)
            {
                if (hit.Wedge)
                {
                    _gridTiles[hit.Grid].Mark(state.WedgeBox);
                }
            }
        }

        _cameras[state.Fov.Id] = state;
    }

    private void Detach(CameraState state)
    {
        string id = state.Fov.Id;
        foreach (var hit in state.Grids)
        {
            _pending.Grids.Set(hit.Grid, id, null);
            MarkDirty(_dirtyGrids, hit.Grid, id);
            MarkTiles(hit, state);
        }

        foreach (int s in state.Sites)
        {
            _pending.Sites.Set(s, id, null);
            MarkDirty(_dirtySites, s, id);
        }

        foreach (long key in state.Cells ?? [WideList])
        {
            _pending.Cells.Set(key, id, null);
        }
    }

    /// <summary>Marks dirty the tiles of the hit's grid that the camera's footprint there (wedge, circle) overlaps.</summary>
    private void MarkTiles(GridHit hit, CameraState state)
    {
        var tiles = _gridTiles[hit.Grid];
        if (hit.Wedge)
        {
            tiles.Mark(state.WedgeBox);
        }

        if (hit.Circle && state.HasDistinctCircle)
        {
            tiles.Mark(state.CircleBox);
        }
    }

    /// <summary>A grid's or site's causes in id order (a hash set while they gather: a sorted one cost a bulk registration 3 %).</summary>
    private static string[] Sorted(HashSet<string> causes)
    {
        var array = causes.ToArray();
        Array.Sort(array, StringComparer.Ordinal);
        return array;
    }

    private static void MarkDirty(Dictionary<int, HashSet<string>> dirty, int index, string cameraId)
    {
        if (!dirty.TryGetValue(index, out var causes))
        {
            causes = new HashSet<string>(StringComparer.Ordinal);
            dirty[index] = causes;
        }

        causes.Add(cameraId);
    }

    private static long CellOf(double metres) => (long)Math.Floor(metres / CellM);

    private static long CellKey(long cx, long cy) => (cx << 32) ^ (cy & 0xFFFF_FFFFL);

    private ChangedCoverage Compute(int[] grids, int[] sites)
    {
        // The work is each dirty tile of the grids and each key site: one change in a dense grid dirties a dozen tiles,
        // which then share the cores as several grids do. A grid's figures are summed from its tiles by whichever
        // worker measures its last dirty tile (a grid with none dirty is one item that only sums).
        var members = new GridMember[grids.Length][];
        var tilings = new GridTiles[grids.Length];
        var pending = new int[grids.Length];
        var work = new List<(int Slot, int Tile)>(grids.Length);
        for (int i = 0; i < grids.Length; i++)
        {
            members[i] = Volatile.Read(ref _gridMembers[grids[i]]);
            tilings[i] = TilingFor(grids[i], members[i]);
            var dirty = tilings[i].Dirty;
            for (int t = 0; t < dirty.Length; t++)
            {
                if (dirty[t])
                {
                    work.Add((i, t));
                    pending[i]++;
                }
            }

            if (pending[i] == 0)
            {
                work.Add((i, -1));
                pending[i] = 1;
            }
        }

        var gridAfter = new GridCoverage[grids.Length];
        var siteAfter = new KeySiteCoverage[sites.Length];
        int total = work.Count + sites.Length;
        void Body(int w)
        {
            if (w >= work.Count)
            {
                siteAfter[w - work.Count] = ComputeSite(sites[w - work.Count]);
                return;
            }

            var (slot, t) = work[w];
            var tiling = tilings[slot];
            if (t >= 0)
            {
                bool windowed = tiling.Results.Length > 1;
                tiling.Results[t] = ComputeTile(_grids[grids[slot]], members[slot], tiling.Tile(t), windowed);
                tiling.Dirty[t] = false;
            }

            if (Interlocked.Decrement(ref pending[slot]) == 0)
            {
                gridAfter[slot] = SumGrid(grids[slot], members[slot], tiling);
            }
        }

        if (total >= ParallelThreshold)
        {
            Parallel.For(0, total, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, Body);
        }
        else
        {
            for (int i = 0; i < total; i++)
            {
                Body(i);
            }
        }

        var gridChanges = new List<(GridCoverage? Before, GridCoverage After, IReadOnlyList<string> Causes)>(grids.Length);
        for (int i = 0; i < grids.Length; i++)
        {
            var after = gridAfter[i];
            _gridResults.TryGetValue(after.Code, out var before);
            IReadOnlyList<string> causes = _dirtyGrids.Remove(grids[i], out var set) ? Sorted(set) : [];
            _gridResults[after.Code] = after;
            gridChanges.Add((before, after, causes));
        }

        var siteChanges = new List<(KeySiteCoverage? Before, KeySiteCoverage After, IReadOnlyList<string> Causes)>(sites.Length);
        for (int i = 0; i < sites.Length; i++)
        {
            var after = siteAfter[i];
            _siteResults.TryGetValue(after.Code, out var before);
            IReadOnlyList<string> causes = _dirtySites.Remove(sites[i], out var set) ? Sorted(set) : [];
            _siteResults[after.Code] = after;
            siteChanges.Add((before, after, causes));
        }

        return new ChangedCoverage(gridChanges, siteChanges);
    }

    /// <summary>
    /// The grid's tiling for its members' footprints (a function of their count only, so a fresh model tiles alike); a
    /// new tiling has every tile dirty.
    /// </summary>
    private GridTiles TilingFor(int index, GridMember[] members)
    {
        var tiling = _gridTiles[index];
        int footprints = 0;
        foreach (var member in members)
        {
            footprints += (member.Wedge ? 1 : 0) + (member.Circle && member.Camera.HasDistinctCircle ? 1 : 0);
        }

        if (!tiling.Suits(footprints))
        {
            _gridTiles[index] = tiling = new GridTiles(_grids[index].Envelope, footprints, _footprintsPerTile);
            tiling.MarkAll();
        }

        return tiling;
    }

    /// <summary>
    /// A grid's coverage once its dirty tiles are measured again: every tile's figures summed in tile order (the camera
    /// shares too), so the result does not depend on which tiles were recomputed.
    /// </summary>
    private GridCoverage SumGrid(int index, GridMember[] members, GridTiles tiling)
    {
        var grid = _grids[index];
        var tiles = tiling.Results;
        double real = 0, declared = 0, potential = 0;
        var areas = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var tile in tiles)
        {
            if (tile is null)
            {
                continue;
            }

            real += tile.Real;
            declared += tile.Declared;
            potential += tile.Potential;
            for (int i = 0; i < tile.Cameras.Length; i++)
            {
                areas[tile.Cameras[i]] = areas.GetValueOrDefault(tile.Cameras[i]) + tile.Areas[i];
            }
        }

        var shares = new List<CameraShare>(areas.Count);
        int cameras = 0, working = 0;
        foreach (var member in members)
        {
            var camera = member.Camera;
            if (member.Wedge && areas.TryGetValue(camera.Fov.Id, out double inside) && CoverageGeometry.IsPositive(inside, camera.WedgeArea, grid.Area))
            {
                cameras++;
                working += camera.Fov.Working ? 1 : 0;
                shares.Add(new CameraShare(camera.Fov.Id, Math.Min(1.0, inside / camera.WedgeArea)));
            }
        }

        return new GridCoverage(
            grid.Code,
            grid.Area,
            Covered(real, grid.Area),
            Covered(declared, grid.Area),
            Covered(potential, grid.Area),
            cameras,
            working,
            Rules.GridTargetFor(grid.Code),
            shares);
    }

    /// <summary>One tile of a grid measured against the wedges (and PTZ circles) that reach it; null when none does.</summary>
    private static TileResult? ComputeTile(GridInfo grid, GridMember[] members, Envelope window, bool windowed)
    {
        var inputs = Inputs.Cleared();
        var (shapes, boxes, masks, wedgeOf) = (inputs.Shapes, inputs.Boxes, inputs.Masks, inputs.WedgeOf); // wedgeOf: member index of a wedge shape, −1 for a circle
        for (int m = 0; m < members.Length; m++)
        {
            var member = members[m];
            var camera = member.Camera;
            if (member.Wedge && camera.WedgeBox.Intersects(window))
            {
                shapes.Add(camera.Wedge);
                boxes.Add(camera.WedgeBox);
                masks.Add((camera.Fov.Working ? RealBit : 0) | DeclaredBit | PotentialBit);
                wedgeOf.Add(m);
            }

            if (camera.HasDistinctCircle && member.Circle && camera.CircleBox.Intersects(window))
            {
                shapes.Add(camera.Circle);
                boxes.Add(camera.CircleBox);
                masks.Add(PotentialBit);
                wedgeOf.Add(-1);
            }
        }

        if (shapes.Count == 0)
        {
            return null;
        }

        Span<double> covered = stackalloc double[3];
        var inside = inputs.Inside(shapes.Count);
        Sweep.Measure(grid.Metric, shapes, boxes, masks, [1, 1, 1], covered, inside, windowed ? window : null); // one tile: the grid whole
        int count = 0;
        for (int i = 0; i < shapes.Count; i++)
        {
            count += wedgeOf[i] >= 0 && inside[i] > 0 ? 1 : 0;
        }

        var ids = new string[count];
        var areas = new double[count];
        for (int i = 0, k = 0; i < shapes.Count; i++)
        {
            if (wedgeOf[i] >= 0 && inside[i] > 0)
            {
                ids[k] = members[wedgeOf[i]].Camera.Fov.Id;
                areas[k++] = inside[i];
            }
        }

        return new TileResult(covered[0], covered[1], covered[2], ids, areas);
    }

    private KeySiteCoverage ComputeSite(int index)
    {
        var site = _sites[index];
        var members = Volatile.Read(ref _siteMembers[index]);
        int k = Rules.MinCamerasFor(site.Category);
        var declaredIds = new List<string>(members.Length);
        var workingIds = new List<string>(members.Length);
        if (!site.IsArea)
        {
            foreach (var camera in members)
            {
                declaredIds.Add(camera.Fov.Id);
                if (camera.Fov.Working)
                {
                    workingIds.Add(camera.Fov.Id);
                }
            }

            bool realCovered = workingIds.Count >= k;
            bool declaredCovered = declaredIds.Count >= k;
            return new KeySiteCoverage(
                site.Code, site.Category, site.Priority, site.GridCode, false, 0, k, 1.0, workingIds, declaredIds,
                realCovered ? 1 : 0, declaredCovered ? 1 : 0, realCovered, declaredCovered);
        }

        var inputs = Inputs.Cleared();
        var (shapes, boxes, masks) = (inputs.Shapes, inputs.Boxes, inputs.Masks);
        for (int i = 0; i < members.Length; i++)
        {
            shapes.Add(members[i].Wedge);
            boxes.Add(members[i].WedgeBox);
            masks.Add((members[i].Fov.Working ? RealBit : 0) | DeclaredBit);
        }

        Span<double> covered = stackalloc double[2];
        var inside = inputs.Inside(members.Length);
        Sweep.Measure(site.Metric, shapes, boxes, masks, [k, k], covered, inside);
        for (int i = 0; i < members.Length; i++)
        {
            var camera = members[i];
            if (CoverageGeometry.IsPositive(inside[i], camera.WedgeArea, site.Area))
            {
                declaredIds.Add(camera.Fov.Id);
                if (camera.Fov.Working)
                {
                    workingIds.Add(camera.Fov.Id);
                }
            }
        }

        double realFraction = Fraction(Covered(covered[0], site.Area), site.Area);
        double declaredFraction = Fraction(Covered(covered[1], site.Area), site.Area);
        double required = Rules.SiteAreaFraction;
        return new KeySiteCoverage(
            site.Code, site.Category, site.Priority, site.GridCode, true, site.Area, k, required, workingIds, declaredIds,
            realFraction, declaredFraction, realFraction >= required - FractionSlack, declaredFraction >= required - FractionSlack);
    }

    /// <summary>A covered area, snapped to the whole area when within rounding of it, and never above it.</summary>
    private static double Covered(double covered, double area) =>
        covered >= area * (1 - CoverageGeometry.PositiveAreaTolerance) ? area : Math.Max(0, covered);

    private static double Fraction(double covered, double area) => area > 0 ? Math.Min(1.0, covered / area) : 0;

    private sealed record GridInfo(string Code, Geometry Metric, Envelope Envelope, double Area);

    /// <summary>A measure's shapes, their boxes and masks, and the areas inside, kept per thread between measures.</summary>
    private sealed class SweepInputs
    {
        private double[] _inside = new double[64];

        public List<Geometry> Shapes { get; } = new(64);

        public List<Box> Boxes { get; } = new(64);

        public List<int> Masks { get; } = new(64);

        public List<int> WedgeOf { get; } = new(64);

        public SweepInputs Cleared()
        {
            Shapes.Clear(); // a thread's lists hold one measure's footprints at most, until its next measure
            Boxes.Clear();
            Masks.Clear();
            WedgeOf.Clear();
            return this;
        }

        /// <summary>The first <paramref name="count"/> places of the areas' buffer (the sweep clears them).</summary>
        public Span<double> Inside(int count)
        {
            if (_inside.Length < count)
            {
                _inside = new double[Math.Max(count, _inside.Length * 2)];
            }

            return _inside.AsSpan(0, count);
        }
    }

    /// <summary>
    /// How a grid is cut into tiles, and each tile's last result. Square tiles of <see cref="MinTileM"/> times a power
    /// of two from the envelope's corner, the smallest size that gives at most one tile per
    /// <see cref="DefaultFootprintsPerTile"/> footprints (and <see cref="MaxTilesPerGrid"/>): a grid of few cameras
    /// is one tile, a grid of 400 wedges tiles of a few dozen metres. The size depends on the count of footprints alone,
    /// so the incremental and a fresh model agree.
    /// </summary>
    private sealed class GridTiles
    {
        private readonly Envelope _envelope;

        public GridTiles(Envelope envelope, int footprints, int footprintsPerTile)
        {
            _envelope = envelope;
            FootprintsPerTile = footprintsPerTile;
            Size = SizeFor(envelope, footprints, footprintsPerTile);
            Columns = envelope.IsNull ? 1 : Math.Max(1, (int)Math.Ceiling(envelope.Width / Size));
            Rows = envelope.IsNull ? 1 : Math.Max(1, (int)Math.Ceiling(envelope.Height / Size));
            Results = new TileResult?[Columns * Rows];
            Dirty = new bool[Columns * Rows];
        }

        public double Size { get; }

        public int Columns { get; }

        public int Rows { get; }

        public int FootprintsPerTile { get; }

        public TileResult?[] Results { get; }

        public bool[] Dirty { get; }

        /// <summary>This tiling is the one <paramref name="footprints"/> footprints get.</summary>
        public bool Suits(int footprints) => SizeFor(_envelope, footprints, FootprintsPerTile).Equals(Size);

        public void MarkAll() => Array.Fill(Dirty, true);

        /// <summary>Tile t's rectangle (row-major); the last column and row end at the envelope's edge.</summary>
        public Envelope Tile(int t)
        {
            int column = t % Columns, row = t / Columns;
            double x0 = _envelope.MinX + (column * Size), y0 = _envelope.MinY + (row * Size);
            double x1 = column == Columns - 1 ? _envelope.MaxX : x0 + Size;
            double y1 = row == Rows - 1 ? _envelope.MaxY : y0 + Size;
            return new Envelope(x0, x1, y0, y1);
        }

        /// <summary>Marks dirty the tiles the envelope overlaps.</summary>
        public void Mark(Box footprint)
        {
            if (_envelope.IsNull || footprint.IsNull)
            {
                return;
            }

            // A millimetre of slack: a footprint that only touches a tile's side marks that tile too, as ComputeTile
            // takes every shape whose envelope touches the tile (a shape's presence can move the last bits of a sum).
            const double slack = 1e-3;
            int c0 = Index(footprint.MinX - slack - _envelope.MinX, Columns), c1 = Index(footprint.MaxX + slack - _envelope.MinX, Columns);
            int r0 = Index(footprint.MinY - slack - _envelope.MinY, Rows), r1 = Index(footprint.MaxY + slack - _envelope.MinY, Rows);
            for (int r = r0; r <= r1; r++)
            {
                for (int c = c0; c <= c1; c++)
                {
                    Dirty[(r * Columns) + c] = true;
                }
            }
        }

        /// <summary>
        /// The tile side for that many footprints: the smallest <see cref="MinTileM"/> × 2^k giving at most one tile per
        /// <paramref name="footprintsPerTile"/> footprints (and <see cref="MaxTilesPerGrid"/>); the grid whole (its
        /// envelope's longer side) when that is not smaller.
        /// </summary>
        private static double SizeFor(Envelope envelope, int footprints, int footprintsPerTile)
        {
            double whole = envelope.IsNull ? 1 : Math.Max(envelope.Width, envelope.Height);
            long allowed = footprintsPerTile <= 0 ? 1 : Math.Clamp(footprints / footprintsPerTile, 1, MaxTilesPerGrid);
            if (allowed <= 1 || !(whole > 0))
            {
                return whole > 0 ? whole : 1;
            }

            double size = MinTileM;
            while (size < whole && (long)Math.Ceiling(envelope.Width / size) * (long)Math.Ceiling(envelope.Height / size) > allowed)
            {
                size *= 2;
            }

            return Math.Min(size, whole);
        }

        private int Index(double offset, int count) => Math.Clamp((int)Math.Floor(offset / Size), 0, count - 1);
    }

    /// <summary>A tile's covered areas (real, declared, potential) and the area of each wedge inside it (by camera id).</summary>
    private sealed record TileResult(double Real, double Declared, double Potential, string[] Cameras, double[] Areas);

    /// <summary>A key site: an area (its metric polygon) or a point (at X, Y).</summary>
    private sealed record SiteInfo(
        string Code,
        string Category,
        int Priority,
        string GridCode,
        bool IsArea,
        Geometry Metric,
        double Area,
        double X,
        double Y);

    /// <summary>A grid the camera touches: with its current wedge, and/or (PTZ) with its full circle.</summary>
    private readonly record struct GridHit(int Grid, bool Wedge, bool Circle);

    private sealed record GridMember(CameraState Camera, bool Wedge, bool Circle);

    /// <summary>An immutable camera with its metric geometry and what it touches.</summary>
    private sealed record CameraState(
        CameraFov Fov,
        double X,
        double Y,
        double Convergence,
        Polygon Wedge,
        double WedgeArea,
        Box WedgeBox,
        Polygon Circle,
        double CircleArea,
        Box CircleBox,
        bool HasDistinctCircle,
        string GridCode,
        GridHit[] Grids,
        int[] Sites,
        long[]? Cells)
    {
        /// <summary>Same geometry, new status.</summary>
        public CameraState WithFov(CameraFov fov) => this with { Fov = fov };

        /// <summary>The analytic sector test; a camera with no range or no opening sees nothing.</summary>
        public bool Sees(double x, double y) =>
            Fov.RangeM > 0 && Fov.HfovDeg > 0
            && Sector.ContainsMetric(X, Y, Convergence, Fov.AzimuthDeg, Fov.HfovDeg, Fov.RangeM, x, y);
    }
}
