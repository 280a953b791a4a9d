using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SharpEyes.Bench.Mqtt;
using SharpEyes.Bench.Reporting;
using SharpEyes.V1;

namespace SharpEyes.Bench.Gateway;

/// <summary>One soak interval: the gateway's RSS at its end and what that interval's alarms did.</summary>
public sealed record SoakSample(double Seconds, long RssKb, int Sent, int Acked, double AckP99Ms, double AchievedRate);

public sealed record SoakResults(
    int Devices,
    double Rate,
    int Connections,
    double Minutes,
    long StartRssKb,
    long RegisteredRssKb,
    List<SoakSample> Samples,
    int Planned,
    int Acked,
    int Delivered,
    double FeedP50Ms,
    double FeedP99Ms,
    double FeedP999Ms,
    long PeakRssKb,
    double? RegistrationRate,
    List<string> Errors);

/// <summary>
/// The soak (issue 17): a running gateway (--demo) gets the bench's 50,000 devices, then alarms at a paced rate
/// (2,000/s over 2 connections) for --soak-minutes, in intervals of --soak-interval-s (10 s); after each interval the
/// gateway's RSS is sampled and printed with that interval's PUBACK p99 (after a 5 s warm-up at the rate, not scored). Every alarm's feed event is awaited at the end
/// (publish → feed percentiles over the whole soak). The verdict compares the last minute's mean RSS with the first
/// minute's after registration: "no growth" is within 5 %, and the slope over the second half is printed too.
/// </summary>
internal static class SoakCommand
{
    public const string Section = "soak";
    private const int Phase = 9; // event ids b9-NNNNNNN (the warm-up b8-): the alarm bench's phases are 0-3

