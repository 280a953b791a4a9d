using Grpc.Core;
using SharpEyes.Gateway.Storage;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Feeds;

/// <summary>
/// Feeds.Subscribe: replays persisted events after the caller's sequence (from memory when recent, else from the
/// store), then follows live commits. Strict sequence order; a region prefix filters on each event's region code.
/// </summary>
public sealed class FeedsService(FeedHub hub, GatewayStore store) : V1.Feeds.FeedsBase
{
    private const int PageSize = 1000;

    public override async Task Subscribe(SubscribeRequest request, IServerStreamWriter<FeedEvent> responseStream, ServerCallContext context)
    {
        if (request.AfterSequence < 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "after_sequence: must be >= 0"));
        }

        var prefix = request.RegionPrefix ?? "";
        var last = request.AfterSequence;
        var page = new List<FeedEvent>(PageSize);
        var ct = context.CancellationToken;
        while (!ct.IsCancellationRequested)
        {
            page.Clear();
            if (!hub.TryRead(last, PageSize, page, out var newer))
            {
                last = ReadStored(last, prefix, page);
                await WritePageAsync(responseStream, page, ct).ConfigureAwait(false);
                continue;
            }

            if (page.Count == 0)
            {
                await newer.WaitAsync(ct).ConfigureAwait(false);
                continue;
            }

            last = page[^1].Sequence;
            if (prefix.Length > 0)
            {
                page.RemoveAll(e => !e.RegionCode.StartsWith(prefix, StringComparison.Ordinal));
            }

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

    /// <summary>Reads a page of stored events after <paramref name="after"/> that match the prefix; returns the last sequence examined.</summary>
    private long ReadStored(long after, string prefix, List<FeedEvent> into)
    {
        using var connection = store.OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, region_code, data FROM feed_events WHERE seq > $after ORDER BY seq LIMIT $n";
        command.Parameters.AddWithValue("$after", after);
        command.Parameters.AddWithValue("$n", PageSize);
        using var reader = command.ExecuteReader();
        var scannedTo = after;
        while (reader.Read())
        {
            scannedTo = reader.GetInt64(0);
            if (prefix.Length == 0 || reader.GetString(1).StartsWith(prefix, StringComparison.Ordinal))
            {
                into.Add(FeedEvent.Parser.ParseFrom((byte[])reader[2]));
            }
        }

        return scannedTo;
    }
}
