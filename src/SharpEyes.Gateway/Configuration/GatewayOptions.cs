using System.ComponentModel.DataAnnotations;
using SharpEyes.Geo.Optics;

namespace SharpEyes.Gateway.Configuration;

/// <summary>The "SharpEyes" configuration section. Command-line switches and SHARPEYES_* variables map onto it (see <see cref="GatewayConfiguration"/>).</summary>
public sealed class GatewayOptions
{
    public const string Section = "SharpEyes";

    [Range(0, 65535)] public int GrpcPort { get; set; } = 50051;
    [Range(0, 65535)] public int MqttPort { get; set; } = 1883;
    [Range(0, 65535)] public int HttpPort { get; set; } = 8080;

    /// <summary>Address every listener binds to. 0.0.0.0 serves the network; tests use 127.0.0.1.</summary>
    [Required] public string BindAddress { get; set; } = "0.0.0.0";

    [Required] public string DataDir { get; set; } = "./data";

    /// <summary>Load the shipped 高邑县 demo geography on start when no geography is loaded yet.</summary>
    public bool Demo { get; set; }

    /// <summary>With <see cref="Demo"/>: also register the demo's synthetic cameras and play their vendor's keepalives.</summary>
    public bool DemoCameras { get; set; } = true;

    /// <summary>County codes (GB/T 2260, 6 digits) whose devices this gateway accepts, besides counties in the imported geography.</summary>
    public string[] CountyCodes { get; set; } = ["130127"];

    /// <summary>SQLite synchronous mode: NORMAL survives a killed process, FULL also a power cut (an fsync per commit).</summary>
    [RegularExpression("^(NORMAL|FULL)$")] public string SqliteSynchronous { get; set; } = "NORMAL";

    public AlarmOptions Alarms { get; set; } = new();
    public IncidentOptions Incidents { get; set; } = new();
    public LivenessOptions Liveness { get; set; } = new();
    public CoverageOptions Coverage { get; set; } = new();
    public StreamOptions Streams { get; set; } = new();
    public OutboxOptions Outbox { get; set; } = new();
    public LimitOptions Limits { get; set; } = new();

    /// <summary>DORI level at which a camera's range is derived from its lens.</summary>
    public DoriLevel RangeDoriLevel { get; set; } = DoriLevel.Observation;
}

public sealed class AlarmOptions
{
    /// <summary>Largest alarm payload accepted; larger ones are dead-lettered as "oversized".</summary>
    [Range(256, 1 << 20)] public int MaxPayloadBytes { get; set; } = 16 * 1024;

    /// <summary>Key sites within this distance of an alarm are attached to it (sites containing it always are).</summary>
    [Range(0, 10_000)] public double KeySiteRadiusMeters { get; set; } = 100;

    /// <summary>Most alarms committed in one transaction (group commit across connections).</summary>
    [Range(1, 100_000)] public int MaxBatch { get; set; } = 2_000;

    /// <summary>
    /// Stored alarms and dead letters older than this are deleted (their counts are kept). It is also the window in
    /// which a republished (vendor, eventId) is recognised as a duplicate.
    /// </summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(90);
}

public sealed class IncidentOptions
{
    /// <summary>Alarms in the same grid and type class whose occurrence times are within this window join one incident.</summary>
    public TimeSpan CorrelationWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>An incident closes when no alarm joined it for this long (gateway clock).</summary>
    public TimeSpan QuietPeriod { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often the quiet-period check runs.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);
}

public sealed class LivenessOptions
{
    /// <summary>GB/T 28181 default keepalive interval.</summary>
    public TimeSpan KeepaliveInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Missed keepalives before a device is offline (GB/T 28181: 3).</summary>
    [Range(1, 100)] public int MissedKeepalives { get; set; } = 3;

    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// After a restart every device keeps its stored status for this long (at least), instead of the whole county
    /// flipping offline because nothing was heard while the gateway was down. Default: one keepalive timeout.
    /// </summary>
    public TimeSpan? RestartGrace { get; set; }

    public TimeSpan Timeout => KeepaliveInterval * MissedKeepalives;

    public TimeSpan Grace => RestartGrace ?? Timeout;
}

