using System.Data.Common;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The GB/T 28181 tables: <c>sip_accounts</c> (one per vendor's SIP account, its password encrypted), <c>sip_devices</c>
/// (devices allowed to register, with their last registration and catalog as JSON) and <c>sip_channels</c> (the channels
/// each device's catalogs listed, and whether the last complete catalog missed them). The only code that names them.
/// </summary>
public static class SipRepository
{
    private const string SelectAccounts = "SELECT account_id, vendor_id, secret, auto_enrol, created_at FROM sip_accounts";
    private const string SelectDevices = "SELECT device_id, account_id, secret, registration, catalog, updated_at FROM sip_devices";

    /// <summary>Creates account <paramref name="account"/> or replaces its vendor, password and auto-enrolment.</summary>
    public static void UpsertAccount(JournalTransaction tx, SipAccountRow account) =>
        tx.Execute("""
            INSERT INTO sip_accounts(account_id, vendor_id, secret, auto_enrol, created_at) VALUES(@p0, @p1, @p2, @p3, @p4)
            ON CONFLICT(account_id) DO UPDATE SET vendor_id = excluded.vendor_id, secret = excluded.secret, auto_enrol = excluded.auto_enrol
            """, account.AccountId, account.VendorId, account.Secret, account.AutoEnrol ? 1 : 0, account.CreatedAtMs);

    /// <summary>Removes account <paramref name="accountId"/> with its devices and their channel list; the number of devices removed, or -1 when there was no such account.</summary>
    public static int DeleteAccount(JournalTransaction tx, string accountId)
    {
        if (tx.Execute("DELETE FROM sip_accounts WHERE account_id = @p0", accountId) == 0)
        {
            return -1;
        }

        tx.Execute("DELETE FROM sip_channels WHERE device_id IN (SELECT device_id FROM sip_devices WHERE account_id = @p0)", accountId);
        return tx.Execute("DELETE FROM sip_devices WHERE account_id = @p0", accountId);
    }

    /// <summary>Every account, by id.</summary>
    public static List<SipAccountRow> Accounts(DbConnection connection) => ReadAccounts(connection.Sql(SelectAccounts + " ORDER BY account_id"));

    /// <summary>Account <paramref name="accountId"/>, or null.</summary>
    public static SipAccountRow? Account(DbConnection connection, string accountId) =>
        ReadAccounts(connection.Sql(SelectAccounts + " WHERE account_id = @id").With("id", accountId)).FirstOrDefault();

    /// <summary>The number of devices of each account.</summary>
    public static Dictionary<string, int> DeviceCounts(DbConnection connection)
    {
        using var command = connection.Sql("SELECT account_id, COUNT(*) FROM sip_devices GROUP BY account_id");
        using var reader = command.ExecuteReader();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        while (reader.Read())
        {
            counts[reader.GetString(0)] = reader.GetInt32Value(1);
        }

        return counts;
    }

    /// <summary>Stores device <paramref name="device"/>'s row, replacing it whole.</summary>
    public static void UpsertDevice(JournalTransaction tx, SipDeviceRow device) =>
        tx.Execute("""
            INSERT INTO sip_devices(device_id, account_id, secret, registration, catalog, updated_at) VALUES(@p0, @p1, @p2, @p3, @p4, @p5)
            ON CONFLICT(device_id) DO UPDATE SET account_id = excluded.account_id, secret = excluded.secret, registration = excluded.registration,
                catalog = excluded.catalog, updated_at = excluded.updated_at
            """, device.DeviceId, device.AccountId, device.Secret, device.Registration, device.Catalog, device.UpdatedAtMs);

    /// <summary>Writes device <paramref name="deviceId"/>'s registration (null: none) and catalog.</summary>
    public static void SaveState(JournalTransaction tx, string deviceId, string? registration, string catalog) =>
        tx.Execute("UPDATE sip_devices SET registration = @p0, catalog = @p1, updated_at = @p2 WHERE device_id = @p3", registration, catalog, tx.NowMs, deviceId);

    /// <summary>Removes device <paramref name="deviceId"/> and its channel list; false when there was none.</summary>
    public static bool DeleteDevice(JournalTransaction tx, string deviceId)
    {
        tx.Execute("DELETE FROM sip_channels WHERE device_id = @p0", deviceId);
        return tx.Execute("DELETE FROM sip_devices WHERE device_id = @p0", deviceId) > 0;
    }

    /// <summary>Device <paramref name="deviceId"/>, or null.</summary>
    public static SipDeviceRow? Device(DbConnection connection, string deviceId) =>
        ReadDevices(connection.Sql(SelectDevices + " WHERE device_id = @id").With("id", deviceId)).FirstOrDefault();

    /// <summary>Every device, by id.</summary>
    public static List<SipDeviceRow> Devices(DbConnection connection) => ReadDevices(connection.Sql(SelectDevices + " ORDER BY device_id"));

    /// <summary>Records that device <paramref name="deviceId"/>'s catalog lists <paramref name="channelIds"/> (no longer missing), moving a channel from another device if another listed it before.</summary>
    public static void ListChannels(JournalTransaction tx, string deviceId, IEnumerable<string> channelIds)
    {
        foreach (var id in channelIds)
        {
            tx.Execute("""
                INSERT INTO sip_channels(channel_id, device_id, missing) VALUES(@p0, @p1, 0)
                ON CONFLICT(channel_id) DO UPDATE SET device_id = excluded.device_id, missing = 0
                """, id, deviceId);
        }
    }

    /// <summary>Marks <paramref name="channelIds"/> of device <paramref name="deviceId"/> missing from its catalog.</summary>
    public static void MarkMissing(JournalTransaction tx, string deviceId, IEnumerable<string> channelIds)
    {
        foreach (var id in channelIds)
        {
            tx.Execute("UPDATE sip_channels SET missing = 1 WHERE channel_id = @p0 AND device_id = @p1", id, deviceId);
        }
    }

    /// <summary>Every channel: its id, its device and whether the device's last complete catalog missed it.</summary>
    public static List<SipChannelRow> Channels(DbConnection connection)
    {
        using var command = connection.Sql("SELECT channel_id, device_id, missing FROM sip_channels ORDER BY channel_id");
        using var reader = command.ExecuteReader();
        var rows = new List<SipChannelRow>();
        while (reader.Read())
        {
            rows.Add(new SipChannelRow(reader.GetString(0), reader.GetString(1), reader.GetInt64(2) != 0));
        }

        return rows;
    }

    private static List<SipAccountRow> ReadAccounts(DbCommand command)
    {
        using (command)
        {
            using var reader = command.ExecuteReader();
            var rows = new List<SipAccountRow>();
            while (reader.Read())
            {
                rows.Add(new SipAccountRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3) != 0, reader.GetInt64(4)));
            }

            return rows;
        }
    }

    private static List<SipDeviceRow> ReadDevices(DbCommand command)
    {
        using (command)
        {
            using var reader = command.ExecuteReader();
            var rows = new List<SipDeviceRow>();
            while (reader.Read())
            {
                rows.Add(new SipDeviceRow(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt64(5)));
            }

            return rows;
        }
    }
}

/// <summary>A stored SIP account: its id, vendor, encrypted password, whether it enrols unknown devices, creation (Unix ms).</summary>
public sealed record SipAccountRow(string AccountId, string VendorId, string Secret, bool AutoEnrol, long CreatedAtMs);

/// <summary>A stored SIP device: its id, account, encrypted own password (null: the account's), last registration and catalog (JSON; null: none), last change (Unix ms).</summary>
public sealed record SipDeviceRow(string DeviceId, string AccountId, string? Secret, string? Registration, string? Catalog, long UpdatedAtMs);

/// <summary>A channel a device's catalog listed: its id, its device, and whether the device's last complete catalog missed it.</summary>
public sealed record SipChannelRow(string ChannelId, string DeviceId, bool Missing);
