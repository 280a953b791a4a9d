using System.Diagnostics;
using System.Runtime.CompilerServices;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Observability;

/// <summary>
/// The gateway's one <see cref="ActivitySource"/>, its span names and tag names: one alarm's trace runs
/// <c>mqtt receive</c> (the root, open until the alarm is durable) → <c>alarm check</c> → <c>journal commit</c> (its
/// group commit, with the feed sequence it got) → <c>incident correlate</c>; the push to each centre endpoint is a
/// <c>outbox deliver</c> span per attempt, linked to the alarms it carries, and an <c>outbox acknowledged</c> span in
/// each carried alarm's own trace. Without a listener (no OTLP endpoint configured) <see cref="ActivitySource.StartActivity(string, ActivityKind)"/>
/// returns null and every helper here returns at once: no tag is allocated. Tags carry ids only, never a key, a
/// password or an RTSP URL.
/// </summary>
public static class GatewayTracing
{
    public const string SourceName = "SharpEyes.Gateway";

    public static readonly ActivitySource Source = new(SourceName, typeof(GatewayTracing).Assembly.GetName().Version?.ToString());

    public const string MqttReceive = "mqtt receive";
    public const string AlarmCheck = "alarm check";
    public const string JournalCommit = "journal commit";
    public const string IncidentCorrelate = "incident correlate";
    public const string OutboxDeliver = "outbox deliver";
    public const string OutboxAcknowledged = "outbox acknowledged";

    public const string VendorIdTag = "sharpeyes.vendor_id";
    public const string DeviceIdTag = "sharpeyes.device_id";
    public const string EventIdTag = "sharpeyes.event_id";
    public const string IncidentIdTag = "sharpeyes.incident_id";
    public const string OutcomeTag = "sharpeyes.outcome";
    public const string FeedSequenceTag = "sharpeyes.feed.sequence";
    public const string FeedEventsTag = "sharpeyes.feed.events";
    public const string BatchSizeTag = "sharpeyes.journal.batch_size";
    public const string EndpointTag = "sharpeyes.outbox.endpoint";
    public const string AfterTag = "sharpeyes.outbox.after_sequence";
    public const string ThroughTag = "sharpeyes.outbox.through_sequence";
    public const string AckedTag = "sharpeyes.outbox.acked_sequence";
    public const string AttemptEventsTag = "sharpeyes.outbox.events";

    /// <summary>The alarm span of each feed event committed under one, while the event is in memory (the feed hub's ring); not stored.</summary>
    private static readonly ConditionalWeakTable<FeedEvent, List<ActivityContext>> FeedContexts = [];

    /// <summary>The root span of one MQTT publish; null when nobody listens. It ends when the alarm is durable (or refused).</summary>
    /// <remarks>The topic itself is not a tag (a client chooses it); the device id is, once intake has checked it.</remarks>
    public static Activity? StartMqttReceive(string? vendorId)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var span = Source.StartActivity(MqttReceive, ActivityKind.Consumer);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("messaging.system", "mqtt");
            span.SetTag("messaging.operation.type", "receive");
            span.SetTag("messaging.destination.template", "sharpeyes/v1/alarms/{device_id}");
            span.SetTag(VendorIdTag, vendorId);
        }

        return span;
    }

    /// <summary>Stops <paramref name="span"/> once <paramref name="committed"/> completes, with the outcome.</summary>
    public static async Task EndWhenDurableAsync(Activity span, Task committed)
    {
        try
        {
            await committed.ConfigureAwait(false);
            if (committed is Task<Alarms.IntakeResult> { Result: var result })
            {
                span.SetTag(OutcomeTag, result.Rejection is { } late ? late.Reason : result.Status == Alarms.IntakeStatus.Duplicate ? "duplicate" : "accepted");
                span.SetTag(IncidentIdTag, result.IncidentId);
            }
        }
        catch (Exception ex)
        {
            span.SetStatus(ActivityStatusCode.Error, "not durable: " + ex.GetType().Name);
        }
        finally
        {
            span.Stop();
        }
    }

    /// <summary>
    /// Links the feed event to a span it was committed under (while it stays in memory): the item that appended it, and
    /// each that joined it (an incident's event carries every alarm of its commit). Called on the journal's writer only,
    /// before the event is published.
    /// </summary>
    internal static void Remember(FeedEvent feedEvent, ActivityContext context) => FeedContexts.GetOrCreateValue(feedEvent).Add(context);

    /// <summary>The spans <paramref name="feedEvent"/> was committed under; empty when none (untraced, or read back from the store).</summary>
    public static IReadOnlyList<ActivityContext> ContextsOf(FeedEvent feedEvent) =>
        FeedContexts.TryGetValue(feedEvent, out var contexts) ? contexts : [];
}
