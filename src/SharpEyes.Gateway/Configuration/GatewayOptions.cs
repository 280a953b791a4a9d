using System.ComponentModel.DataAnnotations;
using SharpEyes.Geo.Optics;

namespace SharpEyes.Gateway.Configuration;

/// <summary>The "SharpEyes" configuration section. Command-line switches and SHARPEYES_* variables map onto it (see <see cref="GatewayConfiguration"/>).</summary>
public sealed class GatewayOptions
{
    public const string Section = "SharpEyes";

    /// <summary>TCP port of the gRPC API (HTTP/2; over TLS with ALPN h2 when <see cref="Tls"/> is configured). 0: any free port; each listener logs the port it got.</summary>
    [Range(0, 65535)] public int GrpcPort { get; set; } = 50051;

    /// <summary>TCP port of the embedded MQTT broker (MQTT 3.1.1 and 5; over TLS when <see cref="Tls"/> is configured). 0: any free port.</summary>
    /// <value>8883 (MQTT over TLS) when <see cref="Tls"/> is configured, else 1883</value>
    [Range(0, 65535)] public int? MqttPort { get; set; }

    /// <summary>The MQTT port to bind: <see cref="MqttPort"/>, else 8883 with TLS and 1883 without.</summary>
    public int MqttListenPort => MqttPort ?? (Tls.Enabled ? 8883 : 1883);

    /// <summary>TCP port of <c>/healthz</c>, <c>/metrics</c> (Prometheus), the JSON API and the console, HTTP/1.1 (HTTPS when <see cref="Tls"/> is configured). 0: any free port.</summary>
    [Range(0, 65535)] public int HttpPort { get; set; } = 8080;

    /// <summary>
    /// IP address all three listeners bind to: <c>0.0.0.0</c> every IPv4 interface, <c>::</c> every IPv6 and IPv4
    /// interface, <c>127.0.0.1</c> this machine only.
    /// </summary>
    [Required] public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>
    /// Directory of the SQLite store <c>sharpeyes.db</c>, the first admin key <c>initial-admin-key</c> and camera
    /// snapshots; created mode 0700 if missing. A relative path is relative to the working directory.
    /// </summary>
    [Required] public string DataDir { get; set; } = "./data";

    /// <summary>
    /// The store. Empty (the default): the embedded SQLite file <c>sharpeyes.db</c> in <see cref="DataDir"/>. A
    /// PostgreSQL database: <c>postgres://user@host:5432/sharpeyes</c> (or <c>postgresql://</c>, query parameters such
    /// as <c>?sslmode=verify-full</c> passed on) or an Npgsql connection string (<c>Host=...;Database=...</c>). Give the
    /// password through <c>PGPASSWORD</c> or a <c>~/.pgpass</c> file rather than here: a command line is visible to
    /// every user of the machine. The password is never logged or shown; the gateway names the store as
    /// <c>host:port/database</c>.
    /// </summary>
    public string Store { get; set; } = "";

    /// <summary>
    /// How long the gateway keeps trying to reach a PostgreSQL <see cref="Store"/> at start (a server still starting,
    /// busy, or restarting beside the gateway) before it gives up and exits; each attempt waits up to the connection's
    /// own timeout (<c>connect_timeout</c>, Npgsql's default 15 s), and every failed one is logged with its reason. A
    /// refused login or a missing database ends at once. 0 tries once. Not used with the embedded SQLite file.
    /// </summary>
    public TimeSpan StoreStartTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// This process's name among replicas sharing one PostgreSQL store: it holds the outbox leases
    /// (<c>outbox_leases.holder</c>) and is shown in <c>/healthz</c> and the log. It must differ between processes that
    /// run at the same time (a pod's or host's name is; two live processes with one name would both push). 1-100
    /// letters, digits, '.', '_' or '-'.
    /// </summary>
    /// <value>the host name and a random suffix, new at every start</value>
    [RegularExpression("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")] public string? ReplicaId { get; set; }

    /// <summary>TLS on the three listeners from PEM files (reloaded when they change), and mutual TLS with client certificates.</summary>
    public TlsOptions Tls { get; set; } = new();

    /// <summary>
    /// Serve gRPC, HTTP and MQTT in plain text, with a warning in the log at every start: keys, passwords and alarms
    /// then cross the network readable by anyone on it. Without <see cref="Tls"/> configured the gateway refuses to start
    /// unless this is set (or <see cref="Demo"/>, which implies it). Not allowed together with <see cref="Tls"/>.
    /// </summary>
    public bool InsecureListeners { get; set; }

