using System.Collections.Concurrent;
using System.Data.Common;
using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Streams;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Devices;

/// <summary>A registered device as the hot paths (MQTT intake, liveness) see it.</summary>
public sealed class DeviceEntry(DeviceRecord device, RtspSecrets? secrets, DeviceStatus status, long lastSeenMs)
{
    /// <summary>The stored registration (no status, no secrets). Replaced, never mutated.</summary>
    public DeviceRecord Device { get; set; } = device;

    /// <summary>The camera's RTSP credentials (never in <see cref="Device"/>), or null.</summary>
    public RtspSecrets? Secrets { get; set; } = secrets;

    public DeviceStatus Status { get; set; } = status;

    /// <summary>Last evidence of life of any kind: heartbeat, alarm or a stream check that answered.</summary>
    public long LastSeenMs { get; set; } = lastSeenMs;

    /// <summary>Last heartbeat or alarm (the device itself spoke; stream checks excluded). In memory only.</summary>
    public long LastHeardMs { get; set; }

    /// <summary>Stream health as measured by the gateway. Replaced, never mutated (readers may hold the old one).</summary>
    public StreamHealthRecord Health { get; set; } = StreamHealthRecord.New(device.DeviceId);

    public bool Faulty => Health.Faulty;

    /// <summary>Online and not faulty: counts toward real coverage and serviceability.</summary>
    public bool Working => Status == DeviceStatus.Online && !Faulty;

    /// <summary>Loaded from the store at start (its last heartbeat time is unknown), not registered since.</summary>
    public bool Restored { get; init; }

    public string Id => Device.DeviceId;

    public string VendorId => Device.VendorId;
}

public sealed record RegisterOutcome(Device Device, bool Created, bool Changed);

/// <summary>
/// All registered devices, in memory for the hot paths and in the store for durability. Mutations run as
/// journal items (so their feed events are sequenced with everything else); in-memory state is changed inside
/// the item and rebuilt from the store if the transaction rolls back. With several replicas on one store, other
/// replicas' device, camera and coverage-gap events are followed (<see cref="Follow"/>): the device's committed row
/// is read again and the catalog, the camera index, the coverage model and uptime follow it, without feed events.
/// </summary>
public sealed class DeviceCatalog : IJournalParticipant, IReplicaFollower, IReplicaChangeFollower
{
    /// <summary>
    /// The channel on which a commit that stored a camera's stream health announces the camera (PostgreSQL): other
    /// replicas read the row, so a newer measurement, a failure count or a check's outcome follows, not only a fault.
    /// </summary>
    public const string HealthChannel = "sharpeyes_stream_health";

    private readonly ConcurrentDictionary<string, DeviceEntry> _devices = new(StringComparer.Ordinal);
    private readonly Journal _journal;
    private readonly GeographyState _geography;
    private readonly TimeProvider _time;
    private readonly CoverageTracker _coverage;
    private readonly UptimeLedger _uptime;
    private readonly LivenessOptions _liveness;
    private readonly string _snapshotDirectory;
    private readonly long _startedMs;
    private readonly RtspSecretProtector _secrets;

    /// <summary>Cameras whose stored credentials could not be decrypted at load (their rows are left as they were); touched by the writer only.</summary>
    private readonly HashSet<string> _unreadable = new(StringComparer.Ordinal);

    public DeviceCatalog(Journal journal, GeographyState geography, CoverageTracker coverage, UptimeLedger uptime,
        IOptions<GatewayOptions> options, TimeProvider time, RtspSecretProtector secrets)
    {
        _journal = journal;
        _secrets = secrets;
        _geography = geography;
        _coverage = coverage;
        _uptime = uptime;
        _liveness = options.Value.Liveness;
        _snapshotDirectory = Path.Combine(options.Value.DataDir, "snapshots");
        _time = time;
        _startedMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        UptimeRetention = options.Value.Streams.UptimeRetention;
        HdMinHeight = options.Value.Coverage.HdMinHeight;
    }

    public int HdMinHeight { get; }

    /// <summary>A camera was registered, changed or deregistered (after commit): stream checks follow its URL.</summary>
    public event Action<string>? CameraChanged;

    public UptimeLedger Uptime => _uptime;

    public TimeSpan UptimeRetention { get; }

    /// <summary>Where the latest frame of each camera is kept ({data-dir}/snapshots/{id}.jpg).</summary>
    public string SnapshotDirectory => _snapshotDirectory;

