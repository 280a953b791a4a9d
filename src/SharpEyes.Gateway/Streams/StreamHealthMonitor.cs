using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Hosting;
using SharpEyes.Gateway.Outbox;
using SharpEyes.Gateway.Storage;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Streams;

/// <summary>
/// Watches every camera that has an RTSP URL, on the injected clock:
/// <list type="bullet">
/// <item>an RTSP DESCRIBE every <see cref="StreamOptions.LivenessInterval"/> (first one at a random point of the first
/// interval, so a county's cameras do not all start at once, and ±10 % jitter after that);</item>
/// <item>when DESCRIBE answers and a deep check is due: ffprobe every <see cref="StreamOptions.ProbeInterval"/> and a frame
/// grab every <see cref="StreamOptions.QualityInterval"/>, in a flow of their own so that the process limit never delays
/// liveness;</item>
/// <item>a failed check is retried by a Polly retry strategy with exponential backoff and jitter, from
/// <see cref="StreamOptions.RetryBaseDelay"/> up to <see cref="StreamOptions.RetryMaxDelay"/>, until it passes;</item>
/// <item>DESCRIBEs to one RTSP host go through that host's Polly circuit breaker: when nearly all of them fail to connect
/// (an NVR or a whole site is down), the rest fail at once as <c>circuit-open</c> instead of each waiting its timeout;</item>
/// <item>one DESCRIBE and one deep check at a time per camera, whoever asks (schedule or <see cref="CheckNowAsync"/>):
/// a check waits for the one running on that camera, so outcomes are recorded in the order their checks started and
/// an older check that ends late never overwrites a newer outcome.</item>
/// </list>
/// Every outcome is recorded in a journal item (<see cref="Record"/>), which sets status, faults, mismatches and feed events.
/// <para>
/// The schedule runs on one replica at a time: the holder of the <see cref="LeaseName"/> row of the outbox lease table
/// (<see cref="OutboxLease"/>, timed by the <c>Outbox:Lease*</c> settings). The others stand by and take over when the
/// holder stops or stops renewing; a holder whose lease could lapse stops its watches first (the lease's fence). On a
/// SQLite store the one process always leads. <see cref="CheckNowAsync"/> (an operator's request) runs on the replica
/// asked, leader or not.
/// </para>
/// </summary>
public sealed partial class StreamHealthMonitor : BackgroundService
{
    private readonly DeviceCatalog _devices;
    private readonly Journal _journal;
    private readonly FfmpegRunner _runner;
    private readonly TimeProvider _time;
    private readonly StreamOptions _options;
    private readonly ILogger<StreamHealthMonitor> _logger;
    private readonly SemaphoreSlim _describeSlots;
    private readonly ResiliencePipeline<bool> _retry;
    private readonly ConcurrentDictionary<string, ResiliencePipeline<RtspDescribeResult>> _hosts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Watch> _watches = new(StringComparer.Ordinal);
    private readonly KeyedGate _running = new();
    private readonly Lock _watching = new();
    private readonly OutboxLease? _lease;
    private CancellationToken _stopping;
    private CancellationToken _term = new(canceled: true);

    /// <summary>The row of <c>outbox_leases</c> whose holder runs the probing schedule.</summary>
    public const string LeaseName = "leader:streams";

