using System.Diagnostics;
using SharpEyes.Gateway.Observability;

namespace SharpEyes.Gateway.Outbox;

/// <summary>
/// Spans of the push to one endpoint: an <c>outbox deliver</c> span per attempt (a root span, with a link to the
/// commit span of every traced event it carries; over gRPC its context travels to the centre in <c>traceparent</c>),
/// and once the endpoint acknowledged, an <c>outbox acknowledged</c> span in each carried alarm's own trace, so one
/// alarm's trace ends with the centre's acknowledgement.
/// </summary>
internal static class OutboxTracing
{
    public static Activity? StartAttempt(string endpoint, OutboxBatch batch)
    {
        if (!GatewayTracing.Source.HasListeners())
        {
            return null;
        }

        List<ActivityLink>? links = null;
        foreach (var e in batch.Events)
        {
            foreach (var context in GatewayTracing.ContextsOf(e))
            {
                (links ??= []).Add(new ActivityLink(context));
            }
        }

        var span = GatewayTracing.Source.StartActivity(GatewayTracing.OutboxDeliver, ActivityKind.Client, parentContext: default, links: links);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag(GatewayTracing.EndpointTag, endpoint)
                .SetTag(GatewayTracing.AfterTag, batch.After)
                .SetTag(GatewayTracing.ThroughTag, batch.Through)
                .SetTag(GatewayTracing.AttemptEventsTag, batch.Events.Count);
        }

        return span;
    }

    public static void Failed(Activity span, string error) =>
        span.SetTag(GatewayTracing.OutcomeTag, "failed").SetStatus(ActivityStatusCode.Error, error);

    /// <summary>The endpoint's answer on the attempt, and an acknowledgement span in the trace of every carried event it now holds.</summary>
    public static void Answered(Activity span, string endpoint, OutboxBatch batch, long acked)
    {
        span.SetTag(GatewayTracing.AckedTag, acked).SetTag(GatewayTracing.OutcomeTag, acked > batch.After ? "acknowledged" : "no-progress");
        if (acked <= batch.After)
        {
            return;
        }

        var attempt = new ActivityLink(span.Context);
        foreach (var e in batch.Events)
        {
            if (e.Sequence > acked)
            {
                continue;
            }

            foreach (var context in GatewayTracing.ContextsOf(e))
            {
                using var ack = GatewayTracing.Source.StartActivity(GatewayTracing.OutboxAcknowledged, ActivityKind.Internal, context,
                    links: [attempt], startTime: span.StartTimeUtc);
                ack?.SetTag(GatewayTracing.EndpointTag, endpoint).SetTag(GatewayTracing.FeedSequenceTag, e.Sequence).SetTag(GatewayTracing.AckedTag, acked);
            }
        }

        Activity.Current = span; // starting a span with an explicit parent made it current; the attempt goes on
    }
}
