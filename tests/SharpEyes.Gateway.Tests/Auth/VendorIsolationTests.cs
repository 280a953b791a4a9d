using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Auth;

/// <summary>
/// A vendor sees its own devices, their health, snapshots and coverage, and nothing of other vendors through any side
/// door: another vendor's device is answered exactly like an unregistered one, and key sites stay out of its view.
/// </summary>
public sealed class VendorIsolationTests : IAsyncLifetime
{
    private const string Unregistered = "13012700001320999999";
    private GatewayHost _host = null!;
    private Metadata _acme = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync();
        _acme = _host.Auth(await _host.CreateKeyAsync(Role.Vendor, "acme"));
        var bravo = _host.Auth(await _host.CreateKeyAsync(Role.Vendor, "bravo"));
        var registry = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
        // Camera 1 stands on a corner of a key site and sees all around it.
        var site = (await new V1.Geography.GeographyClient(_host.Channel).ListKeySitesAsync(new ListKeySitesRequest { IncludeGeometry = true }, _host.AdminAuth)).Sites[0];
        var corner = System.Text.RegularExpressions.Regex.Match(site.Geojson, @"\[\s*(-?[0-9.]+)\s*,\s*(-?[0-9.]+)\s*\]");
        await registry.RegisterDeviceAsync(TestDevices.Camera(1, lon: double.Parse(corner.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
            lat: double.Parse(corner.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), hfov: 360, range: 2000), _acme);
        await registry.RegisterDeviceAsync(TestDevices.Camera(2), bravo);
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    public static TheoryData<string> ByDeviceId => ["GetCameraHealth", "GetSnapshot", "GetCameraCoverage"];

    [Theory]
    [MemberData(nameof(ByDeviceId))]
    public async Task Another_vendors_camera_is_answered_exactly_like_an_unregistered_one(string method)
    {
        var foreign = await Assert.ThrowsAsync<RpcException>(() => CallAsync(method, TestDevices.CameraId(2)));
        var missing = await Assert.ThrowsAsync<RpcException>(() => CallAsync(method, Unregistered));

        Assert.Equal(StatusCode.NotFound, foreign.StatusCode);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Equal(missing.Status.Detail.Replace(Unregistered, "ID", StringComparison.Ordinal), foreign.Status.Detail.Replace(TestDevices.CameraId(2), "ID", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_vendor_sees_its_own_cameras_health_and_coverage_without_key_sites()
    {
        var coverageClient = new V1.Coverage.CoverageClient(_host.Channel);
        var request = new GetCameraCoverageRequest { DeviceId = TestDevices.CameraId(1) };
        var operatorKey = _host.Auth(await _host.CreateKeyAsync(Role.Operator));
        // Declared coverage of a camera that is not working yet is recomputed just after its registration commits.
        var asOperator = await Eventually.WaitAsync(async () =>
        {
            var c = await coverageClient.GetCameraCoverageAsync(request, operatorKey);
            return c.KeySiteCodes.Count > 0 ? c : null;
        }, "the camera's key sites");
        var health = await new StreamHealth.StreamHealthClient(_host.Channel).ListCameraHealthAsync(new ListCameraHealthRequest(), _acme);
        var coverage = await coverageClient.GetCameraCoverageAsync(request, _acme);

        Assert.Equal([TestDevices.CameraId(1)], health.Cameras.Select(c => c.DeviceId));
        Assert.NotEmpty(coverage.WedgeGeojson);
        Assert.Empty(coverage.KeySiteCodes);
        Assert.NotEmpty(asOperator.KeySiteCodes); // the camera does see key sites: the vendor is not told which
        Assert.Equal(asOperator.WedgeGeojson, coverage.WedgeGeojson);
    }

    [Fact]
    public async Task The_geography_and_other_vendors_cameras_are_closed_to_vendors()
    {
        var locate = await Assert.ThrowsAsync<RpcException>(() => new V1.Geography.GeographyClient(_host.Channel)
            .LocateAsync(new GeoPoint { Lon = TestDevices.SeatLon, Lat = TestDevices.SeatLat }, _acme).ResponseAsync);
        var sites = await Assert.ThrowsAsync<RpcException>(() => new V1.Geography.GeographyClient(_host.Channel)
            .ListKeySitesAsync(new ListKeySitesRequest(), _acme).ResponseAsync);
        var blind = await Assert.ThrowsAsync<RpcException>(() => new V1.Coverage.CoverageClient(_host.Channel)
            .ListBlindSpotsAsync(new ListBlindSpotsRequest(), _acme).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, locate.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, sites.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, blind.StatusCode);
    }

    private async Task CallAsync(string method, string deviceId)
    {
        switch (method)
        {
            case "GetCameraHealth":
                await new StreamHealth.StreamHealthClient(_host.Channel).GetCameraHealthAsync(new GetCameraHealthRequest { DeviceId = deviceId }, _acme);
                break;
            case "GetSnapshot":
                await new StreamHealth.StreamHealthClient(_host.Channel).GetSnapshotAsync(new GetSnapshotRequest { DeviceId = deviceId }, _acme);
                break;
            default:
                await new V1.Coverage.CoverageClient(_host.Channel).GetCameraCoverageAsync(new GetCameraCoverageRequest { DeviceId = deviceId }, _acme);
                break;
        }
    }
}
