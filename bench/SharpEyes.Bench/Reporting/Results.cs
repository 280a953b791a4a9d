namespace SharpEyes.Bench.Reporting;

/// <summary>CPU used during a phase: the whole process (100 % = one core) and its busiest threads.</summary>
public sealed record CpuUsage(double ProcessPercent, IReadOnlyList<ThreadUsage> TopThreads)
{
    public string Describe() =>
        $"{ProcessPercent:F0} % ({string.Join(", ", TopThreads.Select(t => $"{t.Name}#{t.Tid} {t.Percent:F0} %"))})";
}

public sealed record ThreadUsage(int Tid, string Name, double Percent);

/// <summary>One as-fast-as-possible publishing run against a broker or the gateway.</summary>
public sealed record ThroughputResult(
    string Target,
    int Connections,
    int Planned,
    int Sent,
    int Acked,
    int Failed,
    int Delivered,
    double PubackSeconds,
    double DeliverySeconds,
    bool Complete,
    string? Note,
    CpuUsage? ServerCpu,
    CpuUsage? BenchCpu,
    double? MachineCpuPercent)
{
    /// <summary>PUBACKs per second, from publish start to the last PUBACK.</summary>
    public double PubackRate => PubackSeconds > 0 ? Acked / PubackSeconds : 0;

    /// <summary>Deliveries per second (subscriber messages, or feed events), from publish start to the last one.</summary>
    public double DeliveredRate => DeliverySeconds > 0 ? Delivered / DeliverySeconds : 0;
}

/// <summary>The paced latency run.</summary>
public sealed record LatencyResult(
    int Planned,
    int Sent,
    int Delivered,
    int Connections,
    double TargetRate,
    double AchievedRate,
    double P50Ms,
    double P99Ms,
    double MaxMs,
    double AckP50Ms,
    double AckP99Ms,
    double AckMaxMs,
    string? Note,
    CpuUsage? ServerCpu,
    double? MachineCpuPercent)
{
    /// <summary>p99.9 of publish → feed event (NaN in results written before it was measured).</summary>
    public double P999Ms { get; init; } = double.NaN;
}

public sealed record RegistrationResult(
    int Devices,
    int Cameras,
    int AlarmDevices,
    int Accepted,
    int Rejected,
    double Seconds,
    string? FirstError,
    CpuUsage? ServerCpu)
{
    public double Rate => Seconds > 0 ? Accepted / Seconds : 0;
}

public sealed record BaselineResults(string Broker, int PayloadBytes, IReadOnlyList<ThroughputResult> Runs);

public sealed record GatewayStatsSnapshot(long Received, long Accepted, long Duplicates, long DeadLettered, long IncidentsOpen, long LastSequence, long Devices);

public sealed record GatewayResults(
    RegistrationResult? Registration,
    RegistrationResult? RegistrationWarmup,
    ThroughputResult? Warmup,
    LatencyResult? Latency,
    IReadOnlyList<ThroughputResult> Throughput,
    GatewayStatsSnapshot? Stats,
    long PeakRssKb,
    long RssKb,
    long FeedEvents,
    int FeedReconnects,
    string? FeedError,
    IReadOnlyList<string> Errors)
{
    /// <summary>The gateway's RSS when the bench began: started, county loaded (--demo), no device yet. 0 when unknown.</summary>
    public long StartRssKb { get; init; }

    /// <summary>The gateway's coverage at the end against a full recompute (null when not checked).</summary>
    public Coverage.AgreementResult? CoverageAgreement { get; init; }
}
