using System.Diagnostics;
using System.Globalization;
using System.Text;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SharpEyes.Bench.Gateway;
using SharpEyes.Bench.Mqtt;
using SharpEyes.Bench.Reporting;
using SharpEyes.CentreSink;
using SharpEyes.V1;

namespace SharpEyes.Bench.Outbox;

/// <summary>
/// <c>sharpeyes-bench outbox --gateway-dll sharpeyes.dll --work DIR --admin-key K [--pid-file F] [--out latest.md]</c>: what
/// pushing the feed to a centre costs intake. Three phases, each with its own gateway process (Release, out of process,
/// fresh data directory) started by this command, and the reference CentreSink (src/SharpEyes.CentreSink) in this process:
/// a baseline with no push endpoint, a fast sink (no delay) and a slow sink (2 s per call). Each phase registers the
/// alarm devices, warms up, then publishes the same QoS 1 alarms as fast as the PUBACKs allow while /metrics is scraped
/// every 100 ms (in every phase, so the scrape costs the same everywhere). The per-event "commit → stored at the centre"
/// times join the gateway's feed_events.committed_at with the sink's received_at (same clock, milliseconds).
/// Options (defaults): --outbox-alarms 20000, --outbox-connections 4, --outbox-window 32, --outbox-devices 1000,
/// --outbox-warmup 5000, --outbox-batch 500, --outbox-slow-ms 2000. The pid file always names the gateway running now
/// (empty when none), so bench/run.sh can stop it if this process is killed.
/// </summary>
internal static class OutboxCommand
{
    private const string SourceId = "bench-outbox";
    private const string VendorId = "bench";
    private static readonly TimeSpan Sample = TimeSpan.FromMilliseconds(100);

    public static async Task<int> RunAsync(Options options, CancellationToken ct)
    {
        var log = Console.Error;
        var s = new Settings(
            GatewayDll: options.Get("gateway-dll", ""),
            Work: options.Get("work", Path.Combine(Path.GetTempPath(), $"sharpeyes-outbox-{Environment.ProcessId}")),
            AdminKey: options.Get("admin-key", Environment.GetEnvironmentVariable("SHARPEYES_ADMIN_KEY") ?? ""),
            PidFile: options.Get("pid-file", ""),
            Alarms: options.Int("outbox-alarms", 20_000),
            Connections: options.Int("outbox-connections", 4),
            Window: options.Int("outbox-window", 32),
            Devices: options.Int("outbox-devices", 1_000),
            Warmup: options.Int("outbox-warmup", 5_000),
            BatchSize: options.Int("outbox-batch", 500),
            SlowDelay: TimeSpan.FromMilliseconds(options.Int("outbox-slow-ms", 2_000)),
            PhaseLimit: TimeSpan.FromSeconds(options.Int("phase-limit-s", 90)));
        if (!File.Exists(s.GatewayDll) || s.AdminKey.Length == 0)
        {
            log.WriteLine("[outbox] --gateway-dll (an existing sharpeyes.dll) and --admin-key are required");
            return 2;
        }

        Directory.CreateDirectory(s.Work);
        var started = Stopwatch.StartNew();
        var phases = new List<PhaseResult>();
        foreach (var kind in new[] { PhaseKind.Baseline, PhaseKind.FastSink, PhaseKind.SlowSink })
        {
            log.WriteLine($"[outbox] phase: {Describe(kind, s)}");
            var result = await RunPhaseAsync(kind, s, log, ct);
            log.WriteLine($"[outbox]   {result.Summary()}");
            phases.Add(result);
        }

        var section = Render(s, phases, started.Elapsed);
        Console.WriteLine(section);
        if (options.Get("out", "") is { Length: > 0 } outPath)
        {
            ReportSections.Merge(outPath, "outbox", section);
        }

        return phases.All(p => p.Error is null) ? 0 : 1;
    }

    private enum PhaseKind
    {
        Baseline,
        FastSink,
        SlowSink,
    }

    private static string Describe(PhaseKind kind, Settings s) => kind switch
    {
        PhaseKind.Baseline => "baseline, no push endpoint",
        PhaseKind.FastSink => $"fast sink (no delay, batch {s.BatchSize})",
        _ => $"slow sink ({s.SlowDelay.TotalSeconds:0.#} s per call, batch {s.BatchSize})",
    };

