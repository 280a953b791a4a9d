using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Feeds;

/// <summary>
/// Reads the committed feed in sequence order for its readers (pull subscribers and push endpoints): from the
/// in-memory ring when recent, else from the store. Knows how far retention has pruned it.
/// </summary>
public sealed class FeedLog(FeedHub hub, GatewayStore store) : IJournalParticipant
{
    private long _prunedThrough;
    private long _storeReads;

    /// <summary>Reads served from the store because the wanted events had left the in-memory ring (or never were in it), since start.</summary>
    public long StoreReads => Interlocked.Read(ref _storeReads);

    /// <summary>Every event up to this sequence has been deleted by retention.</summary>
    public long PrunedThrough => Interlocked.Read(ref _prunedThrough);

    /// <summary>The counter retention raises to the last sequence it deleted.</summary>
    internal const string PrunedThroughCounter = "feed.pruned_through";

    public void Load(System.Data.Common.DbConnection connection) =>
        _prunedThrough = CounterRepository.Read(connection, PrunedThroughCounter);

    internal void Pruned(long through) => Interlocked.Exchange(ref _prunedThrough, through);

    /// <summary>
    /// Adds up to <paramref name="max"/> events after <paramref name="after"/> whose region code starts with
    /// <paramref name="prefix"/> to <paramref name="into"/>, and returns the last sequence examined (events filtered
    /// out count as examined). When that equals <paramref name="after"/> the reader is caught up, and
    /// <paramref name="newer"/> completes when more events commit. A reader behind <see cref="PrunedThrough"/> is moved
    /// up to it (nothing read).
    /// </summary>
    public long Read(long after, int max, string prefix, List<FeedEvent> into, out Task newer)
    {
        var pruned = PrunedThrough;
        if (after < pruned)
        {
            // Deleted by retention (the in-memory ring may still hold some): the reader moves past them.
            newer = Task.CompletedTask;
            return pruned;
        }

        var start = into.Count;
        if (!hub.TryRead(after, max, into, out newer))
        {
            return ReadStored(after, max, prefix, into);
        }

        if (into.Count == start)
        {
            return after;
        }

        var last = into[^1].Sequence;
        if (prefix.Length > 0)
        {
            into.RemoveAll(e => e.Sequence > after && !e.RegionCode.StartsWith(prefix, StringComparison.Ordinal));
        }

        return last;
    }

    private long ReadStored(long after, int max, string prefix, List<FeedEvent> into)
    {
        Interlocked.Increment(ref _storeReads);
        using var connection = store.OpenRead();
        return FeedRepository.ReadAfter(connection, after, max, prefix, into);
    }
}
