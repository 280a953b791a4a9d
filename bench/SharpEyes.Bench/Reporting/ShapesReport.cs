using System.Globalization;
using System.Text;
using SharpEyes.Bench.Shapes;

namespace SharpEyes.Bench.Reporting;

/// <summary>
/// The "shapes" section (bench/results/latest.md and docs/benchmarks.md "Deployment shapes"): per deployment shape,
/// bulk registration devices/s and end-to-end alarms/s with 1 and N connections, each as the rounds' values and their
/// range, and the ratio to embedded SQLite of the same round (the baseline), as a range over the rounds.
/// </summary>
public static class ShapesReport
{
    public const string Section = "shapes";

    /// <summary>Shapes in the order the table lists them; the first is the baseline of the ratios.</summary>
    public static readonly IReadOnlyList<(string Key, string Label)> Shapes =
    [
        ("sqlite", "embedded SQLite, one gateway"),
        ("postgres", "PostgreSQL, one gateway"),
        ("replicas", "PostgreSQL, two replicas (alarms to both)"),
        ("external", "external broker (mosquitto), one gateway"),
        ("external-replicas", "external broker (mosquitto), two replicas"),
    ];

    public static string Render(IReadOnlyList<ShapeResult> results, IReadOnlyList<(string Key, string Value)> context)
    {
        var sb = new StringBuilder();
        void Line(string text = "") => sb.Append(text).Append('\n');
        var rounds = results.Select(r => r.Round).Distinct().Order().ToList();
        var connections = results.SelectMany(r => r.Throughput.Select(t => t.Connections)).Distinct().Order().ToList();
        Line(ReportSections.Begin(Section));
        Line("## Deployment shapes");
        Line();
        Line($"`bash bench/run.sh shapes`: {rounds.Count} round(s); in each, every shape runs on fresh processes (a new data " +
            "directory, a new PostgreSQL cluster, a new mosquitto). Devices/s: one bulk registration stream (after a warm-up " +
            "stream). Alarms/s: QoS 1 alarms as fast as possible, end to end (first publish to the last alarm's incident event " +
            "on a centre's feed), after a warm-up. Each cell gives the rounds' values, then the range; the ratio compares each " +
            "round with the SQLite run of the same round.");
        Line();
        foreach (var (key, value) in context)
        {
            Line($"- {key}: {value}");
        }

        Line();
        var header = "| shape | devices/s |" + string.Concat(connections.Select(n => $" alarms/s N={n} |")) + " ratio to SQLite (devices; " +
            string.Join("; ", connections.Select(n => $"N={n}")) + ") |";
        Line(header);
        Line("|---|---|" + string.Concat(connections.Select(_ => "---|")) + "---|");
        var baseline = results.Where(r => r.Shape == Shapes[0].Key).ToDictionary(r => r.Round);
        foreach (var (key, label) in Shapes)
        {
            var runs = results.Where(r => r.Shape == key).OrderBy(r => r.Round).ToList();
            if (runs.Count == 0)
            {
                continue;
            }

            var metrics = new List<Func<ShapeResult, double?>> { r => r.Registration?.Rate };
            metrics.AddRange(connections.Select(n => (Func<ShapeResult, double?>)(r =>
                r.Throughput.FirstOrDefault(t => t.Connections == n) is { Complete: true } t ? t.DeliveredRate : null)));
            var cells = metrics.Select(m => Values(runs.Select(m).ToList()));
            var ratios = key == Shapes[0].Key
                ? "1 (baseline)"
                : string.Join("; ", metrics.Select(m => Range(runs
                    .Select(r => baseline.TryGetValue(r.Round, out var b) && m(b) is > 0 and var bv && m(r) is { } v ? v / bv : (double?)null)
                    .ToList(), "F2", "×")));
            Line($"| {label} | {string.Join(" | ", cells)} | {ratios} |");
        }

        Line();
        Line("Load average (1, 5, 15 min) before and after each shape's alarm runs: " +
            string.Join("; ", results.OrderBy(r => r.Round).Select(r => $"round {r.Round} {r.Shape} {r.LoadBefore} → {r.LoadAfter}")) + ".");
        var errors = results.SelectMany(r => r.Errors.Select(e => $"round {r.Round} {r.Shape}: {e}")).ToList();
        Line();
        Line(errors.Count == 0 ? "Every phase completed." : "Errors (a failed run's figure is left out as —): " + string.Join("; ", errors));
        Line(ReportSections.End(Section));
        return sb.ToString();
    }

    private static string Values(IReadOnlyList<double?> values) =>
        string.Join(" / ", values.Select(v => v is { } x && !double.IsNaN(x) ? x.ToString("N0", CultureInfo.InvariantCulture) : "—")) +
        (values.Count > 1 ? $" ({Range(values, "N0", "")})" : "");

    private static string Range(IReadOnlyList<double?> values, string format, string unit)
    {
        var known = values.Where(v => v is { } x && !double.IsNaN(x)).Select(v => v!.Value).ToList();
        if (known.Count == 0)
        {
            return "—";
        }

        var (min, max) = (known.Min().ToString(format, CultureInfo.InvariantCulture), known.Max().ToString(format, CultureInfo.InvariantCulture));
        return min == max ? min + unit : $"{min}–{max}{unit}";
    }
}