    /// <summary>Plain-text listeners: asked for, or implied by the demo when no TLS is configured.</summary>
    public bool ServesPlainText => !Tls.Enabled && (InsecureListeners || Demo);

    /// <summary>Load the shipped 高邑县 (130127) demo grids and key sites on start when no geography is loaded yet.</summary>
    public bool Demo { get; set; }

    /// <summary>With <see cref="Demo"/>: also register the demo's 752 synthetic cameras (vendor <c>demo-vendor</c>) and send their keepalives.</summary>
    public bool DemoCameras { get; set; } = true;

    /// <summary>
    /// Counties (GB/T 2260, 6 digits) this gateway serves besides the counties of the imported geography: a device ID
    /// must start with one of them, and a grids file may add a county only if it is listed here. Empty means 130127
    /// (高邑县, the demo county), which the shipped appsettings.json also names: a list given in configuration
    /// replaces it entry by entry (index 0 first).
    /// </summary>
    /// <remarks>
    /// Empty in code because the configuration binder appends to an array's default: a default of 130127 here would
    /// have been served whatever a county configured.
    /// </remarks>
    public string[] CountyCodes { get; set; } = [];

    /// <summary>The county served when <see cref="CountyCodes"/> is empty.</summary>
    public const string DefaultCountyCode = "130127";

    /// <summary><see cref="CountyCodes"/>, or <see cref="DefaultCountyCode"/> when it is empty.</summary>
    public IReadOnlyList<string> ServedCountyCodes => CountyCodes.Length > 0 ? CountyCodes : [DefaultCountyCode];

    /// <summary>SQLite synchronous mode: NORMAL loses nothing acknowledged when the process is killed, FULL not even on a power cut (one fsync per commit).</summary>
    [RegularExpression("^(NORMAL|FULL)$")] public string SqliteSynchronous { get; set; } = "NORMAL";

    /// <summary>Alarm intake over MQTT: payload size, key sites near an alarm, group commit, retention.</summary>
    public AlarmOptions Alarms { get; set; } = new();

    /// <summary>How alarms are correlated into incidents and when an incident closes.</summary>
    public IncidentOptions Incidents { get; set; } = new();

    /// <summary>When a device counts as offline (GB/T 28181 keepalives).</summary>
    public LivenessOptions Liveness { get; set; } = new();

    /// <summary>When a key site or grid counts as covered, and how blind spots are weighted.</summary>
    public CoverageOptions Coverage { get; set; } = new();

    /// <summary>Stream health checks of cameras with an RTSP URL: RTSP DESCRIBE, ffprobe and frame grabs.</summary>
    public StreamOptions Streams { get; set; } = new();

    /// <summary>Alarms taken from an external MQTT broker (mosquitto, EMQX) through a shared subscription, beside or instead of the embedded broker.</summary>
    public ExternalBrokerOptions ExternalBroker { get; set; } = new();

    /// <summary>The embedded MQTT broker serves the MQTT port: always, unless an external broker replaces it (<see cref="ExternalBrokerOptions.Embedded"/> false).</summary>
    public bool ServesEmbeddedBroker => !ExternalBroker.Enabled || ExternalBroker.Embedded;

    /// <summary>Push delivery of the feed to the centre, and retention of feed events.</summary>
    public OutboxOptions Outbox { get; set; } = new();

    /// <summary>Every bound on what a client may make the gateway hold or do; each refusal is counted in <c>sharpeyes_refusals_total{kind}</c>.</summary>
    public LimitOptions Limits { get; set; } = new();

    /// <summary>How fast one API key may call the gRPC API and its JSON routes, per role.</summary>
    public RateLimitOptions RateLimits { get; set; } = new();

    /// <summary>API keys' expiry: when a key about to expire is reported.</summary>
    public KeyOptions Keys { get; set; } = new();

    /// <summary>Browser sessions (the console's sign-in) and the live event stream <c>/api/events</c>.</summary>
    public BrowserSessionOptions Sessions { get; set; } = new();

    /// <summary>Secrets kept in the store (RTSP credentials), encrypted with a key ring of their own.</summary>
    public SecretOptions Secrets { get; set; } = new();

    /// <summary>The audit log of every change and refused change: retention, and the bounds on recording refusals.</summary>
    public AuditOptions Audit { get; set; } = new();

