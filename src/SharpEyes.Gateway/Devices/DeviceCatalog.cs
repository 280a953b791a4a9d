using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Storage;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Devices;

/// <summary>A registered device as the hot paths (MQTT intake, liveness) see it.</summary>
public sealed class DeviceEntry(Device device, string? rtspSecret, DeviceStatus status, long lastSeenMs)
{
    /// <summary>The stored registration (no status, no secrets). Replaced, never mutated.</summary>
    public Device Device { get; set; } = device;

    public string? RtspSecret { get; set; } = rtspSecret;

    public DeviceStatus Status { get; set; } = status;

    public long LastSeenMs { get; set; } = lastSeenMs;

    public string Id => Device.DeviceId;

    public string VendorId => Device.VendorId;

    /// <summary>The device as answered over the API: registration plus live status.</summary>
    public Device Snapshot()
    {
        var d = Device.Clone();
        d.Status = Status;
        if (LastSeenMs > 0)
        {
            d.LastSeenAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(LastSeenMs));
        }

        return d;
    }
}

public sealed record RegisterOutcome(Device Device, bool Created, bool Changed);

/// <summary>
/// All registered devices, in memory for the hot paths and in the store for durability. Mutations run as
/// journal items (so their feed events are sequenced with everything else); in-memory state is changed inside
/// the item and rebuilt from the store if the transaction rolls back.
/// </summary>
public sealed class DeviceCatalog : IJournalParticipant
{
    private readonly ConcurrentDictionary<string, DeviceEntry> _devices = new(StringComparer.Ordinal);
    private readonly Journal _journal;
    private readonly GeographyState _geography;
    private readonly TimeProvider _time;
    private readonly CoverageTracker _coverage;

    public DeviceCatalog(Journal journal, GeographyState geography, CoverageTracker coverage, TimeProvider time)
    {
        _journal = journal;
        _geography = geography;
        _coverage = coverage;
        _time = time;
    }

    public int Count => _devices.Count;

    public DeviceEntry? Find(string id) => _devices.TryGetValue(id, out var e) ? e : null;

    public IEnumerable<DeviceEntry> All => _devices.Values;

    public void Load(SqliteConnection connection)
    {
        _devices.Clear();
        _geography.ResetCameras();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT data, rtsp_secret, status, COALESCE(last_seen_at, 0) FROM devices";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var device = Device.Parser.ParseFrom((byte[])reader[0]);
            var entry = new DeviceEntry(device, reader.IsDBNull(1) ? null : reader.GetString(1), (DeviceStatus)reader.GetInt32(2), reader.GetInt64(3));
            _devices[device.DeviceId] = entry;
            _geography.IndexCamera(device);
        }

