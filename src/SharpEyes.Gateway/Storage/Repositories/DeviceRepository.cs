using System.Data.Common;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// A stored device: its registration (the <c>data</c> column, without status or secrets), its RTSP credentials as
/// stored (encrypted, or clear JSON in stores before version 7; null when it has none), its status and the last time
/// it was seen (0 when never written).
/// </summary>
public sealed record DeviceRow(DeviceRecord Device, string? RtspSecret, DeviceStatus Status, long LastSeenMs);

/// <summary>A device row to write (<see cref="DeviceRepository.UpsertAll"/>): the registration serialised when it is made.</summary>
public sealed record DeviceUpsert(string Id, string VendorId, DeviceKind Kind, DeviceStatus Status, string RegionCode, long LastSeenMs, byte[] Data, string? RtspSecret)
{
    public DeviceUpsert(DeviceRecord device, DeviceStatus status, long lastSeenMs, string? rtspSecret)
        : this(device.DeviceId, device.VendorId, device.Kind, status, device.RegionCode, lastSeenMs, device.ToWire().ToByteArray(), rtspSecret)
    {
    }
}

/// <summary>
/// The <c>devices</c> table: one row per registered device, the registration as the contract's protobuf in
/// <c>data</c> (<see cref="DeviceWire"/>) with the columns the store filters on (vendor, kind, region), the live status
/// and last-seen time, the encrypted RTSP credentials. The only code that names the table.
/// </summary>
public static class DeviceRepository
{
    /// <summary>The columns <see cref="ReadRow"/> reads, in its order.</summary>
    private const string RowColumns = "data, rtsp_secret, status, COALESCE(last_seen_at, 0)";

    /// <summary>Every stored device, in no particular order.</summary>
    public static List<DeviceRow> LoadAll(DbConnection connection)
    {
        using var command = connection.Sql($"SELECT {RowColumns} FROM devices");
        using var reader = command.ExecuteReader();
        var rows = new List<DeviceRow>();
        while (reader.Read())
        {
            rows.Add(ReadRow(reader));
        }

        return rows;
    }

    /// <summary>Device <paramref name="id"/> as committed (and as written so far in <paramref name="tx"/>), or null.</summary>
    public static DeviceRow? Find(JournalTransaction tx, string id)
    {
        using var reader = tx.Bound($"SELECT {RowColumns} FROM devices WHERE id = @p0", id).ExecuteReader();
        return reader.Read() ? ReadRow(reader) : null;
    }

    private static readonly MultiRowStatements Upserts = new(
        "INSERT INTO devices(id, vendor_id, kind, status, region_code, last_seen_at, data, rtsp_secret) VALUES ", 8, """
             ON CONFLICT(id) DO UPDATE SET vendor_id=excluded.vendor_id, kind=excluded.kind,
                region_code=excluded.region_code, data=excluded.data, rtsp_secret=excluded.rtsp_secret
            """);

    /// <summary>
    /// Inserts a device, or replaces an existing one's registration and credentials; an existing row keeps its stored
    /// status and last-seen time (<paramref name="status"/> and <paramref name="lastSeenMs"/> are used for a new row only).
    /// </summary>
    public static void Upsert(JournalTransaction tx, DeviceRecord device, DeviceStatus status, long lastSeenMs, string? rtspSecret) =>
        UpsertAll(tx, [new DeviceUpsert(device, status, lastSeenMs, rtspSecret)]);

    /// <summary>
    /// <see cref="Upsert"/> for many devices in multi-row statements (<see cref="MultiRowStatements"/>), as a registration
    /// batch writes them. Each device at most once.
    /// </summary>
    public static void UpsertAll(JournalTransaction tx, IReadOnlyList<DeviceUpsert> devices) =>
        Upserts.Execute(tx, devices.Count, (i, row) =>
        {
            var d = devices[i];
            row[0] = d.Id;
            row[1] = d.VendorId;
            row[2] = (int)d.Kind;
            row[3] = (int)d.Status;
            row[4] = d.RegionCode;
            row[5] = d.LastSeenMs;
            row[6] = d.Data;
            row[7] = d.RtspSecret;
        });

