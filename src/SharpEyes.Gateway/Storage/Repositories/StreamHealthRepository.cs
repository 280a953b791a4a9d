using System.Data.Common;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The <c>stream_health</c> table: each camera's last measured stream health (the contract's
/// <see cref="CameraHealth"/> as protobuf in <c>data</c>: <see cref="StreamHealthWire"/>), one row per camera that has
/// been checked. The only code that names the table.
/// </summary>
public static class StreamHealthRepository
{
    /// <summary>Every stored camera health, by device id.</summary>
    public static Dictionary<string, StreamHealthRecord> LoadAll(DbConnection connection)
    {
        using var command = connection.Sql("SELECT device_id, data FROM stream_health");
        using var reader = command.ExecuteReader();
        var health = new Dictionary<string, StreamHealthRecord>(StringComparer.Ordinal);
        while (reader.Read())
        {
            health[reader.GetString(0)] = CameraHealth.Parser.ParseFrom((byte[])reader[1]).ToDomain();
        }

        return health;
    }

    /// <summary>Camera <paramref name="deviceId"/>'s stored health as seen in <paramref name="tx"/>, or null when none is stored.</summary>
    public static StreamHealthRecord? Find(JournalTransaction tx, string deviceId) =>
        tx.Bound("SELECT data FROM stream_health WHERE device_id = @p0", deviceId).ExecuteScalar() is byte[] stored
            ? CameraHealth.Parser.ParseFrom(stored).ToDomain()
            : null;

    /// <summary>Stores camera <paramref name="deviceId"/>'s health, replacing what was stored.</summary>
    public static void Upsert(JournalTransaction tx, string deviceId, StreamHealthRecord health) =>
        tx.Execute("INSERT INTO stream_health(device_id, data) VALUES(@p0, @p1) ON CONFLICT(device_id) DO UPDATE SET data = excluded.data",
            deviceId, health.ToWire().ToByteArray());

    /// <summary>Deletes camera <paramref name="deviceId"/>'s health; answers the rows deleted.</summary>
    public static int Delete(JournalTransaction tx, string deviceId) => tx.Execute("DELETE FROM stream_health WHERE device_id = @p0", deviceId);
}
