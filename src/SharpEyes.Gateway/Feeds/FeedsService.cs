using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Observability;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Feeds;

/// <summary>
/// Feeds.Subscribe: replays persisted events after the caller's sequence (from memory when recent, else from the
/// store), then follows live commits (<see cref="FeedFollower"/>, shared with the event stream). Strict sequence order;
/// a region prefix filters on each event's region code. A sequence that retention already deleted is OUT_OF_RANGE (0
/// means "everything still kept").
/// <para>
/// Bounds (SharpEyes:Limits): at most <see cref="LimitOptions.FeedSubscribers"/> streams at once. A client that stops
/// reading holds one page and the transport's buffers, never more. When more than
/// <see cref="LimitOptions.FeedSubscriberBuffer"/> events commit while such a client takes no data, it is ended with
/// RESOURCE_EXHAUSTED naming the sequence to resubscribe after, once it has read what was already sent; if it reads
/// nothing for <see cref="LimitOptions.FeedSubscriberDrainTimeout"/>, its stream is reset.
/// </para>
/// </summary>
public sealed class FeedsService(FeedFollower follower, FeedHub hub, ClientRefusals refusals, ApiKeyStore keys, IOptions<GatewayOptions> options,
    IHostApplicationLifetime lifetime)
    : V1.Feeds.FeedsBase
{
    public const string TooManyKind = "feed-subscribers";
    public const string BehindKind = "feed-subscriber-behind";

    /// <summary>What a subscriber is told when the gateway stops under its stream.</summary>
    public const string StoppingMessage = "the gateway is stopping; subscribe again after the last sequence you received (to another replica, or here after the restart)";

    /// <summary>HTTP/2 ENHANCE_YOUR_CALM: grpc-dotnet and grpc-js clients report it as RESOURCE_EXHAUSTED.</summary>
    private const int EnhanceYourCalm = 0xb;

    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);

    private readonly LimitOptions _limits = options.Value.Limits;

    public override async Task Subscribe(SubscribeRequest request, IServerStreamWriter<FeedEvent> responseStream, ServerCallContext context)
    {
        if (request.AfterSequence < 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "after_sequence: must be >= 0"));
        }

        if (follower.CheckStart(request.AfterSequence) is { } problem)
        {
            throw new RpcException(new Status(StatusCode.OutOfRange, "after_sequence: " + problem.Message));
        }

        if (!hub.TryAddSubscriber(_limits.FeedSubscribers))
        {
            refusals.Count(TooManyKind, $"{_limits.FeedSubscribers} feed streams are open");
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"too many feed subscribers: {_limits.FeedSubscribers} streams are open, the limit (Limits:FeedSubscribers); close one or retry later"));
        }

        // A revoked or expired key's stream ends at once, with the reason, not at the client's next call.
        var keyId = Caller.Of(context).KeyId;
        // Shutdown ends the stream too (else Kestrel waits its whole shutdown timeout for it), as UNAVAILABLE: a client
        // subscribes again after its last sequence, to another replica or to this one after its restart.
        using var followed = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, keys.RevokedToken(keyId), lifetime.ApplicationStopping);
        try
        {
            try
            {
                await follower.FollowAsync(request.AfterSequence, request.RegionPrefix ?? "", new GrpcFeedStream(responseStream, context), followed.Token)
                    .ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (followed.IsCancellationRequested)
            {
                // Ended by the client or by the key: which one is told below.
            }

            // The follower may also see the cancellation between two reads and return: the key's end is told either way.
            if (!context.CancellationToken.IsCancellationRequested && keys.Inactive(keyId) is { } why)
            {
                throw new RpcException(new Status(StatusCode.Unauthenticated, $"{why}; the stream is closed"));
            }

            if (!context.CancellationToken.IsCancellationRequested && lifetime.ApplicationStopping.IsCancellationRequested)
            {
                throw new RpcException(new Status(StatusCode.Unavailable, StoppingMessage));
            }
        }
        finally
        {
            hub.RemoveSubscriber();
        }
    }

    /// <summary>A Feeds.Subscribe call as the follower writes to it.</summary>
    private sealed class GrpcFeedStream(IServerStreamWriter<FeedEvent> stream, ServerCallContext context) : IFeedStream
    {
        public string Name => "a feed subscriber";

        public string BehindKind => FeedsService.BehindKind;

        public TimeSpan? HeartbeatInterval => null;

        public Task WriteAsync(FeedEvent e, bool flush, CancellationToken ct)
        {
            stream.WriteOptions = flush ? null : Buffered;
            return stream.WriteAsync(e, ct);
        }

        public Task? Heartbeat(CancellationToken ct) => Task.CompletedTask;

        public Task EndBehindAsync(string why, long sentThrough) =>
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"{why}; resubscribe with after_sequence={sentThrough}"));

        public void Reset() => context.GetHttpContext().Features.Get<IHttpResetFeature>()?.Reset(EnhanceYourCalm);
    }
}
