using System.Collections.Concurrent;
using System.Data.Common;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Wire;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Regions;
using SharpEyes.V1;
using GeoGridCoverage = SharpEyes.Geo.Coverage.GridCoverage;
using GeoKeySiteCoverage = SharpEyes.Geo.Coverage.KeySiteCoverage;

namespace SharpEyes.Gateway.Coverage;

/// <summary>
/// Keeps the coverage model in step with the registry and the geography, and turns coverage changes into gap feed
/// events. Every change runs on the journal's writer: a camera change updates the model inside the transaction that
/// changes the camera, the grids and key sites its old and new wedge touch are recomputed once before that
/// transaction commits, and gap opened/closed events are appended to the same transaction — so the device event and
/// the gap events it causes are committed (and sequenced) together or not at all.
/// </summary>
/// <remarks>
/// Open gaps are stored (<see cref="CoverageGapRepository"/>) so a restart neither re-announces them nor forgets them;
/// at start the model is recomputed in full and any difference (changed thresholds, first run) is announced with cause
/// RECOMPUTED.
/// Gap state is about <b>real</b> coverage: a key site is a gap when it is not covered by working cameras (its
/// category's camera count and, for an area site, its area fraction), a grid when its real fraction is below target.
/// A change that cannot move real coverage — a camera registered or changed while not working, the usual case in a
/// bulk registration — is recomputed by a separate journal item at most <see cref="DeferredRecomputeDelay"/> later
/// (longer while those recomputes are slow: four times the last one's duration, up to <see cref="MaxDeferredRecomputeDelay"/>),
/// so a stream of registrations pays for one recompute per delay instead of one per transaction, and at most about a fifth
/// of the journal's time. That recompute runs as journal items of at most <see cref="DeferredRecomputeBudget"/> each, so an
/// alarm never waits behind a whole county's recompute.
/// </remarks>
public sealed partial class CoverageTracker
{
    private readonly GeographyState _geography;
    private readonly CoverageOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CoverageTracker> _logger;
    private readonly ConcurrentDictionary<string, CoverageGapRecord> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<CoverageChange>> _pending = new(StringComparer.Ordinal);
    private volatile CoverageModel _model;
    private readonly Journal _journal;
    private int _deferredScheduled;
    private volatile Features _features = new([], []);

    /// <summary>How long declared-only changes may wait for their recompute (wall-clock coalescing, not domain time).</summary>
    public static readonly TimeSpan DeferredRecomputeDelay = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest wait of declared-only changes for their recompute (when each recompute takes over 1.25 s).</summary>
    public static readonly TimeSpan MaxDeferredRecomputeDelay = TimeSpan.FromSeconds(5);

    /// <summary>The most one journal item of a deferred recompute spends (then the next item continues it).</summary>
    public static readonly TimeSpan DeferredRecomputeBudget = TimeSpan.FromMilliseconds(10);

    /// <summary>How long the last deferred recompute took (TimeSpan ticks), which sets the next one's delay.</summary>
    private long _lastDeferredTicks;

    public CoverageTracker(GeographyState geography, Journal journal, IOptions<GatewayOptions> options, TimeProvider time, ILogger<CoverageTracker> logger)
    {
        _journal = journal;
        _geography = geography;
        _options = options.Value.Coverage;
        _time = time;
        _logger = logger;
        _model = new CoverageModel(geography.Index, RulesFor(geography.Index));
    }

    /// <summary>The current model (replaced whole when the geography changes). Safe to query from any thread.</summary>
    public CoverageModel Model => _model;

    public CoverageOptions Options => _options;

    /// <summary>The gaps open now, by gap id.</summary>
    public IReadOnlyCollection<CoverageGapRecord> OpenGaps => (IReadOnlyCollection<CoverageGapRecord>)_open.Values;

    /// <summary>
    /// An open gap as it stands now: identity, opening time and causes as stored; fraction, threshold and camera counts
    /// from the model (they move while the gap stays open, e.g. when another camera in the grid goes offline).
    /// </summary>
    public CoverageGapRecord Current(CoverageGapRecord stored)
    {
        var model = _model;
        if (stored.Kind == CoverageGapKind.Grid && model.Grid(stored.Code) is { } grid)
        {
            return stored with
            {
                RealFraction = Math.Round(grid.RealFraction, 6),
                Threshold = grid.Target,
                CamerasWorking = grid.CamerasWorking,
                CamerasDeclared = grid.Cameras,
            };
        }

        if (stored.Kind == CoverageGapKind.KeySite && model.Site(stored.Code) is { } site)
        {
            return stored with
            {
                RealFraction = Math.Round(site.RealFraction, 6),
                CamerasWorking = site.WorkingCameras.Count,
                CamerasDeclared = site.DeclaredCameras.Count,
                RequiredCameras = site.RequiredCameras,
            };
        }

        return stored;
    }

