using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The devices table through its repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class DeviceRepositoryTests
{
    private const string CameraId = "34020000001310000001";
    private const string AlarmId = "34020000001340000002";

    private static DeviceRecord Camera(string name = "gate", string regionCode = "340200") => new Device
    {
        DeviceId = CameraId,
        Kind = DeviceKind.Camera,
        Name = name,
        VendorId = "hik",
        RegionCode = regionCode,
        Camera = new CameraSpec(),
    }.ToDomain();

    [Fact]
    public async Task A_device_round_trips_and_an_upsert_replaces_the_registration_but_keeps_the_stored_status()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        Assert.Empty(store.Read(DeviceRepository.LoadAll));

        await store.WriteAsync(tx =>
        {
            DeviceRepository.Upsert(tx, Camera(), DeviceStatus.Unknown, 0, "protected-1");
            Assert.Equal(new DeviceRow(Camera(), "protected-1", DeviceStatus.Unknown, 0), DeviceRepository.Find(tx, CameraId)); // sees its own write
            Assert.Null(DeviceRepository.Find(tx, AlarmId));
        });
        await store.WriteAsync(tx => DeviceRepository.SetStatus(tx, CameraId, DeviceStatus.Online, 5_000));

        // A new registration (no credentials now): registration and secret replaced, status and last-seen as stored.
        var renamed = Camera("gate north", "340201");
        await store.WriteAsync(tx => DeviceRepository.Upsert(tx, renamed, DeviceStatus.Unknown, 0, null));
        Assert.Equal([new DeviceRow(renamed, null, DeviceStatus.Online, 5_000)], store.Read(DeviceRepository.LoadAll));

        await store.WriteAsync(tx => DeviceRepository.Upsert(tx, new Device { DeviceId = AlarmId, Kind = DeviceKind.AlarmDevice, VendorId = "dahua", RegionCode = "340200" }.ToDomain(),
            DeviceStatus.Offline, 1_234, null));
        var all = store.Read(DeviceRepository.LoadAll).ToDictionary(r => r.Device.DeviceId);
        Assert.Equal((DeviceStatus.Offline, 1_234L, DeviceKind.AlarmDevice), (all[AlarmId].Status, all[AlarmId].LastSeenMs, all[AlarmId].Device.Kind));
        Assert.Equal(2, all.Count);
    }

    [Fact]
    public async Task A_keepalive_timeout_changes_only_an_online_row_last_seen_before_the_cutoff()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            DeviceRepository.Upsert(tx, Camera(), DeviceStatus.Unknown, 0, null);
            DeviceRepository.SetStatus(tx, CameraId, DeviceStatus.Online, 1_000);
        });

        Assert.Equal(0, await store.WriteAsync(tx => DeviceRepository.TakeOfflineIfSilent(tx, CameraId, 1_000))); // seen at the cutoff: not before it
        Assert.Equal(0, await store.WriteAsync(tx => DeviceRepository.TakeOfflineIfSilent(tx, AlarmId, 9_000))); // no such device
        Assert.Equal(DeviceStatus.Online, store.Read(DeviceRepository.LoadAll).Single().Status);

        Assert.Equal(1, await store.WriteAsync(tx => DeviceRepository.TakeOfflineIfSilent(tx, CameraId, 1_001)));
        Assert.Equal(0, await store.WriteAsync(tx => DeviceRepository.TakeOfflineIfSilent(tx, CameraId, 1_001))); // offline already: fires once
        Assert.Equal(new DeviceRow(Camera(), null, DeviceStatus.Offline, 1_000), store.Read(DeviceRepository.LoadAll).Single());

        // A device never seen (stored 0) counts as seen at 0.
        await store.WriteAsync(tx => DeviceRepository.SetStatus(tx, CameraId, DeviceStatus.Online, 0));
        Assert.Equal(1, await store.WriteAsync(tx => DeviceRepository.TakeOfflineIfSilent(tx, CameraId, 1)));
    }

    [Fact]
    public async Task The_last_seen_time_only_moves_forward()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx => DeviceRepository.Upsert(tx, Camera(), DeviceStatus.Online, 2_000, null));

        Assert.Equal(0, await store.WriteAsync(tx => DeviceRepository.RaiseLastSeen(tx, CameraId, 1_500)));
        Assert.Equal(0, await store.WriteAsync(tx => DeviceRepository.RaiseLastSeen(tx, CameraId, 2_000)));
        Assert.Equal(1, await store.WriteAsync(tx => DeviceRepository.RaiseLastSeen(tx, CameraId, 2_500)));
        Assert.Equal(0, await store.WriteAsync(tx => DeviceRepository.RaiseLastSeen(tx, AlarmId, 2_500)));
        Assert.Equal(2_500, store.Read(DeviceRepository.LoadAll).Single().LastSeenMs);
    }

    [Fact]
    public async Task Secrets_location_and_deletion_change_only_their_device()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        var alarm = new Device { DeviceId = AlarmId, Kind = DeviceKind.AlarmDevice, VendorId = "hik", RegionCode = "340200" }.ToDomain();
        await store.WriteAsync(tx =>
        {
            DeviceRepository.Upsert(tx, Camera(), DeviceStatus.Online, 10, "clear-json");
            DeviceRepository.Upsert(tx, alarm, DeviceStatus.Online, 10, "alarm-secret");
        });

        store.Read(c =>
        {
            DeviceRepository.SetSecretsAtStart(c, [(CameraId, "encrypted-at-start")]);
            DeviceRepository.SetSecretsAtStart(c, []); // nothing to do: no transaction
            return true;
        });
        Assert.Equal(1, await store.WriteAsync(tx => DeviceRepository.SetSecret(tx, AlarmId, "re-encrypted")));
        Assert.Equal(0, await store.WriteAsync(tx => DeviceRepository.SetSecret(tx, "34020000001310000099", "nobody")));

        var moved = Camera(regionCode: "340203") with { Region = new Geo.Regions.RegionCodes("340203", "", "", "") };
        await store.WriteAsync(tx =>
        {
            DeviceRepository.Lock(tx, CameraId);
            DeviceRepository.SetLocation(tx, moved);
        });

        var rows = store.Read(DeviceRepository.LoadAll).ToDictionary(r => r.Device.DeviceId);
        Assert.Equal(new DeviceRow(moved, "encrypted-at-start", DeviceStatus.Online, 10), rows[CameraId]);
        Assert.Equal(new DeviceRow(alarm, "re-encrypted", DeviceStatus.Online, 10), rows[AlarmId]);

        Assert.Equal(1, await store.WriteAsync(tx => DeviceRepository.Delete(tx, CameraId)));
        Assert.Equal(0, await store.WriteAsync(tx => DeviceRepository.Delete(tx, CameraId)));
        Assert.Equal([AlarmId], store.Read(DeviceRepository.LoadAll).Select(r => r.Device.DeviceId));
    }

    [Fact]
    public async Task A_rolled_back_transaction_leaves_no_device()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            DeviceRepository.Upsert(tx, Camera(), DeviceStatus.Unknown, 0, "protected");
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Empty(store.Read(DeviceRepository.LoadAll));
    }
}