    private static async Task<PhaseResult> RunPhaseAsync(PhaseKind kind, Settings s, TextWriter log, CancellationToken ct)
    {
        var name = kind.ToString().ToLowerInvariant();
        var result = new PhaseResult(kind);
        var sinkDb = Path.Combine(s.Work, $"centre-{name}.db");
        CentreSinkServer? sink = null;
        GatewayProcess? gateway = null;
        try
        {
            // The intake runs at what the gateway can take (~8,000 alarms/s), not at the per-vendor MQTT limit (2,000/s by default).
            var args = new List<string> { "--demo", "--demo-cameras", "false", "--stream-checks", "false", "--SharpEyes:RateLimits:MqttVendor:PerSecond=0" };
            if (kind != PhaseKind.Baseline)
            {
                // Delay 0 while the registrations and the warm-up drain; the slow phase slows the sink just before it measures.
                sink = await CentreSinkServer.StartAsync(new CentreSinkOptions
                {
                    DatabasePath = sinkDb,
                    ConfigureLogging = l => l.ClearProviders(),
                }, ct);
                args.AddRange(["--centre-url", sink.Address.ToString(), $"--SharpEyes:Outbox:SourceId={SourceId}",
                    $"--SharpEyes:Outbox:Endpoints:0:BatchSize={s.BatchSize}"]);
            }

            gateway = await GatewayProcess.StartAsync(new GatewayProcess.Launch(s.GatewayDll, s.Work, s.AdminKey, s.PidFile, "outbox"), name, args, ct);
            var metrics = new Scraper(gateway.HttpPort);
            var vendorKey = await PrepareAsync(gateway, s, ct);

            log.WriteLine($"[outbox]   warm-up: {s.Warmup:N0} alarms over {s.Connections} connection(s)");
            await PublishAsync(gateway, s, phase: 0, s.Warmup, vendorKey, ct);
            // A second of quiet so tiered compilation can finish re-jitting the hot paths before the clock starts.
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
            if (sink is not null)
            {
                var warmLast = (long)(await metrics.ReadAsync(ct)).GetValueOrDefault("sharpeyes_feed_last_sequence");
                if (await WaitHeldAsync(sink, warmLast, TimeSpan.FromSeconds(60), ct) is null)
                {
                    throw new TimeoutException($"the sink did not catch up with the warm-up (held {sink.Store.Held(SourceId):N0} of {warmLast:N0}) within 60 s");
                }

                if (kind == PhaseKind.SlowSink)
                {
                    sink.Behaviour.Delay = s.SlowDelay;
                }
            }

            // The measured run: messages built and connections opened before the clock starts.
            var messages = AlarmMessages.Build(1, s.Alarms, s.Devices, DateTimeOffset.UtcNow);
            var publishers = await AlarmPublisher.ConnectAsync(gateway.MqttPort, VendorId, vendorKey, s.Connections, $"bench-outbox-{name}", ct);
            try
            {
                result.SequenceBefore = (long)(await metrics.ReadAsync(ct)).GetValueOrDefault("sharpeyes_feed_last_sequence");
                using var stopSampling = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var sampling = metrics.SampleAsync(Sample, stopSampling.Token);
                var gatewayBefore = CpuSnapshot.Take(gateway.Pid);
                var benchBefore = CpuSnapshot.Take(Environment.ProcessId);
                var machineBefore = CpuSnapshot.SystemBusy();
                var outcome = await AlarmPublisher.RunAsync(publishers, messages, s.Window, null, s.PhaseLimit);
                var gatewayIntake = CpuSnapshot.Take(gateway.Pid);
                var benchIntake = CpuSnapshot.Take(Environment.ProcessId);
                result.IntakeCpu = CpuSnapshot.Diff(gatewayBefore, gatewayIntake);
                result.BenchIntakeCpu = CpuSnapshot.Diff(benchBefore, benchIntake);
                result.MachineIntakePercent = CpuSnapshot.SystemPercent(machineBefore, CpuSnapshot.SystemBusy());
                result.Acked = outcome.Acked;
                result.IntakeSeconds = BrokerBaseline.Seconds(outcome.StartTicks, outcome.LastAckTicks);
                if (outcome.TimedOut || outcome.Failed > 0 || outcome.Acked < s.Alarms)
                {
                    result.Note = $"intake incomplete: {outcome.Acked:N0}/{s.Alarms:N0} PUBACKs, {outcome.Failed:N0} failures {outcome.FirstFailure}";
                }

                var atIntakeEnd = await metrics.ReadAsync(ct);
                result.SequenceAfter = (long)atIntakeEnd.GetValueOrDefault("sharpeyes_feed_last_sequence");
                result.DepthAtIntakeEnd = atIntakeEnd.GetValueOrDefault("sharpeyes_outbox_depth{endpoint=\"centre\"}");
                if (sink is not null)
                {
                    // Bound: every batch waits the sink's delay; twice that, and at least a minute, before giving up.
                    var calls = Math.Ceiling((result.SequenceAfter - result.SequenceBefore) / (double)s.BatchSize);
                    var limit = TimeSpan.FromSeconds(Math.Max(60, 2 * calls * sink.Behaviour.Delay.TotalSeconds));
                    if (await WaitHeldAsync(sink, result.SequenceAfter, limit, ct) is { } heldTicks)
                    {
                        result.DeliverySeconds = BrokerBaseline.Seconds(outcome.StartTicks, heldTicks);
                        result.DrainSeconds = BrokerBaseline.Seconds(outcome.LastAckTicks, heldTicks);
                        result.DeliveryCpu = CpuSnapshot.Diff(gatewayBefore, CpuSnapshot.Take(gateway.Pid));
                        result.DrainCpu = CpuSnapshot.Diff(gatewayIntake, CpuSnapshot.Take(gateway.Pid));
                        result.CommitToCentreMs = CommitToCentre(gateway.DatabasePath, sinkDb, result.SequenceBefore, result.SequenceAfter);
                    }
                    else
                    {
                        result.Note = (result.Note is null ? "" : result.Note + "; ") +
                            $"the sink held {sink.Store.Held(SourceId):N0} of {result.SequenceAfter:N0} after {limit.TotalSeconds:F0} s";
                    }
                }

                await stopSampling.CancelAsync();
                (result.MaxDepth, result.MaxLagSeconds, result.Samples) = await sampling;
            }
            finally
            {
                await AlarmPublisher.DisconnectAsync(publishers);
            }
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or TimeoutException or HttpRequestException or IOException
            or SqliteException or MQTTnet.Exceptions.MqttCommunicationException)
        {
            result.Error = $"{e.GetType().Name}: {e.Message}";
            log.WriteLine($"[outbox]   phase failed: {e}");
        }
        finally
        {
            if (gateway is not null)
            {
                await gateway.DisposeAsync();
            }

            if (sink is not null)
            {
                await sink.DisposeAsync();
            }
        }

        return result;
    }