    public string SnapshotPath(string deviceId) => Path.Combine(_snapshotDirectory, deviceId + ".jpg");

    /// <summary>
    /// Evidence older than this floor does not count against a device: after a restart each device keeps its stored
    /// status until at least start + restart grace, however long the gateway was down.
    /// </summary>
    public long EvidenceFloorMs => _startedMs + (long)(_liveness.Grace - _liveness.Timeout).TotalMilliseconds;

    /// <summary>
    /// Whether the device itself (heartbeat or alarm) spoke within the keepalive timeout. A device restored at start
    /// counts as heard until the restart grace ends: its last heartbeat before the restart is not kept.
    /// </summary>
    public bool HeardRecently(DeviceEntry entry, DateTimeOffset now)
    {
        var heard = entry.Restored ? Math.Max(entry.LastHeardMs, EvidenceFloorMs) : entry.LastHeardMs;
        return heard > 0 && now.ToUnixTimeMilliseconds() - heard <= (long)_liveness.Timeout.TotalMilliseconds;
    }

    public int Count => _devices.Count;

    public DeviceEntry? Find(string id) => _devices.TryGetValue(id, out var e) ? e : null;

    public IEnumerable<DeviceEntry> All => _devices.Values;

    /// <summary>
    /// Reads every device from the store: at start, and after a batch rolled back. Readers on other threads (the MQTT
    /// intake's device check) never see a device missing meanwhile: the entries are read first and replace the old
    /// ones one by one, and only devices no longer stored are removed.
    /// </summary>
    public void Load(DbConnection connection)
    {
        var loaded = new Dictionary<string, DeviceEntry>(StringComparer.Ordinal);
        _unreadable.Clear();
        var clear = new List<(string Id, string RtspSecret)>();
        foreach (var row in DeviceRepository.LoadAll(connection))
        {
            var entry = ReadEntry(row, restored: true, out var encrypted);
            if (encrypted is not null)
            {
                clear.Add((entry.Id, encrypted));
            }

            loaded[entry.Id] = entry;
        }

        _geography.ReplaceCameras(loaded.Values.Select(e => e.Device));

        // Stores written before version 7 kept the credentials in clear JSON: they are encrypted at start, in one
        // transaction on the writer's connection (the journal is not running yet).
        DeviceRepository.SetSecretsAtStart(connection, clear);
        _secrets.ReportUnreadable(_unreadable.Count);

        foreach (var (deviceId, health) in StreamHealthRepository.LoadAll(connection))
        {
            if (loaded.TryGetValue(deviceId, out var entry))
            {
                entry.Health = health;
            }
        }

        foreach (var id in _devices.Keys)
        {
            if (!loaded.ContainsKey(id))
            {
                _devices.TryRemove(id, out _);
            }
        }

        foreach (var (id, entry) in loaded)
        {
            _devices[id] = entry;
        }

        _uptime.Load(connection, (_time.GetUtcNow() - UptimeRetention).ToUnixTimeMilliseconds());
        _coverage.Load(connection, _devices.Values);
    }

    /// <summary>
    /// A stored device as an entry, its credentials decrypted. A credential whose key is not
    /// in the key ring leaves the camera without usable credentials and is remembered in <see cref="_unreadable"/>;
    /// <paramref name="encrypted"/> is set when the row still holds them in clear (stores before version 7).
    /// </summary>
    private DeviceEntry ReadEntry(DeviceRow row, bool restored, out string? encrypted)
    {
        encrypted = null;
        var device = row.Device;
        var stored = row.RtspSecret;
        RtspSecrets? secrets = null;
        _unreadable.Remove(device.DeviceId);
        try
        {
            secrets = _secrets.Unprotect(stored);
            if (stored is not null && RtspSecretProtector.IsClear(stored))
            {
                encrypted = _secrets.Protect(secrets);
            }
        }
        catch (CryptographicException)
        {
            // Its key is not in the key ring: no usable credentials. The row stays as it is (the key ring may
            // yet be restored) until the camera is registered or updated again.
            _unreadable.Add(device.DeviceId);
            device = device with { HasRtspCredentials = false };
        }

        return new DeviceEntry(device, secrets, row.Status, row.LastSeenMs) { Restored = restored };
    }

