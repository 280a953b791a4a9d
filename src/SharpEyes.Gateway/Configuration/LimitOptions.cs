using System.ComponentModel.DataAnnotations;

namespace SharpEyes.Gateway.Configuration;

/// <summary>
/// The "SharpEyes:Limits" section: every bound the gateway puts on what a client may make it hold or do. Each
/// refusal is counted in <c>sharpeyes_refusals_total{kind}</c> (see <see cref="Observability.ClientRefusals"/>)
/// and logged at most once per <see cref="LogInterval"/> per kind.
/// </summary>
public sealed class LimitOptions
{
    /// <summary>Repeated refusals and warnings of one kind are logged at most once per this interval, with the count since the last line.</summary>
    public TimeSpan LogInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>MQTT client ids and user names are cut to this many characters in log lines and refusal messages.</summary>
    [Range(16, 4096)] public int LoggedClientTextChars { get; set; } = 128;

    // --- MQTT listener ---

    /// <summary>A TCP connection to the MQTT port that has not completed CONNECT in this long is closed.</summary>
    public TimeSpan MqttConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Open MQTT connections (authenticated or not); more are closed at once.</summary>
    [Range(1, 1_000_000)] public int MqttMaxConnections { get; set; } = 10_000;

    /// <summary>Open MQTT connections from one IP address.</summary>
    [Range(1, 1_000_000)] public int MqttMaxConnectionsPerAddress { get; set; } = 500;

    /// <summary>Largest CONNECT packet (before authentication), in bytes; a larger one closes the connection before it is read.</summary>
    [Range(256, 16 << 20)] public int MqttMaxConnectPacketBytes { get; set; } = 16 * 1024;

    /// <summary>Largest packet an authenticated client may send, in bytes (alarms above Alarms:MaxPayloadBytes and below this are dead-lettered as oversized).</summary>
    [Range(1024, 256 << 20)] public int MqttMaxPacketBytes { get; set; } = 256 * 1024;

    /// <summary>
    /// Longest keepalive the broker allows, in seconds. MQTT 5 clients asking for more (or 0, none) are told this
    /// value in CONNACK (server keep alive); MQTT 3.1.1 clients asking for more or 0 are refused. A client silent for
    /// 1.5 times its keepalive is disconnected.
    /// </summary>
    [Range(5, 65_535)] public int MqttMaxKeepAliveSeconds { get; set; } = 300;

    /// <summary>MQTT sessions (connected or kept for a client that left with clean start off) per vendor.</summary>
    [Range(1, 1_000_000)] public int MqttMaxSessionsPerVendor { get; set; } = 5_000;

    /// <summary>Sessions per vendor that may subscribe (to its dead letters); each holds a queue of up to <see cref="MqttMaxQueuedMessagesPerSession"/>.</summary>
    [Range(1, 10_000)] public int MqttMaxSubscriberSessionsPerVendor { get; set; } = 10;

    /// <summary>Messages queued for one session while its client is away or slow; the oldest are dropped beyond this (counted).</summary>
    [Range(1, 1_000_000)] public int MqttMaxQueuedMessagesPerSession { get; set; } = 1_000;

    // --- gRPC ---

    /// <summary>Largest request message of any gRPC method without a limit of its own, in bytes.</summary>
    [Range(1024, 1 << 30)] public int GrpcMaxRequestBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest GeoJSON import request (Geography.ImportGrids, ImportKeySites), in bytes.</summary>
    [Range(1024, 1 << 30)] public int GrpcMaxImportBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Failed authentications (gRPC or MQTT) one IP address may make per <see cref="FailedAuthWindow"/>; beyond it, its attempts are refused unchecked until the window passes.</summary>
    [Range(1, 1_000_000)] public int FailedAuthPerAddress { get; set; } = 20;

    /// <summary>The window of <see cref="FailedAuthPerAddress"/>; an address over the limit is refused unchecked until its window ends.</summary>
    public TimeSpan FailedAuthWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Rejected devices listed one by one in a RegisterDevices answer; the rest are only counted. 0: none is listed.</summary>
    [Range(0, 100_000)] public int BulkRejectedResults { get; set; } = 1_000;

    /// <summary>Errors listed in a rejected GeoJSON import's answer (message and trailer); the rest are only counted.</summary>
    [Range(1, 10_000)] public int ImportErrorsListed { get; set; } = 50;

    /// <summary>Feeds.Subscribe streams open at once; one more is RESOURCE_EXHAUSTED (refusal kind feed-subscribers).</summary>
    [Range(1, 100_000)] public int FeedSubscribers { get; set; } = 64;

    /// <summary>
    /// Recent feed events kept in memory for subscribers, push endpoints and the console that keep up; one further
    /// behind reads the store (counted in <c>sharpeyes_feed_store_reads_total</c>). Each held event is a few hundred bytes
    /// to a few kilobytes, held until 256 later ones have committed (an eighth of a second at 2,000 events/s; a
    /// subscriber on loopback fell that far behind two to four times in 225,000 alarms at up to 30,000/s, and read the
    /// store then): a larger ring grows the gateway's heap with events that live long enough to reach the oldest
    /// generation, and its collections then stall intake.
    /// </summary>
    [Range(64, 1_048_576)] public int FeedRingEvents { get; set; } = 256;

    /// <summary>
    /// Event streams (<c>GET /api/events</c>, the console's live connection) open at once; one more is answered 429
    /// (refusal kind event-streams). Counted apart from <see cref="FeedSubscribers"/>, so browsers cannot take the
    /// centre's places. A browser holds one HTTP/1.1 connection per open console tab.
    /// </summary>
    [Range(1, 100_000)] public int EventStreams { get; set; } = 256;

    /// <summary>
    /// Events that may commit while a feed subscriber or event stream takes no data (its transport full, its client not reading); one
    /// more ends it with RESOURCE_EXHAUSTED naming the sequence to resubscribe after (refusal kind
    /// feed-subscriber-behind; an event stream gets <c>event: end</c> and resumes from its Last-Event-ID, kind
    /// event-stream-behind). Keep it above the largest burst (a bulk registration commits 2,000 devices at a time).
    /// Subscribers read the shared ring and the store at their own pace, so this bounds how long a stalled one holds its
    /// stream, not memory: what one holds is at most a page of events and the transport's buffers (~200 KB).
    /// </summary>
    [Range(16, 10_000_000)] public int FeedSubscriberBuffer { get; set; } = 10_000;

    /// <summary>
    /// A subscriber ended for falling behind still has to read what was already sent before it can see the status;
    /// if it reads nothing for this long, its stream is reset (HTTP/2 ENHANCE_YOUR_CALM, RESOURCE_EXHAUSTED to gRPC clients;
    /// an event stream's connection is closed).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")] public TimeSpan FeedSubscriberDrainTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