    /// <summary>The browser console: an intranet base map under the county's own polygons.</summary>
    public ConsoleOptions Console { get; set; } = new();

    /// <summary>OpenTelemetry traces and metrics over OTLP: off unless an endpoint is configured.</summary>
    public TelemetryOptions Telemetry { get; set; } = new();

    /// <summary>GB/T 28181 over SIP: the port, the gateway's server ID and domain, registration, catalogs and alarms.</summary>
    public SipOptions Sip { get; set; } = new();

    /// <summary>
    /// DORI level at which a range is derived from a lens (focal length, sensor width, pixels) when a camera or a
    /// placement request gives a lens and no HFOV or range: Detection 25 px/m, Observation 62.5, Recognition 125,
    /// Identification 250.
    /// </summary>
    public DoriLevel RangeDoriLevel { get; set; } = DoriLevel.Observation;
}

public sealed class AlarmOptions
{
    /// <summary>Largest alarm payload accepted, in bytes; larger ones are dead-lettered as <c>oversized</c>.</summary>
    [Range(256, 1 << 20)] public int MaxPayloadBytes { get; set; } = 16 * 1024;

    /// <summary>Key sites within this many metres of an alarm are attached to it (and returned by Geography.Locate); sites containing it always are. 0: only those.</summary>
    [Range(0, 10_000)] public double KeySiteRadiusMeters { get; set; } = 100;

    /// <summary>Most queued changes (alarms, heartbeats, registrations...) the single writer commits in one SQLite transaction (group commit).</summary>
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

    /// <summary>How often incidents past their quiet period are looked for and closed.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);
}

public sealed class LivenessOptions
{
    /// <summary>Keepalive interval expected of devices (GB/T 28181: 60 s); returned in every Heartbeat answer.</summary>
    public TimeSpan KeepaliveInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// An online device is marked offline after this many keepalive intervals without a heartbeat, an accepted alarm
    /// or a stream check that answered (GB/T 28181: 3).
    /// </summary>
    [Range(1, 100)] public int MissedKeepalives { get; set; } = 3;

    /// <summary>How often devices are checked for a missed keepalive timeout.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// After a restart every device keeps its stored status for this long (at least), instead of the whole county
    /// flipping offline because nothing was heard while the gateway was down.
    /// </summary>
    /// <value>one keepalive timeout (KeepaliveInterval × MissedKeepalives)</value>
    public TimeSpan? RestartGrace { get; set; }

    public TimeSpan Timeout => KeepaliveInterval * MissedKeepalives;

    public TimeSpan Grace => RestartGrace ?? Timeout;
}

