using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Devices;

/// <summary>DeviceRegistry over real Kestrel: registration, validation, tenancy, listing, heartbeat.</summary>
public sealed class DeviceRegistryTests : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private string _vendorA = null!;
    private string _vendorB = null!;
    private DeviceRegistry.DeviceRegistryClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync();
        _vendorA = await _host.CreateKeyAsync(Role.Vendor, "vendor-a");
        _vendorB = await _host.CreateKeyAsync(Role.Vendor, "vendor-b");
        _client = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Register_stores_canonical_device_located_in_its_grid_and_hides_credentials()
    {
        var response = await _client.RegisterDeviceAsync(TestDevices.Camera(1), _host.Auth(_vendorA));

        Assert.True(response.Created);
        var d = response.Device;
        Assert.Equal("vendor-a", d.VendorId);
        Assert.Equal(Datum.Wgs84, d.Position.Datum);
        Assert.Equal("130127", d.Region.CountyCode);
        Assert.Equal(9, d.Region.TownshipCode.Length);
        Assert.Equal(12, d.Region.VillageCode.Length);
        Assert.StartsWith(d.Region.VillageCode, d.Region.GridCode);
        Assert.Equal(d.Region.GridCode, d.RegionCode);
        Assert.Equal(DeviceStatus.Unknown, d.Status);
        Assert.True(d.HasRtspCredentials);
        Assert.Equal("rtsp://127.0.0.1:8554/cam1", d.Camera.RtspUrl);
        Assert.Empty(d.Camera.RtspPassword);
        Assert.Empty(d.Camera.RtspUsername);

        var fetched = await _client.GetDeviceAsync(new GetDeviceRequest { DeviceId = d.DeviceId }, _host.Auth(_vendorA));
        Assert.DoesNotContain("s3cr3t-pw", fetched.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t-pw", _host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_is_an_idempotent_upsert()
    {
        var first = await _client.RegisterDeviceAsync(TestDevices.Camera(2), _host.Auth(_vendorA));
        var again = await _client.RegisterDeviceAsync(TestDevices.Camera(2), _host.Auth(_vendorA));
        var moved = await _client.RegisterDeviceAsync(TestDevices.Camera(2, azimuth: 180), _host.Auth(_vendorA));

        Assert.True(first.Created && first.Changed);
        Assert.False(again.Created || again.Changed);
        Assert.False(moved.Created);
        Assert.True(moved.Changed);
        Assert.Equal(180, moved.Device.Camera.AzimuthDeg);
        Assert.Equal(first.Device.RegisteredAt, moved.Device.RegisteredAt);
    }

    [Fact]
    public async Task Positions_in_GCJ02_and_BD09_are_stored_in_WGS84()
    {
        // The same physical point in the three datums (converted with the formulas in domain.md).
        var wgs = (Lon: 114.6030, Lat: 37.6060);
        var gcj = Geo.Datums.DatumConverter.FromWgs84(wgs.Lon, wgs.Lat, Geo.Datums.Datum.Gcj02);
        var bd = Geo.Datums.DatumConverter.FromWgs84(wgs.Lon, wgs.Lat, Geo.Datums.Datum.Bd09);
        var a = TestDevices.Camera(10);
        a.Position = new GeoPoint { Lon = gcj.Lon, Lat = gcj.Lat, Datum = Datum.Gcj02 };
        var b = TestDevices.Camera(11);
        b.Position = new GeoPoint { Lon = bd.Lon, Lat = bd.Lat, Datum = Datum.Bd09 };

        var ra = await _client.RegisterDeviceAsync(a, _host.Auth(_vendorA));
        var rb = await _client.RegisterDeviceAsync(b, _host.Auth(_vendorA));

        // GCJ-02 and BD-09 have no closed-form inverse: domain.md allows 0.5 m after iterative refinement.
        var projection = new Geo.Projection.LocalProjection(wgs.Lon, wgs.Lat);
        Assert.Equal(Datum.Wgs84, ra.Device.Position.Datum);
        Assert.InRange(projection.DistanceM(wgs.Lon, wgs.Lat, ra.Device.Position.Lon, ra.Device.Position.Lat), 0, 0.5);
        Assert.InRange(projection.DistanceM(wgs.Lon, wgs.Lat, rb.Device.Position.Lon, rb.Device.Position.Lat), 0, 0.5);
    }

    [Fact]
    public async Task Lens_data_derives_fov_and_range_by_the_DORI_rule()
    {
        var r = TestDevices.Camera(12);
        r.Camera.HfovDeg = 0;
        r.Camera.RangeM = 0;
        r.Camera.Lens = new Lens { FocalLengthMm = 4, SensorWidthMm = 5.6, HorizontalPixels = 1920 };

        var d = (await _client.RegisterDeviceAsync(r, _host.Auth(_vendorA))).Device;

        Assert.Equal(69.98, d.Camera.HfovDeg, 2);
        Assert.Equal(21.9, d.Camera.RangeM, 1); // observation, 62.5 px/m (the default level)
    }

    public static TheoryData<string, string> InvalidRequests => new()
    {
        { "short-id", "device_id: must be 20 digits" },
        { "unknown-county", "device_id: county code 110101" },
        { "type-mismatch", "device_id: type code 134 (digits 11-13) does not fit kind Camera" },
        { "no-kind", "kind: required" },
        { "no-name", "name: required" },
        { "no-position", "position: required" },
        { "lon-range", "position.lon: must be in [-180, 180]" },
        { "lat-range", "position.lat: must be in [-90, 90]" },
        { "no-camera", "camera: required for cameras" },
        { "azimuth", "camera.azimuth_deg: must be in [0, 360]" },
        { "hfov", "camera.hfov_deg: must be in (0, 360]" },
        { "range", "camera.range_m: must be in (0, 5000]" },
        { "height", "camera.mount_height_m: must be in [0, 500]" },
        { "half-resolution", "camera.resolution_height: give both" },
        { "rtsp-scheme", "camera.rtsp_url: must be an absolute rtsp://" },
        { "alarm-with-camera", "camera: only cameras have a camera spec" },
        { "lens-focal", "camera.lens.focal_length_mm: must be in (0, 1000]" },
        { "vendor-id-mismatch", "vendor_id: a vendor key registers only its own devices" },
    };

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public async Task Invalid_values_fail_with_INVALID_ARGUMENT_naming_the_field(string @case, string expected)
    {
        var r = TestDevices.Camera(20);
        switch (@case)
        {
            case "short-id": r.DeviceId = "1301270000132000001"; break;
            case "unknown-county": r.DeviceId = "11010100001320000001"; break;
            case "type-mismatch": r.DeviceId = TestDevices.AlarmId(1); break;
            case "no-kind": r.Kind = DeviceKind.Unspecified; break;
            case "no-name": r.Name = " "; break;
            case "no-position": r.Position = null; break;
            case "lon-range": r.Position.Lon = 190; break;
            case "lat-range": r.Position.Lat = -91; break;
            case "no-camera": r.Camera = null; break;
            case "azimuth": r.Camera.AzimuthDeg = 361; break;
            case "hfov": r.Camera.HfovDeg = -5; break;
            case "range": r.Camera.RangeM = 6000; break;
            case "height": r.Camera.MountHeightM = -1; break;
            case "half-resolution": r.Camera.ResolutionHeight = 0; break;
            case "rtsp-scheme": r.Camera.RtspUrl = "http://127.0.0.1/cam"; break;
            case "alarm-with-camera": r.DeviceId = TestDevices.AlarmId(2); r.Kind = DeviceKind.AlarmDevice; break;
            case "lens-focal": r.Camera.Lens = new Lens { FocalLengthMm = 0, SensorWidthMm = 5.6, HorizontalPixels = 1920 }; break;
            case "vendor-id-mismatch": r.VendorId = "vendor-b"; break;
        }

        var e = await Assert.ThrowsAsync<RpcException>(() => _client.RegisterDeviceAsync(r, _host.Auth(_vendorA)).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith(expected, e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_configured_county_replaces_the_demo_county_instead_of_being_added_to_it()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: "--SharpEyes:CountyCodes:0=130102");
        var vendor = await host.CreateKeyAsync(Role.Vendor, "acme");
        var client = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        var own = TestDevices.Camera(1);
        own.DeviceId = "130102" + own.DeviceId[6..];

        var registered = await client.RegisterDeviceAsync(own, host.Auth(vendor));
        var e = await Assert.ThrowsAsync<RpcException>(() => client.RegisterDeviceAsync(TestDevices.Camera(2), host.Auth(vendor)).ResponseAsync);

        Assert.True(registered.Created);
        Assert.Equal("130102", registered.Device.RegionCode);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith("device_id: county code 130127", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Vendors_see_and_change_only_their_own_devices_and_cannot_tell_a_foreign_id_from_a_free_one()
    {
        await _client.RegisterDeviceAsync(TestDevices.Camera(30), _host.Auth(_vendorA));
        var id = TestDevices.CameraId(30);
        var free = TestDevices.CameraId(31);

        // Every call that names one device answers vendor B the same for A's device as for an unregistered one.
        async Task<(StatusCode, string)> Answer(Func<string, Task> call, string deviceId)
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => call(deviceId));
            return (e.StatusCode, e.Status.Detail.Replace(deviceId, "<id>", StringComparison.Ordinal));
        }

        var calls = new Dictionary<string, Func<string, Task>>
        {
            ["GetDevice"] = d => _client.GetDeviceAsync(new GetDeviceRequest { DeviceId = d }, _host.Auth(_vendorB)).ResponseAsync,
            ["DeregisterDevice"] = d => _client.DeregisterDeviceAsync(new DeregisterDeviceRequest { DeviceId = d }, _host.Auth(_vendorB)).ResponseAsync,
            ["UpdateDevice"] = d => _client.UpdateDeviceAsync(new UpdateDeviceRequest
            {
                Device = new Device { DeviceId = d, Name = "mine now" },
                UpdateMask = new Google.Protobuf.WellKnownTypes.FieldMask { Paths = { "name" } },
            }, _host.Auth(_vendorB)).ResponseAsync,
        };
        foreach (var (name, call) in calls)
        {
            var foreign = await Answer(call, id);
            Assert.Equal((StatusCode.NotFound, "device_id: <id> is not registered"), foreign);
            Assert.True(foreign == await Answer(call, free), name);
        }

        var beat = await _client.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { id, free } }, _host.Auth(_vendorB));
        Assert.Equal(0, beat.Accepted);
        Assert.Equal([id, free], beat.UnknownDeviceIds);
        var listB = await _client.ListDevicesAsync(new ListDevicesRequest(), _host.Auth(_vendorB));
        Assert.DoesNotContain(listB.Devices, d => d.DeviceId == id);

        // Registering it is still refused; that answer necessarily tells that the id is taken.
        var takeOver = await Assert.ThrowsAsync<RpcException>(() => _client.RegisterDeviceAsync(TestDevices.Camera(30), _host.Auth(_vendorB)).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, takeOver.StatusCode);
        Assert.Equal($"device_id: {id} is registered by another vendor", takeOver.Status.Detail);

        // Nothing vendor B did reached the device; other roles see it as before.
        var stillA = await _client.GetDeviceAsync(new GetDeviceRequest { DeviceId = id }, _host.Auth(_vendorA));
        Assert.Equal(("vendor-a", "测试摄像机 30", DeviceStatus.Unknown), (stillA.VendorId, stillA.Name, stillA.Status));
        var operatorKey = await _host.CreateKeyAsync(Role.Operator);
        Assert.Equal(id, (await _client.GetDeviceAsync(new GetDeviceRequest { DeviceId = id }, _host.Auth(operatorKey))).DeviceId);
        Assert.Equal(id, (await _client.GetDeviceAsync(new GetDeviceRequest { DeviceId = id }, _host.AdminAuth)).DeviceId);
    }

    [Theory]
    [InlineData(null, StatusCode.Unauthenticated)]
    [InlineData("Bearer se_000000000000_wrong", StatusCode.Unauthenticated)]
    [InlineData("Basic abc", StatusCode.Unauthenticated)]
    public async Task Missing_or_wrong_keys_are_UNAUTHENTICATED(string? header, StatusCode expected)
    {
        var metadata = new Metadata();
        if (header is not null)
        {
            metadata.Add("authorization", header);
        }

        var e = await Assert.ThrowsAsync<RpcException>(() => _client.ListDevicesAsync(new ListDevicesRequest(), metadata).ResponseAsync);
        Assert.Equal(expected, e.StatusCode);
    }

    [Fact]
    public async Task Roles_other_than_vendor_cannot_register_and_vendors_cannot_administer()
    {
        var operatorKey = await _host.CreateKeyAsync(Role.Operator);
        var register = await Assert.ThrowsAsync<RpcException>(() => _client.RegisterDeviceAsync(TestDevices.Camera(40), _host.Auth(operatorKey)).ResponseAsync);
        var admin = await Assert.ThrowsAsync<RpcException>(() => new Admin.AdminClient(_host.Channel)
            .CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Admin }, _host.Auth(_vendorA)).ResponseAsync);
        var feed = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = new V1.Feeds.FeedsClient(_host.Channel).Subscribe(new SubscribeRequest(), _host.Auth(_vendorA));
            await call.ResponseStream.MoveNext();
        });

        Assert.Equal(StatusCode.PermissionDenied, register.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, admin.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, feed.StatusCode);
        var list = await _client.ListDevicesAsync(new ListDevicesRequest(), _host.Auth(operatorKey));
        Assert.NotNull(list);
    }

    [Fact]
    public async Task Revoked_keys_stop_working()
    {
        var admin = new Admin.AdminClient(_host.Channel);
        var created = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Vendor, VendorId = "short-lived" }, _host.AdminAuth);
        await _client.ListDevicesAsync(new ListDevicesRequest(), _host.Auth(created.ApiKey));

        var revoked = await admin.RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = created.Info.KeyId }, _host.AdminAuth);
        var e = await Assert.ThrowsAsync<RpcException>(() => _client.ListDevicesAsync(new ListDevicesRequest(), _host.Auth(created.ApiKey)).ResponseAsync);

        Assert.True(revoked.Revoked);
        Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        var keys = await admin.ListApiKeysAsync(new ListApiKeysRequest(), _host.AdminAuth);
        Assert.Contains(keys.Keys, k => k.KeyId == created.Info.KeyId && k.Revoked);
        Assert.DoesNotContain(created.ApiKey, keys.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bulk_registration_answers_counts_and_the_rejected_devices_and_one_bad_device_does_not_fail_the_batch()
    {
        using var call = _client.RegisterDevices(_host.Auth(_vendorA));
        for (var i = 0; i < 5000; i++)
        {
            var r = i % 1000 == 7 ? TestDevices.Camera(100_000 + i, range: -1) : TestDevices.Camera(100_000 + i, lon: 114.55 + (i % 100) * 0.001, lat: 37.58 + (i / 100) * 0.001);
            await call.RequestStream.WriteAsync(r);
        }

        await call.RequestStream.CompleteAsync();
        var response = await call;

        Assert.Equal((4995, 5, 4995, 4995), (response.Accepted, response.Rejected, response.Created, response.Changed));
        Assert.Equal([7, 1007, 2007, 3007, 4007], response.RejectedResults.Select(r => r.Index));
        Assert.Equal(0, response.RejectedNotListed);
        Assert.All(response.RejectedResults, r => Assert.StartsWith("camera.range_m", r.Message, StringComparison.Ordinal));
        Assert.All(response.RejectedResults, r => Assert.Equal((int)StatusCode.InvalidArgument, r.Code));
        Assert.All(response.RejectedResults, r => Assert.Equal(TestDevices.CameraId(100_000 + r.Index), r.DeviceId));
    }

    [Fact]
    public async Task A_device_twice_in_one_bulk_stream_keeps_its_last_registration_in_memory_and_in_the_store()
    {
        // The devices of a stream's batch are written together (multi-row upserts): a device named twice in one batch
        // must be written once, as its later registration (PostgreSQL refuses a statement that changes a row twice).
        using var call = _client.RegisterDevices(_host.Auth(_vendorA));
        for (var i = 0; i < 200; i++)
        {
            var r = TestDevices.Camera(200_000 + (i == 50 ? 10 : i), lon: 114.55 + (i % 20) * 0.001, lat: 37.58 + (i / 20) * 0.001);
            r.Name = $"{r.Name} #{i}";
            await call.RequestStream.WriteAsync(r);
        }

        await call.RequestStream.CompleteAsync();
        var response = await call;
        Assert.Equal((200, 0, 199), (response.Accepted, response.Rejected, response.Created));

        var id = TestDevices.CameraId(200_010);
        Assert.EndsWith(" #50", (await _client.GetDeviceAsync(new GetDeviceRequest { DeviceId = id }, _host.Auth(_vendorA))).Name, StringComparison.Ordinal);
        _host = await _host.RestartAsync();
        _client = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
        Assert.EndsWith(" #50", (await _client.GetDeviceAsync(new GetDeviceRequest { DeviceId = id }, _host.Auth(_vendorA))).Name, StringComparison.Ordinal);
        Assert.Equal(199, (await _client.ListDevicesAsync(new ListDevicesRequest { PageSize = 500 }, _host.Auth(_vendorA))).Devices.Count);
    }

    [Fact]
    public async Task Bulk_registration_lists_the_first_rejected_devices_up_to_the_limit_and_counts_the_rest()
    {
        await using var host = await GatewayHost.StartAsync(extraArgs: ["--SharpEyes:Limits:BulkRejectedResults=3"]);
        var client = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        var vendorA = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        var vendorB = await host.CreateKeyAsync(Role.Vendor, "vendor-b");
        await client.RegisterDeviceAsync(TestDevices.Alarm(302), host.Auth(vendorB));
        await client.RegisterDeviceAsync(TestDevices.Alarm(306), host.Auth(vendorB));
        using var register = client.RegisterDevices(host.Auth(vendorA));
        for (var i = 0; i < 10; i++)
        {
            // 1, 5 and 8 are refused by validation as they are read; 2 and 6 (vendor B's) by the catalog when the batch commits.
            var r = TestDevices.Alarm(300 + i);
            if (i is 1 or 5 or 8)
            {
                r.Name = "";
            }

            await register.RequestStream.WriteAsync(r);
        }

        await register.RequestStream.CompleteAsync();
        var response = await register;

        Assert.Equal((5, 5, 5, 5), (response.Accepted, response.Rejected, response.Created, response.Changed));
        Assert.Equal([1, 2, 5], response.RejectedResults.Select(r => r.Index));
        Assert.Equal(2, response.RejectedNotListed);
        Assert.Equal([(int)StatusCode.InvalidArgument, (int)StatusCode.PermissionDenied, (int)StatusCode.InvalidArgument], response.RejectedResults.Select(r => r.Code));
        Assert.Equal("name: required", response.RejectedResults[0].Message);
        Assert.Equal($"device_id: {TestDevices.AlarmId(302)} is registered by another vendor", response.RejectedResults[1].Message);
        var refusals = host.Services.GetRequiredService<Observability.ClientRefusals>();
        Assert.Equal(1, refusals["bulk-rejected-results"]);
        Assert.Contains("2 of 5 rejected devices of a RegisterDevices stream counted but not listed (Limits:BulkRejectedResults = 3)", host.Logs.All, StringComparison.Ordinal);

        // The same stream again changes nothing: accepted, neither created nor changed.
        using var again = client.RegisterDevices(host.Auth(vendorA));
        foreach (var i in new[] { 0, 3, 4 })
        {
            await again.RequestStream.WriteAsync(TestDevices.Alarm(300 + i));
        }

        await again.RequestStream.CompleteAsync();
        var repeat = await again;
        Assert.Equal((3, 0, 0, 0), (repeat.Accepted, repeat.Rejected, repeat.Created, repeat.Changed));
        Assert.Empty(repeat.RejectedResults);
    }

    [Fact]
    public async Task List_pages_and_filters_by_region_kind_and_status()
    {
        for (var i = 0; i < 25; i++)
        {
            await _client.RegisterDeviceAsync(TestDevices.Camera(200 + i), _host.Auth(_vendorA));
        }

        await _client.RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_vendorA));
        await _client.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { TestDevices.CameraId(200) } }, _host.Auth(_vendorA));
        var region = (await _client.GetDeviceAsync(new GetDeviceRequest { DeviceId = TestDevices.CameraId(200) }, _host.Auth(_vendorA))).Region.TownshipCode;

        var seen = new List<string>();
        var token = "";
        do
        {
            var page = await _client.ListDevicesAsync(new ListDevicesRequest { PageSize = 10, PageToken = token, Kind = DeviceKind.Camera, RegionPrefix = region }, _host.Auth(_vendorA));
            Assert.True(page.Devices.Count <= 10);
            seen.AddRange(page.Devices.Select(d => d.DeviceId));
            token = page.NextPageToken;
        }
        while (token.Length > 0);

        var online = await _client.ListDevicesAsync(new ListDevicesRequest { Status = DeviceStatus.Online }, _host.Auth(_vendorA));
        var alarms = await _client.ListDevicesAsync(new ListDevicesRequest { Kind = DeviceKind.AlarmDevice }, _host.Auth(_vendorA));
        var elsewhere = await _client.ListDevicesAsync(new ListDevicesRequest { RegionPrefix = "130128" }, _host.Auth(_vendorA));

        Assert.Equal(25, seen.Count);
        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
        Assert.Equal([TestDevices.CameraId(200)], online.Devices.Select(d => d.DeviceId));
        Assert.Equal([TestDevices.AlarmId(1)], alarms.Devices.Select(d => d.DeviceId));
        Assert.Empty(elsewhere.Devices);
    }

    [Fact]
    public async Task The_map_view_answers_only_what_a_map_draws_and_the_vendor_still_sees_only_its_own()
    {
        var ptz = TestDevices.Camera(60, azimuth: 135, hfov: 60, range: 90);
        ptz.Camera.Ptz = true;
        ptz.Camera.Streams.Add(new StreamProfile { Role = StreamRole.Main, Codec = "H.264", Width = 1920, Height = 1080, FrameRate = 25 });
        await _client.RegisterDeviceAsync(ptz, _host.Auth(_vendorA));
        await _client.RegisterDeviceAsync(TestDevices.Camera(61), _host.Auth(_vendorB));
        await _client.RegisterDeviceAsync(TestDevices.Alarm(60), _host.Auth(_vendorA));
        await _client.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { TestDevices.CameraId(60) } }, _host.Auth(_vendorA));

        var map = await _client.ListDevicesAsync(new ListDevicesRequest { View = DeviceView.Map, Kind = DeviceKind.Camera }, _host.Auth(_vendorA));
        var full = await _client.ListDevicesAsync(new ListDevicesRequest { Kind = DeviceKind.Camera }, _host.Auth(_vendorA));

        var stored = Assert.Single(full.Devices);
        var drawn = Assert.Single(map.Devices);
        var expected = new Device
        {
            DeviceId = TestDevices.CameraId(60),
            Kind = DeviceKind.Camera,
            Name = stored.Name,
            Position = stored.Position,
            Status = DeviceStatus.Online,
            RegionCode = stored.RegionCode,
            Camera = new CameraSpec { AzimuthDeg = 135, HfovDeg = 60, RangeM = 90, Ptz = true },
        };
        Assert.Equal(expected, drawn);
        Assert.True(drawn.CalculateSize() * 2 < stored.CalculateSize(), $"map view {drawn.CalculateSize()} bytes, full {stored.CalculateSize()}");

        // Pages of the map view may hold 5,000 devices; full pages 1,000; beyond, the field is named with its range.
        Assert.Single((await _client.ListDevicesAsync(new ListDevicesRequest { View = DeviceView.Map, Kind = DeviceKind.Camera, PageSize = 5000 }, _host.Auth(_vendorA))).Devices);
        var tooMany = await Assert.ThrowsAsync<RpcException>(async () =>
            await _client.ListDevicesAsync(new ListDevicesRequest { View = DeviceView.Map, PageSize = 5001 }, _host.Auth(_vendorA)));
        Assert.Equal((StatusCode.InvalidArgument, "page_size: must be in 1-5000"), (tooMany.StatusCode, tooMany.Status.Detail));
        var fullTooMany = await Assert.ThrowsAsync<RpcException>(async () =>
            await _client.ListDevicesAsync(new ListDevicesRequest { PageSize = 1001 }, _host.Auth(_vendorA)));
        Assert.Equal((StatusCode.InvalidArgument, "page_size: must be in 1-1000"), (fullTooMany.StatusCode, fullTooMany.Status.Detail));
    }

    [Fact]
    public async Task Heartbeat_brings_a_device_online_and_silence_takes_it_offline_with_feed_events()
    {
        var centre = await _host.CreateKeyAsync(Role.Centre);
        await using var feed = new FeedReader(_host, centre);
        await _client.RegisterDeviceAsync(TestDevices.Alarm(5), _host.Auth(_vendorA));
        var beat = await _client.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { TestDevices.AlarmId(5), "13012700001340999999" } }, _host.Auth(_vendorA));
        Assert.Equal(1, beat.Accepted);
        Assert.Equal(["13012700001340999999"], beat.UnknownDeviceIds);
        await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOnline && e.Device.DeviceId == TestDevices.AlarmId(5), "device online");

        _host.Time.Advance(TimeSpan.FromSeconds(181)); // 3 × 60 s missed
        var monitor = (Liveness.KeepaliveMonitor)_host.Services.GetService(typeof(Liveness.KeepaliveMonitor))!;
        await monitor.SweepAsync(TestContext.Current.CancellationToken);

        var offline = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOffline && e.Device.DeviceId == TestDevices.AlarmId(5), "device offline");
        Assert.Equal(DeviceStatus.Offline, offline.Device.Status);
    }

    [Fact]
    public async Task Deregister_removes_the_device_and_emits_a_feed_event()
    {
        var centre = await _host.CreateKeyAsync(Role.Centre);
        await using var feed = new FeedReader(_host, centre);
        await _client.RegisterDeviceAsync(TestDevices.Camera(50), _host.Auth(_vendorA));

        var removed = await _client.DeregisterDeviceAsync(new DeregisterDeviceRequest { DeviceId = TestDevices.CameraId(50) }, _host.Auth(_vendorA));
        var get = await Assert.ThrowsAsync<RpcException>(() => _client.GetDeviceAsync(new GetDeviceRequest { DeviceId = TestDevices.CameraId(50) }, _host.Auth(_vendorA)).ResponseAsync);

        Assert.True(removed.Removed);
        Assert.Equal(StatusCode.NotFound, get.StatusCode);
        await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceDeregistered && e.Device.DeviceId == TestDevices.CameraId(50), "deregistered event");

        // The removal's after-commit actions (the frame grab deleted, the stream scheduler told) ran before the next
        // commit, without failing: no frame was ever grabbed, so there is no snapshots directory, which File.Delete took
        // for an error.
        await _client.RegisterDeviceAsync(TestDevices.Camera(51), _host.Auth(_vendorA));
        Assert.DoesNotContain(_host.Logs.Lines, l => l.Contains("after-commit action failed", StringComparison.Ordinal));
    }
}
