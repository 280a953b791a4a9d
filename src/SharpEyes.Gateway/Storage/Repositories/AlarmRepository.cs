using System.Data.Common;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Wire;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>An alarm's identity: a vendor's event id is stored once.</summary>
public readonly record struct AlarmKey(string VendorId, string EventId);

/// <summary>
/// An alarm row to store (<see cref="AlarmRepository.InsertAll"/>): the alarm in its wire form as it is when the row is
/// made (its incident set), serialised when the rows are written.
/// </summary>
public sealed record AlarmInsert(string VendorId, string EventId, string DeviceId, string IncidentId, long ReceivedAtMs, V1.Alarm Data)
{
    public AlarmInsert(AlarmRecord alarm, long receivedAtMs)
        : this(alarm.VendorId, alarm.EventId, alarm.DeviceId, alarm.IncidentId, receivedAtMs, alarm.ToWire())
    {
    }
}

/// <summary>
/// The <c>alarms</c> table: every accepted alarm, keyed by (vendor, event id) so a vendor's resend is refused as a
/// duplicate, with the incident it joined; the alarm itself stored as the contract's protobuf bytes
/// (<see cref="IncidentWire"/>). The only code that names the table.
/// </summary>
public static class AlarmRepository
{
    /// <summary>
    /// Stores <paramref name="alarm"/> (its <c>IncidentId</c> set) as received at <paramref name="receivedAtMs"/> (Unix ms);
    /// false, storing nothing, when the vendor's event id is stored already.
    /// </summary>
    public static bool Insert(JournalTransaction tx, AlarmRecord alarm, long receivedAtMs) => InsertAll(tx, [new AlarmInsert(alarm, receivedAtMs)]) > 0;

    private static readonly MultiRowStatements Inserts = new(
        "INSERT INTO alarms(vendor_id, event_id, device_id, incident_id, received_at, data) VALUES ", 6, " ON CONFLICT DO NOTHING");

    /// <summary>
    /// Stores <paramref name="alarms"/> in multi-row statements (<see cref="MultiRowStatements"/>); each key at most once.
    /// Answers how many were stored: fewer than given when some key was stored already (by another replica since the
    /// caller looked, <see cref="ExistingKeys"/>), which the caller must treat as a conflict.
    /// </summary>
    public static int InsertAll(JournalTransaction tx, IReadOnlyList<AlarmInsert> alarms)
    {
        using var data = PooledBlobs.Serialize(alarms.Count, i => alarms[i].Data);
        return Inserts.Execute(tx, alarms.Count, (i, row) =>
        {
            var a = alarms[i];
            row[0] = a.VendorId;
            row[1] = a.EventId;
            row[2] = a.DeviceId;
            row[3] = a.IncidentId;
            row[4] = a.ReceivedAtMs;
            row[5] = data[i];
        });
    }

    private static readonly MultiRowStatements KeyLookups = new("SELECT vendor_id, event_id FROM alarms WHERE (vendor_id, event_id) IN (VALUES ", 2, ")");

    /// <summary>
    /// Which of <paramref name="keys"/> are stored: one statement per 64 keys (a smaller remainder in the next power of
    /// two, the last key repeated), rather than a round trip per alarm.
    /// </summary>
    public static HashSet<AlarmKey> ExistingKeys(JournalTransaction tx, IReadOnlyList<AlarmKey> keys)
    {
        var existing = new HashSet<AlarmKey>();
        KeyLookups.Query(tx, keys.Count, (i, row) => (row[0], row[1]) = (keys[i].VendorId, keys[i].EventId), reader =>
        {
            while (reader.Read())
            {
                existing.Add(new AlarmKey(reader.GetString(0), reader.GetString(1)));
            }
        });
        return existing;
    }

    /// <summary>The alarms of incident <paramref name="incidentId"/>, oldest received first.</summary>
    public static List<AlarmRecord> LoadByIncident(DbConnection connection, string incidentId)
    {
        using var command = connection.Sql("SELECT data FROM alarms WHERE incident_id = @id ORDER BY received_at").With("id", incidentId);
        using var reader = command.ExecuteReader();
        var alarms = new List<AlarmRecord>();
        while (reader.Read())
        {
            alarms.Add(V1.Alarm.Parser.ParseFrom((byte[])reader[0]).ToDomain());
        }

        return alarms;
    }

    /// <summary>Deletes up to <paramref name="maxRows"/> alarms received before <paramref name="cutoffMs"/> (Unix ms); returns how many.</summary>
    public static int DeleteOlderThan(JournalTransaction tx, long cutoffMs, int maxRows) =>
        tx.Execute(
            "DELETE FROM alarms WHERE (vendor_id, event_id) IN (SELECT vendor_id, event_id FROM alarms WHERE received_at < @p0 LIMIT @p1)",
            cutoffMs, maxRows);
}
