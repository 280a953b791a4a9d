using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Observability;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Feeds;

/// <summary>
/// How one reader of the feed is written to: a Feeds.Subscribe stream (gRPC) or an event stream (<c>/api/events</c>,
/// server-sent events). <see cref="FeedFollower"/> decides what to send and when; the transport only frames it.
/// </summary>
internal interface IFeedStream
{
    /// <summary>What <see cref="ClientRefusals"/> counts and the log calls this reader ("a feed subscriber").</summary>
    string Name { get; }

    /// <summary>The refusal kind counted when this reader falls behind.</summary>
    string BehindKind { get; }

    /// <summary>How long the stream may stay silent before <see cref="Heartbeat"/>; null: never (gRPC relies on HTTP/2 pings).</summary>
    TimeSpan? HeartbeatInterval { get; }

    /// <summary>
    /// Starts writing one event; <paramref name="flush"/> sends it and what is buffered to the client. The task completes
    /// when the transport has taken it (it waits while the client's side is full).
    /// </summary>
    Task WriteAsync(FeedEvent e, bool flush, CancellationToken ct);

    /// <summary>Starts writing a heartbeat, or answers null when the stream must end (the transport has written why).</summary>
    Task? Heartbeat(CancellationToken ct);

    /// <summary>
    /// The reader fell behind and has taken everything sent through <paramref name="sentThrough"/>: tell it, with
    /// <paramref name="why"/>, where to resume (gRPC ends the call with a status; an event stream writes its end event).
    /// </summary>
    Task EndBehindAsync(string why, long sentThrough);

    /// <summary>The reader took nothing for the whole drain timeout: free its stream at once (reset or close).</summary>
    void Reset();
}