/// <summary>Stream health: RTSP DESCRIBE liveness, ffprobe measurement and frame-grab quality checks.</summary>
public sealed class StreamOptions
{
    /// <summary>Check every camera that has an RTSP URL (DESCRIBE, ffprobe, frame grabs). Off: liveness comes from heartbeats and alarms only.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often each camera's stream answers an RTSP DESCRIBE (cheap: one TCP exchange, no video).</summary>
    public TimeSpan LivenessInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often ffprobe measures each camera's main stream (codec, resolution, frame rate).</summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often a frame grab checks each camera's picture (black, frozen, low detail).</summary>
    public TimeSpan QualityInterval { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>ffprobe and ffmpeg processes running at once.</summary>
    /// <value>one per core, at least 2</value>
    [Range(1, 256)] public int MaxConcurrentProcesses { get; set; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>RTSP DESCRIBE exchanges at once (sockets, no processes).</summary>
    [Range(1, 4096)] public int MaxConcurrentDescribes { get; set; } = 64;

    /// <summary>An RTSP DESCRIBE that has not answered in this long fails as a timeout; also ffprobe's and ffmpeg's RTSP socket timeout.</summary>
    public TimeSpan DescribeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Hard limit on one ffprobe or ffmpeg run: the process is killed when it passes.</summary>
    public TimeSpan ProcessTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>ffprobe <c>-analyzeduration</c>: how much of the stream is read to measure it (ffprobe's own default is 5 s; a stream with a 1 s GOP is measured within 1 s).</summary>
    public TimeSpan AnalyzeDuration { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>ffprobe -probesize in bytes.</summary>
    [Range(32, 50_000_000)] public int ProbeSizeBytes { get; set; } = 1_000_000;

    /// <summary>First retry delay after a failed check; doubles per failure (with jitter) up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Longest delay between retries of a failing camera's check.</summary>
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

    /// <summary>Per RTSP host and port: checks stop for <see cref="HostBreakDuration"/> when this share of at least 10 DESCRIBEs in 60 s were refused, unreachable or timed out.</summary>
    [Range(0.1, 1.0)] public double HostFailureRatio { get; set; } = 0.9;

    /// <summary>How long checks of a failing host stay stopped before one is let through.</summary>
    public TimeSpan HostBreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Status history kept for the online rate by time; also the longest window a report may ask for.</summary>
    public TimeSpan UptimeRetention { get; set; } = TimeSpan.FromDays(30);
}

public sealed class CoverageOptions
{
    /// <summary>An area key site is covered when at least this fraction of its area is seen by enough working cameras (see <see cref="MinCamerasByCategory"/>).</summary>
    [Range(0.0, 1.0)] public double SiteAreaFraction { get; set; } = 0.8;

    /// <summary>
    /// Working cameras a key site of a category needs (unlisted categories: 1). Intersections need two: one camera sees
    /// only the approaches it faces. Entries given in configuration are added to these or replace them.
    /// </summary>
    public Dictionary<string, int> MinCamerasByCategory { get; set; } = new(StringComparer.Ordinal) { ["intersection"] = 2 };

    /// <summary>A level-4 grid without its own <c>coverage_target</c> is a coverage gap when the fraction of it working cameras see is below this.</summary>
    [Range(0.0, 1.0)] public double GridTarget { get; set; } = 0.8;

    /// <summary>Blind-spot ranking weight per key-site category (unlisted categories weigh 1). Entries given in configuration are added to these or replace them.</summary>
    public Dictionary<string, double> CategoryWeights { get; set; } = new(StringComparer.Ordinal)
    {
        ["school"] = 5, ["hospital"] = 5, ["complex-security"] = 5, ["government"] = 4, ["station"] = 4, ["checkpoint"] = 4,
        ["intersection"] = 3, ["traffic-artery"] = 3, ["square"] = 3, ["stadium"] = 3, ["commercial"] = 3, ["market"] = 3,
        ["religious"] = 2, ["scenic"] = 2, ["road"] = 2, ["other"] = 1,
    };

    /// <summary>A camera counts as HD in reports when its picture has at least this many lines (measured height, else declared; 1080p ≈ 2 MP).</summary>
    [Range(1, 10_000)] public int HdMinHeight { get; set; } = 1080;

    /// <summary>
    /// The KPI history (Coverage.GetKpiHistory, the console's trend charts) takes a snapshot of every region's KPIs at
    /// each whole interval of the gateway clock (and one at start when the last is older than this).
    /// </summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")] public TimeSpan KpiHistoryInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// KPI snapshots older than this are deleted as new ones are taken; also the longest span GetKpiHistory answers.
    /// 35 days keeps a 30-day chart full. About 64 bytes a region a snapshot on disk: 113 MB for a county of 2,000 grids (docs/console-guide.md).
    /// </summary>
    [Range(typeof(TimeSpan), "1.00:00:00", "3650.00:00:00")] public TimeSpan KpiHistoryRetention { get; set; } = TimeSpan.FromDays(35);
}

/// <summary>
/// Push delivery of the feed to the centre from a durable outbox: the feed_events table is the outbox, and each
/// endpoint keeps its own acknowledged sequence (a cursor), so a slow or dead endpoint never slows intake or the others.
/// </summary>
public sealed class OutboxOptions
{
    /// <summary>This gateway's id towards the centre (<c>source_id</c> of each delivery; the MQTT client id prefix).</summary>
    /// <value>generated on first start and kept in the store</value>
    public string? SourceId { get; set; }

    /// <summary>Where the feed is pushed: one entry per endpoint. Empty: pull only (Feeds.Subscribe).</summary>
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

    /// <summary>How often retention deletes old feed events, alarms and dead letters.</summary>
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// PostgreSQL store: one replica at a time pushes to each endpoint, holding its lease for this long (in the database
    /// server's clock) after each renewal. A replica that dies is replaced by another within about this plus
    /// <see cref="LeaseRenewInterval"/>. Unused on SQLite, where the one process always pushes. The same three
    /// settings time the lease of the replica that runs the stream probing schedule (<c>leader:streams</c>).
    /// </summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often the holder renews its leases and a standby replica tries to take them. At most
    /// (<see cref="LeaseTtl"/> − <see cref="LeaseMargin"/>) / 2, so that a failed renewal is tried again before the holder stops.
    /// </summary>
    public TimeSpan LeaseRenewInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// A holder that could not renew stops delivering this long before its lease could expire (measured from when it
    /// sent the last renewal that succeeded), so that two replicas never push at once even when clocks run slightly apart.
    /// </summary>
    public TimeSpan LeaseMargin { get; set; } = TimeSpan.FromSeconds(2);
}

public enum CentreEndpointKind
{
    /// <summary>The centre's CentreSink gRPC service (protos/sharpeyes/v1/centre.proto).</summary>
    Grpc,

    /// <summary>A topic on an external MQTT broker: each event as JSON, QoS 1, acknowledged by the broker's PUBACK.</summary>
    Mqtt,

    /// <summary>
    /// A GB/T 28181 upper platform (sip://{its server ID}@host:port): the gateway registers to it as a lower platform,
    /// forwards alarms as Alarm notifications (each acknowledged by its 200 OK) and answers its Catalog queries.
    /// </summary>
    Gb28181,
}

public sealed class CentreEndpointOptions
{
    /// <summary>Names the endpoint in metrics, health and logs; also the key of its stored cursor.</summary>
    [Required, RegularExpression("^[a-z0-9][a-z0-9_-]{0,39}$")] public string Name { get; set; } = "centre";

    /// <summary>Grpc: the centre's CentreSink service. Mqtt: a topic on an external broker; chosen automatically when <see cref="Url"/> starts with <c>mqtt://</c> or <c>mqtts://</c>.</summary>
    public CentreEndpointKind Kind { get; set; } = CentreEndpointKind.Grpc;

    /// <summary>
    /// gRPC: https://host:port of the CentreSink (TLS), or http://host:port (clear text, warned about at every start).
    /// MQTT: mqtts://host:port of the broker (TLS, port 8883 when omitted), or mqtt://host:port (clear text, 1883).
    /// Over TLS the centre's certificate must chain to a trusted root (<see cref="CaPath"/>) and name the URL's host.
    /// </summary>
    [Required] public string Url { get; set; } = "";

    /// <summary>
    /// A PEM file of CA certificates: the centre's certificate must chain to one of them, and only to them (the system
    /// trust store is then not used). Reread when the file changes (checked at each new connection). Needs an https://
    /// or mqtts:// <see cref="Url"/>.
    /// </summary>
    /// <value>none: the system trust store</value>
    public string? CaPath { get; set; }

    /// <summary>
    /// A PEM certificate the gateway presents to the centre for mutual TLS (the first certificate in the file), with
    /// <see cref="ClientKeyPath"/>. Reread when either file changes (at the next new connection).
    /// </summary>
    /// <value>none: no client certificate</value>
    public string? ClientCertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="ClientCertificatePath"/> (unencrypted; keep it mode 0600). Never logged.</summary>
    /// <value>none</value>
    public string? ClientKeyPath { get; set; }

    /// <summary>gRPC: sent as <c>authorization: Bearer …</c>. MQTT: the password (with <see cref="UserName"/>). Never logged. Empty: none sent.</summary>
    public string? ApiKey { get; set; }

    /// <summary>MQTT: the user name at the external broker. Empty: none sent. Unused by gRPC endpoints.</summary>
    public string? UserName { get; set; }

    /// <summary>MQTT: events go to {Topic}/{region code}.</summary>
    public string Topic { get; set; } = "sharpeyes/v1/feed";

    /// <summary>Only events whose region code starts with this (for a township centre, the township's code). Empty: every event.</summary>
    public string RegionPrefix { get; set; } = "";

    /// <summary>Most events sent in one delivery (one Deliver call, or one run of MQTT publishes).</summary>
    [Range(1, 10_000)] public int BatchSize { get; set; } = 500;

    /// <summary>One delivery attempt (call or batch of PUBACKs) that has not completed in this long fails as a timeout; also the gRPC connect timeout.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First retry delay (also of MQTT reconnects); doubles (with jitter) per failed attempt up to <see cref="RetryMaxDelay"/>. Retries never give up.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest delay between delivery attempts (and MQTT reconnects).</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The circuit opens (attempts stop for <see cref="BreakDuration"/>) when this share of at least 5 attempts within 30 s failed.</summary>
    [Range(0.1, 1.0)] public double BreakerFailureRatio { get; set; } = 0.5;

    /// <summary>How long the circuit stays open before one attempt is let through.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(15);
}
