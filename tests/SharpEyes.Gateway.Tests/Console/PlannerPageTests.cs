using System.Globalization;
using System.Text.Json;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.WebConsole;

/// <summary>
/// The planner view in chromium (src/SharpEyes.Console/test/planner.mjs) against the demo county with its cameras,
/// two of them added and heard here so that two blind spots close. What the page shows is checked against the gRPC
/// answers read here on the independent path: the blind-spot ranking (whole county, grids only, one township, and the
/// township again after the script covered its top spot live), the township's uncovered area, the three placement
/// suggestions and their gains, and the three exported files. An operator's page has no planning tab.
/// </summary>
public sealed class PlannerPageTests(ITestOutputHelper output)
{
    private const string County = "130127";
    private const string Township = "130127104"; // 中韩镇
    private const int TableRows = 200;           // planner.ts tableRows
    private static readonly string[] Screenshots = ["planner-zh.png", "planner-selected.png", "planner-wedge.png", "planner-en.png"];

    [Fact]
    public async Task The_planner_view_shows_what_the_coverage_api_answers_and_an_operator_has_no_planning_tab()
    {
        ConsoleBrowser.Require();
        await using var host = await GatewayHost.StartAsync(demo: true, extraArgs: "--SharpEyes:DemoCameras=true");
        var coverage = new V1.Coverage.CoverageClient(host.Channel);
        var auth = host.AdminAuth;
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");

        // Two cameras, heard, each seeing all around a key site no camera saw: two blind spots close.
        var start = await coverage.ListBlindSpotsAsync(new ListBlindSpotsRequest { RegionPrefix = County, IncludeGrids = true, Limit = TableRows }, auth);
        var closed = start.BlindSpots.Where(b => b.Reason == "no-camera").Take(2).ToList();
        Assert.Equal(2, closed.Count);
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        var heartbeat = new HeartbeatRequest();
        foreach (var (spot, serial) in closed.Select((s, i) => (s, 901 + i)))
        {
            var camera = TestDevices.Camera(serial, spot.Position.Lon, spot.Position.Lat, azimuth: 0, hfov: 360, range: 300);
            camera.Camera.RtspUrl = ""; // health from heartbeats only: no stream check may turn it faulty during the test
            await registry.RegisterDeviceAsync(camera, host.Auth(vendor));
            heartbeat.DeviceIds.Add(camera.DeviceId);
        }

        await registry.HeartbeatAsync(heartbeat, host.Auth(vendor));

        // The independent path: what gRPC answers before the page asks.
        var all = await Spots(coverage, auth, County, TableRows);
        Assert.DoesNotContain(all, b => closed.Any(c => c.Code == b.Code));
        // Grids only: the grids of the whole ranking, with their ranks in it (after every key site).
        var grids = (await Spots(coverage, auth, County, 10_000)).Select((b, i) => (b, i + 1)).Where(e => e.b.Kind == BlindSpotKind.Grid).Take(TableRows).ToList();
        var township = await Spots(coverage, auth, Township, TableRows);
        var lens = new Lens { FocalLengthMm = 8, SensorWidthMm = 5.6, HorizontalPixels = 1920 }; // planner.ts lens "long"
        var plan = await coverage.SuggestPlacementsAsync(new SuggestPlacementsRequest { RegionPrefix = Township, Count = 3, Lens = lens }, auth);
        var uncoveredMap = await coverage.GetCoverageMapAsync(new CoverageMapRequest { RegionPrefix = Township, Uncovered = true, Truth = CoverageTruth.Real }, auth);
        var report = await coverage.GetCoverageReportAsync(new CoverageReportRequest { RegionPrefix = Township }, auth);

        ConsoleBrowser.ClearScreenshots(Screenshots);
        var keys = new Dictionary<string, string>
        {
            ["SHARPEYES_PLANNER_KEY"] = await host.CreateKeyAsync(Role.Planner),
            ["SHARPEYES_OPERATOR_KEY"] = await host.CreateKeyAsync(Role.Operator),
            ["SHARPEYES_VENDOR_KEY"] = vendor,
        };
        var origin = $"http://127.0.0.1:{host.HttpPort}";
        using var seen = await ConsoleBrowser.RunAsync("planner.mjs", origin, keys, TimeSpan.FromSeconds(180), Township);
        var page = seen.RootElement;
        output.WriteLine($"screenshots: {ConsoleBrowser.Artifacts}/planner-*.png");
        Assert.Equal("ROLE_PLANNER", page.GetProperty("role").GetString());
        Assert.Equal(County, page.GetProperty("county").GetString());
        Assert.Equal(["序号", "名称", "类型", "原因", "分值", "所在区域"], ConsoleBrowser.Strings(page.GetProperty("headers")));
        Assert.True(page.GetProperty("fontPx").GetDouble() >= 15, "the table's text is under 15 px");

        // The ranking, row for row, as gRPC gives it; ranks are the ranking's own (grids after every key site).
        AssertRows(all, page.GetProperty("all"));
        AssertRows(grids, page.GetProperty("grids"));
        AssertRows(township, page.GetProperty("inTownship"));
        Assert.Contains(all[0].Name, page.GetProperty("allFirstRow").GetString());

        // A row moves the map and rings its spot; the ring under the pointer marks its row; a click on it selects it.
        var rowToMap = page.GetProperty("rowToMap");
        var key = $"{rowToMap.GetProperty("kind").GetString()}:{rowToMap.GetProperty("code").GetString()}";
        Assert.Equal(all[1].Code, rowToMap.GetProperty("code").GetString());
        Assert.Equal(key, rowToMap.GetProperty("selected").GetString());
        Assert.Equal(all[1].Code, rowToMap.GetProperty("rowMarked").GetString());
        Assert.Equal($"2 · {all[1].Name}", rowToMap.GetProperty("tooltip").GetString());
        Assert.Equal(key, page.GetProperty("hovered").GetProperty("key").GetString());
        Assert.Equal(all[1].Code, page.GetProperty("hovered").GetProperty("rowMarked").GetString());
        Assert.Equal(key, page.GetProperty("mapToRow").GetProperty("key").GetString());
        Assert.Equal(all[1].Code, page.GetProperty("mapToRow").GetProperty("rowMarked").GetString());

        // The township's uncovered area: every grid with area left, drawn, and the total the API's features add up to.
        using var uncovered = JsonDocument.Parse(uncoveredMap.Geojson);
        var features = uncovered.RootElement.GetProperty("features").EnumerateArray().ToList();
        var uncoveredM2 = features.Sum(f => f.GetProperty("properties").GetProperty("uncovered_m2").GetDouble());
        var shown = page.GetProperty("uncovered");
        Assert.Equal(uncoveredM2, shown.GetProperty("areaM2").GetDouble(), 0.01);
        Assert.Equal(uncoveredMap.Features, shown.GetProperty("features").GetInt32());
        Assert.Equal(features.Count(f => f.GetProperty("properties").GetProperty("uncovered_m2").GetDouble() > 0), shown.GetProperty("drawn").GetInt32());
        Assert.Contains(string.Format(CultureInfo.InvariantCulture, "{0:0.##} 平方公里", uncoveredM2 / 1e6), shown.GetProperty("text").GetString());
        Assert.True(shown.GetProperty("pixels").GetInt32() > 500, "the uncovered area's outline is not on the map canvas");

        // Three suggestions, three wedges, each gain as the API computed it.
        var placement = page.GetProperty("placement");
        Assert.Equal("ready", placement.GetProperty("state").GetString());
        Assert.Equal(3, plan.Suggestions.Count);
        Assert.Equal(3, placement.GetProperty("wedges").GetInt32());
        Assert.Equal(3, placement.GetProperty("numbers").GetInt32());
        var items = placement.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(plan.Suggestions.Select(s => (s.Rank, s.Gain, s.GainAreaM2, s.Position.Lon, s.Position.Lat)),
            items.Select(i => (i.GetProperty("rank").GetInt32(), i.GetProperty("gain").GetDouble(), i.GetProperty("gainAreaM2").GetDouble(),
                i.GetProperty("lon").GetDouble(), i.GetProperty("lat").GetDouble())));
        Assert.Contains($"{plan.Suggestions[0].GainAreaM2.ToString("#,0", CultureInfo.InvariantCulture)} 平方米", items[0].GetProperty("text").GetString());
        Assert.True(placement.GetProperty("pixels").GetInt32() > 50, "the suggested wedges are not on the map canvas");
        Assert.Equal("3", placement.GetProperty("focused").GetString());

        // The exports: files from Blob URLs of the page, with the content of the API's answers.
        var exports = page.GetProperty("exports");
        var today = DateTime.Now.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var csv = exports.GetProperty("report");
        Assert.True(csv.GetProperty("blob").GetBoolean());
        Assert.Equal($"coverage-{Township}-{today}.csv", csv.GetProperty("name").GetString());
        Assert.StartsWith("code,name,level,grids,area_m2,real_fraction,", csv.GetProperty("header").GetString(), StringComparison.Ordinal);
        Assert.Equal(report.Rows.Count + 2, csv.GetProperty("lines").GetInt32()); // header, summary, one per village
        Assert.Equal(Township, csv.GetProperty("firstCode").GetString());
        var holes = exports.GetProperty("uncovered");
        Assert.True(holes.GetProperty("blob").GetBoolean());
        Assert.Equal($"uncovered-{Township}-real-{today}.geojson", holes.GetProperty("name").GetString());
        Assert.Equal("FeatureCollection", holes.GetProperty("type").GetString());
        Assert.Equal(uncoveredMap.Features, holes.GetProperty("features").GetInt32());
        Assert.Equal(uncoveredM2, holes.GetProperty("areaM2").GetDouble(), 0.01);
        var wedges = exports.GetProperty("suggestions");
        Assert.True(wedges.GetProperty("blob").GetBoolean());
        Assert.Equal($"placements-{Township}-k3-{today}.geojson", wedges.GetProperty("name").GetString());
        Assert.Equal(3, wedges.GetProperty("features").GetInt32());
        Assert.Equal(["Polygon", "Polygon", "Polygon"], ConsoleBrowser.Strings(wedges.GetProperty("geometry")));
        Assert.Equal(plan.Suggestions.Select(s => s.Gain), wedges.GetProperty("gains").EnumerateArray().Select(g => g.GetDouble()));
        Assert.True(wedges.GetProperty("closed").GetBoolean(), "a wedge's ring is not closed");

        // Live: the script covered the township's top spot; the table went stale, reloaded by itself, and shows what
        // gRPC answers now. The suggestions, computed before, say they are out of date.
        var live = page.GetProperty("live");
        Assert.Equal(township[0].Code, live.GetProperty("covered").GetString());
        var states = ConsoleBrowser.Strings(live.GetProperty("states"));
        Assert.Equal("stale", states[0]);
        Assert.Equal("ready", states[^1]);
        Assert.Equal("stale", live.GetProperty("placementsState").GetString());
        var after = await Spots(coverage, auth, Township, TableRows);
        Assert.DoesNotContain(after, b => b.Code == township[0].Code);
        AssertRows(after, page.GetProperty("afterLive"));
        output.WriteLine($"a camera registered to the table reloaded without its blind spot: {live.GetProperty("reloadedMs").GetInt32()} ms");

        var english = page.GetProperty("english");
        Assert.Equal("Planning", english.GetProperty("tab").GetString());
        Assert.Equal(["#", "Name", "Kind", "Reason", "Score", "Region"], ConsoleBrowser.Strings(english.GetProperty("headers")));
        Assert.Contains("km² uncovered", english.GetProperty("uncovered").GetString());

        // An operator: no planning tab, and the page asked nothing of the planner's routes.
        var operatorPage = page.GetProperty("operator");
        Assert.Equal("ROLE_OPERATOR", operatorPage.GetProperty("role").GetString());
        Assert.False(operatorPage.GetProperty("planningTab").GetBoolean(), "an operator's page has a planning tab");
        Assert.Empty(operatorPage.GetProperty("plannerRequests").EnumerateArray());

        // Nothing from another origin (the script fails on one itself; this checks its record independently).
        Assert.All(ConsoleBrowser.Strings(page.GetProperty("requests")), r => Assert.True(r.StartsWith(origin + "/", StringComparison.Ordinal) || r.StartsWith("blob:" + origin + "/", StringComparison.Ordinal), r));
        foreach (var shot in Screenshots)
        {
            Assert.True(new FileInfo(Path.Combine(ConsoleBrowser.Artifacts, shot)).Length > 20_000, $"{shot} is missing or blank");
        }
    }

    private static async Task<List<BlindSpot>> Spots(V1.Coverage.CoverageClient coverage, Grpc.Core.Metadata auth, string region, int limit) =>
        [.. (await coverage.ListBlindSpotsAsync(new ListBlindSpotsRequest { RegionPrefix = region, IncludeGrids = true, Limit = limit }, auth)).BlindSpots];

    /// <summary>The page's rows are the API's blind spots, in order, with their kind and their rank in the ranking.</summary>
    private static void AssertRows(List<BlindSpot> expected, JsonElement rows) =>
        AssertRows([.. expected.Select((b, i) => (b, i + 1))], rows);

    private static void AssertRows(List<(BlindSpot Spot, int Rank)> expected, JsonElement rows)
    {
        Assert.NotEmpty(expected);
        Assert.Equal(
            expected.Select(e => (e.Spot.Code, e.Spot.Kind == BlindSpotKind.Grid ? "grid" : "site", e.Rank)),
            rows.EnumerateArray().Select(r => (r.GetProperty("code").GetString()!, r.GetProperty("kind").GetString()!, r.GetProperty("rank").GetInt32())));
    }
}
