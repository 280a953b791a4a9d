using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using MQTTnet;
using SharpEyes.Bench.Coverage;
using SharpEyes.Bench.Mqtt;
using SharpEyes.Bench.Reporting;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Demo;
using SharpEyes.V1;

namespace SharpEyes.Bench.Gateway;

public sealed record GatewayBenchOptions(
    int GrpcPort,
    int MqttPort,
    int HttpPort,
    int GatewayPid,
    string AdminKey,
    int Devices,
    int AlarmEvery,
    int AlarmDevices,
    int WarmupAlarms,
    int ThroughputAlarms,
    IReadOnlyList<int> ConnectionCounts,
    int Window,
    double LatencyRate,
    int LatencyAlarms,
    int LatencyConnections,
    TimeSpan PhaseLimit,
    string? TlsCa = null)
{
    /// <summary>
    /// After the measured phases, compare the gateway's coverage with a full recompute of the demo county and the
    /// cameras the bench registered (the gateway runs <c>--demo</c>). Not timed.
    /// </summary>
    public bool CheckCoverage { get; init; } = true;
}

/// <summary>
/// Drives a running gateway: keys, bulk registration, then alarm phases measured end to end (MQTT publish → durable →
/// INCIDENT_OPENED/UPDATED on a centre's feed). Phase ids: 0 warm-up, 1 latency, 2.. throughput runs.
/// </summary>
public sealed class GatewayBench(GatewayBenchOptions o, TextWriter log)
{
    private readonly List<string> _errors = [];

    /// <summary>What went wrong so far (registration or phase failures).</summary>
    public IReadOnlyList<string> Errors => _errors;