    /// <summary>The configured default target, or the grid's own.</summary>
    public double GridTargetFor(GridFeature grid) => grid.CoverageTarget ?? _options.GridTarget;

    /// <summary>Called by the device catalog when it (re)loads: rebuilds the model from every camera and reads the open gaps.</summary>
    internal void Load(DbConnection connection, IEnumerable<DeviceEntry> devices)
    {
        _pending.Clear();
        // Replaced in place, as the device catalog does: ListCoverageGaps on another thread during a reload after a
        // rollback sees each gap before or after, never the set emptied.
        var stored = CoverageGapRepository.LoadAll(connection).ToDictionary(g => g.GapId, StringComparer.Ordinal);
        foreach (var id in _open.Keys)
        {
            if (!stored.ContainsKey(id))
            {
                _open.TryRemove(id, out _);
            }
        }

        foreach (var (id, gap) in stored)
        {
            _open[id] = gap;
        }

        _model = Build(devices);
    }

    /// <summary>
    /// A camera was registered, changed, removed or changed status inside <paramref name="tx"/>. Updates the model and
    /// schedules the recompute (once per transaction, before it commits).
    /// </summary>
    internal void CameraChanged(JournalTransaction tx, DeviceEntry? entry, string deviceId, CoverageChange change)
    {
        bool wasWorking = _model.Camera(deviceId)?.Working ?? false;
        bool isWorking = false;
        if (entry?.Device is { Kind: DeviceKind.Camera, Camera: not null } device)
        {
            var fov = ToFov(device, entry);
            isWorking = fov.Working;
            _model.Upsert(fov);
        }
        else if (!_model.Remove(deviceId))
        {
            return;
        }

        if (wasWorking || isWorking)
        {
            // Only changes that can move real coverage are causes of gap events.
            if (!_pending.TryGetValue(deviceId, out var changes))
            {
                _pending[deviceId] = changes = [];
            }

            changes.Add(change);
            tx.BeforeCommitOnce(this, Flush);
        }
        else
        {
            tx.AfterCommit(ScheduleDeferredRecompute);
        }
    }

    /// <summary>
    /// Starts a batch of camera changes on the model (<see cref="CoverageModel.BeginBatch"/>): a bulk registration's
    /// cameras join their grids', key sites' and cells' lists in one merge per list when it is disposed.
    /// </summary>
    internal CoverageModel.WriteBatch BatchChanges() => _model.BeginBatch();

    /// <summary>
    /// Another replica changed a camera (followed by the device catalog, inside <paramref name="tx"/>): the model
    /// follows and is recomputed before the commit like a change of this replica's own. The gaps that change caused
    /// were opened or closed by that replica, in the same commit, and are taken from the store as their events are
    /// followed (<see cref="FollowGap"/>), so the recompute finds nothing to announce; if it does (this replica has not
    /// read the gap events yet), the store's row decides (<see cref="Transition"/>) and nothing is announced twice.
    /// </summary>
    internal void Follow(JournalTransaction tx, DeviceEntry? entry, string deviceId)
    {
        if (entry?.Device is { Kind: DeviceKind.Camera, Camera: not null } device)
        {
            _model.Upsert(ToFov(device, entry));
        }
        else if (!_model.Remove(deviceId))
        {
            return;
        }

        tx.BeforeCommitOnce(this, Flush);
    }

    /// <summary>Another replica opened or closed a gap: this replica's open set takes the gap's committed state.</summary>
    internal void FollowGap(JournalTransaction tx, string gapId)
    {
        if (CoverageGapRepository.Find(tx, gapId) is { } stored)
        {
            _open[gapId] = stored;
        }
        else
        {
            _open.TryRemove(gapId, out _);
        }
    }

    /// <summary>Queues one recompute of the declared-only changes (at most one outstanding).</summary>
    private void ScheduleDeferredRecompute()
    {
        if (Interlocked.Exchange(ref _deferredScheduled, 1) == 1)
        {
            return;
        }

        var last = Interlocked.Read(ref _lastDeferredTicks);
        RunDeferredRecompute(TimeSpan.FromTicks(Math.Clamp(last * 4, DeferredRecomputeDelay.Ticks, MaxDeferredRecomputeDelay.Ticks)), roundTicks: 0);
    }

