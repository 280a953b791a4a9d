using System.Data.Common;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The <c>outbox_cursors</c> table: each push endpoint's acknowledged feed sequence. The only code that writes it;
/// <see cref="Save"/> also reads <c>outbox_leases</c> (who may move a cursor back), and
/// <see cref="LeaseRepository.HolderAndCursorAsync"/> reads a cursor beside its lease.
/// </summary>
public static class OutboxCursorRepository
{
    /// <summary>
    /// Stores <paramref name="acked"/> as <paramref name="endpoint"/>'s cursor: a new cursor or a forward move always, a
    /// move back only when no replica other than <paramref name="replica"/> holds the endpoint's lease (reads
    /// <c>outbox_leases</c> in the same statement). Returns the rows written: 0 when the condition refused the move.
    /// </summary>
    public static int Save(JournalTransaction tx, string endpoint, long acked, string replica) =>
        tx.Execute("""
            INSERT INTO outbox_cursors(endpoint, acked_seq, updated_at) VALUES(@p0, @p1, @p2)
            ON CONFLICT(endpoint) DO UPDATE SET acked_seq = excluded.acked_seq, updated_at = excluded.updated_at
                WHERE excluded.acked_seq > outbox_cursors.acked_seq
                    OR NOT EXISTS (SELECT 1 FROM outbox_leases WHERE outbox_leases.endpoint = excluded.endpoint AND outbox_leases.holder <> @p3)
            """, endpoint, acked, tx.NowMs, replica);

    /// <summary>Every stored cursor, by endpoint.</summary>
    public static Dictionary<string, long> LoadAll(DbConnection connection)
    {
        using var read = connection.Sql("SELECT endpoint, acked_seq FROM outbox_cursors");
        using var reader = read.ExecuteReader();
        var cursors = new Dictionary<string, long>(StringComparer.Ordinal);
        while (reader.Read())
        {
            cursors[reader.GetString(0)] = reader.GetInt64(1);
        }

        return cursors;
    }

    /// <summary>The stored cursor of <paramref name="endpoint"/>; 0 when it has none.</summary>
    public static long Read(DbConnection connection, string endpoint)
    {
        using var command = connection.Sql("SELECT acked_seq FROM outbox_cursors WHERE endpoint = @endpoint").With("endpoint", endpoint);
        return command.ScalarInt64();
    }
}