    /// <summary>A vendor key, then the alarm devices registered in one stream (as the alarm benchmark does); returns the key.</summary>
    private static async Task<string> PrepareAsync(GatewayProcess gateway, Settings s, CancellationToken ct)
    {
        var admin = new Admin.AdminClient(gateway.Channel);
        var vendorKey = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Vendor, VendorId = VendorId, Description = "bench outbox vendor" },
            Auth(s.AdminKey), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: ct)).ApiKey;
        var registry = new DeviceRegistry.DeviceRegistryClient(gateway.Channel);
        using var call = registry.RegisterDevices(Auth(vendorKey), deadline: DateTime.UtcNow.Add(s.PhaseLimit), cancellationToken: ct);
        foreach (var device in DeviceFixtures.Build(s.Devices, alarmEvery: 1))
        {
            await call.RequestStream.WriteAsync(device, ct);
        }

        await call.RequestStream.CompleteAsync();
        var response = await call.ResponseAsync;
        if (response.Accepted < s.Devices)
        {
            var bad = response.RejectedResults.FirstOrDefault();
            throw new InvalidOperationException($"{response.Accepted:N0}/{s.Devices:N0} alarm devices registered; first refusal: {bad?.DeviceId} {bad?.Message}");
        }

        return vendorKey;
    }

    private static async Task PublishAsync(GatewayProcess gateway, Settings s, int phase, int count, string vendorKey, CancellationToken ct)
    {
        var publishers = await AlarmPublisher.ConnectAsync(gateway.MqttPort, VendorId, vendorKey, s.Connections, $"bench-outbox-w{phase}", ct);
        try
        {
            var outcome = await AlarmPublisher.RunAsync(publishers, AlarmMessages.Build(phase, count, s.Devices, DateTimeOffset.UtcNow), s.Window, null, s.PhaseLimit);
            if (outcome.Acked < count)
            {
                throw new InvalidOperationException($"warm-up: {outcome.Acked:N0}/{count:N0} PUBACKs; first failure: {outcome.FirstFailure}");
            }
        }
        finally
        {
            await AlarmPublisher.DisconnectAsync(publishers);
        }
    }

    /// <summary>Polls the sink every 10 ms until it holds every event through <paramref name="sequence"/>; the Stopwatch time it did, or null.</summary>
    private static async Task<long?> WaitHeldAsync(CentreSinkServer sink, long sequence, TimeSpan limit, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (sink.Store.Held(SourceId) >= sequence)
            {
                return Stopwatch.GetTimestamp();
            }

            await Task.Delay(10, ct);
        }

        return null;
    }

    /// <summary>
    /// Per event of the measured run: the sink's received_at (its transaction for the batch) minus the gateway's
    /// committed_at, both Unix milliseconds on this machine's clock. Sorted ascending.
    /// </summary>
    private static List<double> CommitToCentre(string gatewayDb, string sinkDb, long after, long through)
    {
        var committed = new Dictionary<long, long>();
        using (var connection = OpenReadOnly(gatewayDb))
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT seq, committed_at FROM feed_events WHERE seq > $after AND seq <= $through AND committed_at IS NOT NULL";
            command.Parameters.AddWithValue("$after", after);
            command.Parameters.AddWithValue("$through", through);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                committed[reader.GetInt64(0)] = reader.GetInt64(1);
            }
        }

        var lags = new List<double>(committed.Count);
        using (var connection = OpenReadOnly(sinkDb))
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT seq, received_at FROM events WHERE source_id = $source AND seq > $after AND seq <= $through";
            command.Parameters.AddWithValue("$source", SourceId);
            command.Parameters.AddWithValue("$after", after);
            command.Parameters.AddWithValue("$through", through);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                if (committed.TryGetValue(reader.GetInt64(0), out var at))
                {
                    lags.Add(reader.GetInt64(1) - at);
                }
            }
        }

        lags.Sort();
        return lags;
    }

    private static SqliteConnection OpenReadOnly(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private static Metadata Auth(string key) => new() { { "authorization", "Bearer " + key } };

    private static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static string Render(Settings s, List<PhaseResult> phases, TimeSpan took)
    {
        var baseline = phases.First(p => p.Kind == PhaseKind.Baseline);
        var fast = phases.First(p => p.Kind == PhaseKind.FastSink);
        var slow = phases.First(p => p.Kind == PhaseKind.SlowSink);
        var rows = new List<(string Measurement, string Result)>();
        string Ratio(double value) => baseline.IntakeRate > 0 && value > 0 ? $"{value / baseline.IntakeRate:F2}× baseline" : "no ratio";
        string Intake(PhaseResult p) => p.Error is { } error ? $"failed: {error}"
            : $"{p.IntakeRate:N0}/s ({p.Acked:N0} alarms in {p.IntakeSeconds:F2} s){(p.Kind == PhaseKind.Baseline ? "" : " = " + Ratio(p.IntakeRate))}";
        string Cpu(CpuUsage? cpu) => cpu is null ? "n/a" : $"{cpu.ProcessPercent:F0} %";
        string Lags(PhaseResult p) => p.CommitToCentreMs is { Count: > 0 } l
            ? $"p50 {Percentile(l, 0.50):N0} ms, p99 {Percentile(l, 0.99):N0} ms, max {l[^1]:N0} ms over {l.Count:N0} events"
            : "not measured";

        rows.Add(("baseline: intake with no push endpoint, alarms/s acknowledged (QoS 1 PUBACKs)", Intake(baseline)));
        rows.Add(($"fast sink (no delay, batch {s.BatchSize}): intake", Intake(fast)));
        // An incident event carries every alarm of its incident committed together, so events are fewer than alarms
        // under load: delivery is counted in alarms (every acknowledged alarm is on an event the sink holds), to
        // compare with intake, and the events they came on are given too.
        rows.Add(("fast sink: delivery, first alarm → the sink holds every event through sharpeyes_feed_last_sequence",
            fast.DeliverySeconds is { } d
                ? $"{fast.Acked / d:N0} alarms/s ({fast.Acked:N0} alarms on {fast.Events:N0} events in {d:F2} s = {Ratio(fast.Acked / d)} intake); everything held {fast.DrainSeconds:F2} s after the last PUBACK"
                : fast.Error ?? fast.Note ?? "not delivered"));
        rows.Add(("fast sink: commit → stored at the centre, per event (gateway committed_at vs sink received_at)", Lags(fast)));
        rows.Add(($"fast sink: max outbox depth / max lag (sharpeyes_outbox_*, sampled every {Sample.TotalMilliseconds:F0} ms)",
            $"{fast.MaxDepth:N0} events / {fast.MaxLagSeconds:F2} s ({fast.Samples} samples)"));
        rows.Add(($"slow sink ({s.SlowDelay.TotalSeconds:0.#} s per call, batch {s.BatchSize}): intake", Intake(slow)));
        rows.Add(("slow sink: max outbox depth (sampled) / depth when intake ended / max lag",
            $"{slow.MaxDepth:N0} events / {slow.DepthAtIntakeEnd:N0} events / {slow.MaxLagSeconds:F1} s"));
        var bound = s.BatchSize / s.SlowDelay.TotalSeconds;
        rows.Add(("slow sink: drain, last PUBACK → the sink holds every event",
            slow.DrainSeconds is { } drain
                ? $"{drain:F1} s ({slow.Acked:N0} alarms on {slow.Events:N0} events, delivered at {slow.Events / slow.DeliverySeconds!.Value:N0} events/s overall; bound {bound:N0} events/s = batch ÷ delay)"
                : slow.Error ?? slow.Note ?? "not drained"));
        rows.Add(("slow sink: commit → stored at the centre, per event", Lags(slow)));
        rows.Add(("gateway CPU during intake: baseline / fast / slow (100 % = one core)",
            $"{Cpu(baseline.IntakeCpu)} / {Cpu(fast.IntakeCpu)} / {Cpu(slow.IntakeCpu)}"));
        rows.Add(("gateway CPU, first alarm → the sink held everything: fast / slow (slow: drain alone)",
            $"{Cpu(fast.DeliveryCpu)} over {fast.DeliverySeconds:F2} s / {Cpu(slow.DeliveryCpu)} over {slow.DeliverySeconds:F1} s ({Cpu(slow.DrainCpu)} over the {slow.DrainSeconds:F1} s drain)"));
        rows.Add(("bench process CPU during intake (publishers, scraper, sink): baseline / fast / slow",
            $"{Cpu(baseline.BenchIntakeCpu)} / {Cpu(fast.BenchIntakeCpu)} / {Cpu(slow.BenchIntakeCpu)}"));
        string Machine(PhaseResult p) => p.MachineIntakePercent is { } m ? $"{m:F0} %" : "n/a";
        rows.Add(($"whole machine CPU during intake, every process ({Environment.ProcessorCount * 100} % = all cores): baseline / fast / slow",
            $"{Machine(baseline)} / {Machine(fast)} / {Machine(slow)} (beyond gateway + bench: other work on the machine)"));

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{Begin}\n## Outbox\n\n");
        text.Append(CultureInfo.InvariantCulture,
            $"- setup ({DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {took.TotalSeconds:F0} s): one Release gateway process per phase " +
            $"(`sharpeyes.dll --demo --demo-cameras false --stream-checks false`, fresh data directory), the reference CentreSink (SQLite, synchronous=FULL) " +
            $"in the bench process; {s.Devices:N0} alarm devices registered, a {s.Warmup:N0}-alarm warm-up, then {s.Alarms:N0} alarms QoS 1 over {s.Connections} MQTT connections, " +
            $"{s.Window} in flight each; /metrics scraped every {Sample.TotalMilliseconds:F0} ms in every phase; all on 127.0.0.1\n\n");
        text.Append("| measurement | result |\n|---|---|\n");
        foreach (var (m, r) in rows)
        {
            text.Append(CultureInfo.InvariantCulture, $"| {m} | {r.Replace("|", "\\|", StringComparison.Ordinal)} |\n");
        }

        foreach (var p in phases.Where(p => p.Note is not null))
        {
            text.Append(CultureInfo.InvariantCulture, $"\n- ⚠ {p.Kind}: {p.Note}");
        }

        text.Append(CultureInfo.InvariantCulture, $"\n{End}\n");
        return text.ToString();
    }

    private static readonly string Begin = ReportSections.Begin("outbox");
    private static readonly string End = ReportSections.End("outbox");

    /// <summary>Replaces the outbox section of an existing report, or appends it (creating the file when missing).</summary>
    private sealed record Settings(string GatewayDll, string Work, string AdminKey, string PidFile, int Alarms, int Connections, int Window,
        int Devices, int Warmup, int BatchSize, TimeSpan SlowDelay, TimeSpan PhaseLimit);

    private sealed class PhaseResult(PhaseKind kind)
    {
        public PhaseKind Kind { get; } = kind;

        public int Acked { get; set; }

        public double IntakeSeconds { get; set; }

        public double IntakeRate => IntakeSeconds > 0 ? Acked / IntakeSeconds : 0;

        public long SequenceBefore { get; set; }

        public long SequenceAfter { get; set; }

        public long Events => SequenceAfter - SequenceBefore;

        public double? DeliverySeconds { get; set; }

        public double? DrainSeconds { get; set; }

        public double DepthAtIntakeEnd { get; set; }

        public double MaxDepth { get; set; }

        public double MaxLagSeconds { get; set; }

        public int Samples { get; set; }

        public List<double>? CommitToCentreMs { get; set; }

        public CpuUsage? IntakeCpu { get; set; }

        public CpuUsage? BenchIntakeCpu { get; set; }

        public CpuUsage? DeliveryCpu { get; set; }

        public double? MachineIntakePercent { get; set; }

        public CpuUsage? DrainCpu { get; set; }

        public string? Note { get; set; }

        public string? Error { get; set; }

        public string Summary() => Error ?? $"intake {IntakeRate:N0}/s, {Events:N0} events, delivered in {DeliverySeconds:F2} s (drain {DrainSeconds:F2} s), " +
            $"max depth {MaxDepth:N0}, max lag {MaxLagSeconds:F2} s; gateway CPU intake {IntakeCpu?.Describe()} {Note}";
    }

    /// <summary>Reads the gateway's /metrics once or every interval.</summary>
    private sealed class Scraper(int httpPort)
    {
        public Task<Dictionary<string, double>> ReadAsync(CancellationToken ct) => MetricsScrape.ReadAsync(httpPort, ct);

        /// <summary>Samples until cancelled; the largest outbox depth and lag seen, and how many samples were taken.</summary>
        public async Task<(double MaxDepth, double MaxLagSeconds, int Samples)> SampleAsync(TimeSpan interval, CancellationToken ct)
        {
            double depth = 0, lag = 0;
            var samples = 0;
            using var timer = new PeriodicTimer(interval);
            try
            {
                do
                {
                    var m = await ReadAsync(ct);
                    depth = Math.Max(depth, m.GetValueOrDefault("sharpeyes_outbox_depth{endpoint=\"centre\"}"));
                    lag = Math.Max(lag, m.GetValueOrDefault("sharpeyes_outbox_lag_seconds{endpoint=\"centre\"}"));
                    samples++;
                }
                while (await timer.WaitForNextTickAsync(ct));
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }

            return (depth, lag, samples);
        }
    }
}
