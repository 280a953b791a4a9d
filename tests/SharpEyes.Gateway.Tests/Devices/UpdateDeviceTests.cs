using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Devices;

/// <summary>DeviceRegistry.UpdateDevice over real Kestrel: only the fields the mask names change, checked and announced like a registration.</summary>
public sealed class UpdateDeviceTests : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private string _vendor = null!;
    private DeviceRegistry.DeviceRegistryClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync();
        _vendor = await _host.CreateKeyAsync(Role.Vendor, "vendor-a");
        _client = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private Task<Device> UpdateAsync(Device patch, params string[] paths) =>
        _client.UpdateDeviceAsync(new UpdateDeviceRequest { Device = patch, UpdateMask = new FieldMask { Paths = { paths } } }, _host.Auth(_vendor)).ResponseAsync;

    [Fact]
    public async Task Only_the_named_fields_change_and_the_change_is_announced_and_covered_like_a_registration()
    {
        var centre = await _host.CreateKeyAsync(Role.Centre);
        var registered = (await _client.RegisterDeviceAsync(TestDevices.Camera(60), _host.Auth(_vendor))).Device;
        await using var feed = new FeedReader(_host, centre, afterSequence: _host.LastSequence);
        _host.Time.Advance(TimeSpan.FromMinutes(1));

        // The patch carries other values too; only the named one is applied.
        var updated = await UpdateAsync(new Device
        {
            DeviceId = registered.DeviceId,
            Name = "not applied",
            Camera = new CameraSpec { AzimuthDeg = 180, HfovDeg = 10, RangeM = 1 },
        }, "camera.azimuth_deg");

        Assert.Equal(180, updated.Camera.AzimuthDeg);
        var expected = registered.Clone();
        expected.Camera.AzimuthDeg = 180;
        expected.UpdatedAt = Timestamp.FromDateTimeOffset(_host.Time.GetUtcNow());
        Assert.Equal(expected, updated);
        Assert.True(updated.HasRtspCredentials);
        Assert.Equal(expected, await _client.GetDeviceAsync(new GetDeviceRequest { DeviceId = registered.DeviceId }, _host.Auth(_vendor)));

        var announced = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceRegistered && e.Device.DeviceId == registered.DeviceId, "DEVICE_REGISTERED for the update");
        Assert.Equal(180, announced.Device.Camera.AzimuthDeg);
        Assert.Equal(180, _host.Services.GetRequiredService<CoverageTracker>().Model.Camera(registered.DeviceId)!.AzimuthDeg);

        // The same update again changes nothing and announces nothing.
        var last = _host.LastSequence;
        Assert.Equal(expected, await UpdateAsync(new Device { DeviceId = registered.DeviceId, Camera = new CameraSpec { AzimuthDeg = 180 } }, "camera.azimuth_deg"));
        Assert.Equal(last, _host.LastSequence);
    }

    [Fact]
    public async Task Positions_lenses_streams_and_names_are_applied_in_the_registrations_canonical_form()
    {
        var r = TestDevices.Camera(61);
        r.Camera.HfovDeg = 0;
        r.Camera.RangeM = 0;
        r.Camera.ResolutionWidth = 0;
        r.Camera.ResolutionHeight = 0;
        r.Camera.Lens = new Lens { FocalLengthMm = 4, SensorWidthMm = 5.6, HorizontalPixels = 1920 };
        r.Camera.Streams.Add(new StreamProfile { Role = StreamRole.Main, Codec = "h264", Width = 1920, Height = 1080, FrameRate = 25 });
        var id = (await _client.RegisterDeviceAsync(r, _host.Auth(_vendor))).Device.DeviceId;

        // A GCJ-02 position is stored in WGS-84 and located again.
        var wgs = (Lon: 114.6130, Lat: 37.6160);
        var gcj = Geo.Datums.DatumConverter.FromWgs84(wgs.Lon, wgs.Lat, Geo.Datums.Datum.Gcj02);
        var moved = await UpdateAsync(new Device { DeviceId = id, Position = new GeoPoint { Lon = gcj.Lon, Lat = gcj.Lat, Datum = Datum.Gcj02 } }, "position");
        Assert.Equal(Datum.Wgs84, moved.Position.Datum);
        Assert.InRange(new Geo.Projection.LocalProjection(wgs.Lon, wgs.Lat).DistanceM(wgs.Lon, wgs.Lat, moved.Position.Lon, moved.Position.Lat), 0, 0.5);
        Assert.StartsWith(moved.Region.VillageCode, moved.RegionCode, StringComparison.Ordinal);

        // A new focal length derives field of view and range again (8 mm: half the opening's tangent, twice the range).
        var zoomed = await UpdateAsync(new Device { DeviceId = id, Camera = new CameraSpec { Lens = new Lens { FocalLengthMm = 8, SensorWidthMm = 5.6, HorizontalPixels = 1920 } } }, "camera.lens");
        Assert.Equal(38.58, zoomed.Camera.HfovDeg, 2);
        Assert.Equal(43.9, zoomed.Camera.RangeM, 1);

        // New streams bring the new main stream's size as the declared resolution.
        var streams = new CameraSpec();
        streams.Streams.Add(new StreamProfile { Role = StreamRole.Main, Codec = "hevc", Width = 2560, Height = 1440, FrameRate = 20 });
        var restreamed = await UpdateAsync(new Device { DeviceId = id, Camera = streams }, "camera.streams");
        Assert.Equal((2560, 1440), (restreamed.Camera.ResolutionWidth, restreamed.Camera.ResolutionHeight));
        Assert.Equal("H.265", Assert.Single(restreamed.Camera.Streams).Codec);

        var renamed = await UpdateAsync(new Device { DeviceId = id, Name = "  东门  ", Model = "" }, "name", "model");
        Assert.Equal(("东门", ""), (renamed.Name, renamed.Model));
        Assert.Equal(restreamed.Camera, renamed.Camera);
    }

    public static TheoryData<string, string[], string> BadUpdates => new()
    {
        { "no mask", [], "update_mask: required" },
        { "unknown field", ["camera.zoom"], "update_mask: unknown path 'camera.zoom'" },
        { "inside a list", ["camera.streams.rtsp_url"], "update_mask: unknown path 'camera.streams.rtsp_url'" },
        { "output only", ["status"], "update_mask: 'status' is output only" },
        { "output only, nested", ["region.grid_code"], "update_mask: 'region.grid_code' is output only" },
        { "output only, credentials flag", ["has_rtsp_credentials"], "update_mask: 'has_rtsp_credentials' is output only" },
        { "owner", ["vendor_id"], "update_mask: 'vendor_id' is output only" },
        { "identity", ["device_id"], "update_mask: 'device_id' names the device to change and cannot be changed" },
        { "kind", ["kind"], "update_mask: 'kind' cannot be changed" },
        { "part of a position", ["position.lon"], "update_mask: 'position.lon': name 'position' as a whole" },
        { "a value out of range", ["camera.range_m"], "camera.range_m: must be in (0, 5000], got 6000" },
        { "a required value emptied", ["name"], "name: required" },
        { "a bad URL", ["camera.rtsp_url"], "camera.rtsp_url: must be an absolute rtsp:// or rtsps:// URL with a host" },
    };

    [Theory]
    [MemberData(nameof(BadUpdates))]
    public async Task Bad_updates_fail_with_INVALID_ARGUMENT_naming_the_path_or_field_and_change_nothing(string @case, string[] paths, string expected)
    {
        var before = (await _client.RegisterDeviceAsync(TestDevices.Camera(62), _host.Auth(_vendor))).Device;
        var patch = new Device
        {
            DeviceId = before.DeviceId,
            Name = "",
            Status = DeviceStatus.Online,
            Position = new GeoPoint { Lon = 1, Lat = 2 },
            Camera = new CameraSpec { RangeM = 6000, RtspUrl = "http://127.0.0.1/cam" },
        };

        var e = await Assert.ThrowsAsync<RpcException>(() => UpdateAsync(patch, paths));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.True(e.Status.Detail.StartsWith(expected, StringComparison.Ordinal), $"{@case}: {e.Status.Detail}");
        Assert.Equal(before, await _client.GetDeviceAsync(new GetDeviceRequest { DeviceId = before.DeviceId }, _host.Auth(_vendor)));
    }

    [Fact]
    public async Task Alarm_devices_have_no_camera_and_credentials_need_a_url()
    {
        var alarm = (await _client.RegisterDeviceAsync(TestDevices.Alarm(63), _host.Auth(_vendor))).Device;
        var noUrl = TestDevices.Camera(64);
        noUrl.Camera.RtspUrl = "";
        var camera = (await _client.RegisterDeviceAsync(noUrl, _host.Auth(_vendor))).Device;

        var addCamera = await Assert.ThrowsAsync<RpcException>(() => UpdateAsync(new Device { DeviceId = alarm.DeviceId, Camera = TestDevices.Camera(1).Camera }, "camera"));
        var password = await Assert.ThrowsAsync<RpcException>(() => UpdateAsync(new Device { DeviceId = camera.DeviceId, Camera = new CameraSpec { RtspPassword = "pw-without-url" } }, "camera.rtsp_password"));
        var noDevice = await Assert.ThrowsAsync<RpcException>(() => _client.UpdateDeviceAsync(new UpdateDeviceRequest { UpdateMask = new FieldMask { Paths = { "name" } } }, _host.Auth(_vendor)).ResponseAsync);

        Assert.Equal("camera: only cameras have a camera spec", addCamera.Status.Detail);
        Assert.Equal("camera.rtsp_url: required when RTSP credentials are given", password.Status.Detail);
        Assert.StartsWith("device: required", noDevice.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("pw-without-url", _host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Only_vendors_and_admins_update_and_an_admin_updates_any_vendors_device()
    {
        var id = (await _client.RegisterDeviceAsync(TestDevices.Alarm(65), _host.Auth(_vendor))).Device.DeviceId;
        var operatorKey = await _host.CreateKeyAsync(Role.Operator);
        var request = new UpdateDeviceRequest { Device = new Device { DeviceId = id, Name = "由管理员改名" }, UpdateMask = new FieldMask { Paths = { "name" } } };

        var refused = await Assert.ThrowsAsync<RpcException>(() => _client.UpdateDeviceAsync(request, _host.Auth(operatorKey)).ResponseAsync);
        var byAdmin = await _client.UpdateDeviceAsync(request, _host.AdminAuth);

        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Equal(("由管理员改名", "vendor-a"), (byAdmin.Name, byAdmin.VendorId));
    }

    [Fact]
    public async Task An_update_built_on_a_stale_read_is_not_applied()
    {
        var registered = (await _client.RegisterDeviceAsync(TestDevices.Alarm(66), _host.Auth(_vendor))).Device;
        var stale = registered.UpdatedAt;
        _host.Time.Advance(TimeSpan.FromSeconds(1));
        await UpdateAsync(new Device { DeviceId = registered.DeviceId, Name = "first" }, "name");

        // What UpdateDevice does when another change lands between its read and its commit.
        var validator = _host.Services.GetRequiredService<DeviceValidator>();
        var catalog = _host.Services.GetRequiredService<DeviceCatalog>();
        var request = TestDevices.Alarm(66);
        request.Name = "second";
        request.VendorId = "vendor-a";
        var late = validator.Validate(request, new Gateway.Auth.Principal("admin", Role.Admin, null)) with { ExpectedUpdatedAt = stale.ToDateTimeOffset() };
        var (outcome, error) = (await catalog.UpsertAsync([late]))[0];

        Assert.Null(outcome);
        Assert.Equal(StatusCode.Aborted, error!.StatusCode);
        Assert.Equal("first", catalog.Find(registered.DeviceId)!.Device.Name);
    }
}
