using System.Data.Common;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>An incident as stored, with when it last changed (Unix ms on the gateway clock: the row's <c>updated_at</c>).</summary>
public sealed record IncidentRow(IncidentRecord Incident, long UpdatedAtMs);

/// <summary>
/// The <c>incidents</c> table: one row per incident with its state, correlation key, region and times as columns, the
/// incident itself stored as the contract's protobuf bytes (<see cref="IncidentWire"/>). The only code that names the
/// table (an incident's alarms are in <see cref="AlarmRepository"/>).
/// </summary>
public static class IncidentRepository
{
    private static readonly MultiRowStatements Upserts = new(
        "INSERT INTO incidents(id, state, correlation_key, region_code, opened_at, updated_at, data, acknowledged_at) VALUES ", 8,
        " ON CONFLICT(id) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at, data=excluded.data, acknowledged_at=excluded.acknowledged_at");

    /// <summary>Inserts <paramref name="incident"/> or replaces its state, update time, data and acknowledgement (id, key, region and opening stay).</summary>
    public static void Upsert(JournalTransaction tx, IncidentRecord incident, string regionCode) => UpsertAll(tx, [(incident, regionCode)]);

    /// <summary>
    /// <see cref="Upsert"/> for many incidents in multi-row statements (<see cref="MultiRowStatements"/>): a batch of
    /// alarms updates one incident per correlation key it touched. Each incident at most once.
    /// </summary>
    public static void UpsertAll(JournalTransaction tx, IReadOnlyList<(IncidentRecord Incident, string RegionCode)> incidents)
    {
        using var data = PooledBlobs.Serialize(incidents.Count, i => incidents[i].Incident.ToWire());
        Upserts.Execute(tx, incidents.Count, (i, row) =>
        {
            var (incident, regionCode) = incidents[i];
            row[0] = incident.IncidentId;
            row[1] = (int)incident.State;
            row[2] = incident.CorrelationKey;
            row[3] = regionCode;
            row[4] = incident.OpenedAt.ToUnixTimeMilliseconds();
            row[5] = incident.UpdatedAt.ToUnixTimeMilliseconds();
            row[6] = data[i];
            row[7] = incident.Acknowledgement?.At.ToUnixTimeMilliseconds();
        });
    }

    /// <summary>Every open incident (state 1, <see cref="IncidentState.Open"/>), in no particular order.</summary>
    public static List<IncidentRow> LoadOpen(DbConnection connection)
    {
        using var command = connection.Sql("SELECT data, updated_at FROM incidents WHERE state = 1");
        using var reader = command.ExecuteReader();
        return ReadRows(reader);
    }

    private static readonly MultiRowStatements OpenByKeys = new("SELECT data, updated_at FROM incidents WHERE state = 1 AND correlation_key IN (", 1, ")");

    /// <summary>
    /// The open incidents of every key of <paramref name="keys"/>, least recently updated first: one statement per 64
    /// keys (a smaller remainder in the next power of two, the last key repeated), rather than one per key.
    /// </summary>
    public static List<IncidentRow> LoadOpenByKeys(JournalTransaction tx, IReadOnlyList<string> keys)
    {
        var rows = new List<IncidentRow>();
        OpenByKeys.Query(tx, keys.Count, (i, row) => row[0] = keys[i], reader => rows.AddRange(ReadRows(reader)));
        return [.. rows.OrderBy(r => r.UpdatedAtMs)];
    }

    /// <summary>Incident <paramref name="id"/> if it is open; null when it is closed or unknown.</summary>
    public static IncidentRow? FindOpen(JournalTransaction tx, string id)
    {
        using var reader = tx.Bound("SELECT data, updated_at FROM incidents WHERE id = @p0 AND state = 1", id).ExecuteReader();
        return ReadRows(reader) is [var row] ? row : null;
    }

    /// <summary>The correlation key of incident <paramref name="id"/>, open or closed; null when unknown.</summary>
    public static string? CorrelationKeyOf(JournalTransaction tx, string id) =>
        tx.Bound("SELECT correlation_key FROM incidents WHERE id = @p0", id).ExecuteScalar() as string;

    /// <summary>Incident <paramref name="id"/> as stored (with its newest alarm while open); null when unknown.</summary>
    public static IncidentRecord? Get(DbConnection connection, string id)
    {
        using var command = connection.Sql("SELECT data FROM incidents WHERE id = @id").With("id", id);
        return command.ExecuteScalar() is byte[] data ? Incident.Parser.ParseFrom(data).ToDomain() : null;
    }

    /// <summary>How many incidents are open.</summary>
    public static long CountOpen(DbConnection connection)
    {
        using var command = connection.Sql("SELECT COUNT(*) FROM incidents WHERE state = 1");
        return command.ScalarInt64();
    }

    /// <summary>Every incident opened at or after <paramref name="sinceMs"/> (Unix ms), in no particular order.</summary>
    public static List<IncidentRecord> OpenedSince(DbConnection connection, long sinceMs)
    {
        using var command = connection.Sql("SELECT data FROM incidents WHERE opened_at >= @since").With("since", sinceMs);
        using var reader = command.ExecuteReader();
        var incidents = new List<IncidentRecord>();
        while (reader.Read())
        {
            incidents.Add(Incident.Parser.ParseFrom((byte[])reader[0]).ToDomain());
        }

        return incidents;
    }

    /// <summary>
    /// Up to <paramref name="limit"/> incidents by id after <paramref name="afterId"/> (empty: from the first), in state
    /// <paramref name="state"/> (<see cref="IncidentState.Unspecified"/>: any), whose region code starts with
    /// <paramref name="regionPrefix"/> (taken literally: '%' and '_' are not wildcards).
    /// </summary>
    public static List<IncidentRecord> Page(DbConnection connection, string afterId, IncidentState state, string regionPrefix, int limit)
    {
        using var command = connection.Sql("""
            SELECT id, data FROM incidents
            WHERE id > @after AND (@state = 0 OR state = @state) AND region_code LIKE @prefix ESCAPE '\'
            ORDER BY id LIMIT @n
            """)
            .With("after", afterId)
            .With("state", (long)state)
            .With("prefix", regionPrefix.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + "%")
            .With("n", limit);
        using var reader = command.ExecuteReader();
        var incidents = new List<IncidentRecord>();
        while (reader.Read())
        {
            incidents.Add(Incident.Parser.ParseFrom((byte[])reader[1]).ToDomain());
        }

        return incidents;
    }

    private static List<IncidentRow> ReadRows(DbDataReader reader)
    {
        var rows = new List<IncidentRow>();
        while (reader.Read())
        {
            rows.Add(new IncidentRow(Incident.Parser.ParseFrom((byte[])reader[0]).ToDomain(), reader.GetInt64(1)));
        }

        return rows;
    }
}
