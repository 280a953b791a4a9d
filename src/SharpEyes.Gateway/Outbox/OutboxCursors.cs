using System.Data.Common;
using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;

namespace SharpEyes.Gateway.Outbox;

/// <summary>
/// Each push endpoint's acknowledged sequence (its cursor into the feed), and this gateway's source id. Cursors are
/// stored after the endpoint acknowledged, so after a crash delivery resumes at or a little before where it stopped,
/// and the centre's de-duplication by (source id, sequence) absorbs the overlap.
/// </summary>
public sealed class OutboxCursors(IOptions<GatewayOptions> options) : IJournalParticipant
{
    private readonly ConcurrentDictionary<string, long> _acked = new(StringComparer.Ordinal);

    /// <summary>DeliverRequest.source_id: configured, else generated on the first start and kept in the store.</summary>
    public string SourceId { get; private set; } = "";

    public void Load(DbConnection connection)
    {
        MetaRepository.AddSourceIdIfAbsent(connection, "sharpeyes-" + Guid.NewGuid().ToString("N")[..12]);
        var stored = MetaRepository.SourceId(connection)!;
        SourceId = string.IsNullOrWhiteSpace(options.Value.Outbox.SourceId) ? stored : options.Value.Outbox.SourceId!;
        _acked.Clear();
        foreach (var (endpoint, acked) in OutboxCursorRepository.LoadAll(connection))
        {
            _acked[endpoint] = acked;
        }
    }

    /// <summary>The stored cursor of an endpoint; a new endpoint starts at 0 and gets everything still kept.</summary>
    public long Stored(string endpoint) => _acked.GetValueOrDefault(endpoint);

    /// <summary>The lowest cursor among <paramref name="endpoints"/> (what retention may delete up to), or null with none.</summary>
    public long? Lowest(IEnumerable<string> endpoints)
    {
        long? lowest = null;
        foreach (var name in endpoints)
        {
            var acked = Stored(name);
            lowest = lowest is null ? acked : Math.Min(lowest.Value, acked);
        }

        return lowest;
    }

    /// <summary>
    /// Stores what <paramref name="endpoint"/> acknowledged to <paramref name="replica"/>. A cursor moves forward from any
    /// replica (an acknowledgement is the endpoint's own word), but back (the endpoint lost events) only from the
    /// lease's holder, or with no holder recorded (SQLite): a replica that lost the lease and writes late cannot undo
    /// what the holder stored since.
    /// </summary>
    internal void Save(JournalTransaction tx, string endpoint, long acked, string replica)
    {
        var saved = OutboxCursorRepository.Save(tx, endpoint, acked, replica);
        if (saved > 0)
        {
            tx.AfterCommit(() => _acked[endpoint] = acked);
        }
    }

    /// <summary>The cursor as stored now (another replica may have moved it): where a replica that takes the lease starts.</summary>
    public long Read(string endpoint, GatewayStore store)
    {
        using var connection = store.OpenRead();
        var acked = OutboxCursorRepository.Read(connection, endpoint);
        _acked[endpoint] = acked;
        return acked;
    }
}
