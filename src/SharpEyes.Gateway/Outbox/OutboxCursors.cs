using System.Data.Common;
using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Storage;

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
        using (var insert = connection.Sql("INSERT INTO meta(key, value) VALUES('source_id', @id) ON CONFLICT(key) DO NOTHING")
            .With("id", "sharpeyes-" + Guid.NewGuid().ToString("N")[..12]))
        {
            insert.ExecuteNonQuery();
        }

        using (var command = connection.Sql("SELECT value FROM meta WHERE key = 'source_id'"))
        {
            var stored = (string)command.ExecuteScalar()!;
            SourceId = string.IsNullOrWhiteSpace(options.Value.Outbox.SourceId) ? stored : options.Value.Outbox.SourceId!;
        }

        _acked.Clear();
        using var read = connection.Sql("SELECT endpoint, acked_seq FROM outbox_cursors");
        using var reader = read.ExecuteReader();
        while (reader.Read())
        {
            _acked[reader.GetString(0)] = reader.GetInt64(1);
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
        var saved = tx.Execute("""
            INSERT INTO outbox_cursors(endpoint, acked_seq, updated_at) VALUES(@p0, @p1, @p2)
            ON CONFLICT(endpoint) DO UPDATE SET acked_seq = excluded.acked_seq, updated_at = excluded.updated_at
                WHERE excluded.acked_seq > outbox_cursors.acked_seq
                    OR NOT EXISTS (SELECT 1 FROM outbox_leases WHERE outbox_leases.endpoint = excluded.endpoint AND outbox_leases.holder <> @p3)
            """, endpoint, acked, tx.NowMs, replica);
        if (saved > 0)
        {
            tx.AfterCommit(() => _acked[endpoint] = acked);
        }
    }

    /// <summary>The cursor as stored now (another replica may have moved it): where a replica that takes the lease starts.</summary>
    public long Read(string endpoint, GatewayStore store)
    {
        using var connection = store.OpenRead();
        using var command = connection.Sql("SELECT acked_seq FROM outbox_cursors WHERE endpoint = @endpoint").With("endpoint", endpoint);
        var acked = command.ScalarInt64();
        _acked[endpoint] = acked;
        return acked;
    }
}