    /// <summary>
    /// Another replica committed <paramref name="foreign"/> (PostgreSQL, several replicas): a device or camera event
    /// makes this replica read that device's committed row (and stream health, and uptime log) again and update its
    /// catalog, camera index, coverage model and uptime; a coverage-gap event makes it take the gap's stored state.
    /// Nothing is appended to the feed: the replica that made the change did that.
    /// </summary>
    public void Follow(FeedEvent foreign, JournalTransaction tx)
    {
        switch (foreign.Kind)
        {
            case FeedEventKind.DeviceRegistered or FeedEventKind.DeviceOnline or FeedEventKind.DeviceOffline or FeedEventKind.DeviceDeregistered
                when foreign.Device is { } device:
                FollowDevice(tx, device.DeviceId);
                break;
            case FeedEventKind.CameraFaulty or FeedEventKind.CameraRepaired when foreign.CameraHealth is { } health:
                FollowDevice(tx, health.DeviceId);
                break;
            case FeedEventKind.CoverageGapOpened or FeedEventKind.CoverageGapClosed when foreign.CoverageGap is { } gap:
                _coverage.FollowGap(tx, gap.GapId);
                break;
        }
    }

    /// <summary>
    /// Reads one device as committed now (a later commit than the event's, possibly: the state converges to the
    /// newest) and replaces this replica's view of it. What only this replica knows (when it last heard the device
    /// itself) is kept.
    /// </summary>
    private void FollowDevice(JournalTransaction tx, string id)
    {
        _devices.TryGetValue(id, out var existing);
        var row = DeviceRepository.Find(tx, id);
        if (row is null)
        {
            if (existing is null)
            {
                return;
            }

            _devices.TryRemove(id, out _);
            _unreadable.Remove(id);
            _geography.Cameras.Remove(id);
            _uptime.Forget(id);
            _coverage.Follow(tx, null, id);
            tx.AfterCommit(() =>
            {
                DeleteSnapshot(id);
                CameraChanged?.Invoke(id);
            });
            return;
        }

        var entry = ReadEntry(row, existing?.Restored ?? false, out _);
        entry.LastHeardMs = existing?.LastHeardMs ?? 0;
        entry.LastSeenMs = Math.Max(entry.LastSeenMs, existing?.LastSeenMs ?? 0);
        if (StreamHealthRepository.Find(tx, id) is { } health)
        {
            entry.Health = health;
        }

        _devices[id] = entry;
        _geography.IndexCamera(entry.Device);
        if (entry.Device.Kind == DeviceKind.Camera)
        {
            _uptime.Follow(tx, id);
            _coverage.Follow(tx, entry, id);
            if (existing is null || !existing.Device.Equals(entry.Device) || existing.Secrets != entry.Secrets)
            {
                tx.AfterCommit(() => CameraChanged?.Invoke(id));
            }
        }
    }

