using System.Data.Common;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The <c>alarms</c> table: every accepted alarm, keyed by (vendor, event id) so a vendor's resend is refused as a
/// duplicate, with the incident it joined; the alarm itself stored as its protobuf bytes. The only code that names the table.
/// </summary>
public static class AlarmRepository
{
    /// <summary>
    /// Stores <paramref name="alarm"/> (its <c>IncidentId</c> set) as received at <paramref name="receivedAtMs"/> (Unix ms);
    /// false, storing nothing, when the vendor's event id is stored already.
    /// </summary>
    public static bool Insert(JournalTransaction tx, Alarm alarm, long receivedAtMs) =>
        tx.Execute(
            "INSERT INTO alarms(vendor_id, event_id, device_id, incident_id, received_at, data) VALUES(@p0,@p1,@p2,@p3,@p4,@p5) ON CONFLICT DO NOTHING",
            alarm.VendorId, alarm.EventId, alarm.DeviceId, alarm.IncidentId, receivedAtMs, alarm.ToByteArray()) > 0;

    /// <summary>How many alarms are stored (retention's deletions not included).</summary>
    public static long Count(DbConnection connection)
    {
        using var command = connection.Sql("SELECT COUNT(*) FROM alarms");
        return command.ScalarInt64();
    }

    /// <summary>The alarms of incident <paramref name="incidentId"/>, oldest received first.</summary>
    public static List<Alarm> LoadByIncident(DbConnection connection, string incidentId)
    {
        using var command = connection.Sql("SELECT data FROM alarms WHERE incident_id = @id ORDER BY received_at").With("id", incidentId);
        using var reader = command.ExecuteReader();
        var alarms = new List<Alarm>();
        while (reader.Read())
        {
            alarms.Add(Alarm.Parser.ParseFrom((byte[])reader[0]));
        }

        return alarms;
    }

    /// <summary>Deletes up to <paramref name="maxRows"/> alarms received before <paramref name="cutoffMs"/> (Unix ms); returns how many.</summary>
    public static int DeleteOlderThan(JournalTransaction tx, long cutoffMs, int maxRows) =>
        tx.Execute(
            "DELETE FROM alarms WHERE (vendor_id, event_id) IN (SELECT vendor_id, event_id FROM alarms WHERE received_at < @p0 LIMIT @p1)",
            cutoffMs, maxRows);
}
