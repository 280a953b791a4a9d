using Grpc.Core;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Feeds;

/// <summary>
/// Feeds.Subscribe: replays persisted events after the caller's sequence (from memory when recent, else from the
/// store), then follows live commits. Strict sequence order; a region prefix filters on each event's region code.
/// A sequence that retention already deleted is OUT_OF_RANGE (0 means "everything still kept").
/// </summary>
public sealed class FeedsService(FeedLog log) : V1.Feeds.FeedsBase
{
    private const int PageSize = 1000;

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

        var prefix = request.RegionPrefix ?? "";
        var last = request.AfterSequence;
        var page = new List<FeedEvent>(PageSize);
        var ct = context.CancellationToken;
        while (!ct.IsCancellationRequested)
        {
            page.Clear();
            var scanned = log.Read(last, PageSize, prefix, page, out var newer);
            if (scanned == last)
            {
                await newer.WaitAsync(ct).ConfigureAwait(false);
                continue;
            }

            last = scanned;
            await WritePageAsync(responseStream, page, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Writes a page with one flush at its end (BufferHint on all but the last message).</summary>
    private static async Task WritePageAsync(IServerStreamWriter<FeedEvent> stream, List<FeedEvent> page, CancellationToken ct)
    {
        for (var i = 0; i < page.Count; i++)
        {
            stream.WriteOptions = i < page.Count - 1 ? Buffered : null;
            await stream.WriteAsync(page[i], ct).ConfigureAwait(false);
        }
    }

    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);
}
