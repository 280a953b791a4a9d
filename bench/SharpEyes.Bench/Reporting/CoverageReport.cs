using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace SharpEyes.Bench.Reporting;

/// <summary>The coverage section of the Markdown report: each row's measurement, target and verdict.</summary>
public static class CoverageReport
{
    public static readonly string Begin = ReportSections.Begin("coverage");
    public static readonly string End = ReportSections.End("coverage");

    /// <summary>Issue 17: median full recompute of the synthetic county.</summary>
    public const double TargetRecomputeSeconds = 0.3;

    /// <summary>Issue 17: one camera's change, p99 (in process).</summary>
    public const double TargetChangeP99Ms = 2;

    /// <summary>Issue 17: one change in the densest grid (400+ wedges), p99 (in process).</summary>
    public const double TargetDenseP99Ms = 5;

    /// <summary>End to end, status change → gap event on the feed (issue 10).</summary>
    public const double TargetGapP99Ms = 5;
    public const double TargetPlacementSeconds = 10;

    /// <summary>The baseline and ratio cells of a row: the whole-grid engine of the same run ("—" when not run).</summary>
    private static string Whole<T>(T? baseline, Func<T, string> describe, Func<T, double> ratio)
        where T : class =>
        baseline is null ? "— | —" : $"each grid whole: {describe(baseline)} | {Ratio(ratio(baseline))}";