    public async Task<GatewayResults> RunAsync(CancellationToken ct)
    {
        using var channel = BenchTls.Channel(o.GrpcPort, o.TlsCa, 64 * 1024 * 1024, 64 * 1024 * 1024);
        using var feedChannel = BenchTls.Channel(o.GrpcPort, o.TlsCa, 64 * 1024 * 1024);
        var admin = new Admin.AdminClient(channel);
        var adminAuth = Auth(o.AdminKey);
        var (_, startRss) = CpuSnapshot.Memory(o.GatewayPid); // after start, with the county loaded (--demo), before any device

        var vendorKey = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Vendor, VendorId = "bench", Description = "bench vendor" },
            adminAuth, Deadline(10), ct)).ApiKey;
        var centreKey = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Centre, Description = "bench centre" },
            adminAuth, Deadline(10), ct)).ApiKey;

        // Warm-up registration (JIT, caches; its own serials from 800,000, not scored), then the measured stream.
        var registrationWarmup = await RegisterAsync(channel, Auth(vendorKey), WarmupDevices(), "warm-up registration", ct);
        var registration = await RegisterAsync(channel, Auth(vendorKey), MeasuredDevices(), "bulk registration", ct);
        var stats = await admin.GetStatsAsync(new GetStatsRequest(), adminAuth, Deadline(10), ct);
        if (registration is null || registration.AlarmDevices < o.AlarmDevices || registration.Accepted < registration.Devices)
        {
            _errors.Add($"registration did not provide the {o.AlarmDevices:N0} alarm devices the alarm phases publish for " +
                $"({registration?.AlarmDevices ?? 0:N0} alarm devices in the fixture, {registration?.Accepted ?? 0:N0}/{registration?.Devices ?? 0:N0} accepted)");
        }

        await using var feed = new FeedCollector(feedChannel, Auth(centreKey));
        feed.Start(stats.LastSequence);
        var occurredAt = DateTimeOffset.UtcNow;

        ThroughputResult? warmup = null;
        LatencyResult? latency = null;
        var throughput = new List<ThroughputResult>();
        try
        {
            log.WriteLine($"[gateway] warm-up: {o.WarmupAlarms:N0} alarms, 1 connection");
            warmup = await ThroughputAsync(feed, 0, 1, o.WarmupAlarms, vendorKey, occurredAt, ct);
            log.WriteLine($"[gateway]   {Describe(warmup)}");

            log.WriteLine($"[gateway] latency: {o.LatencyAlarms:N0} alarms paced at {o.LatencyRate:N0}/s over {o.LatencyConnections} connection(s)");
            latency = await LatencyAsync(feed, 1, vendorKey, occurredAt, ct);
            log.WriteLine($"[gateway]   p50 {latency.P50Ms:F1} ms, p99 {latency.P99Ms:F1} ms, p99.9 {latency.P999Ms:F1} ms, max {latency.MaxMs:F1} ms {latency.Note}");

            var phase = 2;
            foreach (var n in o.ConnectionCounts)
            {
                log.WriteLine($"[gateway] throughput: {o.ThroughputAlarms:N0} alarms, {n} connection(s)");
                var result = await ThroughputAsync(feed, phase++, n, o.ThroughputAlarms, vendorKey, occurredAt, ct);
                throughput.Add(result);
                log.WriteLine($"[gateway]   {Describe(result)}");
            }
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or MQTTnet.Exceptions.MqttCommunicationException or TimeoutException)
        {
            _errors.Add($"{e.GetType().Name}: {e.Message}");
            log.WriteLine($"[gateway] phase failed: {e}");
        }

        GatewayStatsSnapshot? snapshot = null;
        try
        {
            var s = await admin.GetStatsAsync(new GetStatsRequest(), adminAuth, Deadline(10), ct);
            snapshot = new GatewayStatsSnapshot(s.AlarmsReceived, s.AlarmsAccepted, s.AlarmsDuplicate, s.DeadLettersByReason.Values.Sum(),
                s.IncidentsOpen, s.LastSequence, s.Devices);
        }
        catch (RpcException e)
        {
            _errors.Add($"GetStats: {e.StatusCode} {e.Status.Detail}");
        }

        var (peak, rss) = CpuSnapshot.Memory(o.GatewayPid);
        AgreementResult? agreement = null;
        if (o.CheckCoverage && registration is not null)
        {
            agreement = await CheckCoverageAsync(channel, adminAuth, WarmupDevices().Concat(MeasuredDevices()), ct); // built again: not held through the phases
        }

        return new GatewayResults(registration, registrationWarmup, warmup, latency, throughput, snapshot, peak, rss, feed.Events, feed.Reconnects, feed.Error, _errors)
        {
            StartRssKb = startRss,
            CoverageAgreement = agreement,
        };
    }

    /// <summary>The warm-up stream's devices (their own serials from 800,000); the same list on every call.</summary>
    private List<RegisterDeviceRequest> WarmupDevices() => DeviceFixtures.Build(10_000, o.AlarmEvery, seed: 7, serialBase: 800_000);

    /// <summary>The measured stream's devices; the same list on every call.</summary>
    private List<RegisterDeviceRequest> MeasuredDevices() => DeviceFixtures.Build(o.Devices, o.AlarmEvery);

    /// <summary>
    /// Issue 17's "coverage correct afterwards" for the demo county: every demo camera in the plan's status (the demo
    /// plays their keepalives) and every camera the bench registered (status unknown, not working), recomputed whole in
    /// this process, against the gateway's coverage, which was built batch by batch as the streams committed.
    /// </summary>
    private async Task<AgreementResult?> CheckCoverageAsync(GrpcChannel channel, Metadata adminAuth, IEnumerable<RegisterDeviceRequest> registered, CancellationToken ct)
    {
        var cameras = GaoyiDemoCameras.All
            .Select(c => c.ToFov(c.Online))
            .Concat(registered.Where(r => r.Kind == DeviceKind.Camera).Select(r => new CameraFov(
                r.DeviceId, r.Position.Lon, r.Position.Lat, r.Camera.AzimuthDeg, r.Camera.HfovDeg, r.Camera.RangeM, r.Camera.Ptz, Online: false, Faulty: false)))
            .ToList();
        try
        {
            var start = Stopwatch.GetTimestamp();
            var expected = CoverageAgreement.GaoyiDemoCounty().FullRecompute(cameras);
            log.WriteLine($"[gateway] coverage check: {cameras.Count:N0} cameras recomputed whole in the bench in {Stopwatch.GetElapsedTime(start).TotalSeconds:F1} s");
            var result = await CoverageAgreement.CompareAsync(new V1.Coverage.CoverageClient(channel), adminAuth, expected,
                "after the bench's registrations and alarms (demo county)", TimeSpan.FromSeconds(15), log, ct);
            if (!result.Equal)
            {
                _errors.Add($"coverage {result.Describe()}: {string.Join("; ", result.FirstDifferences)}");
            }

            return result;
        }
        catch (RpcException e)
        {
            _errors.Add($"coverage check: {e.StatusCode} {e.Status.Detail}");
            return null;
        }
    }

    internal static string Describe(ThroughputResult r) =>
        $"PUBACK {r.PubackRate:N0}/s, feed {r.DeliveredRate:N0}/s ({r.Delivered:N0}/{r.Planned:N0} in {r.DeliverySeconds:F2} s); gateway CPU {r.ServerCpu?.Describe()} {r.Note}";

    internal async Task<RegistrationResult?> RegisterAsync(GrpcChannel channel, Metadata vendorAuth, List<RegisterDeviceRequest> requests, string label, CancellationToken ct)
    {
        var alarmDevices = requests.Count(r => r.Kind == DeviceKind.AlarmDevice);
        log.WriteLine($"[gateway] {label}: {requests.Count:N0} devices ({requests.Count - alarmDevices:N0} cameras, {alarmDevices:N0} alarm devices) in one stream");
        var registry = new DeviceRegistry.DeviceRegistryClient(channel);
        var before = CpuSnapshot.Take(o.GatewayPid);
        var start = Stopwatch.GetTimestamp();
        try
        {
            using var call = registry.RegisterDevices(vendorAuth, Deadline(o.PhaseLimit.TotalSeconds), ct);
            foreach (var request in requests)
            {
                await call.RequestStream.WriteAsync(request, ct);
            }

            await call.RequestStream.CompleteAsync();
            var response = await call.ResponseAsync;
            var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var cpu = CpuSnapshot.Diff(before, CpuSnapshot.Take(o.GatewayPid));
            var firstError = response.RejectedResults.FirstOrDefault() is { } bad ? $"{bad.DeviceId}: code {bad.Code} {bad.Message}" : null;
            var result = new RegistrationResult(requests.Count, requests.Count - alarmDevices, alarmDevices, response.Accepted, response.Rejected, seconds, firstError, cpu);
            log.WriteLine($"[gateway]   {result.Accepted:N0} accepted, {result.Rejected:N0} rejected in {seconds:F2} s = {result.Rate:N0} devices/s; gateway CPU {cpu?.Describe()} {firstError}");
            return result;
        }
        catch (RpcException e)
        {
            _errors.Add($"RegisterDevices: {e.StatusCode} {e.Status.Detail}");
            log.WriteLine($"[gateway]   RegisterDevices failed: {e.StatusCode} {e.Status.Detail}");
            return null;
        }
    }

    /// <param name="connect">Opens the publisher connections (count, client id prefix); null: all to this gateway's MQTT port
    /// as vendor "bench" with <paramref name="vendorKey"/> (the deployment-shapes bench spreads them over replicas or
    /// sends them to an external broker).</param>
    internal async Task<ThroughputResult> ThroughputAsync(FeedCollector feed, int phase, int connections, int count, string vendorKey, DateTimeOffset occurredAt, CancellationToken ct,
        Func<int, string, Task<List<IMqttClient>>>? connect = null)
    {
        var messages = AlarmMessages.Build(phase, count, o.AlarmDevices, occurredAt);
        var tracked = feed.Track(phase, count);
        var publishers = connect is not null
            ? await connect(connections, $"bench-p{phase}")
            : await AlarmPublisher.ConnectAsync(o.MqttPort, "bench", vendorKey, connections, $"bench-p{phase}", ct, o.TlsCa);
        try
        {
            var gatewayBefore = CpuSnapshot.Take(o.GatewayPid);
            var benchBefore = CpuSnapshot.Take(Environment.ProcessId);
            var machineBefore = CpuSnapshot.SystemBusy();
            var outcome = await AlarmPublisher.RunAsync(publishers, messages, o.Window, null, o.PhaseLimit);
            var complete = await tracked.WaitAsync(outcome.Acked, o.PhaseLimit - Stopwatch.GetElapsedTime(outcome.StartTicks));
            var gatewayCpu = CpuSnapshot.Diff(gatewayBefore, CpuSnapshot.Take(o.GatewayPid));
            var benchCpu = CpuSnapshot.Diff(benchBefore, CpuSnapshot.Take(Environment.ProcessId));
            var machineCpu = CpuSnapshot.SystemPercent(machineBefore, CpuSnapshot.SystemBusy());
            var end = complete ? tracked.LastArrivalTicks : Stopwatch.GetTimestamp();
            string? note = null;
            if (!complete || outcome.TimedOut || outcome.Failed > 0)
            {
                note = $"INCOMPLETE: {tracked.Count:N0}/{count:N0} feed events, {outcome.Acked:N0} PUBACKs within {o.PhaseLimit.TotalSeconds:F0} s" +
                    (outcome.Failed > 0 ? $"; {outcome.Failed:N0} publish failures, first: {outcome.FirstFailure}" : "");
            }

            return new ThroughputResult("gateway", connections, count, outcome.Sent, outcome.Acked, outcome.Failed, tracked.Count,
                BrokerBaseline.Seconds(outcome.StartTicks, outcome.LastAckTicks), BrokerBaseline.Seconds(outcome.StartTicks, end),
                complete && !outcome.TimedOut && outcome.Failed == 0, note, gatewayCpu, benchCpu, machineCpu);
        }
        finally
        {
            await AlarmPublisher.DisconnectAsync(publishers);
        }
    }

    private async Task<LatencyResult> LatencyAsync(FeedCollector feed, int phase, string vendorKey, DateTimeOffset occurredAt, CancellationToken ct)
    {
        var count = o.LatencyAlarms;
        var messages = AlarmMessages.Build(phase, count, o.AlarmDevices, occurredAt);
        var tracked = feed.Track(phase, count);
        var publishers = await AlarmPublisher.ConnectAsync(o.MqttPort, "bench", vendorKey, o.LatencyConnections, $"bench-p{phase}", ct, o.TlsCa);
        try
        {
            var gatewayBefore = CpuSnapshot.Take(o.GatewayPid);
            var machineBefore = CpuSnapshot.SystemBusy();
            var outcome = await AlarmPublisher.RunAsync(publishers, messages, o.Window, o.LatencyRate, o.PhaseLimit);
            var complete = await tracked.WaitAsync(outcome.Acked, o.PhaseLimit - Stopwatch.GetElapsedTime(outcome.StartTicks));
            var gatewayCpu = CpuSnapshot.Diff(gatewayBefore, CpuSnapshot.Take(o.GatewayPid));
            var machineCpu = CpuSnapshot.SystemPercent(machineBefore, CpuSnapshot.SystemBusy());
            var feedMs = MessageTimes.LatenciesMs(outcome.SendTicks, tracked.ArrivalTicks);
            var ackMs = MessageTimes.LatenciesMs(outcome.SendTicks, outcome.AckTicks);
            var achieved = MessageTimes.AchievedRate(outcome.SendTicks);
            string? note = null;
            if (!complete || outcome.TimedOut || outcome.Failed > 0)
            {
                note = $"INCOMPLETE: {tracked.Count:N0}/{count:N0} feed events within {o.PhaseLimit.TotalSeconds:F0} s (percentiles over those that arrived)";
            }

            return new LatencyResult(count, outcome.Sent, tracked.Count, o.LatencyConnections, o.LatencyRate, achieved,
                Percentile(feedMs, 0.50), Percentile(feedMs, 0.99), feedMs.Count > 0 ? feedMs.Max() : double.NaN,
                Percentile(ackMs, 0.50), Percentile(ackMs, 0.99), ackMs.Count > 0 ? ackMs.Max() : double.NaN, note, gatewayCpu, machineCpu)
            {
                P999Ms = Percentile(feedMs, 0.999),
            };
        }
        finally
        {
            await AlarmPublisher.DisconnectAsync(publishers);
        }
    }

    internal static double Percentile(List<double> values, double q)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        values.Sort();
        var rank = (int)Math.Ceiling(q * values.Count) - 1;
        return values[Math.Clamp(rank, 0, values.Count - 1)];
    }

    internal static Metadata Auth(string key) => new() { { "authorization", "Bearer " + key } };

    internal static DateTime Deadline(double seconds) => DateTime.UtcNow.AddSeconds(seconds);
}