    /// <summary>Replaces device <paramref name="id"/>'s stored RTSP credentials; answers the rows changed (0: no such device).</summary>
    public static int SetSecret(JournalTransaction tx, string id, string rtspSecret) => tx.Execute("UPDATE devices SET rtsp_secret = @p0 WHERE id = @p1", rtspSecret, id);

    /// <summary>
    /// Replaces the stored RTSP credentials of several devices in one transaction of its own on
    /// <paramref name="connection"/>: at start, before the writer runs (clear credentials of stores before version 7).
    /// </summary>
    public static void SetSecretsAtStart(DbConnection connection, IReadOnlyCollection<(string Id, string RtspSecret)> secrets)
    {
        if (secrets.Count == 0)
        {
            return;
        }

        using var transaction = connection.BeginTransaction();
        foreach (var (id, secret) in secrets)
        {
            using var update = connection.Sql("UPDATE devices SET rtsp_secret = @s WHERE id = @id", transaction).With("s", secret).With("id", id);
            update.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    /// <summary>Deletes device <paramref name="id"/>; answers the rows deleted.</summary>
    public static int Delete(JournalTransaction tx, string id) => tx.Execute("DELETE FROM devices WHERE id = @p0", id);

    /// <summary>Stores a device's status and last-seen time.</summary>
    public static void SetStatus(JournalTransaction tx, string id, DeviceStatus status, long lastSeenMs) =>
        tx.Execute("UPDATE devices SET status = @p0, last_seen_at = @p1 WHERE id = @p2", (int)status, lastSeenMs, id);

    /// <summary>
    /// Takes device <paramref name="id"/> offline only while its row is online and last seen before
    /// <paramref name="cutoffMs"/> (never seen counts as 0): answers 1 when it did, 0 when the row says otherwise.
    /// </summary>
    public static int TakeOfflineIfSilent(JournalTransaction tx, string id, long cutoffMs) =>
        tx.Execute("UPDATE devices SET status = @p0 WHERE id = @p1 AND status = @p2 AND COALESCE(last_seen_at, 0) < @p3",
            (int)DeviceStatus.Offline, id, (int)DeviceStatus.Online, cutoffMs);

    /// <summary>Raises device <paramref name="id"/>'s last-seen time to <paramref name="seenMs"/>, never lowers it; answers the rows changed.</summary>
    public static int RaiseLastSeen(JournalTransaction tx, string id, long seenMs) =>
        tx.Execute("UPDATE devices SET last_seen_at = @p0 WHERE id = @p1 AND COALESCE(last_seen_at, 0) < @p0", seenMs, id);

    /// <summary>
    /// Locks device <paramref name="id"/>'s row until <paramref name="tx"/> ends (a no-op update), so that of two
    /// replicas deciding on the same device the later one waits and reads what the earlier one committed.
    /// </summary>
    public static void Lock(JournalTransaction tx, string id) => tx.Execute("UPDATE devices SET status = status WHERE id = @p0", id);

    /// <summary>Stores a device's new location: its region code and its registration (which holds the region).</summary>
    public static void SetLocation(JournalTransaction tx, DeviceRecord device) =>
        tx.Execute("UPDATE devices SET region_code = @p0, data = @p1 WHERE id = @p2", device.RegionCode, device.ToWire().ToByteArray(), device.DeviceId);

    private static DeviceRow ReadRow(DbDataReader reader) =>
        new(Device.Parser.ParseFrom((byte[])reader[0]).ToDomain(), reader.IsDBNull(1) ? null : reader.GetString(1),
            (DeviceStatus)reader.GetInt32Value(2), reader.GetInt64(3));
}