    public static string Render(CoverageResults r, IReadOnlyDictionary<string, string> context)
    {
        var sb = new StringBuilder();
        void Line(string text = "") => sb.Append(text).Append('\n');
        var c = r.County;

        Line(Begin);
        Line("## Coverage engine");
        Line();
        Line($"- machine: {Environment.ProcessorCount} CPUs (nproc), {RuntimeInformation.OSDescription}; runtime {RuntimeInformation.FrameworkDescription}, " +
            $"bench process {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC (as the gateway)");
        Line($"- synthetic county 130127 (seeded, generated in {c.BuildSeconds:F1} s, not timed): 20 km × 20 km at 37.6° N 114.6° E, jittered lattice of " +
            $"{c.Grids:N0} level-4 grids (400 m × 500 m), {c.Villages} villages, {c.Townships} townships; {c.KeySites:N0} key sites ({c.PointSites:N0} points, " +
            $"{c.KeySites - c.PointSites:N0} rectangles 30–150 m, intersections need 2 cameras); {c.Cameras:N0} cameras (hfov 50–110°, range 30–150 m, " +
            $"{c.Ptz:N0} PTZ, {c.Offline:N0} offline), 55 % aimed at key sites");
        foreach (var (key, value) in context)
        {
            Line($"- {key}: {value}");
        }

        Line();
        Line("| # | measurement | result | baseline (same run) | ratio | target | verdict |");
        Line("|---|---|---|---|---|---|---|");

        if (r.Recompute is { } a)
        {
            var met = a.RunSeconds.Count > 0 && a.MedianSeconds <= TargetRecomputeSeconds;
            Line($"| 1 | full recompute: `CoverageModel.RecomputeAll`, {c.Grids:N0} grids + {c.KeySites:N0} key sites, {c.Cameras:N0} cameras (in process, {a.RunSeconds.Count} runs after {a.WarmupSeconds.Count} warm-ups) | " +
                $"median {a.MedianSeconds:F2} s, max {a.MaxSeconds:F2} s (runs {string.Join(", ", a.RunSeconds.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))} s; warm-ups {string.Join(", ", a.WarmupSeconds.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))} s; " +
                $"per run {a.AllocatedMibPerRun:N0} MiB allocated, {a.Gen0PerRun:F0} GCs, {a.GcPauseMsPerRun:F0} ms GC pause) | " +
                $"{Whole(r.WholeRecompute, w => $"median {w.MedianSeconds:F2} s", w => a.MedianSeconds / w.MedianSeconds)} | median ≤ 0.3 s | {Verdict(met)} |");
            Line($"| 1 | bench process peak RSS after row 1 (VmHWM) | {Mib(a.PeakRssKb)} (VmRSS {Mib(a.RssKb)}, managed heap {a.ManagedHeapBytes / 1048576.0:N0} MiB) | — | — | (informational) | — |");
            Line($"| 1 | model build (not in the target): RegionIndex {a.IndexSeconds:F2} s, CoverageModel ctor {a.ModelSeconds:F2} s, {c.Cameras:N0} × Upsert {a.UpsertSeconds:F2} s | " +
                $"real area coverage {a.RealAreaFraction:P1}, {a.GridGaps:N0} grid gaps, {a.SitesCoveredReal:N0}/{c.KeySites:N0} key sites covered (real) | — | — | (informational) | — |");
            Line($"| 1 | the engine's part of a bulk registration: {c.Cameras:N0} cameras in batches of 2,000 (each: Upserts + one `Recompute`, as a RegisterDevices stream commits) | " +
                $"{a.BatchedBuildSeconds:F2} s ({(a.BatchedBuildSeconds > 0 ? c.Cameras / a.BatchedBuildSeconds : 0):N0} cameras/s) | — | — | (informational) | — |");
        }
        else
        {
            Line("| 1 | full recompute | not measured | — | — | median ≤ 0.3 s | not met |");
        }

        if (r.Incremental is { } inc)
        {
            var met = inc.Changes > 0 && inc.P99Ms <= TargetChangeP99Ms;
            Line($"| 2 | incremental: one camera's Online toggled (`Upsert`) + `Recompute`, {inc.Changes:N0} random cameras (in process){Warn(inc.Note)} | " +
                $"p50 {inc.P50Ms:F3} ms, p99 {inc.P99Ms:F3} ms, max {inc.MaxMs:F2} ms (Upsert p50 {inc.UpsertP50Ms:F3} ms, Recompute p50 {inc.RecomputeP50Ms:F3} ms; " +
                $"{inc.MeanGrids:F1} grids + {inc.MeanSites:F1} sites recomputed per change, {inc.GapTransitions:N0} gap transitions) | " +
                $"{Whole(r.WholeIncremental, w => $"p50 {w.P50Ms:F3} ms, p99 {w.P99Ms:F3} ms", w => inc.P99Ms / w.P99Ms)} | p99 ≤ 2 ms | {Verdict(met)} |");
        }
        else
        {
            Line("| 2 | incremental | not measured | — | — | p99 ≤ 2 ms | not met |");
        }

        if (r.DenseGrid is { } dense)
        {
            var met = dense.Changes > 0 && dense.P99Ms <= TargetDenseP99Ms;
            Line($"| 2b | the densest grid: {dense.WedgesInGrid:N0} camera wedges in grid {dense.GridCode} (420 added, hfov 40–120°, range 30–80 m); one of them toggled + `Recompute`, " +
                $"{dense.Changes:N0} changes (in process){Warn(dense.Note)} | p50 {dense.P50Ms:F3} ms, p99 {dense.P99Ms:F3} ms, max {dense.MaxMs:F2} ms | " +
                $"{Whole(r.WholeDenseGrid, w => $"p50 {w.P50Ms:F3} ms, p99 {w.P99Ms:F3} ms", w => dense.P99Ms / w.P99Ms)} | p99 ≤ 5 ms | {Verdict(met)} |");
        }
        else
        {
            Line("| 2b | the densest grid | not measured | — | — | p99 ≤ 5 ms | not met |");
        }

        if (r.Gateway is { } g)
        {
            var ratio = g.AlarmOnline.P99Ms > 0 ? g.GapClosed.P99Ms / g.AlarmOnline.P99Ms : double.NaN;
            var ratio50 = g.AlarmOnline.P50Ms > 0 ? g.GapClosed.P50Ms / g.AlarmOnline.P50Ms : double.NaN;
            var met = g.GapClosed.Samples > 0 && g.GapClosed.Samples == g.Cycles && g.GapClosed.P99Ms <= TargetGapP99Ms;
            Line($"| 3 | end to end, gateway out of process: `Heartbeat`(camera, unknown → online) → `COVERAGE_GAP_CLOSED` of the point key site only it sees, on a centre's feed " +
                $"({g.Cycles:N0} cycles over {g.Probes} probe cameras after {g.WarmupCycles} warm-up; the status changes are register/deregister + Heartbeat, since offline needs 3 missed keepalives = 3 min) | " +
                $"{g.GapClosed.Describe()} | alarm device `Heartbeat` → `DEVICE_ONLINE`: {g.AlarmOnline.Describe()} | {Ratio(ratio50)} (p50), {Ratio(ratio)} (p99) | p99 ≤ 5 ms | {Verdict(met)} |");
            Line($"| 3 | same run: the probe camera's own `DEVICE_ONLINE` (same transaction as the gap event) | {g.CameraOnline.Describe()} | — | — | (informational) | — |");
            Line($"| 3 | same run: `DeregisterDevice`(camera) → `COVERAGE_GAP_OPENED` | {g.GapOpened.Describe()} | — | — | (informational) | — |");
            Line($"| 3 | same run: camera `Heartbeat` RPC round trip (journal commit) | {g.HeartbeatRpc.Describe()} | — | — | (informational) | — |");
        }
        else
        {
            Line($"| 3 | end to end status change → gap event | not measured{(r.GatewaySkipped is null ? "" : ": " + r.GatewaySkipped)} | — | — | p99 ≤ 5 ms | not met |");
        }

        if (r.Placement is { } p)
        {
            var met = p.Suggestions > 0 && p.Seconds <= TargetPlacementSeconds;
            Line($"| 4 | placement of {p.Count} cameras (hfov {p.HfovDeg:F0}°, range {p.RangeM:F0} m) over the whole county, the gateway's `PlacementPlanner` assembly (in process, after a warm-up on one township) | " +
                $"{p.Seconds:F2} s (demand {p.DemandSeconds:F2} s, candidates {p.CandidateSeconds:F2} s, greedy {p.GreedySeconds:F2} s; {p.DemandPoints:N0} demand points, {p.Candidates:N0} candidates; " +
                $"uncovered weight {p.UncoveredBefore:N0} → {p.UncoveredAfter:N0}) | — | — | ≤ 10 s | {Verdict(met)} |");
            Line($"| 4 | bench process peak RSS during placement (VmHWM{(p.PeakIsolated ? " reset before it" : ", cumulative: could not reset")}) | {Mib(p.PeakRssKb)} " +
                $"(VmRSS before: {Mib(p.RssBeforeKb)}, i.e. +{Mib(Math.Max(0, p.PeakRssKb - p.RssBeforeKb))}) | — | — | (informational) | — |");
        }
        else
        {
            Line("| 4 | placement | not measured | — | — | ≤ 10 s | not met |");
        }

        if (r.Gateway is { } gw)
        {
            Line($"| 5 | gateway RSS with the synthetic county loaded ({gw.Registered:N0} devices: {c.Cameras:N0} county cameras + {gw.Probes} probe cameras + {gw.Probes} alarm devices; " +
                $"{c.Grids + c.Villages + c.Townships + 1:N0} regions, {c.KeySites + gw.Probes:N0} key sites) | VmRSS {Mib(gw.RssAfterLoadKb)}, peak (VmHWM) {Mib(gw.PeakRssAfterLoadKb)} after loading; " +
                $"peak {Mib(gw.PeakRssEndKb)}, VmRSS {Mib(gw.RssEndKb)} at the end of row 3 | empty gateway at start: VmRSS {Mib(gw.RssStartKb)} | — | (informational) | — |");
            Line($"| 5 | loading it (not in a target): ImportGrids {gw.ImportGridsSeconds:F2} s, ImportKeySites {gw.ImportSitesSeconds:F2} s, one RegisterDevices stream {gw.RegisterSeconds:F2} s " +
                $"({(gw.RegisterSeconds > 0 ? gw.Registered / gw.RegisterSeconds : 0):N0} devices/s), Heartbeat of {gw.HeartbeatDevices:N0} cameras (unknown → online) {gw.HeartbeatSeconds:F2} s | — | — | — | (informational) | — |");
            foreach (var agreed in gw.Agreement)
            {
                Line($"| 5 | the gateway's coverage {agreed.Label}: every grid's fractions, cameras and shares and every key site's fractions, flags and cameras " +
                    $"(`ListGridCoverage`, `ListKeySiteCoverage`) against a full recompute (`RecomputeAll` of a fresh model in the bench) | " +
                    $"{(agreed.Equal ? "equal" : "differs")}: {agreed.Grids:N0} grids, {agreed.Shares:N0} shares, {agreed.Sites:N0} key sites; {agreed.GridDifferences + agreed.SiteDifferences + agreed.SetDifferences:N0} differences " +
                    $"(settled after {agreed.Seconds:F1} s) | — | — | equal (issue 17) | {(agreed.Equal ? "met" : "NOT MET")} |");
            }
        }
        else
        {
            Line($"| 5 | gateway RSS with the county's cameras | not measured{(r.GatewaySkipped is null ? "" : ": " + r.GatewaySkipped)} | — | — | (informational) | — |");
        }

        Line();
        Line($"Where the CPU went (100 % = one core; whole machine of {Environment.ProcessorCount * 100} %; the machine is shared, so \"others\" ≈ machine − bench − gateway):");
        Line();
        Line("| phase | bench process CPU | gateway CPU | whole machine |");
        Line("|---|---|---|---|");
        Line($"| row 1 RecomputeAll runs | {r.Recompute?.Cpu?.Describe() ?? "n/a"} | (empty, idle) | {Machine(r.Recompute?.MachineCpuPercent)} |");
        Line($"| row 2 incremental changes | {r.Incremental?.Cpu?.Describe() ?? "n/a"} | (empty, idle) | {Machine(r.Incremental?.MachineCpuPercent)} |");
        Line($"| row 3 measured cycles | {r.Gateway?.LoopBenchCpu?.Describe() ?? "n/a"} | {r.Gateway?.LoopCpu?.Describe() ?? "n/a"} | {Machine(r.Gateway?.LoopMachineCpuPercent)} |");
        Line($"| row 4 placement | {r.Placement?.Cpu?.Describe() ?? "n/a"} | (empty, idle) | {Machine(r.Placement?.MachineCpuPercent)} |");

        var notes = r.Errors.Concat(r.Gateway?.Errors ?? []).ToList();
        if (notes.Count > 0)
        {
            Line();
            foreach (var note in notes)
            {
                Line("- ⚠ " + note);
            }
        }

        Line(End);
        return sb.ToString();
    }

    private static string Machine(double? percent) => percent is { } p ? $"{p:F0} %" : "n/a";

    private static string Verdict(bool met) => met ? "met" : "not met";

    private static string Warn(string? note) => note is null ? "" : " ⚠ " + note;

    private static string Mib(long kb) => $"{kb / 1024.0:N0} MiB";

    private static string Ratio(double ratio) => double.IsNaN(ratio) ? "—" : ratio.ToString("0.00", CultureInfo.InvariantCulture) + "×";
}
