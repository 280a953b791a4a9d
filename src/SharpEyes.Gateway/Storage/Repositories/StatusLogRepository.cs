using System.Data.Common;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>One recorded status change of a camera: it went online or offline at <paramref name="AtMs"/> (Unix ms).</summary>
public sealed record StatusChangeRow(string DeviceId, long AtMs, bool Online);

/// <summary>
/// The <c>status_log</c> table: every camera's online/offline transitions, numbered (<c>id</c>) in the order they were
/// written, for the online rate by time (Streams/UptimeLedger.cs). The only code that names the table.
/// </summary>
public static class StatusLogRepository
{
    /// <summary>
    /// Deletes the changes recorded before <paramref name="cutMs"/>, except each camera's last one before it (it says
    /// what state a window starting at the cut-off begins in). Runs on <paramref name="connection"/> at start, before
    /// the writer; answers the rows deleted.
    /// </summary>
    public static int PruneBefore(DbConnection connection, long cutMs)
    {
        using var prune = connection.Sql("""
            DELETE FROM status_log WHERE at < @cut AND id NOT IN
                (SELECT MAX(id) FROM status_log WHERE at < @cut GROUP BY device_id)
            """).With("cut", cutMs);
        return prune.ExecuteNonQuery();
    }

    /// <summary>Every recorded change, in the order written.</summary>
    public static List<StatusChangeRow> LoadAll(DbConnection connection)
    {
        using var command = connection.Sql("SELECT device_id, at, online FROM status_log ORDER BY id");
        using var reader = command.ExecuteReader();
        var rows = new List<StatusChangeRow>();
        while (reader.Read())
        {
            rows.Add(new StatusChangeRow(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2) != 0));
        }

        return rows;
    }

    /// <summary>Camera <paramref name="deviceId"/>'s recorded changes as seen in <paramref name="tx"/>, in the order written.</summary>
    public static List<StatusChangeRow> LoadDevice(JournalTransaction tx, string deviceId)
    {
        var rows = new List<StatusChangeRow>();
        using var reader = tx.Bound("SELECT at, online FROM status_log WHERE device_id = @p0 ORDER BY id", deviceId).ExecuteReader();
        while (reader.Read())
        {
            rows.Add(new StatusChangeRow(deviceId, reader.GetInt64(0), reader.GetInt64(1) != 0));
        }

        return rows;
    }

    /// <summary>Records that camera <paramref name="deviceId"/> went online (or offline) at <paramref name="atMs"/>.</summary>
    public static void Append(JournalTransaction tx, string deviceId, long atMs, bool online) =>
        tx.Execute("INSERT INTO status_log(device_id, at, online) VALUES(@p0, @p1, @p2)", deviceId, atMs, online ? 1 : 0);

    /// <summary>Deletes every change recorded for camera <paramref name="deviceId"/>; answers the rows deleted.</summary>
    public static int DeleteDevice(JournalTransaction tx, string deviceId) => tx.Execute("DELETE FROM status_log WHERE device_id = @p0", deviceId);
}