    /// <summary>
    /// One journal item of a deferred round: at most <see cref="DeferredRecomputeBudget"/> of recompute, so alarms and
    /// other items wait no longer than that behind it; the next item follows at once while grids remain. The round's
    /// total time sets the next round's delay.
    /// </summary>
    private void RunDeferredRecompute(TimeSpan delay, long roundTicks) => _ = Task.Run(async () =>
    {
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay).ConfigureAwait(false);
        }

        try
        {
            var (more, ticks) = await _journal.ExecuteAsync(tx =>
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                Flush(tx, DeferredRecomputeBudget);
                var more = _model.HasDirty;
                if (!more)
                {
                    Volatile.Write(ref _deferredScheduled, 0); // on the journal's thread, as the changes that schedule one
                }

                return (more, System.Diagnostics.Stopwatch.GetElapsedTime(started).Ticks);
            }).ConfigureAwait(false);
            if (more)
            {
                RunDeferredRecompute(TimeSpan.Zero, roundTicks + ticks);
            }
            else
            {
                Interlocked.Exchange(ref _lastDeferredTicks, roundTicks + ticks);
            }
        }
        catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException or ObjectDisposedException)
        {
            // Shutting down: the next start recomputes everything anyway.
        }
    });

    /// <summary>The geography changed (inside the import's transaction): a new model over the new grids and key sites.</summary>
    internal void GeographyChanged(JournalTransaction tx, IEnumerable<DeviceEntry> devices)
    {
        _pending.Clear();
        _model = Build(devices);
        Reconcile(tx, new GapCause("", CoverageChange.GeographyChanged));
    }

    /// <summary>Announces every difference between the stored gaps and the model (at start, after a reload).</summary>
    internal int Reconcile(JournalTransaction tx) => Reconcile(tx, new GapCause("", CoverageChange.Recomputed));

    private int Reconcile(JournalTransaction tx, GapCause cause)
    {
        var model = _model;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int events = 0;
        var now = _time.GetUtcNow();
        foreach (var grid in model.GridsWithPrefix(""))
        {
            var id = GridGapId(grid.Code);
            seen.Add(id);
            events += Transition(tx, id, grid.IsGap, () => GridGap(grid, id), [cause], now);
        }

        foreach (var site in model.SitesWithPrefix(""))
        {
            var id = SiteGapId(site.Code);
            seen.Add(id);
            events += Transition(tx, id, !site.RealCovered, () => SiteGap(site, id), [cause], now);
        }

        // Gaps whose grid or key site no longer exists close.
        foreach (var stale in _open.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            var gap = _open[stale];
            events += Transition(tx, stale, false, () => gap, [cause], now);
        }

        if (events > 0)
        {
            LogReconciled(_logger, events, cause.Change);
        }

        return events;
    }

    private void Flush(JournalTransaction tx) => Flush(tx, null);

    /// <summary>Recomputes the dirty grids and key sites (within <paramref name="budget"/> when given) and opens or closes their gaps.</summary>
    private void Flush(JournalTransaction tx, TimeSpan? budget)
    {
        var changed = budget is { } b ? _model.Recompute(b) : _model.Recompute();
        var now = _time.GetUtcNow();
        foreach (var (_, after, cameras) in changed.Grids)
        {
            var id = GridGapId(after.Code);
            Transition(tx, id, after.IsGap, () => GridGap(after, id), Causes(cameras), now);
        }

        foreach (var (_, after, cameras) in changed.Sites)
        {
            var id = SiteGapId(after.Code);
            Transition(tx, id, !after.RealCovered, () => SiteGap(after, id), Causes(cameras), now);
        }

        _pending.Clear();
    }

    /// <summary>
    /// Opens or closes one gap when its state differs from the stored one; returns the events appended (0 or 1). The
    /// store's row decides who announces it: with several replicas on one store another one may have opened (or
    /// closed) the same gap in a commit this replica has not followed yet, and then the insert (or delete) changes no
    /// row, this replica takes the stored state and announces nothing, so a gap opens and closes once on the feed.
    /// </summary>
    private int Transition(JournalTransaction tx, string id, bool isGap, Func<CoverageGapRecord> describe, ValueList<GapCause> causes, DateTimeOffset now)
    {
        bool wasOpen = _open.TryGetValue(id, out var stored);
        if (isGap == wasOpen)
        {
            return 0;
        }

        CoverageGapRecord gap;
        if (isGap)
        {
            gap = describe() with { Causes = causes, Open = true, OpenedAt = now, ClosedAt = null };
            if (!CoverageGapRepository.Open(tx, gap))
            {
                _open[id] = CoverageGapRepository.Find(tx, id) ?? gap; // another replica opened it
                return 0;
            }

            _open[id] = gap;
        }
        else
        {
            gap = describe() with { Causes = causes, Open = false, OpenedAt = stored!.OpenedAt, ClosedAt = now };
            _open.TryRemove(id, out _);
            if (!CoverageGapRepository.Close(tx, id))
            {
                return 0; // another replica closed it
            }
        }

        tx.AppendFeedEvent(new FeedEvent
        {
            Kind = isGap ? FeedEventKind.CoverageGapOpened : FeedEventKind.CoverageGapClosed,
            OccurredAt = Timestamp.FromDateTimeOffset(now),
            RegionCode = gap.GridCode,
            CoverageGap = gap.ToWire(),
        });
        return 1;
    }

    private ValueList<GapCause> Causes(IReadOnlyList<string> cameraIds)
    {
        var causes = new List<GapCause>(cameraIds.Count);
        foreach (var id in cameraIds)
        {
            if (_pending.TryGetValue(id, out var changes))
            {
                foreach (var change in changes.Distinct())
                {
                    causes.Add(new GapCause(id, change));
                }
            }
            else
            {
                causes.Add(new GapCause(id, CoverageChange.CameraChanged));
            }
        }

        return [.. causes];
    }

    internal static string GridGapId(string code) => "grid:" + code;

    internal static string SiteGapId(string code) => "site:" + code;

    private CoverageGapRecord GridGap(GeoGridCoverage grid, string id) => new(
        id, CoverageGapKind.Grid, grid.Code, GridFeature(grid.Code)?.Name ?? "", "", 0, grid.Code, false,
        Math.Round(grid.RealFraction, 6), grid.Target, grid.CamerasWorking, grid.Cameras, 0, []);

    private static CoverageGapRecord SiteGap(GeoKeySiteCoverage site, string id, string name) => new(
        id, CoverageGapKind.KeySite, site.Code, name, site.Category, site.Priority, site.GridCode, false,
        Math.Round(site.RealFraction, 6), site.IsArea ? site.RequiredFraction : 1.0, site.WorkingCameras.Count, site.DeclaredCameras.Count,
        site.RequiredCameras, []);

    private CoverageGapRecord SiteGap(GeoKeySiteCoverage site, string id) => SiteGap(site, id, SiteFeature(site.Code)?.Name ?? "");

    /// <summary>The grid (any level) of the model's geography with that code, or null.</summary>
    public GridFeature? GridFeature(string code) => _features.Grids.GetValueOrDefault(code);

    /// <summary>The key site of the model's geography with that code, or null.</summary>
    public KeySiteFeature? SiteFeature(string code) => _features.Sites.GetValueOrDefault(code);

    private CoverageModel Build(IEnumerable<DeviceEntry> devices)
    {
        var index = _geography.Index;
        _features = new Features(
            index.Grids.ToDictionary(g => g.Code, StringComparer.Ordinal),
            index.KeySites.ToDictionary(s => s.Code, StringComparer.Ordinal));
        var model = new CoverageModel(index, RulesFor(index));
        foreach (var entry in devices)
        {
            if (entry.Device is { Kind: DeviceKind.Camera, Camera: not null } device)
            {
                model.Upsert(ToFov(device, entry));
            }
        }

        model.RecomputeAll();
        return model;
    }

    private CoverageRules RulesFor(RegionIndex index) => new()
    {
        SiteAreaFraction = _options.SiteAreaFraction,
        MinCamerasByCategory = _options.MinCamerasByCategory,
        DefaultGridTarget = _options.GridTarget,
        GridTargets = index.Grids.Where(g => g.CoverageTarget is not null).ToDictionary(g => g.Code, g => g.CoverageTarget!.Value, StringComparer.Ordinal),
    };

    /// <summary>A registered camera as the coverage model sees it: online from liveness, faulty from stream health.</summary>
    internal static CameraFov ToFov(DeviceRecord device, DeviceEntry entry)
    {
        var c = device.Camera!;
        return new CameraFov(device.DeviceId, device.Position.Lon, device.Position.Lat, c.AzimuthDeg, c.HfovDeg, c.RangeM, c.Ptz,
            Online: entry.Status == DeviceStatus.Online, Faulty: entry.Faulty);
    }

    /// <summary>The grids and key sites by code (built once per geography; grid and site codes may coincide).</summary>
    private sealed record Features(Dictionary<string, GridFeature> Grids, Dictionary<string, KeySiteFeature> Sites);

    [LoggerMessage(Level = LogLevel.Information, Message = "Coverage gaps reconciled: {Events} opened or closed ({Change})")]
    private static partial void LogReconciled(ILogger logger, int events, CoverageChange change);
}