    public StreamHealthMonitor(DeviceCatalog devices, Journal journal, FfmpegRunner runner, TimeProvider time,
        IOptions<GatewayOptions> options, ILogger<StreamHealthMonitor> logger, GatewayStore store, ReplicaIdentity replica)
    {
        _devices = devices;
        _journal = journal;
        _runner = runner;
        _time = time;
        _options = options.Value.Streams;
        _logger = logger;
        _describeSlots = new SemaphoreSlim(_options.MaxConcurrentDescribes);
        if (_options.Enabled)
        {
            _lease = new OutboxLease(LeaseName, options.Value.Outbox, replica.Id, store, time, logger,
                new LeaseWording("Stream probing", "probes the cameras", "probes the cameras"));
        }

        _retry = new ResiliencePipelineBuilder<bool> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<bool>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome is { Result: false } || args.Outcome.Exception is { } e && e is not OperationCanceledException),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryBaseDelay,
                MaxDelay = _options.RetryMaxDelay,
                OnRetry = args =>
                {
                    if (args.Outcome.Exception is { } e)
                    {
                        LogCheckCrashed(_logger, e);
                    }

                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    public TimeSpan QualityInterval => _options.QualityInterval;

    /// <summary>Outcomes of every check since start, for the metrics.</summary>
    public StreamCheckCounts Checks { get; } = new();

    /// <summary>Checks running or waiting, one per camera and kind (DESCRIBE, deep); 0 when the monitor is idle.</summary>
    internal int ChecksInFlight => _running.Count;

    /// <summary>This replica runs the probing schedule now (always, on SQLite, while checks are enabled).</summary>
    public bool Leading => _lease is { Held: true };

    /// <summary>Times this replica took the probing schedule over from another replica, since start.</summary>
    public long Takeovers => _lease?.Takeovers ?? 0;

    /// <summary>For health: whether checks run, and on a shared store who leads them.</summary>
    public string LeaderState => _lease is null ? "off (Streams:Enabled is false)"
        : !_lease.Shared ? $"this process probes {_watches.Count} cameras"
        : _lease.Held ? $"leader: this replica probes {_watches.Count} cameras"
        : _lease.State;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        if (_lease is null)
        {
            return;
        }

        _devices.CameraChanged += id => Rewatch(id, firstCheckWithin: TimeSpan.FromSeconds(5));
        _lease.Start();
        while (!stoppingToken.IsCancellationRequested)
        {
            CancellationToken term;
            try
            {
                term = await _lease.WaitHeldAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            lock (_watching)
            {
                _term = term;
            }

            // A new leader starts every camera's schedule at a random point of one interval, as at start.
            foreach (var entry in _devices.All)
            {
                Rewatch(entry.Id, firstCheckWithin: _options.LivenessInterval);
            }

            using var led = CancellationTokenSource.CreateLinkedTokenSource(term, stoppingToken);
            await Task.Delay(Timeout.InfiniteTimeSpan, _time, led.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            // The term ended (the lease's fence, or another replica holds it): every watch was linked to it.
            await StopWatchesAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await StopWatchesAsync(cancellationToken).ConfigureAwait(false);
        if (_lease is not null)
        {
            await _lease.DisposeAsync().ConfigureAwait(false); // released after the last check ended: another replica leads next
        }
    }

    private async Task StopWatchesAsync(CancellationToken cancellationToken)
    {
        List<Watch> watches;
        lock (_watching)
        {
            watches = [.. _watches.Values];
        }

        foreach (var watch in watches)
        {
            await watch.Cts.CancelAsync().ConfigureAwait(false);
        }

        // Loops end at their next await; a running ffprobe is killed by its cancelled token.
        await Task.WhenAll(watches.Select(w => w.Loop)).WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_watching)
        {
            foreach (var (id, watch) in _watches)
            {
                if (watch.Cts.IsCancellationRequested && _watches.TryRemove(new KeyValuePair<string, Watch>(id, watch)))
                {
                    watch.Cts.Dispose();
                }
            }
        }
    }

    /// <summary>
    /// Runs checks now for the given cameras, up to <paramref name="depth"/>, bounded by the same limits as the
    /// schedule, and records them. Cameras without an RTSP URL are skipped.
    /// <para>
    /// The answer is always this call's own checks: on a camera whose scheduled check is running (a slow first check,
    /// say), this waits for that check to end (it is bounded by <see cref="StreamOptions.DescribeTimeout"/>, or
    /// <see cref="StreamOptions.ProcessTimeout"/> for ffprobe/ffmpeg), lets it be recorded, then runs its own, so what
    /// it answers started after the call and no older outcome lands after it. A scheduled retry waiting out its
    /// backoff is not waited for. The caller's deadline bounds the whole call.
    /// </para>
    /// </summary>
    public async Task<(IReadOnlyList<DeviceEntry> Checked, int Ok, int PeakProcesses)> CheckNowAsync(IReadOnlyList<DeviceEntry> cameras, CheckDepth depth, CancellationToken ct)
    {
        _runner.ResetPeak();
        var probed = cameras.Where(e => HasUrl(e)).ToList();
        var ok = 0;
        await Parallel.ForEachAsync(probed, new ParallelOptions { MaxDegreeOfParallelism = _options.MaxConcurrentDescribes, CancellationToken = ct }, async (entry, token) =>
        {
            var passed = await LivenessAsync(entry.Id, startDeep: false, token).ConfigureAwait(false);
            if (passed && depth is CheckDepth.Probe or CheckDepth.Quality)
            {
                passed = await DeepAsync(entry.Id, forceProbe: true, forceQuality: depth == CheckDepth.Quality, token).ConfigureAwait(false);
            }

            if (passed)
            {
                Interlocked.Increment(ref ok);
            }
        }).ConfigureAwait(false);
        return (probed, ok, _runner.Peak);
    }

    private static bool HasUrl(DeviceEntry entry) => !string.IsNullOrEmpty(entry.Device.Camera?.RtspUrl);

    private void Rewatch(string id, TimeSpan firstCheckWithin)
    {
        lock (_watching)
        {
            RewatchLocked(id, firstCheckWithin);
        }
    }

    /// <summary>Replaces the camera's watch with a new one, linked to this replica's term as leader (none while it stands by).</summary>
    private void RewatchLocked(string id, TimeSpan firstCheckWithin)
    {
        if (_watches.TryRemove(id, out var old))
        {
            old.Cts.Cancel();
            old.Cts.Dispose();
        }

        var entry = _devices.Find(id);
        if (_stopping.IsCancellationRequested || _term.IsCancellationRequested || entry is null || !HasUrl(entry))
        {
            return;
        }

        var cts = CancellationTokenSource.CreateLinkedTokenSource(_stopping, _term);
        var h = entry.Health;
        var watch = new Watch(cts)
        {
            // A restart resumes the schedule where the stored results left it, and a failed result is due now. A camera
            // never measured gets its first deep check at a random point of the first interval, like its first DESCRIBE:
            // registering a county at once must not queue a thousand ffprobe runs (CheckNow measures one at once).
            NextProbeAt = h.LastProbe is { Ok: false } ? DateTimeOffset.MinValue
                : h.Measured is { } m ? m.MeasuredAt + Jittered(_options.ProbeInterval)
                : _time.GetUtcNow() + _options.ProbeInterval * Random.Shared.NextDouble(),
            NextQualityAt = h.LastGrab is { Ok: false } ? DateTimeOffset.MinValue
                : h.LastQuality is { } q ? q.At + Jittered(_options.QualityInterval)
                : _time.GetUtcNow() + _options.QualityInterval * Random.Shared.NextDouble(),
        };
        var first = firstCheckWithin * Random.Shared.NextDouble();
        watch.Loop = Task.Run(() => WatchAsync(id, watch, first, cts.Token), CancellationToken.None);
        _watches[id] = watch;
    }

    private async Task WatchAsync(string id, Watch watch, TimeSpan first, CancellationToken ct)
    {
        try
        {
            await Task.Delay(first, _time, ct).ConfigureAwait(false);
            while (!ct.IsCancellationRequested)
            {
                await _retry.ExecuteAsync(async token => await LivenessAsync(id, startDeep: true, token).ConfigureAwait(false), ct).ConfigureAwait(false);
                await Task.Delay(Jittered(_options.LivenessInterval), _time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            if (watch.Deep is { } deep)
            {
                await deep.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>One DESCRIBE, recorded. On success, starts the deep checks when they are due and none is running.</summary>
    private async Task<bool> LivenessAsync(string id, bool startDeep, CancellationToken ct)
    {
        bool ok;
        using (await _running.EnterAsync(id + " describe", ct).ConfigureAwait(false))
        {
            ok = await DescribeAsync(id, ct).ConfigureAwait(false);
        }

        if (ok && startDeep && _watches.TryGetValue(id, out var watch) && watch.Deep is not { IsCompleted: false } && DeepDue(watch))
        {
            watch.Deep = Task.Run(() => _retry.ExecuteAsync(async token => await DeepAsync(id, false, false, token).ConfigureAwait(false), watch.Cts.Token).AsTask(), CancellationToken.None);
        }

        return ok;
    }

    /// <summary>One DESCRIBE of the camera as registered now, recorded; true when it passed (or there is nothing to check).</summary>
    private async Task<bool> DescribeAsync(string id, CancellationToken ct)
    {
        var entry = _devices.Find(id);
        if (entry is null || !HasUrl(entry))
        {
            return true;
        }

        // The userinfo goes in the Authorization header only; credential query parameters in the request URI.
        var url = ConnectUrl(entry);
        RtspDescribeResult result;
        await _describeSlots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            result = await Breaker(url).ExecuteAsync(
                async token => await RtspDescribe.DescribeAsync(url, null, null, _options.DescribeTimeout, token).ConfigureAwait(false), ct).ConfigureAwait(false);
        }
        catch (BrokenCircuitException)
        {
            result = new RtspDescribeResult(false, RtspFailure.ConnectionRefused, "circuit-open", 0, null, TimeSpan.Zero);
        }
        finally
        {
            _describeSlots.Release();
        }

        Checks.Count("describe", result.Ok ? "ok" : result.Reason == "circuit-open" ? "circuit-open" : FailureName(result.Failure));
        await Record(entry, h => h with
        {
            LastLiveness = Outcome(result.Ok, result.Reason == "circuit-open" ? "circuit-open" : FailureName(result.Failure), result.Reason, result.Elapsed),
            ConsecutiveFailures = result.Ok ? 0 : h.ConsecutiveFailures + 1,
        }, result.Ok ? Evidence.Alive : Evidence.Failed, ct).ConfigureAwait(false);
        return result.Ok;
    }

    private bool DeepDue(Watch watch)
    {
        var now = _time.GetUtcNow();
        return (_runner.FfprobeAvailable && now >= watch.NextProbeAt) || (_runner.FfmpegAvailable && now >= watch.NextQualityAt);
    }

    /// <summary>ffprobe and/or a frame grab when due (or forced), each recorded; after the deep check running on the camera, if any.</summary>
    private async Task<bool> DeepAsync(string id, bool forceProbe, bool forceQuality, CancellationToken ct)
    {
        using (await _running.EnterAsync(id + " deep", ct).ConfigureAwait(false))
        {
            return await ProbeAndGrabAsync(id, forceProbe, forceQuality, ct).ConfigureAwait(false);
        }
    }

    private async Task<bool> ProbeAndGrabAsync(string id, bool forceProbe, bool forceQuality, CancellationToken ct)
    {
        var entry = _devices.Find(id);
        if (entry is null || !HasUrl(entry))
        {
            return true;
        }

        _watches.TryGetValue(id, out var watch);
        var url = ConnectUrl(entry);
        var now = _time.GetUtcNow();
        if (_runner.FfprobeAvailable && (forceProbe || watch is null || now >= watch.NextProbeAt))
        {
            var probe = await _runner.ProbeAsync(url, ct).ConfigureAwait(false);
            Checks.Count("probe", probe.Ok ? "ok" : probe.Failure);
            entry = await Record(entry, h => h with
            {
                LastProbe = Outcome(probe.Ok, probe.Failure, probe.Detail, probe.Elapsed),
                ConsecutiveProbeFailures = probe.Ok ? 0 : h.ConsecutiveProbeFailures + 1,
                Measured = probe.Measured is { } m ? m with { MeasuredAt = _time.GetUtcNow() } : h.Measured,
            }, Evidence.None, ct).ConfigureAwait(false);
            if (entry is null || !probe.Ok)
            {
                return entry is null;
            }

            if (watch is not null)
            {
                watch.NextProbeAt = _time.GetUtcNow() + Jittered(_options.ProbeInterval);
            }
        }

        if (_runner.FfmpegAvailable && (forceQuality || watch is null || now >= watch.NextQualityAt))
        {
            var grab = await _runner.GrabAsync(url, _devices.SnapshotDirectory, ct).ConfigureAwait(false);
            Checks.Count("grab", grab.Ok ? grab.Verdict is { Ok: false } ? "picture-fault" : "ok" : grab.Failure);
            if (grab.Jpeg is { } jpeg)
            {
                await PrivateFiles.WriteAtomicallyAsync(_devices.SnapshotPath(id), jpeg, ct).ConfigureAwait(false);
            }

            entry = await Record(entry, h => h with
            {
                LastGrab = Outcome(grab.Ok, grab.Failure, grab.Detail, grab.Elapsed),
                ConsecutiveProbeFailures = grab.Ok ? 0 : h.ConsecutiveProbeFailures + 1,
                LastQuality = grab.Verdict is { } v
                    ? new PictureCheck(_time.GetUtcNow(), v.Ok, [.. v.Faults], v.MeanLuma, v.DarkFraction, v.Detail, v.Motion, v.Frames, (int)grab.Elapsed.TotalMilliseconds)
                    : h.LastQuality,
            }, Evidence.None, ct).ConfigureAwait(false);
            if (entry is null || !grab.Ok)
            {
                return entry is null;
            }

            if (watch is not null)
            {
                watch.NextQualityAt = _time.GetUtcNow() + Jittered(_options.QualityInterval);
            }
        }

        return true;
    }

    private enum Evidence
    {
        None,
        Alive,
        Failed,
    }

    /// <summary>
    /// Applies one outcome in a journal item, to the camera as registered now (an outcome for a URL that has since
    /// changed, or a camera since removed, is dropped). Answers the entry as it stands after, or null when dropped.
    /// </summary>
    private async Task<DeviceEntry?> Record(DeviceEntry checkedEntry, Func<StreamHealthRecord, StreamHealthRecord> change, Evidence evidence, CancellationToken ct)
    {
        var url = checkedEntry.Device.Camera?.RtspUrl;
        return await _journal.ExecuteAsync(tx =>
        {
            var entry = _devices.Find(checkedEntry.Id);
            if (entry is null || entry.Device.Camera?.RtspUrl != url)
            {
                return null;
            }

            var now = _time.GetUtcNow();
            var before = entry.Health;
            var next = change(before);
            if (evidence == Evidence.Alive)
            {
                _devices.MarkSeen(tx, entry, now, StatusReasons.Stream);
            }
            else if (evidence == Evidence.Failed && next.ConsecutiveFailures >= _options.FailuresToFault
                && entry.Status == DeviceStatus.Online && !_devices.HeardRecently(entry, now))
            {
                // Only the stream vouched for this device, and it stopped answering.
                _devices.SetStatus(tx, entry, DeviceStatus.Offline, now, StatusReasons.StreamUnreachable);
            }

            next = StreamHealthRules.WithMismatches(next, entry.Device, next.Measured?.MeasuredAt ?? now);
            next = StreamHealthRules.WithFaults(next, _options.FailuresToFault, now);
            // A passing DESCRIBE that changes nothing but its timestamp stays in memory (like last-seen).
            var persist = evidence != Evidence.Alive || before.ConsecutiveFailures != 0 || !before.Faults.SequenceEqual(next.Faults);
            _devices.SetHealth(tx, entry, next, now, persist);
            return entry;
        }, ct).ConfigureAwait(false);
    }

    private ResiliencePipeline<RtspDescribeResult> Breaker(Uri url) => _hosts.GetOrAdd(url.Host + ":" + (url.IsDefaultPort ? 554 : url.Port), _ =>
        new ResiliencePipelineBuilder<RtspDescribeResult>()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<RtspDescribeResult>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result is { Failure: RtspFailure.ConnectionRefused or RtspFailure.Unreachable or RtspFailure.Timeout }),
                FailureRatio = _options.HostFailureRatio,
                MinimumThroughput = 10,
                SamplingDuration = TimeSpan.FromSeconds(60),
                BreakDuration = _options.HostBreakDuration,
            })
            .Build());

    private CheckResult Outcome(bool ok, string failure, string detail, TimeSpan elapsed) =>
        new(_time.GetUtcNow(), ok, ok ? "" : failure, ok ? "" : detail, (int)Math.Min(int.MaxValue, elapsed.TotalMilliseconds));

    internal static string FailureName(RtspFailure failure) => failure switch
    {
        RtspFailure.None => "",
        RtspFailure.ConnectionRefused => "connection-refused",
        RtspFailure.Unreachable => "unreachable",
        RtspFailure.Timeout => "timeout",
        RtspFailure.AuthFailed => "auth-failed",
        RtspFailure.NotFound => "not-found",
        RtspFailure.RtspError => "rtsp-error",
        RtspFailure.ProtocolError => "protocol-error",
        RtspFailure.NoVideo => "no-video",
        _ => failure.ToString().ToLowerInvariant(),
    };

    /// <summary>The camera's main URL with its stored credentials put back: only ever handed to the RTSP client and the runner.</summary>
    private static Uri ConnectUrl(DeviceEntry entry) => RtspCredentials.Connect(entry.Device.Camera!.RtspUrl, entry.Secrets?.Main);

    private static TimeSpan Jittered(TimeSpan interval) => interval * (0.9 + 0.2 * Random.Shared.NextDouble());

    /// <summary>One watched camera: its loop, its deep-check flow and when the next deep checks are due.</summary>
    private sealed class Watch(CancellationTokenSource cts)
    {
        public CancellationTokenSource Cts { get; } = cts;

        public Task Loop { get; set; } = Task.CompletedTask;

        public Task? Deep { get; set; }

        public DateTimeOffset NextProbeAt { get; set; }

        public DateTimeOffset NextQualityAt { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A stream check failed unexpectedly; it will be retried")]
    private static partial void LogCheckCrashed(ILogger logger, Exception exception);
}

/// <summary>Check outcomes by (check, outcome): describe/probe/grab × ok or the failure's name.</summary>
public sealed class StreamCheckCounts
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Check, string Outcome), long> _counts = new();

    public void Count(string check, string outcome) =>
        _counts.AddOrUpdate((check, string.IsNullOrEmpty(outcome) ? "failed" : outcome), 1, (_, n) => n + 1);

    public IReadOnlyList<KeyValuePair<(string Check, string Outcome), long>> Snapshot() => [.. _counts];
}