    /// <summary>
    /// Upserts a batch in one transaction. Items whose owner differs get PERMISSION_DENIED in their slot; an update
    /// (<see cref="ValidatedDevice.ExpectedUpdatedAt"/>) of a device since removed gets NOT_FOUND, of one changed since
    /// it was read ABORTED. RTSP credentials are resolved against the stored ones (<see cref="RtspSecrets.Resolve"/>).
    /// </summary>
    public Task<IReadOnlyList<(RegisterOutcome? Outcome, RpcException? Error)>> UpsertAsync(IReadOnlyList<ValidatedDevice> batch, CancellationToken ct = default) =>
        _journal.ExecuteAsync<IReadOnlyList<(RegisterOutcome?, RpcException?)>>(tx =>
        {
            var now = _time.GetUtcNow();
            var results = new (RegisterOutcome?, RpcException?)[batch.Count];
            var writes = new List<DeviceUpsert>(batch.Count); // written together after the loop (nothing in it reads the rows)
            var writeOf = new Dictionary<string, int>(StringComparer.Ordinal); // a device twice in one batch: its last registration
            using var coverageBatch = _coverage.BatchChanges();
            for (var i = 0; i < batch.Count; i++)
            {
                var validated = batch[i];
                var device = validated.Device;
                _devices.TryGetValue(device.DeviceId, out var existing);
                if (existing is not null && existing.VendorId != device.VendorId)
                {
                    results[i] = (null, new RpcException(new Status(StatusCode.PermissionDenied,
                        $"device_id: {device.DeviceId} is registered by another vendor")));
                    continue;
                }

                if (validated.ExpectedUpdatedAt is { } expected && (existing is null || !expected.Equals(existing.Device.UpdatedAt)))
                {
                    results[i] = (null, existing is null ? DeviceVisibility.NotRegistered(device.DeviceId) : new RpcException(new Status(StatusCode.Aborted,
                        $"device_id: {device.DeviceId} changed while this update was applied; read it again and retry")));
                    continue;
                }

                var secrets = RtspSecrets.Resolve(existing?.Device.Camera, existing?.Secrets, device.Camera, validated.Given, validated.Edits);
                device = device with { HasRtspCredentials = secrets is not null };
                if (existing is not null && SameRegistration(existing.Device, device) && existing.Secrets == secrets)
                {
                    results[i] = (new RegisterOutcome(existing.Snapshot(), false, false), null);
                    continue;
                }

                device = device with { RegisteredAt = existing?.Device.RegisteredAt ?? now, UpdatedAt = now };
                var status = existing?.Status ?? DeviceStatus.Unknown;
                var lastSeen = existing?.LastSeenMs ?? 0;
                var write = new DeviceUpsert(device, status, lastSeen, _secrets.Protect(secrets));
                if (writeOf.TryGetValue(device.DeviceId, out var earlier))
                {
                    writes[earlier] = write;
                }
                else
                {
                    writeOf[device.DeviceId] = writes.Count;
                    writes.Add(write);
                }

                var entry = new DeviceEntry(device, secrets, status, lastSeen) { LastHeardMs = existing?.LastHeardMs ?? 0, Restored = existing?.Restored ?? false };
                if (existing is not null)
                {
                    entry.Health = StreamHealthRules.AfterRegistration(existing.Health, existing.Device, existing.Secrets?.Main, device, secrets?.Main);
                    if (!entry.Health.Equals(existing.Health))
                    {
                        SaveHealth(tx, entry);
                    }
                }

                _devices[device.DeviceId] = entry;
                _unreadable.Remove(device.DeviceId);
                if (device.Kind == DeviceKind.Camera)
                {
                    var id = device.DeviceId;
                    tx.AfterCommit(() => CameraChanged?.Invoke(id));
                }

                _geography.IndexCamera(device);
                _coverage.CameraChanged(tx, entry, device.DeviceId, existing is null ? CoverageChange.CameraRegistered : CoverageChange.CameraChanged);
                var snapshot = entry.Snapshot();
                tx.AppendFeedEvent(new FeedEvent
                {
                    Kind = FeedEventKind.DeviceRegistered,
                    OccurredAt = Timestamp.FromDateTimeOffset(now),
                    RegionCode = device.RegionCode,
                    Device = snapshot,
                });
                results[i] = (new RegisterOutcome(snapshot, existing is null, true), null);
            }

            DeviceRepository.UpsertAll(tx, writes);
            return results;
        }, ct);

    /// <summary>
    /// Re-encrypts every stored RTSP credential with the current default key (after <see cref="RtspSecretProtector.CreateKeyAsync"/>),
    /// in one transaction. Answers how many were re-encrypted, and how many could not be read and were left as they were.
    /// </summary>
    public Task<(int Reencrypted, int Unreadable)> ReencryptSecretsAsync(CancellationToken ct = default) =>
        _journal.ExecuteAsync(tx =>
        {
            var reencrypted = 0;
            foreach (var entry in _devices.Values)
            {
                if (_secrets.Protect(entry.Secrets) is { } encrypted)
                {
                    DeviceRepository.SetSecret(tx, entry.Device.DeviceId, encrypted);
                    reencrypted++;
                }
            }

            return (reencrypted, _unreadable.Count);
        }, ct);