    public static async Task<int> RunAsync(Options options, CancellationToken ct)
    {
        var minutes = double.Parse(options.Get("soak-minutes", "10"), CultureInfo.InvariantCulture);
        var rate = options.Int("soak-rate", 2_000);
        var intervalSeconds = options.Int("soak-interval-s", 10);
        var connections = options.Int("soak-connections", 2);
        var pid = options.Int("gateway-pid", 0);
        var o = new GatewayBenchOptions(options.Int("grpc-port", 0), options.Int("mqtt-port", 0), options.Int("http-port", 0), pid,
            options.Get("admin-key", ""), options.Int("devices", 50_000), options.Int("alarm-every", 5), options.Int("alarm-devices", 1_000),
            0, 0, [], options.Int("window", 500), rate, 0, connections, TimeSpan.FromSeconds(intervalSeconds * 3 + 30));
        var log = Console.Error;
        var bench = new GatewayBench(o, log);
        var errors = new List<string>();

        using var channel = BenchTls.Channel(o.GrpcPort, null, 64 * 1024 * 1024, 64 * 1024 * 1024);
        using var feedChannel = BenchTls.Channel(o.GrpcPort, null, 64 * 1024 * 1024);
        var admin = new Admin.AdminClient(channel);
        var adminAuth = GatewayBench.Auth(o.AdminKey);
        var (_, startRss) = CpuSnapshot.Memory(pid);
        var vendorKey = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Vendor, VendorId = "bench" }, adminAuth, GatewayBench.Deadline(10), ct)).ApiKey;
        var centreKey = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Centre }, adminAuth, GatewayBench.Deadline(10), ct)).ApiKey;
        var registration = await bench.RegisterAsync(channel, GatewayBench.Auth(vendorKey), DeviceFixtures.Build(o.Devices, o.AlarmEvery), "soak registration", ct);
        if (registration is null || registration.Accepted < registration.Devices)
        {
            errors.Add($"registration: {registration?.Accepted ?? 0:N0}/{o.Devices:N0} accepted");
        }

        var (_, registeredRss) = CpuSnapshot.Memory(pid);
        var perInterval = rate * intervalSeconds;
        var intervals = (int)Math.Ceiling(minutes * 60 / intervalSeconds);
        var planned = perInterval * intervals;
        var stats = await admin.GetStatsAsync(new GetStatsRequest(), adminAuth, GatewayBench.Deadline(10), ct);
        await using var feed = new FeedCollector(feedChannel, GatewayBench.Auth(centreKey));
        feed.Start(stats.LastSequence);
        var tracked = feed.Track(Phase, planned);
        var publishers = await AlarmPublisher.ConnectAsync(o.MqttPort, "bench", vendorKey, connections, "bench-soak", ct);
        // Warm-up (JIT, caches, the first incidents; not scored): 5 s at the rate, its own event ids (phase 8).
        var warmup = feed.Track(Phase - 1, rate * 5);
        var warm = await AlarmPublisher.RunAsync(publishers, AlarmMessages.Build(Phase - 1, rate * 5, o.AlarmDevices, DateTimeOffset.UtcNow), o.Window, rate, o.PhaseLimit);
        await warmup.WaitAsync(warm.Acked, TimeSpan.FromSeconds(60));
        log.WriteLine($"[soak] warm-up: {warm.Acked:N0} alarms acknowledged, {warmup.Count:N0} on the feed; RSS {CpuSnapshot.Memory(pid).CurrentKb / 1024.0:F0} MiB");
        var samples = new List<SoakSample>(intervals);
        var sendTicks = new long[planned];
        var acked = 0;
        var soakStart = Stopwatch.GetTimestamp();
        log.WriteLine($"[soak] {intervals} intervals of {perInterval:N0} alarms at {rate:N0}/s over {connections} connections; RSS after start {startRss / 1024.0:F0} MiB, after registration {registeredRss / 1024.0:F0} MiB");
        try
        {
            for (var k = 0; k < intervals && !ct.IsCancellationRequested; k++)
            {
                var first = k * perInterval;
                var messages = AlarmMessages.Build(Phase, perInterval, o.AlarmDevices, DateTimeOffset.UtcNow, first);
                var outcome = await AlarmPublisher.RunAsync(publishers, messages, o.Window, rate, o.PhaseLimit);
                Array.Copy(outcome.SendTicks, 0, sendTicks, first, perInterval);
                acked += outcome.Acked;
                var (_, rss) = CpuSnapshot.Memory(pid);
                var achieved = MessageTimes.AchievedRate(outcome.SendTicks);
                var ackP99 = GatewayBench.Percentile(MessageTimes.LatenciesMs(outcome.SendTicks, outcome.AckTicks), 0.99);
                var sample = new SoakSample(Stopwatch.GetElapsedTime(soakStart).TotalSeconds, rss, outcome.Sent, outcome.Acked, ackP99, achieved);
                samples.Add(sample);
                log.WriteLine($"[soak] {sample.Seconds,6:F0} s  RSS {rss / 1024.0,7:F1} MiB  {outcome.Acked:N0}/{perInterval:N0} acknowledged at {achieved:N0}/s, PUBACK p99 {sample.AckP99Ms:F1} ms");
                if (outcome.Failed > 0 || outcome.TimedOut)
                {
                    errors.Add($"interval {k}: {outcome.Failed:N0} failed, timed out {outcome.TimedOut}; first: {outcome.FirstFailure}");
                    break;
                }
            }
        }
        finally
        {
            await AlarmPublisher.DisconnectAsync(publishers);
        }

        var complete = await tracked.WaitAsync(acked, TimeSpan.FromSeconds(120));
        if (!complete && tracked.Count < acked)
        {
            errors.Add($"feed: {tracked.Count:N0} of {acked:N0} acknowledged alarms arrived within 120 s after the soak");
        }

        var feedMs = MessageTimes.LatenciesMs(sendTicks, tracked.ArrivalTicks);

        var (peak, _) = CpuSnapshot.Memory(pid);
        var results = new SoakResults(o.Devices, rate, connections, minutes, startRss, registeredRss, samples, planned, acked, tracked.Count,
            GatewayBench.Percentile(feedMs, 0.50), GatewayBench.Percentile(feedMs, 0.99), GatewayBench.Percentile(feedMs, 0.999), peak, registration?.Rate, errors);
        if (options.Get("json", "") is { Length: > 0 } json)
        {
            await File.WriteAllTextAsync(json, JsonSerializer.Serialize(results, Options.Json), ct);
        }

        var section = Render(results, intervalSeconds);
        ReportSections.Merge(options.Get("out", "latest.md"), Section, section);
        Console.Out.Write(section);
        return errors.Count == 0 ? 0 : 1;
    }

    /// <summary>Mean RSS (KiB) of the samples whose end falls in [from, to) seconds.</summary>
    private static double MeanRss(IEnumerable<SoakSample> samples, double from, double to) =>
        samples.Where(s => s.Seconds >= from && s.Seconds < to).Select(s => (double)s.RssKb).DefaultIfEmpty(double.NaN).Average();

    /// <summary>Least-squares slope of RSS over time, MiB per minute.</summary>
    private static double SlopeMiBPerMinute(IReadOnlyList<SoakSample> samples)
    {
        if (samples.Count < 2)
        {
            return double.NaN;
        }

        var mx = samples.Average(s => s.Seconds);
        var my = samples.Average(s => s.RssKb / 1024.0);
        var num = samples.Sum(s => (s.Seconds - mx) * ((s.RssKb / 1024.0) - my));
        var den = samples.Sum(s => (s.Seconds - mx) * (s.Seconds - mx));
        return den > 0 ? num / den * 60 : double.NaN;
    }

    internal static string Render(SoakResults r, int intervalSeconds)
    {
        var sb = new StringBuilder();
        void Line(string s) => sb.Append(s).Append('\n');
        var end = r.Samples.Count > 0 ? r.Samples[^1].Seconds : 0;
        var firstMinute = MeanRss(r.Samples, 0, 60);
        var lastMinute = MeanRss(r.Samples, end - 60 + 0.001, end + 1);
        var growth = lastMinute / firstMinute;
        var secondHalf = r.Samples.Where(s => s.Seconds >= end / 2).ToList();
        var slope = SlopeMiBPerMinute(secondHalf);
        var met = r.Errors.Count == 0 && growth <= 1.05;
        Line(ReportSections.Begin(Section));
        Line("## Soak: RSS under a steady alarm load");
        Line("");
        Line($"`bash bench/run.sh soak`: a gateway `--demo`, {r.Devices:N0} devices registered ({(r.RegistrationRate is { } reg ? $"{reg:N0} devices/s" : "failed")}), " +
            $"then {r.Planned:N0} QoS 1 alarms paced at {r.Rate:N0}/s over {r.Connections} connections for {r.Minutes:0.#} min; the gateway's RSS " +
            $"(`VmRSS`) sampled at the end of every {intervalSeconds} s interval. RSS after start {r.StartRssKb / 1024.0:F0} MiB, after registration " +
            $"{r.RegisteredRssKb / 1024.0:F0} MiB, peak (`VmHWM`) {r.PeakRssKb / 1024.0:F0} MiB.");
        Line("");
        Line("| target | measured | verdict |");
        Line("|---|---|---|");
        Line($"| no RSS growth across the soak (last minute's mean within 5 % of the first minute's) | first minute {firstMinute / 1024:F0} MiB, last minute {lastMinute / 1024:F0} MiB: {growth:F2}×; slope over the second half {slope:+0.0;-0.0} MiB/min | {(met ? "met" : "SHORT")} |");
        Line($"| every acknowledged alarm on the feed | {r.Delivered:N0} of {r.Acked:N0} acknowledged ({r.Planned:N0} planned) | {(r.Delivered >= r.Acked && r.Acked == r.Planned ? "met" : "SHORT")} |");
        Line($"| publish → feed over the soak | p50 {r.FeedP50Ms:F1} ms, p99 {r.FeedP99Ms:F1} ms, p99.9 {r.FeedP999Ms:F1} ms | {(r.FeedP99Ms <= 20 ? "met (p99 ≤ 20 ms)" : "SHORT (p99 ≤ 20 ms)")} |");
        Line("");
        Line("RSS at the end of each interval (MiB), with the interval's achieved rate and PUBACK p99:");
        Line("");
        Line("| s | RSS MiB | alarms/s | PUBACK p99 ms |");
        Line("|---|---|---|---|");
        foreach (var s in r.Samples)
        {
            Line($"| {s.Seconds:F0} | {s.RssKb / 1024.0:F1} | {s.AchievedRate:N0} | {s.AckP99Ms:F1} |");
        }

        if (r.Errors.Count > 0)
        {
            Line("");
            Line("Errors: " + string.Join("; ", r.Errors));
        }

        Line(ReportSections.End(Section));
        return sb.ToString();
    }
}
