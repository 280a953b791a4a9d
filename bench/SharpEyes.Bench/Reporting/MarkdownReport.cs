using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace SharpEyes.Bench.Reporting;

/// <summary>The Markdown results table: each measurement, its baseline ratio, the issue's target and PASS/SHORT.</summary>
public static class MarkdownReport
{
    /// <summary>Issue 17: end to end at least this fraction of the bare MQTTnet server of the same run...</summary>
    public const double TargetRatioMqttnet = 0.8;

    /// <summary>... and at least this fraction of the bare mosquitto.</summary>
    public const double TargetRatioMosquitto = 0.5;

    public const double TargetP99Ms = 20;
    public const double TargetDevicesPerSecond = 50_000;

    /// <summary>Peak RSS with the devices registered, at most this multiple of the RSS after start with the county loaded.</summary>
    public const double TargetRssGrowth = 1.5;

    /// <param name="full">The same bench against a gateway with <c>--sqlite-synchronous FULL</c> (an fsync per commit), run
    /// just before this one; its end-to-end and latency rows follow the NORMAL ones, against the same baselines.</param>
    public static string Render(BaselineResults? baseline, BaselineResults? mqttnet, GatewayResults gateway, IReadOnlyDictionary<string, string> context,
        GatewayResults? full = null)
    {
        var sb = new StringBuilder();
        void Line(string text = "") => sb.Append(text).Append('\n');

        Line("# SharpEyes gateway benchmark");
        Line();
        Line($"- machine: {Environment.ProcessorCount} CPUs (nproc), {CpuModel()}, {RuntimeInformation.OSDescription}");
        Line($"- runtime: {RuntimeInformation.FrameworkDescription}; baselines: {baseline?.Broker ?? "mosquitto not run"}; {mqttnet?.Broker ?? "bare MQTTnet not run"}; MQTTnet 5 clients, MQTT 5, QoS 1");
        Line($"- payload: {baseline?.PayloadBytes ?? PayloadBytes()} bytes of alarm JSON; gateway: Release `sharpeyes.dll --demo`, SQLite WAL synchronous=NORMAL, out of process, loopback");
        foreach (var (key, value) in context)
        {
            Line($"- {key}: {value}");
        }

        Line();
        Line("| # | measurement | result | baseline (same run) | ratio | target | verdict |");
        Line("|---|---|---|---|---|---|---|");
        foreach (var (b, name) in (baseline?.Runs ?? []).Select(b => (b, "bare mosquitto")).Concat((mqttnet?.Runs ?? []).Select(b => (b, "bare MQTTnet"))))
        {
            Line($"| 1 | {name}, N={b.Connections}: subscriber msgs/s (QoS 1){Incomplete(b)} | {b.DeliveredRate:N0}/s (PUBACKs {b.PubackRate:N0}/s) | — | — | " +
                $"baseline{(name == "bare MQTTnet" ? " (its PUBACK rate)" : "")} | — |");
        }

        foreach (var (g, sync) in gateway.Throughput.Select(g => (g, "")).Concat((full?.Throughput ?? []).Select(g => (g, " (synchronous=FULL)"))))
        {
            var b = baseline?.Runs.FirstOrDefault(r => r.Connections == g.Connections);
            var m = mqttnet?.Runs.FirstOrDefault(r => r.Connections == g.Connections);
            var ratio = b is { DeliveredRate: > 0 } ? g.DeliveredRate / b.DeliveredRate : double.NaN;
            // Against the bare MQTTnet server's PUBACK rate: its intake ceiling (acknowledged at once). Its delivery to the
            // baseline's one subscriber is a fan-out path the gateway never takes (its feed is gRPC), and lags at N=4.
            var ratioNet = m is { PubackRate: > 0 } ? g.DeliveredRate / m.PubackRate : double.NaN;
            var pass = g.Complete && ratio >= TargetRatioMosquitto && ratioNet >= TargetRatioMqttnet;
            Line($"| 2 | gateway end to end{sync}, N={g.Connections}: publish → feed event, alarms/s{Incomplete(g)} | {g.DeliveredRate:N0}/s ({g.Delivered:N0} alarms in {g.DeliverySeconds:F2} s) | " +
                $"MQTTnet {(m is null ? "—" : $"{m.PubackRate:N0}/s PUBACKs")}, mosquitto {Rate(b)} | {Ratio(ratioNet)} MQTTnet, {Ratio(ratio)} mosquitto | ≥ 0.8× MQTTnet and ≥ 0.5× mosquitto | {(pass ? "PASS" : "SHORT")} |");
            var ackRatio = b is { PubackRate: > 0 } ? g.PubackRate / b.PubackRate : double.NaN;
            var ackRatioNet = m is { PubackRate: > 0 } ? g.PubackRate / m.PubackRate : double.NaN;
            Line($"| 2 | gateway PUBACK side{sync}, N={g.Connections}: all PUBACKs (durable) | {g.PubackRate:N0}/s ({g.Acked:N0} in {g.PubackSeconds:F2} s) | " +
                $"PUBACKs: MQTTnet {(m is null ? "—" : $"{m.PubackRate:N0}/s")}, mosquitto {(b is null ? "—" : $"{b.PubackRate:N0}/s")} | {Ratio(ackRatioNet)} MQTTnet, {Ratio(ackRatio)} mosquitto | (informational) | — |");
        }

        if (full?.Latency is { } lf)
        {
            Line($"| 3 | latency publish → feed event (synchronous=FULL) at {lf.TargetRate:N0}/s ({lf.Delivered:N0}/{lf.Planned:N0} alarms, achieved {lf.AchievedRate:N0}/s) | " +
                $"p50 {lf.P50Ms:F1} ms, p99 {lf.P99Ms:F1} ms, p99.9 {lf.P999Ms:F1} ms, max {lf.MaxMs:F1} ms | — | — | (reported) | — |");
        }

        if (gateway.Latency is { } l)
        {
            var pass = l.Note is null && l.Delivered == l.Planned && l.P99Ms <= TargetP99Ms;
            Line($"| 3 | latency publish → feed event at {l.TargetRate:N0}/s ({l.Delivered:N0}/{l.Planned:N0} alarms, {l.Connections} conn., achieved {l.AchievedRate:N0}/s){(l.Note is null ? "" : " ⚠")} | " +
                $"p50 {l.P50Ms:F1} ms, p99 {l.P99Ms:F1} ms, p99.9 {l.P999Ms:F1} ms, max {l.MaxMs:F1} ms | — | — | p99 ≤ 20 ms (GB/T 28181: 2 s) | {(pass ? "PASS" : "SHORT")} |");
            Line($"| 3 | latency publish → PUBACK (same run) | p50 {l.AckP50Ms:F1} ms, p99 {l.AckP99Ms:F1} ms, max {l.AckMaxMs:F1} ms | — | — | (informational) | — |");
        }
        else
        {
            Line("| 3 | latency publish → feed event | not measured | — | — | p99 ≤ 20 ms | SHORT |");
        }

        if (gateway.Registration is { } r)
        {
            var pass = r.Accepted == r.Devices && r.Rate >= TargetDevicesPerSecond;
            Line($"| 4 | bulk registration, one RegisterDevices stream ({r.Cameras:N0} cameras + {r.AlarmDevices:N0} alarm devices) | " +
                $"{r.Rate:N0} devices/s ({r.Accepted:N0}/{r.Devices:N0} accepted in {r.Seconds:F2} s) | — | — | ≥ 50,000/s | {(pass ? "PASS" : "SHORT")} |");
        }
        else
        {
            Line("| 4 | bulk registration | failed | — | — | ≥ 50,000/s | SHORT |");
        }

        var growth = gateway.StartRssKb > 0 ? (double)gateway.PeakRssKb / gateway.StartRssKb : double.NaN;
        Line($"| 5 | gateway peak RSS (VmHWM at end; {gateway.Stats?.Devices ?? 0:N0} devices) | {gateway.PeakRssKb / 1024.0:N0} MiB (VmRSS now {gateway.RssKb / 1024.0:N0} MiB) | " +
            $"after start, county loaded: {gateway.StartRssKb / 1024.0:N0} MiB | {Ratio(growth)} | ≤ 1.5× | {(growth <= TargetRssGrowth ? "PASS" : "SHORT")} |");
        if (gateway.CoverageAgreement is { } agreed)
        {
            Line($"| 6 | the gateway's coverage {agreed.Label}, built batch by batch as the streams committed: every grid's fractions, cameras and shares and every key site's " +
                $"fractions, flags and cameras (`ListGridCoverage`, `ListKeySiteCoverage`) against a full recompute in the bench (`RecomputeAll`; demo cameras in the plan's status, " +
                $"the bench's unknown) | {(agreed.Equal ? "equal" : "differs")}: {agreed.Grids:N0} grids, {agreed.Shares:N0} shares, {agreed.Sites:N0} key sites; " +
                $"{agreed.GridDifferences + agreed.SiteDifferences + agreed.SetDifferences:N0} differences | — | — | equal (issue 17) | {(agreed.Equal ? "PASS" : "FAIL")} |");
        }

        Line();

        Line("## Where the CPU went (100 % = one core; top threads by /proc name#tid)");
        Line();
        Line($"| phase | server process CPU | bench process CPU | whole machine (of {Environment.ProcessorCount * 100} %) |");
        Line("|---|---|---|---|");
        foreach (var (b, name) in (baseline?.Runs ?? []).Select(b => (b, "mosquitto")).Concat((mqttnet?.Runs ?? []).Select(b => (b, "bare MQTTnet"))))
        {
            Line($"| {name} N={b.Connections} | {b.ServerCpu?.Describe() ?? "n/a"} | {b.BenchCpu?.Describe() ?? "n/a"} | {Machine(b.MachineCpuPercent)} |");
        }

        if (gateway.Registration is { } reg)
        {
            Line($"| gateway registration | {reg.ServerCpu?.Describe() ?? "n/a"} | — | — |");
        }

        if (gateway.Latency is { } lat)
        {
            Line($"| gateway latency run | {lat.ServerCpu?.Describe() ?? "n/a"} | — | {Machine(lat.MachineCpuPercent)} |");
        }

        foreach (var g in gateway.Throughput)
        {
            Line($"| gateway N={g.Connections} | {g.ServerCpu?.Describe() ?? "n/a"} | {g.BenchCpu?.Describe() ?? "n/a"} | {Machine(g.MachineCpuPercent)} |");
        }

        Line();
        Line("## Checks");
        Line();
        if (gateway.Stats is { } s)
        {
            Line($"- gateway stats at end: received {s.Received:N0}, accepted {s.Accepted:N0}, duplicates {s.Duplicates:N0}, dead-lettered {s.DeadLettered:N0}, " +
                $"open incidents {s.IncidentsOpen:N0}, devices {s.Devices:N0}, last feed sequence {s.LastSequence:N0}");
        }

        if (gateway.RegistrationWarmup is { } rw)
        {
            Line($"- warm-up registration ({rw.Devices:N0} devices in one stream, not scored): {rw.Rate:N0} devices/s");
        }

        if (gateway.Warmup is { } w)
        {
            Line($"- warm-up ({w.Planned:N0} alarms, N=1, not scored): {w.DeliveredRate:N0} alarms/s end to end{Incomplete(w)}");
        }

        Line($"- feed events received by the centre subscriber: {gateway.FeedEvents:N0}; reconnects {gateway.FeedReconnects}{(gateway.FeedError is null ? "" : "; last stream error: " + gateway.FeedError)}");
        foreach (var note in (baseline?.Runs ?? []).Concat(mqttnet?.Runs ?? []).Concat(gateway.Throughput).Append(gateway.Warmup).Select(x => x?.Note).Append(gateway.Latency?.Note).OfType<string>())
        {
            Line("- ⚠ " + note);
        }

        foreach (var error in gateway.Errors)
        {
            Line("- ⚠ error: " + error);
        }

        return sb.ToString();
    }

    private static string Rate(ThroughputResult? run) => run is null ? "—" : $"{run.DeliveredRate:N0}/s";

    private static string Machine(double? percent) => percent is { } p ? $"{p:F0} %" : "n/a";

    private static string Incomplete(ThroughputResult r) => r.Complete ? "" : " ⚠ INCOMPLETE";

    private static string Ratio(double ratio) => double.IsNaN(ratio) ? "—" : ratio.ToString("0.00", CultureInfo.InvariantCulture) + "×";

    private static int PayloadBytes() => Mqtt.AlarmMessages.Payload(0, 0, "2026-11-22T16:00:00+08:00").Length;

    /// <summary>The CPU model from /proc/cpuinfo.</summary>
    public static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown CPU" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }
}
