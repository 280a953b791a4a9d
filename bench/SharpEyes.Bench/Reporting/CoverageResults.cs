namespace SharpEyes.Bench.Reporting;

/// <summary>The synthetic county the coverage rows run on.</summary>
public sealed record CountyShape(
    int Grids,
    int Villages,
    int Townships,
    int KeySites,
    int PointSites,
    int Cameras,
    int Ptz,
    int Offline,
    int Probes,
    double BuildSeconds);

/// <summary>Row 1: CoverageModel.RecomputeAll over the synthetic county.</summary>
public sealed record RecomputeAllResult(
    double IndexSeconds,
    double ModelSeconds,
    double UpsertSeconds,
    IReadOnlyList<double> WarmupSeconds,
    IReadOnlyList<double> RunSeconds,
    long PeakRssKb,
    long RssKb,
    long ManagedHeapBytes,
    int GridGaps,
    int SitesCoveredReal,
    double RealAreaFraction,
    CpuUsage? Cpu,
    double AllocatedMibPerRun,
    double Gen0PerRun,
    double GcPauseMsPerRun,
    double BatchedBuildSeconds,
    double? MachineCpuPercent)
{
    public double MedianSeconds => Stats.Median(RunSeconds);

    public double MaxSeconds => RunSeconds.Count > 0 ? RunSeconds.Max() : double.NaN;
}

/// <summary>Row 2: one camera's Online toggled (Upsert) then Recompute, in process.</summary>
public sealed record IncrementalResult(
    int Changes,
    double P50Ms,
    double P99Ms,
    double MaxMs,
    double UpsertP50Ms,
    double RecomputeP50Ms,
    double MeanGrids,
    double MeanSites,
    int GapTransitions,
    string? Note,
    CpuUsage? Cpu,
    double? MachineCpuPercent)
{
    /// <summary>Row 2b: the dense grid's code and how many camera wedges it holds (null and 0 for row 2).</summary>
    public string? GridCode { get; init; }

    public int WedgesInGrid { get; init; }
}

/// <summary>Row 4: the gateway's placement assembly (demand + candidates + greedy) over the whole county.</summary>
public sealed record PlacementBenchResult(
    int Count,
    double HfovDeg,
    double RangeM,
    double WarmupSeconds,
    double Seconds,
    double DemandSeconds,
    double CandidateSeconds,
    double GreedySeconds,
    int DemandPoints,
    int Candidates,
    int Suggestions,
    double UncoveredBefore,
    double UncoveredAfter,
    long PeakRssKb,
    long RssBeforeKb,
    bool PeakIsolated,
    string? Note,
    CpuUsage? Cpu,
    double? MachineCpuPercent);

/// <summary>Rows 3 and 5: the out-of-process gateway.</summary>
public sealed record GatewayCoverageResult(
    int Probes,
    int Cycles,
    int WarmupCycles,
    Latency GapClosed,
    Latency CameraOnline,
    Latency AlarmOnline,
    Latency GapOpened,
    Latency HeartbeatRpc,
    double ImportGridsSeconds,
    double ImportSitesSeconds,
    double RegisterSeconds,
    int Registered,
    double HeartbeatSeconds,
    int HeartbeatDevices,
    long RssStartKb,
    long RssAfterLoadKb,
    long PeakRssAfterLoadKb,
    long PeakRssEndKb,
    long RssEndKb,
    int Timeouts,
    CpuUsage? LoopCpu,
    CpuUsage? LoopBenchCpu,
    double? LoopMachineCpuPercent,
    IReadOnlyList<string> Errors)
{
    /// <summary>The gateway's coverage against a full recompute, after registration and after the heartbeats.</summary>
    public IReadOnlyList<Coverage.AgreementResult> Agreement { get; init; } = [];
}

/// <summary>Latencies of one kind of measured event, in milliseconds.</summary>
public sealed record Latency(int Samples, double P50Ms, double P99Ms, double MaxMs)
{
    public static Latency Of(List<double> ms) =>
        new(ms.Count, Stats.Percentile(ms, 0.50), Stats.Percentile(ms, 0.99), ms.Count > 0 ? ms.Max() : double.NaN);

    public string Describe() => Samples == 0 ? "no samples" : $"p50 {P50Ms:F2} ms, p99 {P99Ms:F2} ms, max {MaxMs:F2} ms (n={Samples})";
}

public sealed record CoverageResults(
    CountyShape County,
    RecomputeAllResult? Recompute,
    IncrementalResult? Incremental,
    PlacementBenchResult? Placement,
    GatewayCoverageResult? Gateway,
    string? GatewaySkipped,
    IReadOnlyList<string> Errors)
{
    /// <summary>Row 2b: status toggles in the densest grid (issue 17).</summary>
    public IncrementalResult? DenseGrid { get; init; }

    /// <summary>Baselines of rows 1, 2 and 2b: the engine measuring each grid whole (no tiles), same run.</summary>
    public RecomputeAllResult? WholeRecompute { get; init; }

    public IncrementalResult? WholeIncremental { get; init; }

    public IncrementalResult? WholeDenseGrid { get; init; }
}

public static class Stats
{
    /// <summary>Nearest-rank percentile (sorts a copy); NaN when empty.</summary>
    public static double Percentile(IReadOnlyList<double> values, double q)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(q * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