        _coverage.Load(connection, _devices.Values);
    }

    /// <summary>Upserts a batch in one transaction. Items whose owner differs get PERMISSION_DENIED in their slot.</summary>
    public Task<IReadOnlyList<(RegisterOutcome? Outcome, RpcException? Error)>> UpsertAsync(IReadOnlyList<ValidatedDevice> batch, CancellationToken ct = default) =>
        _journal.ExecuteAsync<IReadOnlyList<(RegisterOutcome?, RpcException?)>>(tx =>
        {
            var now = _time.GetUtcNow();
            var nowTs = Timestamp.FromDateTimeOffset(now);
            var results = new (RegisterOutcome?, RpcException?)[batch.Count];
            for (var i = 0; i < batch.Count; i++)
            {
                var (device, secret) = batch[i];
                _devices.TryGetValue(device.DeviceId, out var existing);
                if (existing is not null && existing.VendorId != device.VendorId)
                {
                    results[i] = (null, new RpcException(new Status(StatusCode.PermissionDenied,
                        $"device_id: {device.DeviceId} is registered by another vendor")));
                    continue;
                }

                if (existing is not null && SameRegistration(existing.Device, device) && existing.RtspSecret == secret)
                {
                    results[i] = (new RegisterOutcome(existing.Snapshot(), false, false), null);
                    continue;
                }

                device.RegisteredAt = existing?.Device.RegisteredAt ?? nowTs;
                device.UpdatedAt = nowTs;
                var status = existing?.Status ?? DeviceStatus.Unknown;
                var lastSeen = existing?.LastSeenMs ?? 0;
                tx.Execute("""
                    INSERT INTO devices(id, vendor_id, kind, status, region_code, last_seen_at, data, rtsp_secret)
                    VALUES($p0,$p1,$p2,$p3,$p4,$p5,$p6,$p7)
                    ON CONFLICT(id) DO UPDATE SET vendor_id=excluded.vendor_id, kind=excluded.kind,
                        region_code=excluded.region_code, data=excluded.data, rtsp_secret=excluded.rtsp_secret
                    """,
                    device.DeviceId, device.VendorId, (int)device.Kind, (int)status, device.RegionCode, lastSeen, device.ToByteArray(), secret);
                var entry = new DeviceEntry(device, secret, status, lastSeen);
                _devices[device.DeviceId] = entry;
                _geography.IndexCamera(device);
                _coverage.CameraChanged(tx, entry, device.DeviceId, existing is null ? CoverageChange.CameraRegistered : CoverageChange.CameraChanged);
                var snapshot = entry.Snapshot();
                tx.AppendFeedEvent(new FeedEvent
                {
                    Kind = FeedEventKind.DeviceRegistered,
                    OccurredAt = nowTs,
                    RegionCode = device.RegionCode,
                    Device = snapshot,
                });
                results[i] = (new RegisterOutcome(snapshot, existing is null, true), null);
            }

            return results;
        }, ct);

    public Task<bool> RemoveAsync(string deviceId) =>
        _journal.ExecuteAsync(tx =>
        {
            if (!_devices.TryRemove(deviceId, out var entry))
            {
                return false;
            }

            tx.Execute("DELETE FROM devices WHERE id = $p0", deviceId);
            _geography.Cameras.Remove(deviceId);
            _coverage.CameraChanged(tx, null, deviceId, CoverageChange.CameraDeregistered);
            tx.AppendFeedEvent(new FeedEvent
            {
                Kind = FeedEventKind.DeviceDeregistered,
                OccurredAt = Timestamp.FromDateTimeOffset(_time.GetUtcNow()),
                RegionCode = entry.Device.RegionCode,
                Device = entry.Snapshot(),
            });
            return true;
        });

    /// <summary>
    /// Marks devices heard from now (heartbeat or alarm). Writes only when a status changes (with a feed event);
    /// the last-seen time of an already-online device lives in memory and is written on the next status change.
    /// Runs inside a journal item.
    /// </summary>
    public void MarkSeen(JournalTransaction tx, DeviceEntry entry, DateTimeOffset now)
    {
        entry.LastSeenMs = now.ToUnixTimeMilliseconds();
        if (entry.Status != DeviceStatus.Online)
        {
            SetStatus(tx, entry, DeviceStatus.Online, now);
        }
    }

    public void SetStatus(JournalTransaction tx, DeviceEntry entry, DeviceStatus status, DateTimeOffset now)
    {
        entry.Status = status;
        if (entry.Device.Kind == DeviceKind.Camera)
        {
            _coverage.CameraChanged(tx, entry, entry.Id, status == DeviceStatus.Online ? CoverageChange.CameraOnline : CoverageChange.CameraOffline);
        }

        tx.Execute("UPDATE devices SET status = $p0, last_seen_at = $p1 WHERE id = $p2", (int)status, entry.LastSeenMs, entry.Id);
        tx.AppendFeedEvent(new FeedEvent
        {
            Kind = status == DeviceStatus.Online ? FeedEventKind.DeviceOnline : FeedEventKind.DeviceOffline,
            OccurredAt = Timestamp.FromDateTimeOffset(now),
            RegionCode = entry.Device.RegionCode,
            Device = entry.Snapshot(),
        });
    }

    /// <summary>After a geography import, re-locates every device (no feed events: the device did not change).</summary>
    public void Relocate(JournalTransaction tx)
    {
        foreach (var entry in _devices.Values)
        {
            var d = entry.Device;
            var region = _geography.Locate(d.Position.Lon, d.Position.Lat);
            var code = GbDeviceId.RegionCode(region, d.DeviceId);
            if (region.Equals(d.Region) && code == d.RegionCode)
            {
                continue;
            }

            var updated = d.Clone();
            updated.Region = region;
            updated.RegionCode = code;
            tx.Execute("UPDATE devices SET region_code = $p0, data = $p1 WHERE id = $p2", code, updated.ToByteArray(), d.DeviceId);
            entry.Device = updated;
        }
    }

    private static bool SameRegistration(Device stored, Device incoming)
    {
        var a = stored.Clone();
        a.RegisteredAt = null;
        a.UpdatedAt = null;
        return a.Equals(incoming);
    }
}
