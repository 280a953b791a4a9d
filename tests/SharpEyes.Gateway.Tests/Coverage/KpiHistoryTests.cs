using System.Net;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Tests.Http;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Coverage;

/// <summary>
/// The KPI history (Coverage.GetKpiHistory) on the hand-made <see cref="TinyCounty"/>: a snapshot at each whole hour of
/// the fake clock with the report's KPIs of that instant, retention, bad spans and regions, the JSON route, a restart.
/// </summary>
public sealed class KpiHistoryTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);

    private static readonly string[] Args = ["--keepalive-interval", "01:00:00", "--SharpEyes:Coverage:KpiHistoryRetention=1.00:00:00"];

    private GatewayHost _host = null!;
    private string _vendor = null!;

    public async ValueTask InitializeAsync()
    {
        // Keepalives every hour (timeout 3 h), so a camera heard once stays online while the clock moves by hours.
        _host = await GatewayHost.StartAsync(demo: false, extraArgs: Args);
        _vendor = await _host.CreateKeyAsync(Role.Vendor, "vendor-a");
        await TinyCounty.ImportAsync(_host);
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private V1.Coverage.CoverageClient Coverage => new(_host.Channel);

    private KpiSnapshots Snapshots => _host.Services.GetRequiredService<KpiSnapshots>();

    /// <summary>Moves the clock one hour and waits until that hour's snapshot is committed.</summary>
    private async Task NextHourAsync()
    {
        var before = Snapshots.Snapshots;
        _host.Time.Advance(TimeSpan.FromHours(1));
        await Eventually.TrueAsync(() => Snapshots.Snapshots > before, $"the snapshot of {_host.Time.GetUtcNow():O}");
    }

    private async Task<KpiHistory> HistoryAsync(string region) =>
        await Coverage.GetKpiHistoryAsync(new KpiHistoryRequest { RegionCode = region }, _host.AdminAuth);

    /// <summary>The report's KPIs as the history keeps them: without the definition.</summary>
    private async Task<List<Kpi>> ReportKpisAsync(string region)
    {
        var report = await Coverage.GetCoverageReportAsync(new CoverageReportRequest { RegionPrefix = region }, _host.AdminAuth);
        return [.. report.Summary.Kpis.Select(k => new Kpi(k) { Definition = "" })];
    }

    [Fact]
    public async Task Each_whole_hour_holds_the_reports_KPIs_of_that_instant_and_a_camera_coming_online_moves_them()
    {
        // At start (08:00, before the geography) the whole gateway got its first point; the regions come at 09:00.
        var first = await HistoryAsync("");
        Assert.Equal(Start, Assert.Single(first.Points).At.ToDateTimeOffset());
        Assert.Equal(TimeSpan.FromHours(1), first.Interval.ToTimeSpan());
        Assert.Equal(TimeSpan.FromDays(1), first.Retention.ToTimeSpan());

        await NextHourAsync(); // 09:00
        var nine = new Dictionary<string, List<Kpi>>();
        foreach (var region in new[] { "", TinyCounty.County, TinyCounty.Township, TinyCounty.Village, TinyCounty.WestGrid, TinyCounty.EastGrid })
        {
            nine[region] = await ReportKpisAsync(region);
            var point = (await HistoryAsync(region)).Points.Last();
            Assert.Equal(Start.AddHours(1), point.At.ToDateTimeOffset());
            Assert.Equal(nine[region], point.Kpis);
        }

        // 09:20: a camera in the west grid, seeing the checkpoint, registered and heard from.
        _host.Time.Advance(TimeSpan.FromMinutes(20));
        var (x, y) = TinyCounty.WestCentre;
        var camera = TinyCounty.Camera(1, x, y, azimuth: 0, hfov: 90, range: 40);
        var registry = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
        await registry.RegisterDeviceAsync(camera, _host.Auth(_vendor));
        await registry.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { camera.DeviceId } }, _host.Auth(_vendor));
        _host.Time.Advance(TimeSpan.FromMinutes(40));
        var before = Snapshots.Snapshots;
        await Eventually.TrueAsync(() => Snapshots.Snapshots > before, "the 10:00 snapshot");

        var west = await HistoryAsync(TinyCounty.WestGrid);
        Assert.Equal([Start.AddHours(1), Start.AddHours(2)], west.Points.Select(p => p.At.ToDateTimeOffset()));
        Assert.Equal(await ReportKpisAsync(TinyCounty.WestGrid), west.Points[1].Kpis);
        var then = west.Points[0].Kpis.ToDictionary(k => k.Name);
        var now = west.Points[1].Kpis.ToDictionary(k => k.Name);
        Assert.Equal((0L, 2L, 0L), (then["key_site_coverage"].Numerator, then["key_site_coverage"].Denominator, then["online_rate"].Denominator));
        Assert.Equal((1L, 2L), (now["key_site_coverage"].Numerator, now["key_site_coverage"].Denominator)); // the checkpoint
        Assert.Equal((1L, 1L), (now["online_rate"].Numerator, now["online_rate"].Denominator));
        Assert.Equal((2400L, 2400L), (now["online_rate_time"].Numerator, now["online_rate_time"].Denominator)); // online since 09:20
        Assert.True(now["area_coverage"].Value > 0 && now["area_coverage"].Value > then["area_coverage"].Value);
        Assert.All(now.Values, k => Assert.Equal("", k.Definition));
        // The east grid did not change; the village summed both.
        Assert.Equal(nine[TinyCounty.EastGrid], (await HistoryAsync(TinyCounty.EastGrid)).Points[1].Kpis);
        Assert.Equal(await ReportKpisAsync(TinyCounty.Village), (await HistoryAsync(TinyCounty.Village)).Points[1].Kpis);
    }

    [Fact]
    public async Task Retention_deletes_snapshots_older_than_it_as_new_ones_are_taken_and_metrics_count_both()
    {
        for (var hour = 0; hour < 27; hour++)
        {
            await NextHourAsync();
        }

        // 08:00 + 27 h = 11:00 the next day; a day is kept: 11:00 the day before through now, 25 snapshots.
        var now = _host.Time.GetUtcNow();
        var history = await HistoryAsync("");
        Assert.Equal(25, history.Points.Count);
        Assert.Equal(now.AddDays(-1), history.Points[0].At.ToDateTimeOffset());
        Assert.Equal(now, history.Points[^1].At.ToDateTimeOffset());
        Assert.Equal(history.Points.OrderBy(p => p.At).Select(p => p.At), history.Points.Select(p => p.At));

        var metrics = await MetricsScrape.ReadAsync(_host.HttpPort);
        Assert.Equal(28, metrics["sharpeyes_kpi_history_snapshots_total"]); // the one at start and 27 hourly
        // Pruned: the whole gateway's 08:00, 09:00 and 10:00 of the first day, and each area's 09:00 and 10:00.
        Assert.Equal(3 + (5 * 2), metrics["sharpeyes_kpi_history_pruned_total"]);
    }

    [Fact]
    public async Task Bad_spans_and_regions_are_refused_naming_the_field()
    {
        var now = _host.Time.GetUtcNow();
        async Task<RpcException> Fails(KpiHistoryRequest request) =>
            await Assert.ThrowsAsync<RpcException>(() => Coverage.GetKpiHistoryAsync(request, _host.AdminAuth).ResponseAsync);

        var reversed = await Fails(new KpiHistoryRequest { Since = Timestamp.FromDateTimeOffset(now), Until = Timestamp.FromDateTimeOffset(now.AddHours(-1)) });
        Assert.Equal(StatusCode.InvalidArgument, reversed.StatusCode);
        Assert.StartsWith("since: must be before until", reversed.Status.Detail, StringComparison.Ordinal);

        var same = await Fails(new KpiHistoryRequest { Since = Timestamp.FromDateTimeOffset(now), Until = Timestamp.FromDateTimeOffset(now) });
        Assert.StartsWith("since: must be before until", same.Status.Detail, StringComparison.Ordinal);

        var tooLong = await Fails(new KpiHistoryRequest { Since = Timestamp.FromDateTimeOffset(now.AddDays(-2)) });
        Assert.Equal(StatusCode.InvalidArgument, tooLong.StatusCode);
        Assert.StartsWith("since:", tooLong.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("Coverage:KpiHistoryRetention", tooLong.Status.Detail, StringComparison.Ordinal);

        var unknown = await Fails(new KpiHistoryRequest { RegionCode = TinyCounty.Village + "9" });
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.StartsWith("region_code:", unknown.Status.Detail, StringComparison.Ordinal);

        var letters = await Fails(new KpiHistoryRequest { RegionCode = "13012a" });
        Assert.Equal(StatusCode.InvalidArgument, letters.StatusCode);
        Assert.StartsWith("region_code:", letters.Status.Detail, StringComparison.Ordinal);

        // A span of exactly the retention is allowed; with no since, a default span shorter than 30 days is the retention.
        var day = await Coverage.GetKpiHistoryAsync(new KpiHistoryRequest { Since = Timestamp.FromDateTimeOffset(now.AddDays(-1)) }, _host.AdminAuth);
        Assert.Single(day.Points);
    }

    [Fact]
    public async Task The_JSON_route_answers_the_same_history_and_its_errors()
    {
        await NextHourAsync();
        using var json = new JsonApiClient(_host.HttpPort);
        var since = TestDevices.Rfc3339(Start.AddMinutes(-30)).Replace("+", "%2B", StringComparison.Ordinal);
        var answer = await json.GetAsync($"/api/v1/coverage/history?regionCode={TinyCounty.County}&since={since}", _host.AdminKey);
        var history = answer.As<KpiHistory>();
        Assert.Equal(TinyCounty.County, history.RegionCode);
        Assert.Equal("小县", history.Name);
        Assert.Equal(await HistoryAsync(TinyCounty.County), history);
        Assert.Contains("\"interval\":\"3600s\"", answer.Body, StringComparison.Ordinal);

        var missing = await json.GetAsync("/api/v1/coverage/history?regionCode=130127999", _host.AdminKey);
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.StartsWith("region_code:", missing.Error().Message, StringComparison.Ordinal);

        var planner = await _host.CreateKeyAsync(Role.Planner);
        Assert.Equal(HttpStatusCode.OK, (await json.GetAsync("/api/v1/coverage/history", planner)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await json.GetAsync("/api/v1/coverage/history", _vendor)).Status);
    }

    [Fact]
    public async Task The_history_survives_a_restart_and_a_restart_within_the_hour_adds_no_point()
    {
        await NextHourAsync(); // 09:00
        _host.Time.Advance(TimeSpan.FromMinutes(30));
        var before = await HistoryAsync(TinyCounty.WestGrid);
        Assert.Single(before.Points);

        _host = await _host.RestartAsync(Args);
        Assert.Equal(before, await HistoryAsync(TinyCounty.WestGrid));
        Assert.Equal(2, (await HistoryAsync("")).Points.Count); // 08:00 and 09:00: 09:30 is within the hour

        // The timer is set again: 10:00 comes.
        var snapshots = Snapshots.Snapshots;
        _host.Time.Advance(TimeSpan.FromMinutes(30));
        await Eventually.TrueAsync(() => Snapshots.Snapshots > snapshots, "the 10:00 snapshot after the restart");
        Assert.Equal(Start.AddHours(2), (await HistoryAsync(TinyCounty.WestGrid)).Points[^1].At.ToDateTimeOffset());

        // Down for more than an hour: a point at start.
        await _host.DisposeAsync();
        _host.Time.Advance(TimeSpan.FromMinutes(75));
        _host = await GatewayHost.StartAsync(demo: false, dataDir: _host.DataDir, time: _host.Time, extraArgs: Args);
        Assert.Equal(Start.AddHours(3).AddMinutes(15), (await HistoryAsync("")).Points[^1].At.ToDateTimeOffset());
    }

    [Fact]
    public async Task The_command_line_prints_one_line_a_snapshot()
    {
        await NextHourAsync();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await SharpEyes.Gateway.Cli.GatewayCli.RunAsync(
            ["coverage", "history", "--region", TinyCounty.WestGrid, "--server", $"http://127.0.0.1:{_host.GrpcPort}", "--key", _host.AdminKey, "--timeout", "60"], stdout, stderr);

        Assert.True(code == 0, stderr.ToString());
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith($"{TinyCounty.WestGrid} 西网格: 1 snapshots", lines[0], StringComparison.Ordinal);
        Assert.Equal("at (UTC)\tkey_site_coverage\tkey_site_coverage_declared\tarea_coverage\tonline_rate\tonline_rate_time\tserviceability\thd_rate\thd_rate_declared", lines[1]);
        Assert.Equal("2026-11-22 09:00\t0\t0\t0\t100\t100\t100\t100\t100", lines[2]); // no camera: counts over nothing are 100 %
    }

    [Fact]
    public void A_stored_row_decodes_to_the_KPIs_it_was_made_from()
    {
        Kpi[] kpis =
        [
            Make("key_site_coverage", 3, 7, 1), Make("key_site_coverage_declared", 0, 0, 1),
            SharpEyes.Gateway.Coverage.CoverageReports.AreaKpi(0.123457, 4_938, 40_000, ""),
            Make("online_rate", 5, 9, 0), Make("online_rate_time", 1_728_000_000, 1_728_000_001, 0), Make("serviceability", 9, 9, 0.98),
            Make("hd_rate", 0, 9, 1), Make("hd_rate_declared", 8, 9, 1),
        ];
        var row = KpiSnapshots.Encode(kpis);
        Assert.Equal(kpis, KpiSnapshots.Decode(row));
        Assert.True(row.Length <= 32, $"{row.Length} bytes");

        static Kpi Make(string name, long n, long d, double target) => SharpEyes.Gateway.Streams.CameraKpis.Make(name, n, d, target, "");
    }
}
