using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Observability;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Feeds;

/// <summary>
/// Feeds.Subscribe: replays persisted events after the caller's sequence (from memory when recent, else from the
/// store), then follows live commits. Strict sequence order; a region prefix filters on each event's region code.
/// A sequence that retention already deleted is OUT_OF_RANGE (0 means "everything still kept").
/// <para>
/// Bounds (SharpEyes:Limits): at most <see cref="LimitOptions.FeedSubscribers"/> streams at once. Each stream reads the
/// shared ring or the store a page at a time and writes it with a flush every <see cref="FlushBytes"/>, so a client
/// that stops reading holds one page and the transport's buffers, never more. When more than
/// <see cref="LimitOptions.FeedSubscriberBuffer"/> events commit while such a client takes no data, it is ended with
/// RESOURCE_EXHAUSTED naming the sequence to resubscribe after, once it has read what was already sent; if it reads
/// nothing for <see cref="LimitOptions.FeedSubscriberDrainTimeout"/>, its stream is reset.
/// </para>
/// </summary>
public sealed partial class FeedsService(
    FeedLog log, FeedHub hub, Storage.Journal journal, ClientRefusals refusals, TimeProvider time, IOptions<GatewayOptions> options, ILogger<FeedsService> logger)
    : V1.Feeds.FeedsBase
{
    public const string TooManyKind = "feed-subscribers";
    public const string BehindKind = "feed-subscriber-behind";

    /// <summary>Events read per page (from the ring: shared references; from the store: parsed copies this stream holds).</summary>
    private const int PageSize = 256;

    /// <summary>Written bytes after which a write is flushed (and waits for the client if the transport is full).</summary>
    private const int FlushBytes = 32 * 1024;

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

        var pruned = log.PrunedThrough;
        if (request.AfterSequence > 0 && request.AfterSequence < pruned)
        {
            throw new RpcException(new Status(StatusCode.OutOfRange,
                $"after_sequence: events up to {pruned} were deleted by retention; resume from {pruned} or 0 (everything still kept)"));
        }

        // A sequence this gateway never issued: the client saw another store (this one was restored from a backup, or
        // replaced). Following from there would skip every event numbered up to it.
        var last = journal.LastSequence;
        if (request.AfterSequence > last)
        {
            throw new RpcException(new Status(StatusCode.OutOfRange,
                $"after_sequence: {request.AfterSequence} is ahead of this gateway's feed, which ends at {last} (was its store restored from a backup?); resume from {last} or lower"));
        }

        if (!hub.TryAddSubscriber(_limits.FeedSubscribers))
        {
            refusals.Count(TooManyKind, $"{_limits.FeedSubscribers} feed streams are open");
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"too many feed subscribers: {_limits.FeedSubscribers} streams are open, the limit (Limits:FeedSubscribers); close one or retry later"));
        }

        try
        {
            await FollowAsync(request, responseStream, context).ConfigureAwait(false);
        }
        finally
        {
            hub.RemoveSubscriber();
        }
    }

    private async Task FollowAsync(SubscribeRequest request, IServerStreamWriter<FeedEvent> stream, ServerCallContext context)
    {
        var prefix = request.RegionPrefix ?? "";
        var ct = context.CancellationToken;
        var position = new Position(request.AfterSequence);
        var page = new List<FeedEvent>(PageSize);
        while (!ct.IsCancellationRequested)
        {
            page.Clear();
            var scanned = log.Read(position.Scanned, PageSize, prefix, page, out var newer);
            if (scanned == position.Scanned)
            {
                await newer.WaitAsync(ct).ConfigureAwait(false);
                continue;
            }

            var unflushed = 0;
            for (var i = 0; i < page.Count; i++)
            {
                unflushed += page[i].CalculateSize();
                var flush = i == page.Count - 1 || unflushed >= FlushBytes;
                stream.WriteOptions = flush ? null : Buffered;
                unflushed = flush ? 0 : unflushed;
                var write = stream.WriteAsync(page[i], ct);
                if (!write.IsCompleted && !await KeepsUpAsync(write, page[i].Sequence, position, context).ConfigureAwait(false))
                {
                    return;
                }

                await write.ConfigureAwait(false);
                position.Sent = page[i].Sequence;
            }

            position.Scanned = position.Sent = scanned;
        }
    }

    /// <summary>
    /// While a write waits for the client, watches the commits: true once the write completes; if more than
    /// Limits:FeedSubscriberBuffer events commit before it does, the subscriber has stopped keeping up and is ended
    /// (<see cref="DropAsync"/>). Counting only what commits while the client takes nothing keeps a subscriber that
    /// catches up on history, or waits a moment for its client, from being ended.
    /// </summary>
    private async Task<bool> KeepsUpAsync(Task write, long writing, Position position, ServerCallContext context)
    {
        var blockedAt = hub.Head().Last;
        while (true)
        {
            var (last, newer) = hub.Head();
            if (last - blockedAt > _limits.FeedSubscriberBuffer)
            {
                return await DropAsync(write, writing, last, position, context).ConfigureAwait(false);
            }

            if (await Task.WhenAny(write, newer).ConfigureAwait(false) == write)
            {
                return true;
            }
        }
    }

    private async Task<bool> DropAsync(Task write, long writing, long last, Position position, ServerCallContext context)
    {
        refusals.Count(BehindKind, $"a feed subscriber fell more than {_limits.FeedSubscriberBuffer} events behind (sent through {position.Sent}, committed through {last})");
        using var stop = new CancellationTokenSource();
        var drained = await Task.WhenAny(write, Task.Delay(_limits.FeedSubscriberDrainTimeout, time, stop.Token)).ConfigureAwait(false) == write;
        await stop.CancelAsync().ConfigureAwait(false);
        if (drained)
        {
            // Everything through this event is in the stream, ahead of the status.
            await write.ConfigureAwait(false);
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"fell more than {_limits.FeedSubscriberBuffer} events behind the feed: they were committed while it took no data (Limits:FeedSubscriberBuffer); "
                + $"sent through sequence {writing}, committed through {last}; resubscribe with after_sequence={writing}"));
        }

        // It has not read for the whole drain timeout: nothing more can reach it, so free the stream.
        LogReset(logger, _limits.FeedSubscriberDrainTimeout, position.Sent);
        context.GetHttpContext().Features.Get<IHttpResetFeature>()?.Reset(EnhanceYourCalm);
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The write of a reset stream fails; that is the point.
        }

        return false;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Reset a feed stream that fell behind and read nothing for {Timeout} (sent through sequence {Sent})")]
    private static partial void LogReset(ILogger logger, TimeSpan timeout, long sent);

    /// <summary>Where a subscription stands: scanned through (filtered-out events count) and sent through.</summary>
    private sealed class Position(long after)
    {
        public long Scanned { get; set; } = after;

        public long Sent { get; set; } = after;
    }
}
