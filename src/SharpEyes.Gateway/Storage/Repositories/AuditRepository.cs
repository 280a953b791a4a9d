using System.Data;
using System.Data.Common;
using System.Text.Json;
using SharpEyes.Gateway.Audit;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The audit log's tables: <c>audit_entries</c> (append-only: a trigger refuses an UPDATE) and <c>audit_targets</c>
/// (each entry's target ids, so that a query by target is indexed). An entry's targets are also kept in the entry as
/// a JSON array (the storage format; this class writes and parses it).
/// </summary>
public static class AuditRepository
{
    /// <summary>Appends <paramref name="entry"/> with one <c>audit_targets</c> row per distinct target; returns its id.</summary>
    public static long Append(JournalTransaction tx, AuditRecord entry)
    {
        var id = tx.Scalar("""
            INSERT INTO audit_entries(at, key_id, role, vendor_id, client_address, certificate_subject, action, targets, summary, outcome, message, count)
            VALUES(@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11) RETURNING id
            """,
            entry.At.ToUnixTimeMilliseconds(), entry.KeyId, (int)entry.Role, entry.VendorId, entry.ClientAddress, entry.CertificateSubject, entry.Action,
            JsonSerializer.Serialize(entry.Targets, AuditJson.Default.IReadOnlyListString), entry.Summary, entry.Outcome, entry.Message, entry.Count);
        foreach (var target in entry.Targets.Distinct(StringComparer.Ordinal))
        {
            tx.Execute("INSERT INTO audit_targets(target, entry_id) VALUES(@p0, @p1) ON CONFLICT DO NOTHING", target, id);
        }

        return id;
    }

    /// <summary>Deletes the oldest (by id) at most <paramref name="max"/> entries recorded before <paramref name="beforeMs"/> (Unix ms), with their targets; returns the entries deleted.</summary>
    public static int DeleteOlderThan(JournalTransaction tx, long beforeMs, int max)
    {
        const string Oldest = "SELECT id FROM audit_entries WHERE at < @p0 ORDER BY id LIMIT @p1";
        tx.Execute($"DELETE FROM audit_targets WHERE entry_id IN ({Oldest})", beforeMs, max);
        return tx.Execute($"DELETE FROM audit_entries WHERE id IN ({Oldest})", beforeMs, max);
    }

    /// <summary>
    /// Entries newest first (by id) matching <paramref name="query"/>, at most <see cref="AuditQuery.Limit"/>: a time range,
    /// key, vendor, action prefix, outcome ("refused": any but OK), target, and entries before an id (paging).
    /// </summary>
    public static List<AuditEntryRow> Query(DbConnection connection, AuditQuery query)
    {
        using var command = connection.Sql("""
            SELECT id, at, key_id, role, vendor_id, client_address, certificate_subject, action, targets, summary, outcome, message, count
            FROM audit_entries
            WHERE (@since IS NULL OR at >= @since) AND (@until IS NULL OR at < @until)
              AND (@key IS NULL OR key_id = @key) AND (@vendor IS NULL OR vendor_id = @vendor)
              AND (@action IS NULL OR substr(action, 1, length(@action)) = @action)
              AND (@outcome IS NULL OR (@outcome = 'refused' AND outcome <> 'OK') OR outcome = @outcome)
              AND (@target IS NULL OR id IN (SELECT entry_id FROM audit_targets WHERE target = @target))
              AND (@before IS NULL OR id < @before)
            ORDER BY id DESC LIMIT @limit
            """)
            .With("since", query.Since?.ToUnixTimeMilliseconds(), DbType.Int64)
            .With("until", query.Until?.ToUnixTimeMilliseconds(), DbType.Int64)
            .With("key", Nullable(query.KeyId), DbType.String)
            .With("vendor", Nullable(query.VendorId), DbType.String)
            .With("action", Nullable(query.Action), DbType.String)
            .With("outcome", Nullable(query.Outcome), DbType.String)
            .With("target", Nullable(query.Target), DbType.String)
            .With("before", query.BeforeId, DbType.Int64)
            .With("limit", query.Limit);
        using var reader = command.ExecuteReader();
        var entries = new List<AuditEntryRow>();
        while (reader.Read())
        {
            entries.Add(new AuditEntryRow(reader.GetInt64(0), new AuditRecord(
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                (Role)reader.GetInt32Value(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.GetString(7),
                JsonSerializer.Deserialize(reader.GetString(8), AuditJson.Default.IReadOnlyListString) ?? [],
                reader.GetString(9),
                reader.GetString(10),
                reader.GetString(11),
                reader.GetInt64(12))));
        }

        return entries;
    }

    /// <summary>An empty filter selects everything: SQL NULL.</summary>
    private static object? Nullable(string? text) => string.IsNullOrEmpty(text) ? null : text;
}

/// <summary>A stored audit entry and its id (ids grow with time: what a query pages by).</summary>
public sealed record AuditEntryRow(long Id, AuditRecord Entry);

/// <summary>The JSON of an entry's <c>targets</c> column.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class AuditJson : System.Text.Json.Serialization.JsonSerializerContext;
