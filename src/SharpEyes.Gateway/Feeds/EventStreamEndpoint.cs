using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Hosting;
using SharpEyes.Gateway.Observability;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Feeds;

/// <summary>
/// <c>GET /api/events</c>: the feed as server-sent events, for the console (EventSource) and curl. Each feed event is
/// <c>id:</c> its sequence, <c>event:</c> its kind, <c>data:</c> the event as protobuf JSON, so a reconnecting
/// EventSource resumes exactly after the last one it received (<c>Last-Event-ID</c>; <c>?after=N</c> for a first
/// connection; neither: from now). <c>?region=</c> filters by region prefix as Feeds.Subscribe does. The stream opens
/// with <c>event: ready</c> (id: where it starts), sends <c>event: heartbeat</c> when it has been silent for
/// Sessions:EventHeartbeat (and checks its key then), and ends with <c>event: end</c> saying why (fell behind, the
/// session ended, the gateway is stopping). Following, limits and slow readers are <see cref="FeedFollower"/>'s, as for
/// Feeds.Subscribe; the number of open streams has its own limit (Limits:EventStreams).
/// </summary>
/// <remarks>
/// The framing is written here rather than with ASP.NET Core's TypedResults.ServerSentEvents: the follower needs each
/// write's task (to notice a client that stopped reading) and its own flush points, and the answers before the stream
/// starts (410, 416, 429) need the status code.
/// </remarks>
public sealed partial class EventStreamEndpoint(
    FeedFollower follower, ApiKeyStore keys, ClientRefusals refusals, TimeProvider time, IOptions<GatewayOptions> options,
    IHostApplicationLifetime lifetime, ILogger<EventStreamEndpoint> logger)
{
    public const string TooManyKind = "event-streams";
    public const string BehindKind = "event-stream-behind";

    /// <summary>How long an EventSource waits before reconnecting (sent as <c>retry:</c>).</summary>
    public const int RetryMilliseconds = 2000;

    /// <summary>Longest region prefix accepted (grid codes are 12 to 15 characters).</summary>
    public const int MaxRegionPrefix = 64;

    private static readonly EventStreamJson Json = new(JsonStatusResponse.Options());

    private readonly SubscriberSlots _slots = new();
    private readonly LimitOptions _limits = options.Value.Limits;
    private readonly TimeSpan _heartbeat = options.Value.Sessions.EventHeartbeat;

    /// <summary>Event streams open now.</summary>
    public int Open => _slots.Open;

    public async Task HandleAsync(HttpContext context)
    {
        var principal = context.Items[ApiKeyAuthenticationHandler.PrincipalItem] as Principal
            ?? throw new InvalidOperationException("an authorized request without a principal");
        if (!TryReadPosition(context.Request, out var after, out var source, out var error))
        {
            await JsonStatusResponse.WriteAsync(context, StatusCodes.Status400BadRequest, StatusCode.InvalidArgument, error).ConfigureAwait(false);
            return;
        }

        var prefix = context.Request.Query["region"].ToString();
        if (prefix.Length > MaxRegionPrefix)
        {
            await JsonStatusResponse.WriteAsync(context, StatusCodes.Status400BadRequest, StatusCode.InvalidArgument,
                $"region: at most {MaxRegionPrefix} characters (a region code prefix such as 130127104)").ConfigureAwait(false);
            return;
        }

        if (after is { } requested && follower.CheckStart(requested) is { } problem)
        {
            // Before the stream starts, so that an EventSource stops reconnecting: the page has to reload what it shows.
            await JsonStatusResponse.WriteAsync(context, problem.Ahead ? StatusCodes.Status416RangeNotSatisfiable : StatusCodes.Status410Gone,
                StatusCode.OutOfRange, $"{source}: {problem.Message}; or reconnect without it to follow from now").ConfigureAwait(false);
            return;
        }

        if (!_slots.TryTake(_limits.EventStreams))
        {
            refusals.Count(TooManyKind, $"{_limits.EventStreams} event streams are open");
            await JsonStatusResponse.WriteAsync(context, StatusCodes.Status429TooManyRequests, StatusCode.ResourceExhausted,
                $"too many event streams: {_limits.EventStreams} are open, the limit (Limits:EventStreams); close one or retry later").ConfigureAwait(false);
            return;
        }

        try
        {
            await StreamAsync(context, principal, after ?? follower.LastSequence, prefix).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task StreamAsync(HttpContext context, Principal principal, long after, string prefix)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Accel-Buffering"] = "no"; // nginx and similar proxies pass each event on at once
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        // A revoked or expired key ends the stream at once (not at the next heartbeat), with the reason.
        var revoked = keys.RevokedToken(principal.KeyId);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping, revoked);
        var stream = new SseFeedStream(this, context, principal, SessionAuthentication.Of(context)?.AbsoluteExpiresAt);
        try
        {
            stream.Write(Frame(after, "ready", JsonSerializer.Serialize(
                new ReadyData(after, follower.LastSequence, prefix, (int)_heartbeat.TotalSeconds), Json.ReadyData), retry: true));
            await stream.FlushAsync(stop.Token).ConfigureAwait(false);
            await follower.FollowAsync(after, prefix, stream, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            if (context.RequestAborted.IsCancellationRequested)
            {
                return;
            }

            if (revoked.IsCancellationRequested && Ended(principal, null) is { } ended)
            {
                stream.WriteEnd(StatusCode.Unauthenticated, $"the session has ended: {ended}; sign in again", reconnect: false);
            }
            else
            {
                // The gateway is stopping: say so, so that the page shows why before its EventSource reconnects.
                stream.WriteEnd(StatusCode.Unavailable, "the gateway is stopping; reconnect to resume after your Last-Event-ID (EventSource does)", reconnect: true);
            }
        }
        catch (Exception e) when (context.RequestAborted.IsCancellationRequested && e is IOException or InvalidOperationException or OperationCanceledException)
        {
            // The client went away in the middle of a write.
        }
    }

    /// <summary>The position to start after: Last-Event-ID (what a reconnecting EventSource sends), else ?after=, else none (from now).</summary>
    private static bool TryReadPosition(HttpRequest request, out long? after, out string source, out string error)
    {
        after = null;
        error = "";
        var header = request.Headers["Last-Event-ID"].ToString();
        source = header.Length > 0 ? "Last-Event-ID" : "after";
        var text = header.Length > 0 ? header : request.Query["after"].ToString();
        if (text.Length == 0)
        {
            return true;
        }

        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            error = $"{source}: '{LogText.Client(text, 32)}' is not a feed sequence (a whole number; 0 for everything still kept)";
            return false;
        }

        after = value;
        return true;
    }

    /// <summary>One server-sent event: optional id and retry, its name, one data line (JSON has no raw line breaks).</summary>
    private static string Frame(long? id, string name, string data, bool retry = false)
    {
        var text = new StringBuilder(data.Length + 64);
        if (retry)
        {
            text.Append("retry: ").Append(RetryMilliseconds).Append('\n');
        }

        if (id is { } sequence)
        {
            text.Append("id: ").Append(sequence).Append('\n');
        }

        return text.Append("event: ").Append(name).Append("\ndata: ").Append(data).Append("\n\n").ToString();
    }

    private static readonly Dictionary<FeedEventKind, string> KindNames = Enum.GetValues<FeedEventKind>().ToDictionary(
        k => k, k => FeedEvent.Descriptor.FindFieldByNumber(FeedEvent.KindFieldNumber).EnumType.FindValueByNumber((int)k)?.Name ?? k.ToString());

    /// <summary>The event name of a feed event: its kind as protobuf JSON spells it (FEED_EVENT_KIND_INCIDENT_OPENED).</summary>
    public static string EventName(FeedEventKind kind) => KindNames.GetValueOrDefault(kind) ?? kind.ToString();

    private long LastSequence => follower.LastSequence;

    /// <summary>
    /// Why a stream must end now, checked at each heartbeat as a request would be: its key was revoked, or its session
    /// reached its absolute limit; else null.
    /// </summary>
    private string? Ended(Principal principal, DateTimeOffset? sessionEnds)
    {
        var ended = keys.IsRevoked(principal.KeyId) ? keys.ExpiredReason(principal.KeyId) ?? "its API key was revoked"
            : sessionEnds is { } end && time.GetUtcNow() >= end ? "it reached its absolute limit (SharpEyes:Sessions:MaxLifetime)"
            : null;
        if (ended is not null)
        {
            LogEnded(logger, principal.KeyId, ended);
        }

        return ended;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Ended an event stream of key {KeyId}: {Reason}")]
    private static partial void LogEnded(ILogger logger, string keyId, string reason);

    /// <summary>One open event stream as <see cref="FeedFollower"/> writes to it.</summary>
    private sealed class SseFeedStream(EventStreamEndpoint owner, HttpContext context, Principal principal, DateTimeOffset? sessionEnds) : IFeedStream
    {
        private readonly PipeWriter _body = context.Response.BodyWriter;

        public string Name => "an event stream";

        public string BehindKind => EventStreamEndpoint.BehindKind;

        public TimeSpan? HeartbeatInterval => owner._heartbeat;

        public Task WriteAsync(FeedEvent e, bool flush, CancellationToken ct)
        {
            Write(Frame(e.Sequence, EventName(e.Kind), JsonFormatter.Default.Format(e)));
            return flush ? FlushAsync(ct) : Task.CompletedTask;
        }

        public Task? Heartbeat(CancellationToken ct)
        {
            if (owner.Ended(principal, sessionEnds) is { } ended)
            {
                WriteEnd(StatusCode.Unauthenticated, $"the session has ended: {ended}; sign in again", reconnect: false);
                return null;
            }

            Write(Frame(null, "heartbeat", $"{{\"lastSequence\":{owner.LastSequence}}}"));
            return FlushAsync(ct);
        }

        public async Task EndBehindAsync(string why, long sentThrough)
        {
            WriteEnd(StatusCode.ResourceExhausted, $"{why}; reconnect with Last-Event-ID: {sentThrough} (EventSource does)", reconnect: true);
            await FlushAsync(context.RequestAborted).ConfigureAwait(false);
        }

        public void Reset() => context.Abort();

        /// <summary>The last event of a stream; what is written after it is the response's end (Kestrel flushes it).</summary>
        public void WriteEnd(StatusCode code, string message, bool reconnect) =>
            Write(Frame(null, "end", JsonSerializer.Serialize(new EndData((int)code, message, reconnect), Json.EndData)));

        public void Write(string frame) => Encoding.UTF8.GetBytes(frame.AsSpan(), _body);

        public Task FlushAsync(CancellationToken ct)
        {
            var flush = _body.FlushAsync(ct);
            return flush.IsCompletedSuccessfully ? Task.CompletedTask : flush.AsTask();
        }
    }
}

/// <summary>The data of <c>event: ready</c>: where the stream starts, the feed's end now, its filter and heartbeat.</summary>
internal sealed record ReadyData(long After, long LastSequence, string RegionPrefix, int HeartbeatSeconds);

/// <summary>The data of <c>event: end</c>: a gRPC status code and message (as JSON API errors are), and whether reconnecting resumes.</summary>
internal sealed record EndData(int Code, string Message, bool Reconnect);

[JsonSerializable(typeof(ReadyData))]
[JsonSerializable(typeof(EndData))]
internal sealed partial class EventStreamJson : JsonSerializerContext;

/// <summary>Maps <c>GET /api/events</c> on the HTTP listener with its row of <see cref="AccessTable"/>.</summary>
public static class EventStreamRoutes
{
    public static IEndpointRouteBuilder MapSharpEyesEventStream(this IEndpointRouteBuilder app)
    {
        var endpoint = app.ServiceProvider.GetRequiredService<EventStreamEndpoint>();
        app.MapGet("/api/events", (RequestDelegate)endpoint.HandleAsync).OnListener(GatewayListeners.Http);
        return app;
    }
}
