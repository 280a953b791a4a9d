using System.Text.Json;
using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Geography;

/// <summary>Geography over gRPC: all-or-nothing imports with per-feature errors, the demo, datums, re-location of devices.</summary>
public sealed class GeographyApiTests
{
    private static string Square(string code, string name, double lon, double lat, double size) => FormattableString.Invariant($$$"""
        {"type":"Feature","properties":{"code":"{{{code}}}","name":"{{{name}}}"},"geometry":{"type":"Polygon","coordinates":[[
        [{{{lon}}},{{{lat}}}],[{{{lon + size}}},{{{lat}}}],[{{{lon + size}}},{{{lat + size}}}],[{{{lon}}},{{{lat + size}}}],[{{{lon}}},{{{lat}}}]]]}}
        """);

    private static string Collection(params string[] features) => $$"""{"type":"FeatureCollection","features":[{{string.Join(",", features)}}]}""";

    [Fact]
    public async Task A_rejected_file_changes_nothing_and_names_each_bad_feature_by_index_and_reason()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var planner = await host.CreateKeyAsync(Role.Planner);
        var geo = new V1.Geography.GeographyClient(host.Channel);
        var good = Collection(
            Square("130127", "高邑县", 114.50, 37.50, 0.20),
            Square("130127100", "高邑镇", 114.50, 37.50, 0.10));
        var imported = await geo.ImportGridsAsync(new ImportGeoJsonRequest { Geojson = good, Datum = Datum.Wgs84 }, host.Auth(planner));
        Assert.Equal(2, imported.Imported);

        var bad = Collection(
            Square("130127101", "大营镇", 114.60, 37.50, 0.10),            // fine on its own
            Square("130127102", "富村镇", 114.55, 37.55, 0.10),            // overlaps 高邑镇 and 大营镇
            Square("130127999001", "无主村", 114.52, 37.52, 0.01));        // parent 130127999 unknown
        var e = await Assert.ThrowsAsync<RpcException>(() => geo.ImportGridsAsync(new ImportGeoJsonRequest { Geojson = bad, Datum = Datum.Wgs84 }, host.Auth(planner)).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("nothing imported", e.Status.Detail, StringComparison.Ordinal);
        var errors = JsonDocument.Parse(e.Trailers.GetValueBytes("feature-errors-bin")!).RootElement.EnumerateArray()
            .Select(x => (Index: x.GetProperty("FeatureIndex").GetInt32(), Reason: x.GetProperty("Reason").GetString(), Message: x.GetProperty("Message").GetString()!)).ToList();
        Assert.Contains(errors, x => x is (1, "overlap", _) && x.Message.Contains("130127100", StringComparison.Ordinal));
        Assert.Contains(errors, x => x is (2, "unknown-parent", _));
        // A pair of features in the file that overlap is reported once, at the first of them, naming the second.
        Assert.All(errors.Where(x => x.Index == 0), x => Assert.Contains("130127102", x.Message, StringComparison.Ordinal));
        var grids = await geo.ListGridsAsync(new ListGridsRequest(), host.Auth(planner));
        Assert.Equal(["130127", "130127100"], grids.Grids.Select(g => g.Code));
    }

    [Fact]
    public async Task Invalid_geometry_and_unknown_counties_are_rejected()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var geo = new V1.Geography.GeographyClient(host.Channel);
        var bowtie = """{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"130127","name":"x"},"geometry":{"type":"Polygon","coordinates":[[[114.5,37.5],[114.6,37.6],[114.6,37.5],[114.5,37.6],[114.5,37.5]]]}}]}""";
        var elsewhere = Collection(Square("110101", "东城区", 116.40, 39.90, 0.05));

        var e1 = await Assert.ThrowsAsync<RpcException>(() => geo.ImportGridsAsync(new ImportGeoJsonRequest { Geojson = bowtie }, host.AdminAuth).ResponseAsync);
        var e2 = await Assert.ThrowsAsync<RpcException>(() => geo.ImportGridsAsync(new ImportGeoJsonRequest { Geojson = elsewhere }, host.AdminAuth).ResponseAsync);
        var e3 = await Assert.ThrowsAsync<RpcException>(() => geo.ImportGridsAsync(new ImportGeoJsonRequest { Geojson = "{oops" }, host.AdminAuth).ResponseAsync);

