using System.Data.Common;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The <c>outbox_leases</c> table: one row per duty that one replica at a time performs (a push endpoint's name, or a
/// leader duty such as <c>leader:streams</c>), with its holder and when the lease expires. Expiry is computed and
/// compared in the database server's clock, so these statements are PostgreSQL's (on SQLite the one process holds every
/// lease without a row). Each runs on the given connection in its own implicit transaction, not through the journal.
/// <see cref="HolderAndCursorAsync"/> also reads <c>outbox_cursors</c>.
/// </summary>
public static class LeaseRepository
{
    /// <summary>The database server's clock in milliseconds since the epoch (clock_timestamp: the time of the statement, not of its transaction).</summary>
    private const string DatabaseNow = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

    /// <summary>
    /// Takes or renews lease <paramref name="name"/> for <paramref name="me"/> until <paramref name="ttlMs"/> from now in
    /// one statement, which succeeds only when <paramref name="me"/> holds it, nobody does, or it expired. Returns null
    /// when another replica holds it, else who held it before (null for a new row).
    /// </summary>
    public static async Task<LeaseTaken?> TakeAsync(DbConnection connection, string name, string me, long ttlMs, CancellationToken ct)
    {
        var take = connection.Sql($"""
            WITH before AS (SELECT holder FROM outbox_leases WHERE endpoint = @endpoint)
            INSERT INTO outbox_leases AS l(endpoint, holder, expires_at) VALUES(@endpoint, @me, {DatabaseNow} + @ttl)
            ON CONFLICT(endpoint) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                WHERE l.expires_at < {DatabaseNow} OR l.holder = excluded.holder
            RETURNING (SELECT holder FROM before)
            """).With("endpoint", name).With("me", me).With("ttl", ttlMs);
        await using (take.ConfigureAwait(false))
        {
            var reader = await take.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(ct).ConfigureAwait(false)
                    ? new LeaseTaken(reader.IsDBNull(0) ? null : reader.GetString(0))
                    : null;
            }
        }
    }

    /// <summary>
    /// Who holds lease <paramref name="name"/>, with the stored cursor of the endpoint of that name (0 without one; reads
    /// <c>outbox_cursors</c>: what a standby replica shows); null when there is no lease row.
    /// </summary>
    public static async Task<LeaseHolderRow?> HolderAndCursorAsync(DbConnection connection, string name, CancellationToken ct)
    {
        var look = connection.Sql("""
            SELECT holder, COALESCE((SELECT acked_seq FROM outbox_cursors WHERE endpoint = @endpoint), 0)
            FROM outbox_leases WHERE endpoint = @endpoint
            """).With("endpoint", name);
        await using (look.ConfigureAwait(false))
        {
            var reader = await look.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(ct).ConfigureAwait(false) ? new LeaseHolderRow(reader.GetString(0), reader.GetInt64(1)) : null;
            }
        }
    }

    /// <summary>Lets lease <paramref name="name"/> expire at once if <paramref name="holder"/> holds it; returns the rows changed (0 when it does not).</summary>
    public static async Task<int> ReleaseAsync(DbConnection connection, string name, string holder)
    {
        var release = connection.Sql("UPDATE outbox_leases SET expires_at = 0 WHERE endpoint = @endpoint AND holder = @me")
            .With("endpoint", name).With("me", holder);
        await using (release.ConfigureAwait(false))
        {
            return await release.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>A lease just taken or renewed: who held it before (this replica itself on a renewal; null for a new row).</summary>
public sealed record LeaseTaken(string? PreviousHolder);

/// <summary>A lease's holder (perhaps expired), and the stored cursor of the endpoint of the same name (0 without one).</summary>
public sealed record LeaseHolderRow(string Holder, long Cursor);
