using System.Data.Common;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>An incident as stored, with when it last changed (Unix ms on the gateway clock: the row's <c>updated_at</c>).</summary>
public sealed record IncidentRow(Incident Incident, long UpdatedAtMs);

/// <summary>
/// The <c>incidents</c> table: one row per incident with its state, correlation key, region and times as columns, the
/// incident itself stored as its protobuf bytes. The only code that names the table (an incident's alarms are in
/// <see cref="AlarmRepository"/>).
/// </summary>
public static class IncidentRepository
{
    /// <summary>Inserts <paramref name="incident"/> or replaces its state, update time, data and acknowledgement (id, key, region and opening stay).</summary>
    public static void Upsert(JournalTransaction tx, Incident incident, string regionCode) =>
        tx.Execute("""
            INSERT INTO incidents(id, state, correlation_key, region_code, opened_at, updated_at, data, acknowledged_at) VALUES(@p0,@p1,@p2,@p3,@p4,@p5,@p6,@p7)
            ON CONFLICT(id) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at, data=excluded.data, acknowledged_at=excluded.acknowledged_at
            """,
            incident.IncidentId, (int)incident.State, incident.CorrelationKey, regionCode,
            incident.OpenedAt.ToDateTimeOffset().ToUnixTimeMilliseconds(), incident.UpdatedAt.ToDateTimeOffset().ToUnixTimeMilliseconds(),
            incident.ToByteArray(), incident.AcknowledgedAt?.ToDateTimeOffset().ToUnixTimeMilliseconds());

    /// <summary>Every open incident (state 1, <see cref="IncidentState.Open"/>), in no particular order.</summary>
    public static List<IncidentRow> LoadOpen(DbConnection connection)
    {
        using var command = connection.Sql("SELECT data, updated_at FROM incidents WHERE state = 1");
        using var reader = command.ExecuteReader();
        return ReadRows(reader);
    }

    /// <summary>The open incidents of correlation key <paramref name="key"/>, least recently updated first.</summary>
    public static List<IncidentRow> LoadOpenByKey(JournalTransaction tx, string key)
    {
        using var reader = tx.Bound("SELECT data, updated_at FROM incidents WHERE state = 1 AND correlation_key = @p0 ORDER BY updated_at", key).ExecuteReader();
        return ReadRows(reader);
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

    /// <summary>Incident <paramref name="id"/> as stored (its alarms: the last one added); null when unknown.</summary>
    public static Incident? Get(DbConnection connection, string id)
    {
        using var command = connection.Sql("SELECT data FROM incidents WHERE id = @id").With("id", id);
        return command.ExecuteScalar() is byte[] data ? Incident.Parser.ParseFrom(data) : null;
    }

    /// <summary>How many incidents are open.</summary>
    public static long CountOpen(DbConnection connection)
    {
        using var command = connection.Sql("SELECT COUNT(*) FROM incidents WHERE state = 1");
        return command.ScalarInt64();
    }

    /// <summary>Every incident opened at or after <paramref name="sinceMs"/> (Unix ms), in no particular order.</summary>
    public static List<Incident> OpenedSince(DbConnection connection, long sinceMs)
    {
        using var command = connection.Sql("SELECT data FROM incidents WHERE opened_at >= @since").With("since", sinceMs);
        using var reader = command.ExecuteReader();
        var incidents = new List<Incident>();
        while (reader.Read())
        {
            incidents.Add(Incident.Parser.ParseFrom((byte[])reader[0]));
        }

        return incidents;
    }

    /// <summary>
    /// Up to <paramref name="limit"/> incidents by id after <paramref name="afterId"/> (empty: from the first), in state
    /// <paramref name="state"/> (<see cref="IncidentState.Unspecified"/>: any), whose region code starts with
    /// <paramref name="regionPrefix"/> (taken literally: '%' and '_' are not wildcards).
    /// </summary>
    public static List<Incident> Page(DbConnection connection, string afterId, IncidentState state, string regionPrefix, int limit)
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
        var incidents = new List<Incident>();
        while (reader.Read())
        {
            incidents.Add(Incident.Parser.ParseFrom((byte[])reader[1]));
        }

        return incidents;
    }

    private static List<IncidentRow> ReadRows(DbDataReader reader)
    {
        var rows = new List<IncidentRow>();
        while (reader.Read())
        {
            rows.Add(new IncidentRow(Incident.Parser.ParseFrom((byte[])reader[0]), reader.GetInt64(1)));
        }

        return rows;
    }
}