        Assert.Contains("invalid-geometry", e1.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("unknown-county", e2.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("invalid-json", e3.Status.Detail, StringComparison.Ordinal);
        Assert.Empty((await geo.ListGridsAsync(new ListGridsRequest(), host.AdminAuth)).Grids);
    }

    [Fact]
    public async Task The_demo_loads_the_real_county_codes_and_key_sites_and_vendors_cannot_import()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var geo = new V1.Geography.GeographyClient(host.Channel);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");

        var denied = await Assert.ThrowsAsync<RpcException>(() => geo.LoadDemoAsync(new V1.Empty(), host.Auth(vendor)).ResponseAsync);
        var loaded = await geo.LoadDemoAsync(new V1.Empty(), host.AdminAuth);
        var grids = await geo.ListGridsAsync(new ListGridsRequest(), host.AdminAuth);
        var sites = await geo.ListKeySitesAsync(new ListKeySitesRequest(), host.AdminAuth);

        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Equal(grids.Grids.Count + sites.Sites.Count, loaded.Imported);
        Assert.Single(grids.Grids, g => g.Level == 1 && g.Code == "130127");
        Assert.Equal(5, grids.Grids.Count(g => g.Level == 2));
        Assert.Equal(107, grids.Grids.Count(g => g.Level == 3));
        Assert.Equal(107, grids.Grids.Count(g => g.Level == 4));
        Assert.Contains(grids.Grids, g => g.Code == "130127100" && g.Name == "高邑镇");
        // About 220 km² (domain data): the grids partition the county.
        var county = grids.Grids.Single(g => g.Level == 1).AreaM2;
        Assert.InRange(county / 1e6, 200, 240);
        Assert.Equal(county, grids.Grids.Where(g => g.Level == 4).Sum(g => g.AreaM2), county * 0.001);
        Assert.Contains(sites.Sites, s => s.Category == "school");
        Assert.Contains(sites.Sites, s => s.Category == "hospital");
    }

    [Fact]
    public async Task Devices_registered_before_the_geography_are_relocated_when_it_is_imported()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        var before = await registry.RegisterDeviceAsync(TestDevices.Camera(1), host.Auth(vendor));
        Assert.Equal("130127", before.Device.RegionCode); // no grids yet: the ID's county

        await new V1.Geography.GeographyClient(host.Channel).LoadDemoAsync(new V1.Empty(), host.AdminAuth);
        var after = await registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = TestDevices.CameraId(1) }, host.Auth(vendor));

        Assert.Equal(15, after.RegionCode.Length);
        Assert.Equal(after.Region.GridCode, after.RegionCode);
        var located = await new V1.Geography.GeographyClient(host.Channel).LocateAsync(
            new GeoPoint { Lon = TestDevices.SeatLon, Lat = TestDevices.SeatLat, Datum = Datum.Wgs84 }, host.AdminAuth);
        Assert.Equal(after.Region, located.Region);
    }

    [Fact]
    public async Task Key_sites_in_GCJ02_are_stored_in_WGS84_and_located()
    {
        await using var host = await GatewayHost.StartAsync();
        var geo = new V1.Geography.GeographyClient(host.Channel);
        var (gLon, gLat) = Geo.Datums.DatumConverter.FromWgs84(114.6000, 37.6100, Geo.Datums.Datum.Gcj02);
        var site = FormattableString.Invariant($$$"""
            {"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"KS-TEST-1","name":"测试路口","category":"intersection","priority":5},
            "geometry":{"type":"Point","coordinates":[{{{gLon}}},{{{gLat}}}]}}]}
            """);

        await geo.ImportKeySitesAsync(new ImportGeoJsonRequest { Geojson = site, Datum = Datum.Gcj02 }, host.AdminAuth);
        var located = await geo.LocateAsync(new GeoPoint { Lon = 114.6000, Lat = 37.6100, Datum = Datum.Wgs84 }, host.AdminAuth);
        var badSite = await Assert.ThrowsAsync<RpcException>(() => geo.ImportKeySitesAsync(new ImportGeoJsonRequest
        {
            Geojson = site.Replace("\"intersection\"", "\"spaceport\"", StringComparison.Ordinal),
        }, host.AdminAuth).ResponseAsync);

        var found = Assert.Single(located.KeySites, k => k.Code == "KS-TEST-1");
        Assert.InRange(found.DistanceM, 0, 0.5);
        Assert.Contains("KS-TEST-1", badSite.Status.Detail, StringComparison.Ordinal);
    }
}