/// <summary>Stream health: RTSP DESCRIBE liveness, ffprobe measurement and frame-grab quality checks.</summary>
public sealed class StreamOptions
{
    /// <summary>Probe cameras that have an RTSP URL. Off: health comes from heartbeats only.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often each camera's stream answers an RTSP DESCRIBE (cheap: one TCP exchange, no video).</summary>
    public TimeSpan LivenessInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often ffprobe measures each camera's main stream (codec, resolution, frame rate).</summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often a frame grab checks each camera's picture (black, frozen, low detail).</summary>
    public TimeSpan QualityInterval { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>ffprobe/ffmpeg processes at once. Default: one per core (two on the reference 2-core machine).</summary>
    [Range(1, 256)] public int MaxConcurrentProcesses { get; set; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>RTSP DESCRIBE exchanges at once (sockets, no processes).</summary>
    [Range(1, 4096)] public int MaxConcurrentDescribes { get; set; } = 64;

    /// <summary>A DESCRIBE that has not answered in this long fails as a timeout.</summary>
    public TimeSpan DescribeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Hard limit on one ffprobe or ffmpeg run: the process is killed when it passes.</summary>
    public TimeSpan ProcessTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>ffprobe -analyzeduration (defaults are 5 s; a 1-second GOP stream is measured well within 1 s).</summary>
    public TimeSpan AnalyzeDuration { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>ffprobe -probesize in bytes.</summary>
    [Range(32, 50_000_000)] public int ProbeSizeBytes { get; set; } = 1_000_000;

    /// <summary>First retry delay after a failed check; doubles per failure (with jitter) up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Consecutive failed checks after which an online camera is faulty (no-signal), or, when nothing but its
    /// stream vouched for it within the keepalive timeout, offline. Default 3, like GB/T 28181's missed keepalives.
    /// </summary>
    [Range(1, 100)] public int FailuresToFault { get; set; } = 3;

    /// <summary>Frames one grab decodes, one second apart, for the frozen test.</summary>
    [Range(2, 10)] public int GrabFrames { get; set; } = 3;

    /// <summary>Black: mean luma at most this (limited-range black is 16).</summary>
    [Range(0, 255)] public double BlackMaxLuma { get; set; } = 24;

    /// <summary>Frozen: mean absolute difference between consecutive frames (a second apart) below this, in grey levels. A moving picture measured 20-140 here.</summary>
    [Range(0, 255)] public double FrozenMaxMotion { get; set; } = 0.3;

    /// <summary>
    /// Low detail (blur, covered or defocused lens): fewer than this share of neighbouring pixel pairs differ by 20 grey
    /// levels or more. Measured here: SMPTE bars 2.2-2.8 %, the same bars blurred 0 %; real scenes are usually 5-20 %.
    /// </summary>
    [Range(0, 1)] public double LowDetailMaxEdgeShare { get; set; } = 0.005;

    /// <summary>Per RTSP host: the circuit opens when this share of at least 10 checks in 60 s failed to connect.</summary>
    [Range(0.1, 1.0)] public double HostFailureRatio { get; set; } = 0.9;

    /// <summary>How long an open host circuit stays open before one check is let through.</summary>
    public TimeSpan HostBreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Status history kept for the online rate by time.</summary>
    public TimeSpan UptimeRetention { get; set; } = TimeSpan.FromDays(30);
}

public sealed class CoverageOptions
{
    /// <summary>An area key site is covered when at least this fraction of its area is inside working cameras' wedges.</summary>
    [Range(0.0, 1.0)] public double SiteAreaFraction { get; set; } = 0.8;

    /// <summary>
    /// Working cameras a key site of a category needs (default 1). Intersections need two: one camera sees only the
    /// approaches it faces.
    /// </summary>
    public Dictionary<string, int> MinCamerasByCategory { get; set; } = new(StringComparer.Ordinal) { ["intersection"] = 2 };

    /// <summary>A level-4 grid without its own <c>coverage_target</c> is a gap when its real covered fraction is below this.</summary>
    [Range(0.0, 1.0)] public double GridTarget { get; set; } = 0.8;

    /// <summary>Blind-spot weights per key-site category (unlisted categories weigh 1).</summary>
    public Dictionary<string, double> CategoryWeights { get; set; } = new(StringComparer.Ordinal)
    {
        ["school"] = 5, ["hospital"] = 5, ["complex-security"] = 5, ["government"] = 4, ["station"] = 4, ["checkpoint"] = 4,
        ["intersection"] = 3, ["traffic-artery"] = 3, ["square"] = 3, ["stadium"] = 3, ["commercial"] = 3, ["market"] = 3,
        ["religious"] = 2, ["scenic"] = 2, ["road"] = 2, ["other"] = 1,
    };

    /// <summary>A camera is HD when its declared resolution has at least this many lines (1080p ≈ 2 MP).</summary>
    [Range(1, 10_000)] public int HdMinHeight { get; set; } = 1080;
}

/// <summary>
/// Push delivery of the feed to the centre from a durable outbox: the feed_events table is the outbox, and each
/// endpoint keeps its own acknowledged sequence (a cursor), so a slow or dead endpoint never slows intake or the others.
/// </summary>
public sealed class OutboxOptions
{
    /// <summary>This gateway's id towards the centre (DeliverRequest.source_id). Default: generated once and kept in the store.</summary>
    public string? SourceId { get; set; }

    /// <summary>Where the feed is pushed. Empty: pull only (Feeds.Subscribe).</summary>
    public List<CentreEndpointOptions> Endpoints { get; set; } = [];

    /// <summary>
    /// An endpoint with more unacknowledged events than this is reported as backed up: health Degraded, a warning in
    /// the log, <c>sharpeyes_outbox_backlog_exceeded</c> = 1. Nothing is dropped.
    /// </summary>
    [Range(1, long.MaxValue)] public long BacklogLimit { get; set; } = 100_000;

    /// <summary>
    /// Feed events older than this are deleted once every push endpoint acknowledged them (never before). Pull
    /// subscribers asking for a pruned sequence get OUT_OF_RANGE.
    /// </summary>
    public TimeSpan FeedRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often retention runs (feed events, alarms, dead letters).</summary>
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromMinutes(10);
}

public enum CentreEndpointKind
{
    /// <summary>The centre's CentreSink gRPC service (protos/sharpeyes/v1/centre.proto).</summary>
    Grpc,

    /// <summary>A topic on an external MQTT broker: each event as JSON, QoS 1, acknowledged by the broker's PUBACK.</summary>
    Mqtt,
}

public sealed class CentreEndpointOptions
{
    /// <summary>Names the endpoint in metrics, health and logs; also the key of its stored cursor.</summary>
    [Required, RegularExpression("^[a-z0-9][a-z0-9_-]{0,39}$")] public string Name { get; set; } = "centre";

    public CentreEndpointKind Kind { get; set; } = CentreEndpointKind.Grpc;

    /// <summary>gRPC: http(s)://host:port of the CentreSink. MQTT: mqtt://host:port of the broker.</summary>
    [Required] public string Url { get; set; } = "";

    /// <summary>gRPC: sent as "authorization: Bearer …". MQTT: the password (with <see cref="UserName"/>). Never logged.</summary>
    public string? ApiKey { get; set; }

    public string? UserName { get; set; }

    /// <summary>MQTT: events go to {Topic}/{region code}.</summary>
    public string Topic { get; set; } = "sharpeyes/v1/feed";

    /// <summary>Only events whose region code starts with this (a township centre); "" = all.</summary>
    public string RegionPrefix { get; set; } = "";

    [Range(1, 10_000)] public int BatchSize { get; set; } = 500;

    /// <summary>One delivery attempt (call or batch of PUBACKs) that has not completed in this long fails as a timeout.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First retry delay; doubles (with jitter) per failed attempt up to <see cref="RetryMaxDelay"/>. Retries never give up.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The circuit opens when this share of at least 5 attempts within 30 s failed.</summary>
    [Range(0.1, 1.0)] public double BreakerFailureRatio { get; set; } = 0.5;

    /// <summary>How long the circuit stays open before one attempt is let through.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(15);
}
