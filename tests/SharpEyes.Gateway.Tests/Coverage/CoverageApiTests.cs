using System.Text.Json;
using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Coverage;

/// <summary>The Coverage service on the hand-made <see cref="TinyCounty"/>: numbers worked out on paper, shares, KPIs, bad input.</summary>
public sealed class CoverageApiTests : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private string _vendor = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync(demo: false);
        _vendor = await _host.CreateKeyAsync(Role.Vendor, "vendor-a");
        await TinyCounty.ImportAsync(_host);
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private V1.Coverage.CoverageClient Coverage => new(_host.Channel);

    private async Task RegisterOnlineAsync(params RegisterDeviceRequest[] cameras)
    {
        var registry = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
        var heartbeat = new HeartbeatRequest();
        foreach (var camera in cameras)
        {
            await registry.RegisterDeviceAsync(camera, _host.Auth(_vendor));
            heartbeat.DeviceIds.Add(camera.DeviceId);
        }

        await registry.HeartbeatAsync(heartbeat, _host.Auth(_vendor));
    }

    [Fact]
    public async Task A_90_degree_40_m_wedge_inside_a_grid_covers_a_quarter_circle_and_the_report_rolls_it_up()
    {
        var (x, y) = TinyCounty.WestCentre;
        await RegisterOnlineAsync(TinyCounty.Camera(1, x, y, azimuth: 30, hfov: 90, range: 40));

        var report = await Coverage.GetCoverageReportAsync(new CoverageReportRequest { RegionPrefix = TinyCounty.Village, GroupBy = RegionLevel.Grid }, _host.AdminAuth);

        double quarter = Math.PI * 40 * 40 / 4; // 1,256.64 m²
        var west = report.Rows.Single(r => r.Code == TinyCounty.WestGrid);
        var east = report.Rows.Single(r => r.Code == TinyCounty.EastGrid);
        Assert.Equal(quarter, west.RealCoveredM2, quarter * 0.002);
        Assert.Equal(west.RealCoveredM2, west.DeclaredCoveredM2);
        Assert.Equal(0, east.RealCoveredM2);
        Assert.Equal(40_000, west.AreaM2, 40_000 * 0.005);
        Assert.Equal(west.RealCoveredM2 / west.AreaM2, west.RealFraction, 1e-6);
        Assert.Equal(1, west.Cameras);
        Assert.Equal(0, east.Cameras);

        var summary = report.Summary;
        Assert.Equal(2, summary.Grids);
        Assert.Equal(west.AreaM2 + east.AreaM2, summary.AreaM2, 0.5);
        Assert.Equal(2, summary.KeySites);
        Assert.Equal(1, summary.KeySitesCoveredReal); // the checkpoint: 30 m due north, inside 30° ± 45°
        Assert.Equal(0, summary.GridGaps);            // 1,256.6 / 40,000 = 3.1 % ≥ 3 %
        var kpis = summary.Kpis.ToDictionary(k => k.Name);
        Assert.Equal((0.5, false), (kpis["key_site_coverage"].Value, kpis["key_site_coverage"].Met));
        Assert.Equal(1.0, kpis["key_site_coverage"].Target);
        Assert.Equal((1.0, true), (kpis["serviceability"].Value, kpis["serviceability"].Met));
        Assert.Equal(0.98, kpis["serviceability"].Target);
        Assert.Equal((1.0, true), (kpis["hd_rate"].Value, kpis["hd_rate"].Met));
        Assert.All(summary.Kpis, k => Assert.False(string.IsNullOrEmpty(k.Definition)));
    }

    [Fact]
    public async Task A_camera_on_the_border_of_two_grids_counts_for_both_in_proportion()
    {
        // Standing on the meridian between the grids, looking north along it: half the wedge on each side.
        await RegisterOnlineAsync(TinyCounty.Camera(2, 200, 100, azimuth: 0, hfov: 90, range: 40));

        var grids = await Coverage.ListGridCoverageAsync(new ListGridCoverageRequest { RegionPrefix = TinyCounty.Village }, _host.AdminAuth);

        double half = Math.PI * 40 * 40 / 8;
        foreach (var grid in grids.Grids)
        {
            var share = Assert.Single(grid.Shares);
            Assert.Equal(0.5, share.Share, 0.002);
            Assert.True(share.Working);
            Assert.Equal(0.5, grid.CameraEquivalents, 0.002);
            Assert.Equal(half / grid.AreaM2, grid.RealFraction, 0.002 * half / grid.AreaM2);
        }

        var camera = await Coverage.GetCameraCoverageAsync(new GetCameraCoverageRequest { DeviceId = TestDevices.CameraId(2) }, _host.AdminAuth);
        Assert.Equal([TinyCounty.WestGrid, TinyCounty.EastGrid], camera.Grids.Select(g => g.GridCode).Order(StringComparer.Ordinal));
        Assert.Equal(1.0, camera.Grids.Sum(g => g.Share), 1e-6);
        Assert.Equal(2 * half, camera.AreaM2, 2 * half * 0.002);
        using var wedge = JsonDocument.Parse(camera.WedgeGeojson);
        Assert.Equal("Polygon", wedge.RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Map_layers_and_exports_describe_the_same_numbers()
    {
        var (x, y) = TinyCounty.WestCentre;
        await RegisterOnlineAsync(TinyCounty.Camera(3, x, y, azimuth: 0, hfov: 90, range: 40));

        var map = await Coverage.GetCoverageMapAsync(new CoverageMapRequest { RegionPrefix = TinyCounty.Village, Uncovered = true, Wedges = true, KeySites = true }, _host.AdminAuth);
        using var collection = JsonDocument.Parse(map.Geojson);
        var features = collection.RootElement.GetProperty("features").EnumerateArray().ToList();
        Assert.Equal(map.Features, features.Count);
        var layers = features.GroupBy(f => f.GetProperty("properties").GetProperty("layer").GetString()).ToDictionary(g => g.Key!, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["uncovered"] = 2, ["wedge"] = 1, ["key-site"] = 2 }, layers);
        var westHole = features.Single(f => f.GetProperty("properties").GetProperty("layer").GetString() == "uncovered"
            && f.GetProperty("properties").GetProperty("code").GetString() == TinyCounty.WestGrid);
        Assert.Equal(40_000 - (Math.PI * 400), westHole.GetProperty("properties").GetProperty("uncovered_m2").GetDouble(), 250.0);

        // GCJ-02 for Chinese base maps: the same layer shifted by the datum offset (hundreds of metres here).
        var gcj = await Coverage.GetCoverageMapAsync(new CoverageMapRequest { RegionPrefix = TinyCounty.Village, Wedges = true, Datum = Datum.Gcj02 }, _host.AdminAuth);
        double FirstLon(string geojson) => JsonDocument.Parse(geojson).RootElement.GetProperty("features")[0].GetProperty("geometry").GetProperty("coordinates")[0][0][0].GetDouble();
        var wgsWedges = await Coverage.GetCoverageMapAsync(new CoverageMapRequest { RegionPrefix = TinyCounty.Village, Wedges = true }, _host.AdminAuth);
        Assert.InRange(FirstLon(gcj.Geojson) - FirstLon(wgsWedges.Geojson), 0.001, 0.01);

        var csv = await Coverage.ExportCoverageReportAsync(new ExportCoverageReportRequest { RegionPrefix = TinyCounty.Village, GroupBy = RegionLevel.Grid }, _host.AdminAuth);
        var lines = csv.Content.TrimEnd('\n').Split('\n');
        Assert.Equal("text/csv; charset=utf-8", csv.ContentType);
        Assert.Equal(4, lines.Length); // header, the village (summary), its two grids
        var header = lines[0].Split(',');
        var westRow = lines.Single(l => l.StartsWith(TinyCounty.WestGrid, StringComparison.Ordinal)).Split(',');
        Assert.Equal("西网格", westRow[Array.IndexOf(header, "name")]);
        Assert.Equal(Math.PI * 400 / 40_000, double.Parse(westRow[Array.IndexOf(header, "real_fraction")], System.Globalization.CultureInfo.InvariantCulture), 0.0003);

        var geojson = await Coverage.ExportCoverageReportAsync(new ExportCoverageReportRequest { RegionPrefix = TinyCounty.Village, GroupBy = RegionLevel.Grid, Format = ExportFormat.Geojson }, _host.AdminAuth);
        using var exported = JsonDocument.Parse(geojson.Content);
        Assert.Equal(2, exported.RootElement.GetProperty("features").GetArrayLength());
        Assert.Equal("application/geo+json", geojson.ContentType);
    }

    [Theory]
    [InlineData("abc", "region_prefix:")]
    [InlineData("1301271002010001999999", "region_prefix:")]
    public async Task A_bad_region_prefix_is_invalid_argument_naming_the_field(string prefix, string field)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => Coverage.GetCoverageReportAsync(new CoverageReportRequest { RegionPrefix = prefix }, _host.AdminAuth).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith(field, e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Other_bad_requests_get_specific_errors_and_the_gateway_keeps_serving()
    {
        var auth = _host.AdminAuth;
        async Task<RpcException> Fails(Func<Task> call) => await Assert.ThrowsAsync<RpcException>(call);

        var notCamera = await Fails(() => Coverage.GetCameraCoverageAsync(new GetCameraCoverageRequest { DeviceId = TestDevices.CameraId(999) }, auth).ResponseAsync);
        Assert.Equal((StatusCode.NotFound, true), (notCamera.StatusCode, notCamera.Status.Detail.StartsWith("device_id:", StringComparison.Ordinal)));
        var category = await Fails(() => Coverage.ListKeySiteCoverageAsync(new ListKeySiteCoverageRequest { Category = "castle" }, auth).ResponseAsync);
        Assert.Equal((StatusCode.InvalidArgument, true), (category.StatusCode, category.Status.Detail.StartsWith("category:", StringComparison.Ordinal)));
        var days = await Fails(() => Coverage.ListBlindSpotsAsync(new ListBlindSpotsRequest { IncidentDays = -1 }, auth).ResponseAsync);
        Assert.StartsWith("incident_days:", days.Status.Detail, StringComparison.Ordinal);
        var count = await Fails(() => Coverage.SuggestPlacementsAsync(new SuggestPlacementsRequest { Count = 0, HfovDeg = 90, RangeM = 50 }, auth).ResponseAsync);
        Assert.Equal((StatusCode.InvalidArgument, true), (count.StatusCode, count.Status.Detail.StartsWith("count:", StringComparison.Ordinal)));
        var hfov = await Fails(() => Coverage.SuggestPlacementsAsync(new SuggestPlacementsRequest { Count = 1, HfovDeg = 400, RangeM = 50 }, auth).ResponseAsync);
        Assert.StartsWith("hfov_deg:", hfov.Status.Detail, StringComparison.Ordinal);
        var range = await Fails(() => Coverage.SuggestPlacementsAsync(new SuggestPlacementsRequest { Count = 1, HfovDeg = 90 }, auth).ResponseAsync);
        Assert.StartsWith("range_m:", range.Status.Detail, StringComparison.Ordinal);
        var nowhere = await Fails(() => Coverage.SuggestPlacementsAsync(new SuggestPlacementsRequest { RegionPrefix = "130128", Count = 1, HfovDeg = 90, RangeM = 50 }, auth).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, nowhere.StatusCode);

        var report = await Coverage.GetCoverageReportAsync(new CoverageReportRequest(), auth);
        Assert.Equal(2, report.Summary.Grids);
    }

    [Fact]
    public async Task Vendors_may_not_read_coverage_operators_planners_and_centres_may()
    {
        var denied = await Assert.ThrowsAsync<RpcException>(() => Coverage.GetCoverageReportAsync(new CoverageReportRequest(), _host.Auth(_vendor)).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        foreach (var role in new[] { Role.Operator, Role.Planner, Role.Centre })
        {
            var key = await _host.CreateKeyAsync(role);
            var report = await Coverage.GetCoverageReportAsync(new CoverageReportRequest(), _host.Auth(key));
            Assert.Equal(2, report.Summary.KeySites);
        }
    }
}
