using Duration = Google.Protobuf.WellKnownTypes.Duration;
using Grpc.Core;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Streams;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Coverage;

/// <summary>
/// The KPI history behind Coverage.GetKpiHistory and the console's trend charts: at each whole
/// <see cref="CoverageOptions.KpiHistoryInterval"/> of the gateway clock (and at start when the last snapshot is older
/// than that) the eight KPIs of "" and of every imported area, computed as GetCoverageReport computes its summary row,
/// are written to the KPI history (<see cref="KpiHistoryRepository"/>) through the journal, and each region's
/// snapshots older than <see cref="CoverageOptions.KpiHistoryRetention"/> are deleted in the same transaction (every
/// region's at start, when regions may have gone).
/// </summary>
/// <remarks>
/// A row is (region code, unix seconds, blob). The blob is a format byte, then per KPI in <see cref="Format"/>'s order
/// its numerator and denominator as protobuf varints (area coverage also its value in millionths): value, target and
/// met follow from them exactly as the report computes them, and the definition is not kept. Measured on the
/// benchmark's 2,000-grid county: a 29-byte blob, about 64 bytes a row on disk with its key and the B-tree (docs/console-guide.md).
/// </remarks>
public sealed partial class KpiSnapshots(
    GatewayStore store, Journal journal, CoverageReports reports, CoverageTracker tracker, IOptions<GatewayOptions> options, TimeProvider time,
    ILogger<KpiSnapshots> logger) : IHostedService
{
    private const byte FormatVersion = 1;
    private const string AreaCoverage = "area_coverage";

    /// <summary>The KPIs of a stored snapshot, in RegionCoverage.kpis' order, with the target each is measured against.</summary>
    private static readonly (string Name, double Target)[] Format =
    [
        ("key_site_coverage", CoverageReports.KeySiteCoverageTarget),
        ("key_site_coverage_declared", CoverageReports.KeySiteCoverageTarget),
        (AreaCoverage, 0),
        ("online_rate", 0),
        ("online_rate_time", 0),
        ("serviceability", CameraKpis.ServiceabilityTarget),
        ("hd_rate", CameraKpis.HdRateTarget),
        ("hd_rate_declared", CameraKpis.HdRateTarget),
    ];

    /// <summary>Counter of the snapshots taken since the store was created.</summary>
    private const string SnapshotsCounter = "kpi_history.snapshots";

    /// <summary>Counter of the rows retention deleted since the store was created.</summary>
    private const string PrunedCounter = "kpi_history.pruned";

    private static readonly TimeSpan DefaultSpan = TimeSpan.FromDays(30);

    private readonly CoverageOptions _options = options.Value.Coverage;
    private readonly Lock _gate = new();
    private ITimer? _timer;
    private long _snapshots, _pruned;

    public TimeSpan Interval => _options.KpiHistoryInterval;

    public TimeSpan Retention => _options.KpiHistoryRetention;

    /// <summary>Snapshots taken since the store was created (counter <c>kpi_history.snapshots</c>).</summary>
    public long Snapshots => Interlocked.Read(ref _snapshots);

    /// <summary>Rows deleted by retention since the store was created (counter <c>kpi_history.pruned</c>).</summary>
    public long Pruned => Interlocked.Read(ref _pruned);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset? last;
        using (var connection = store.OpenRead())
        {
            _snapshots = CounterRepository.Read(connection, SnapshotsCounter);
            _pruned = CounterRepository.Read(connection, PrunedCounter);
            last = KpiHistoryRepository.LatestAt(connection, "");
        }

        var now = time.GetUtcNow();
        try
        {
            // A first point for a fresh gateway (or one that was down over a whole interval), then the regular ones.
            if (last is null || now - last.Value >= Interval)
            {
                await TakeAsync(now, pruneEveryRegion: true).ConfigureAwait(false);
            }
            else
            {
                await PruneAllAsync(now).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (Journal.IsStoreFailure(ex))
        {
            // A store that refuses writes (disk full, read-only) must not stop the gateway from starting: health says
            // so, and the next interval tries again.
            LogFailed(logger, ex);
        }

        lock (_gate)
        {
            _timer = time.CreateTimer(_ => Tick(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            Arm(now);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        ITimer? timer;
        lock (_gate)
        {
            timer = _timer;
            _timer = null;
        }

        if (timer is not null)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Sets the timer for the first whole interval after <paramref name="after"/>.</summary>
    private void Arm(DateTimeOffset after)
    {
        var next = Boundary(after) + Interval;
        _timer?.Change(next - time.GetUtcNow() is var due && due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The whole interval at or just before <paramref name="t"/> (a timer that fires up to a second early counts as on time).</summary>
    private DateTimeOffset Boundary(DateTimeOffset t)
    {
        var ticks = Interval.Ticks;
        var unix = (t - DateTimeOffset.UnixEpoch).Ticks + TimeSpan.TicksPerSecond;
        return DateTimeOffset.UnixEpoch + TimeSpan.FromTicks(unix - (unix % ticks));
    }

    private void Tick()
    {
        var at = Boundary(time.GetUtcNow());
        Task task;
        try
        {
            // The KPIs are read now, on the timer's thread, so they are those of this instant; the write is queued.
            task = TakeAsync(at, pruneEveryRegion: false);
        }
        catch (Exception ex)
        {
            task = Task.FromException(ex);
        }

        _ = task.ContinueWith(t => LogFailed(logger, t.Exception!), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        lock (_gate)
        {
            Arm(at);
        }
    }

    /// <summary>Takes one snapshot of every region at <paramref name="at"/> and prunes what retention lets go.</summary>
    public Task TakeAsync(DateTimeOffset at, bool pruneEveryRegion)
    {
        var rows = reports.EveryRegion().Select(r => (r.Code, Encode(r.Kpis))).ToList();
        var cut = at - Retention;
        return journal.ExecuteAsync(tx =>
        {
            long pruned = pruneEveryRegion ? KpiHistoryRepository.DeleteAllOlderThan(tx, cut) : 0;
            foreach (var (code, kpis) in rows)
            {
                KpiHistoryRepository.Upsert(tx, code, at, kpis);
                if (!pruneEveryRegion)
                {
                    pruned += KpiHistoryRepository.DeleteOlderThan(tx, code, cut);
                }
            }

            CounterRepository.Add(tx, SnapshotsCounter, 1);
            CountPruned(tx, pruned);
            tx.AfterCommit(() =>
            {
                Interlocked.Increment(ref _snapshots);
                LogTaken(logger, rows.Count, at, pruned);
            });
            return rows.Count;
        });
    }

    private Task PruneAllAsync(DateTimeOffset now)
    {
        return journal.ExecuteAsync(tx =>
        {
            var pruned = KpiHistoryRepository.DeleteAllOlderThan(tx, now - Retention);
            CountPruned(tx, pruned);
            return pruned;
        });
    }

    /// <summary>Adds what a transaction pruned to the stored counter and, once committed, to the one in memory.</summary>
    private void CountPruned(JournalTransaction tx, long pruned)
    {
        if (pruned > 0)
        {
            CounterRepository.Add(tx, PrunedCounter, pruned);
            tx.AfterCommit(() => Interlocked.Add(ref _pruned, pruned));
        }
    }

    /// <summary>GetKpiHistory: the region's snapshots in [since, until], oldest first.</summary>
    public V1.KpiHistory Read(KpiHistoryRequest request)
    {
        var code = request.RegionCode;
        if (code.Length > 20 || !code.All(char.IsAsciiDigit))
        {
            throw Invalid($"region_code: must be up to 20 digits (a county, township, village or grid code), or empty for the whole gateway; got '{code}'");
        }

        if (code.Length > 0 && tracker.GridFeature(code) is null)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"region_code: no imported county, township, village or grid has the code {code}"));
        }

        var until = request.Until is null ? time.GetUtcNow() : Instant(request.Until, "until");
        var since = request.Since is null ? until - (Retention < DefaultSpan ? Retention : DefaultSpan) : Instant(request.Since, "since");
        if (since >= until)
        {
            throw Invalid($"since: must be before until (since {since:O}, until {until:O})");
        }

        if (until - since > Retention)
        {
            throw Invalid($"since: {since:O} to {until:O} is {(until - since).TotalDays:0.##} days, longer than the KPI history keeps ({Retention.TotalDays:0.##} days, Coverage:KpiHistoryRetention)");
        }

        var answer = new V1.KpiHistory
        {
            RegionCode = code,
            Name = reports.RegionName(code),
            Interval = Duration.FromTimeSpan(Interval),
            Retention = Duration.FromTimeSpan(Retention),
        };
        using var connection = store.OpenRead();
        foreach (var row in KpiHistoryRepository.Range(connection, code, since, until))
        {
            var point = new KpiPoint { At = Timestamp.FromDateTimeOffset(row.At) };
            point.Kpis.AddRange(Decode(row.Kpis));
            answer.Points.Add(point);
        }

        return answer;
    }

    /// <summary>A region's KPIs as a stored row (see the remarks above).</summary>
    internal static byte[] Encode(IList<Kpi> kpis)
    {
        if (kpis.Count != Format.Length)
        {
            throw new InvalidOperationException($"the KPI history stores {Format.Length} KPIs, the report has {kpis.Count}: add a format version");
        }

        using var buffer = new MemoryStream(48);
        var output = new CodedOutputStream(buffer);
        output.WriteUInt32(FormatVersion);
        for (var i = 0; i < Format.Length; i++)
        {
            var kpi = kpis[i];
            if (kpi.Name != Format[i].Name || kpi.Target != Format[i].Target)
            {
                throw new InvalidOperationException($"the KPI history stores {Format[i].Name} (target {Format[i].Target}) at {i}, the report has {kpi.Name} (target {kpi.Target}): add a format version");
            }

            output.WriteInt64(kpi.Numerator);
            output.WriteInt64(kpi.Denominator);
            if (kpi.Name == AreaCoverage)
            {
                output.WriteInt64((long)Math.Round(kpi.Value * 1_000_000));
            }
        }

        output.Flush();
        return buffer.ToArray();
    }

    /// <summary>The KPIs of a stored row, equal to the report's but for the definition.</summary>
    internal static IEnumerable<Kpi> Decode(byte[] row)
    {
        var input = new CodedInputStream(row);
        var version = input.ReadUInt32();
        if (version != FormatVersion)
        {
            throw new InvalidOperationException($"a KPI history row of format {version}; this gateway reads format {FormatVersion}");
        }

        var kpis = new List<Kpi>(Format.Length);
        foreach (var (name, target) in Format)
        {
            var numerator = input.ReadInt64();
            var denominator = input.ReadInt64();
            kpis.Add(name == AreaCoverage
                ? CoverageReports.AreaKpi(input.ReadInt64() / 1_000_000.0, numerator, denominator, "")
                : CameraKpis.Make(name, numerator, denominator, target, ""));
        }

        return kpis;
    }

    private static DateTimeOffset Instant(Timestamp timestamp, string field) => timestamp.ToRequestTime(field);

    private static RpcException Invalid(string message) => CoverageReports.Invalid(message);

    [LoggerMessage(Level = LogLevel.Debug, Message = "KPI snapshot of {Regions} regions at {At:O}; {Pruned} old rows deleted")]
    private static partial void LogTaken(ILogger logger, int regions, DateTimeOffset at, long pruned);

    [LoggerMessage(Level = LogLevel.Error, Message = "A KPI snapshot failed; the next interval takes one again")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
