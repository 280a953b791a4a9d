using System.Globalization;
using System.Text;

namespace SharpEyes.Bench.Reporting;

/// <summary>
/// The "tls" section of bench/results/latest.md: the same gateway benchmark against a plain-text gateway
/// (--insecure-listeners) and a TLS one (dev CA certificates), paired round by round in one run; each row gives both
/// figures per round, the TLS/plain ratio per round and the range of the ratios.
/// </summary>
public static class TlsReport
{
    public const string Section = "tls";

    public static string Render(IReadOnlyList<(GatewayResults Plain, GatewayResults Tls)> rounds, IReadOnlyDictionary<string, string> context)
    {
        var sb = new StringBuilder();
        void Line(string text = "") => sb.Append(text).Append('\n');
        Line(ReportSections.Begin(Section));
        Line("## TLS: what encryption costs");
        Line();
        Line($"- {rounds.Count} round(s); in each, a fresh plain-text gateway (`--insecure-listeners`) and a fresh TLS gateway " +
            "(`SharpEyes:Tls` with a `scripts/dev-ca.sh` EC P-256 certificate; the bench's gRPC and MQTT clients trust that CA only), " +
            "alternating which goes first; same devices, alarms and clients");
        foreach (var (key, value) in context)
        {
            Line($"- {key}: {value}");
        }

        Line();
        Line("| measurement | plain text, per round | TLS, per round | TLS / plain per round | range |");
        Line("|---|---|---|---|---|");
        Row("bulk registration, devices/s (one gRPC stream)", r => r.Registration?.Rate, "N0", higherIsBetter: true);
        var connections = rounds.SelectMany(r => r.Plain.Throughput.Select(t => t.Connections)).Distinct().Order().ToList();
        foreach (var n in connections)
        {
            Row($"alarm intake, N={n}: PUBACKs/s (durable)", r => r.Throughput.FirstOrDefault(t => t.Connections == n)?.PubackRate, "N0", true);
            Row($"alarm intake, N={n}: feed events/s (end to end)", r => r.Throughput.FirstOrDefault(t => t.Connections == n)?.DeliveredRate, "N0", true);
        }

        var rate = rounds.FirstOrDefault().Plain?.Latency?.TargetRate ?? 0;
        Row($"latency at {rate:N0}/s paced: publish → feed p50, ms", r => r.Latency?.P50Ms, "F1", false);
        Row($"latency at {rate:N0}/s paced: publish → feed p99, ms", r => r.Latency?.P99Ms, "F1", false);
        Row("gateway peak RSS, MiB", r => r.PeakRssKb > 0 ? r.PeakRssKb / 1024.0 : null, "N0", false);
        var errors = rounds.SelectMany((r, i) => r.Plain.Errors.Select(e => $"round {i + 1} plain: {e}").Concat(r.Tls.Errors.Select(e => $"round {i + 1} TLS: {e}"))).ToList();
        Line();
        Line(errors.Count == 0 ? "Every phase completed." : "Errors: " + string.Join("; ", errors));
        Line(ReportSections.End(Section));
        return sb.ToString();

        void Row(string label, Func<GatewayResults, double?> pick, string format, bool higherIsBetter)
        {
            string Fmt(double? v) => v is { } x && !double.IsNaN(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "—";
            var plain = rounds.Select(r => pick(r.Plain)).ToList();
            var tls = rounds.Select(r => pick(r.Tls)).ToList();
            var ratios = plain.Zip(tls, (p, t) => p is > 0 && t is { } tv && !double.IsNaN(tv) ? tv / p : (double?)null).ToList();
            var known = ratios.Where(x => x is not null).Select(x => x!.Value).ToList();
            var range = known.Count == 0 ? "—" : $"{known.Min():F2}–{known.Max():F2}x" + (higherIsBetter ? "" : " (lower is better)");
            Line($"| {label} | {string.Join(" / ", plain.Select(Fmt))} | {string.Join(" / ", tls.Select(Fmt))} | " +
                $"{string.Join(" / ", ratios.Select(x => x is { } r ? r.ToString("F2", CultureInfo.InvariantCulture) : "—"))} | {range} |");
        }
    }
}