/// <summary>
/// Follows the committed feed for one reader, for both Feeds.Subscribe and the event stream: replays events after the
/// reader's sequence (from memory when recent, else from the store) then follows live commits, in strict sequence
/// order, filtered by region prefix. Pages are written with a flush every <see cref="FlushBytes"/>, so a reader that
/// stops reading holds one page and the transport's buffers, never more. When more than
/// <see cref="LimitOptions.FeedSubscriberBuffer"/> events commit while its client takes no data, the reader is ended
/// once it has read what was already sent, naming where to resume; if it reads nothing for
/// <see cref="LimitOptions.FeedSubscriberDrainTimeout"/>, its stream is reset.
/// </summary>
public sealed partial class FeedFollower(
    FeedLog log, FeedHub hub, Storage.Journal journal, ClientRefusals refusals, TimeProvider time, IOptions<GatewayOptions> options, ILogger<FeedFollower> logger)
{
    /// <summary>Events read per page (from the ring: shared references; from the store: parsed copies this stream holds).</summary>
    private const int PageSize = 256;

    /// <summary>Written bytes after which a write is flushed (and waits for the client if the transport is full).</summary>
    private const int FlushBytes = 32 * 1024;

    private readonly LimitOptions _limits = options.Value.Limits;

    /// <summary>The last committed sequence: where a reader that asks for "from now" starts.</summary>
    public long LastSequence => journal.LastSequence;

    /// <summary>
    /// Why a reader cannot start after <paramref name="after"/> (a sequence retention deleted, or one this gateway never
    /// issued), or null when it can. 0 always can: it means everything still kept.
    /// </summary>
    public StartProblem? CheckStart(long after)
    {
        var pruned = log.PrunedThrough;
        if (after > 0 && after < pruned)
        {
            return new StartProblem(false, $"events up to {pruned} were deleted by retention; resume from {pruned} or 0 (everything still kept)");
        }

        // A sequence this gateway never issued: the client saw another store (this one was restored from a backup, or
        // replaced). Following from there would skip every event numbered up to it.
        var last = journal.LastSequence;
        return after > last
            ? new StartProblem(true, $"{after} is ahead of this gateway's feed, which ends at {last} (was its store restored from a backup?); resume from {last} or lower")
            : null;
    }

    /// <summary>Follows the feed after <paramref name="after"/> until <paramref name="ct"/> ends it, the reader falls behind or the transport ends it.</summary>
    internal async Task FollowAsync(long after, string prefix, IFeedStream stream, CancellationToken ct)
    {
        var position = new Position(after, time.GetTimestamp());
        var page = new List<FeedEvent>(PageSize);
        while (!ct.IsCancellationRequested)
        {
            page.Clear();
            var scanned = log.Read(position.Scanned, PageSize, prefix, page, out var newer);
            if (scanned == position.Scanned)
            {
                if (!await WaitAsync(newer, stream, position, ct).ConfigureAwait(false))
                {
                    return;
                }

                continue;
            }

            var unflushed = 0;
            for (var i = 0; i < page.Count; i++)
            {
                unflushed += page[i].CalculateSize();
                var flush = i == page.Count - 1 || unflushed >= FlushBytes;
                unflushed = flush ? 0 : unflushed;
                var write = stream.WriteAsync(page[i], flush, ct);
                if (!write.IsCompleted && !await KeepsUpAsync(write, page[i].Sequence, position, stream).ConfigureAwait(false))
                {
                    return;
                }

                await write.ConfigureAwait(false);
                position.Sent = page[i].Sequence;
                position.LastWrite = time.GetTimestamp();
            }

            position.Scanned = position.Sent = scanned;
        }
    }

    /// <summary>
    /// Waits for newer commits; a stream with heartbeats writes one when it has sent nothing for its interval (counted
    /// from its last write, so a stream whose region filter skips every event still beats). False: the stream ends.
    /// </summary>
    private async Task<bool> WaitAsync(Task newer, IFeedStream stream, Position position, CancellationToken ct)
    {
        if (stream.HeartbeatInterval is not { } interval)
        {
            await newer.WaitAsync(ct).ConfigureAwait(false);
            return true;
        }

        var due = interval - time.GetElapsedTime(position.LastWrite);
        if (due > TimeSpan.Zero)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var beat = Task.Delay(due, time, stop.Token);
            var first = await Task.WhenAny(newer, beat).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            if (first == newer)
            {
                return true;
            }
        }

        var write = stream.Heartbeat(ct);
        if (write is null || (!write.IsCompleted && !await KeepsUpAsync(write, position.Sent, position, stream).ConfigureAwait(false)))
        {
            return false;
        }

        await write.ConfigureAwait(false);
        position.LastWrite = time.GetTimestamp();
        return true;
    }

    /// <summary>
    /// While a write waits for the client, watches the commits: true once the write completes; if more than
    /// Limits:FeedSubscriberBuffer events commit before it does, the reader has stopped keeping up and is ended
    /// (<see cref="DropAsync"/>). Counting only what commits while the client takes nothing keeps a reader that
    /// catches up on history, or waits a moment for its client, from being ended.
    /// </summary>
    private async Task<bool> KeepsUpAsync(Task write, long writing, Position position, IFeedStream stream)
    {
        var blockedAt = hub.Head().Last;
        while (true)
        {
            var (last, newer) = hub.Head();
            if (last - blockedAt > _limits.FeedSubscriberBuffer)
            {
                return await DropAsync(write, writing, last, position, stream).ConfigureAwait(false);
            }

            if (await Task.WhenAny(write, newer).ConfigureAwait(false) == write)
            {
                return true;
            }
        }
    }

    private async Task<bool> DropAsync(Task write, long writing, long last, Position position, IFeedStream stream)
    {
        refusals.Count(stream.BehindKind, $"{stream.Name} fell more than {_limits.FeedSubscriberBuffer} events behind (sent through {position.Sent}, committed through {last})");
        using var stop = new CancellationTokenSource();
        var drained = await Task.WhenAny(write, Task.Delay(_limits.FeedSubscriberDrainTimeout, time, stop.Token)).ConfigureAwait(false) == write;
        await stop.CancelAsync().ConfigureAwait(false);
        if (drained)
        {
            if (!write.IsCompletedSuccessfully)
            {
                return false; // the transport gave up on the client first (a reset or closed connection)
            }

            // Everything through this event is in the stream, ahead of the end.
            await stream.EndBehindAsync(
                $"fell more than {_limits.FeedSubscriberBuffer} events behind the feed: they were committed while it took no data (Limits:FeedSubscriberBuffer); "
                + $"sent through sequence {writing}, committed through {last}", writing).ConfigureAwait(false);
            return false;
        }

        // It has not read for the whole drain timeout: nothing more can reach it, so free the stream.
        LogReset(logger, stream.Name, _limits.FeedSubscriberDrainTimeout, position.Sent);
        stream.Reset();
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
        Message = "Reset {Reader} that fell behind and read nothing for {Timeout} (sent through sequence {Sent})")]
    private static partial void LogReset(ILogger logger, string reader, TimeSpan timeout, long sent);

    /// <summary>Where a reader stands: scanned through (filtered-out events count), sent through, and when it last wrote.</summary>
    private sealed class Position(long after, long now)
    {
        public long Scanned { get; set; } = after;

        public long Sent { get; set; } = after;

        public long LastWrite { get; set; } = now;
    }
}

/// <summary>Why a reader cannot start where it asked: <see cref="Ahead"/> of the feed, or else behind retention.</summary>
public sealed record StartProblem(bool Ahead, string Message);

/// <summary>A count of open streams with a limit, taken and released without a lock.</summary>
public sealed class SubscriberSlots
{
    private int _open;

    /// <summary>Streams open now.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>Counts one more open stream unless <paramref name="limit"/> are open already.</summary>
    public bool TryTake(int limit)
    {
        var open = Volatile.Read(ref _open);
        while (open < limit)
        {
            var seen = Interlocked.CompareExchange(ref _open, open + 1, open);
            if (seen == open)
            {
                return true;
            }

            open = seen;
        }

        return false;
    }

    public void Release() => Interlocked.Decrement(ref _open);
}