    public Task<bool> RemoveAsync(string deviceId) =>
        _journal.ExecuteAsync(tx =>
        {
            if (!_devices.TryRemove(deviceId, out var entry))
            {
                return false;
            }

            DeviceRepository.Delete(tx, deviceId);
            StreamHealthRepository.Delete(tx, deviceId);
            _uptime.Remove(tx, deviceId);
            _geography.Cameras.Remove(deviceId);
            tx.AfterCommit(() =>
            {
                DeleteSnapshot(deviceId);
                CameraChanged?.Invoke(deviceId);
            });
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
    /// Removes a deregistered camera's last frame grab, if any. No snapshots directory (no grab was ever taken) is not
    /// an error: File.Delete throws for a missing directory, which ended the after-commit action before
    /// <see cref="CameraChanged"/> told the stream scheduler (seen as one logged failure per deregistration).
    /// </summary>
    private void DeleteSnapshot(string deviceId)
    {
        try
        {
            File.Delete(SnapshotPath(deviceId)); // a missing file is no error
        }
        catch (IOException)
        {
            // No snapshots directory (DirectoryNotFoundException): nothing to remove.
        }
    }

    /// <summary>
    /// Marks a device heard from now: a heartbeat or alarm (the device spoke) or a stream check that answered. Writes
    /// only when a status changes (with a feed event naming the evidence); the last-seen time of an already-online
    /// device lives in memory and is written on the next status change. Runs inside a journal item.
    /// </summary>
    public void MarkSeen(JournalTransaction tx, DeviceEntry entry, DateTimeOffset now, string evidence = StatusReasons.Heartbeat)
    {
        entry.LastSeenMs = now.ToUnixTimeMilliseconds();
        if (evidence != StatusReasons.Stream)
        {
            entry.LastHeardMs = entry.LastSeenMs;
        }

        if (entry.Status != DeviceStatus.Online)
        {
            SetStatus(tx, entry, DeviceStatus.Online, now, evidence);
        }
    }

    /// <summary>
    /// Takes an online device offline for missed keepalives, unless its row says otherwise: with several replicas on
    /// one store another replica may have heard it (and written its last-seen time, <see cref="StoreLastSeen"/>) or
    /// timed it out already. The row is changed only while it is online and last seen before
    /// <paramref name="cutoffMs"/>, so one replica's sweep wins and the timeout fires once; a replica whose update
    /// changed nothing takes the row's state instead. Answers whether this replica took it offline.
    /// </summary>
    public bool TimeOut(JournalTransaction tx, DeviceEntry entry, DateTimeOffset now, long cutoffMs)
    {
        if (DeviceRepository.TakeOfflineIfSilent(tx, entry.Id, cutoffMs) == 0)
        {
            FollowDevice(tx, entry.Id);
            return false;
        }

        SetStatus(tx, entry, DeviceStatus.Offline, now, StatusReasons.KeepaliveTimeout);
        return true;
    }

    /// <summary>
    /// Writes the last-seen time of the devices this replica heard at or after <paramref name="sinceMs"/> (only ever
    /// forward), so every replica's keepalive sweep sees a heartbeat whichever replica took it. One replica alone
    /// keeps it in memory (<see cref="MarkSeen"/>), as before. Answers how many rows were written.
    /// </summary>
    public int StoreLastSeen(JournalTransaction tx, long sinceMs)
    {
        var written = 0;
        foreach (var entry in _devices.Values)
        {
            var seen = entry.LastSeenMs;
            if (seen >= sinceMs && entry.Status == DeviceStatus.Online)
            {
                written += DeviceRepository.RaiseLastSeen(tx, entry.Id, seen);
            }
        }

        return written;
    }

    public void SetStatus(JournalTransaction tx, DeviceEntry entry, DeviceStatus status, DateTimeOffset now, string reason)
    {
        var wasOnline = entry.Status == DeviceStatus.Online;
        entry.Status = status;
        if (entry.Device.Kind == DeviceKind.Camera)
        {
            _coverage.CameraChanged(tx, entry, entry.Id, status == DeviceStatus.Online ? CoverageChange.CameraOnline : CoverageChange.CameraOffline);
            if (wasOnline != (status == DeviceStatus.Online))
            {
                _uptime.Record(tx, entry.Id, now.ToUnixTimeMilliseconds(), status == DeviceStatus.Online);
            }
        }

        DeviceRepository.SetStatus(tx, entry.Id, status, entry.LastSeenMs);
        tx.AppendFeedEvent(new FeedEvent
        {
            Kind = status == DeviceStatus.Online ? FeedEventKind.DeviceOnline : FeedEventKind.DeviceOffline,
            OccurredAt = Timestamp.FromDateTimeOffset(now),
            RegionCode = entry.Device.RegionCode,
            Reason = reason,
            Device = entry.Snapshot(),
        });
    }

    /// <summary>
    /// Replaces a camera's stream health. When it turns faulty or repaired, real coverage follows and the feed gets
    /// CAMERA_FAULTY or CAMERA_REPAIRED in this transaction. <paramref name="persist"/> false keeps a change that is
    /// only a newer timestamp of the same state in memory (like last-seen). Runs inside a journal item.
    /// <para>
    /// A transition is announced only if the stored row agrees that it is one: with several replicas on one store,
    /// another may have turned the camera faulty (or repaired) and announced it, and this replica not have followed
    /// that event yet. The device's row is locked first (a no-op update), so of two replicas that race the later one
    /// reads the earlier one's committed health and announces nothing; following that event updates its coverage.
    /// </para>
    /// </summary>
    public void SetHealth(JournalTransaction tx, DeviceEntry entry, StreamHealthRecord next, DateTimeOffset now, bool persist = true)
    {
        var wasFaulty = entry.Faulty;
        entry.Health = next;
        if (wasFaulty != entry.Faulty)
        {
            DeviceRepository.Lock(tx, entry.Id);
            wasFaulty = StreamHealthRepository.Find(tx, entry.Id) is { Faulty: true };
        }

        if (persist)
        {
            SaveHealth(tx, entry);
        }

        if (wasFaulty == entry.Faulty)
        {
            return;
        }

        _coverage.CameraChanged(tx, entry, entry.Id, entry.Faulty ? CoverageChange.CameraFaulty : CoverageChange.CameraRepaired);
        tx.AppendFeedEvent(new FeedEvent
        {
            Kind = entry.Faulty ? FeedEventKind.CameraFaulty : FeedEventKind.CameraRepaired,
            OccurredAt = Timestamp.FromDateTimeOffset(now),
            RegionCode = entry.Device.RegionCode,
            Reason = entry.Faulty ? string.Join(",", next.Faults) : "checks-pass",
            CameraHealth = StreamHealthRules.View(entry, HdMinHeight),
        });
    }

    private static void SaveHealth(JournalTransaction tx, DeviceEntry entry)
    {
        StreamHealthRepository.Upsert(tx, entry.Id, entry.Health);
        tx.NotifyReplicas(HealthChannel, entry.Id);
    }

    string IReplicaChangeFollower.Channel => HealthChannel;

    /// <summary>
    /// Another replica stored a camera's stream health (<paramref name="announced"/>: the camera's id). A health that turns the camera
    /// faulty or repaired is followed as a whole device (coverage included), as its own CAMERA_FAULTY or CAMERA_REPAIRED
    /// event would; any other change replaces the health this replica holds. This replica's own saves never reach here
    /// (its in-memory health may be newer than what it stored then). Null (the listener reconnected) is skipped: a health
    /// missed meanwhile is read with that camera's next save or device event.
    /// </summary>
    void IReplicaChangeFollower.Changed(ReplicaAnnouncement? announced, JournalTransaction tx)
    {
        if (announced?.What is { } deviceId)
        {
            FollowHealth(tx, deviceId, StreamHealthRepository.Find(tx, deviceId));
        }
    }

    private void FollowHealth(JournalTransaction tx, string deviceId, StreamHealthRecord? stored)
    {
        if (stored is null || !_devices.TryGetValue(deviceId, out var entry) || stored.Equals(entry.Health))
        {
            return; // unknown here yet (its registration follows), or already what this replica holds
        }

        if (stored.Faulty != entry.Faulty)
        {
            FollowDevice(tx, deviceId);
            return;
        }

        entry.Health = stored;
    }

    /// <summary>After a geography import, re-locates every device (no feed events: the device did not change).</summary>
    public void Relocate(JournalTransaction tx)
    {
        foreach (var entry in _devices.Values)
        {
            var d = entry.Device;
            var region = _geography.Locate(d.Position.Lon, d.Position.Lat);
            var code = GbDeviceId.RegionCode(region, d.DeviceId);
            if (region == d.Region && code == d.RegionCode)
            {
                continue;
            }

            var updated = d with { Region = region, RegionCode = code };
            DeviceRepository.SetLocation(tx, updated);
            entry.Device = updated;
        }
    }

    /// <summary>The same registration but for its times (an idempotent repeat changes nothing, not even its update time).</summary>
    private static bool SameRegistration(DeviceRecord stored, DeviceRecord incoming) =>
        stored with { RegisteredAt = incoming.RegisteredAt, UpdatedAt = incoming.UpdatedAt } == incoming;
}
