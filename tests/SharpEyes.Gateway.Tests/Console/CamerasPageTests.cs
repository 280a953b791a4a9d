using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Liveness;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.WebConsole;

/// <summary>
/// The cameras on the console's map in a real browser (src/SharpEyes.Console/test/cameras.mjs) against a demo
/// gateway whose five cameras were registered by a vendor over gRPC around 中韩镇卫生院: two working (one PTZ), one
/// faulty (a "black" picture recorded through the catalog's own health path, as a stream check records it), one
/// offline (silent past the keepalive timeout, taken offline by the keepalive sweep) and one never heard. The script
/// checks the counts drawn per status, live changes (a heartbeat it sends, an offline turn this test makes when the
/// script asks through a signal file), the panel of a clicked camera against GetCameraCoverage, a planner's panel
/// without a picture, and writes screenshots to TestResults/console/.
/// </summary>
public sealed class CamerasPageTests(ITestOutputHelper output)
{
    private static readonly string[] Shots = ["cameras-county.png", "cameras-wedges.png", "cameras-panel.png", "cameras-potential.png", "cameras-panel-en.png"];

    [Fact]
    public async Task The_map_draws_each_camera_by_status_follows_live_changes_and_opens_a_cameras_panel()
    {
        var (node, chromium) = ConsoleBrowser.Require();
        await using var host = await GatewayHost.StartAsync(demo: true);
        var ct = TestContext.Current.CancellationToken;
        var vendor = await host.CreateKeyAsync(Role.Vendor, "acme");
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        var cameras = new Dictionary<string, string>
        {
            ["ptz"] = TestDevices.CameraId(901),
            ["second"] = TestDevices.CameraId(902),
            ["faulty"] = TestDevices.CameraId(903),
            ["offline"] = TestDevices.CameraId(904),
            ["unknown"] = TestDevices.CameraId(905),
        };
        // Around the hospital KS-130127104-003 (114.5754-114.5763 E, 37.5930-37.5935 N): the PTZ camera at its gate sees it.
        var ptz = TestDevices.Camera(901, 114.57515, 37.59285, azimuth: 50, hfov: 90, range: 150);
        ptz.Camera.Ptz = true;
        ptz.Camera.Streams.Add(new StreamProfile { Role = StreamRole.Main, Codec = "H.264", Width = 1920, Height = 1080, FrameRate = 25, BitrateKbps = 4096 });
        ptz.Camera.Streams.Add(new StreamProfile { Role = StreamRole.Sub, Codec = "H.264", Width = 640, Height = 360, FrameRate = 15, BitrateKbps = 512 });
        foreach (var request in new[]
        {
            ptz,
            TestDevices.Camera(902, 114.5775, 37.5945, azimuth: 200, hfov: 70, range: 80),
            TestDevices.Camera(903, 114.5740, 37.5915, azimuth: 20, hfov: 90, range: 60),
            TestDevices.Camera(904, 114.5770, 37.5918, azimuth: 300, hfov: 90, range: 60),
            TestDevices.Camera(905, 114.5745, 37.5942, azimuth: 120, hfov: 90, range: 50),
        })
        {
            request.Name = request.DeviceId == cameras["ptz"] ? "中韩镇卫生院门口球机" : request.Name;
            await registry.RegisterDeviceAsync(request, host.Auth(vendor), cancellationToken: ct);
        }

        // The offline camera is heard from first, then stays silent past the keepalive timeout (3 × 60 s) while the
        // others keep beating; the sweep takes it offline.
        var monitor = host.Services.GetRequiredService<KeepaliveMonitor>();
        await Beat(cameras["offline"]);
        host.Time.Advance(TimeSpan.FromSeconds(100));
        await Beat(cameras["ptz"], cameras["second"], cameras["faulty"]);
        host.Time.Advance(TimeSpan.FromSeconds(81));
        await monitor.SweepAsync(ct);
        await MakeFaultyAsync(host, cameras["faulty"]);

        ConsoleBrowser.ClearScreenshots(Shots);
        var artifacts = ConsoleBrowser.Artifacts;

        var signal = Path.Combine(host.DataDir, "take-second-offline");
        await using var script = ExternalTool.Start(node, [Path.Combine(ConsoleBrowser.ConsoleDirectory, "test", "cameras.mjs"), $"http://127.0.0.1:{host.HttpPort}/", artifacts],
            ConsoleBrowser.ConsoleDirectory,
            new Dictionary<string, string>
            {
                ["CHROMIUM"] = chromium,
                ["SHARPEYES_KEY"] = await host.CreateKeyAsync(Role.Operator),
                ["SHARPEYES_PLANNER_KEY"] = await host.CreateKeyAsync(Role.Planner),
                ["SHARPEYES_VENDOR_KEY"] = vendor,
                ["SHARPEYES_CAMERAS"] = JsonSerializer.Serialize(cameras),
                ["SHARPEYES_SIGNAL"] = signal,
            });
        // When the script asks: camera "second" misses its keepalives while the others (but the offline one) beat.
        var deadline = DateTime.UtcNow.AddSeconds(150);
        while (!script.HasExited && DateTime.UtcNow < deadline)
        {
            if (File.Exists(signal))
            {
                File.Delete(signal);
                host.Time.Advance(TimeSpan.FromSeconds(100));
                await Beat(cameras["ptz"], cameras["faulty"], cameras["unknown"]);
                host.Time.Advance(TimeSpan.FromSeconds(81));
                await monitor.SweepAsync(ct);
            }

            await Task.Delay(50, ct);
        }

        var run = await script.WaitForExitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine($"screenshots: {string.Join(", ", Shots.Select(s => Path.Combine(artifacts, s)))}");
        Assert.True(run.ExitCode == 0, $"cameras.mjs failed: {run}");

        using var seen = JsonDocument.Parse(run.Stdout);
        var page = seen.RootElement;
        output.WriteLine($"heartbeat to drawn: {page.GetProperty("heartbeatToDrawnMs").GetInt32()} ms; sweep to drawn: {page.GetProperty("offlineToDrawnMs").GetInt32()} ms; panel refresh: {page.GetProperty("panelRefreshMs").GetInt32()} ms");

        // Drawn by status, on the one canvas: no element per camera.
        var initial = page.GetProperty("initial");
        Assert.Equal(5, initial.GetProperty("all").GetInt32());
        Assert.Equal(2, initial.GetProperty("online").GetInt32());
        Assert.Equal(1, initial.GetProperty("faulty").GetInt32());
        Assert.Equal(1, initial.GetProperty("offline").GetInt32());
        Assert.Equal(1, initial.GetProperty("unknown").GetInt32());
        Assert.Equal(1, page.GetProperty("canvases").GetInt32());
        Assert.Equal(["online", "faulty", "offline", "unknown", null], page.GetProperty("legend").EnumerateArray().Select(l => l.GetProperty("status").GetString()));
        Assert.Equal(["在线（正常）", "在线但视频故障", "离线", "从未上线", "视野范围（放大到 15 级显示）"], page.GetProperty("legend").EnumerateArray().Select(l => l.GetProperty("text").GetString()));

        // Live within 2 s of the change (the script waited for the exact counts).
        Assert.InRange(page.GetProperty("heartbeatToDrawnMs").GetInt32(), 0, 2000);
        Assert.InRange(page.GetProperty("offlineToDrawnMs").GetInt32(), 0, 2000);
        Assert.InRange(page.GetProperty("panelRefreshMs").GetInt32(), 0, 2000);

        // The PTZ camera's panel: its metadata, and the grids and key sites the gateway says it covers.
        Assert.True(double.Parse(page.GetProperty("zoomed").GetString()!.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) >= 15);
        var panel = page.GetProperty("ptzPanel");
        Assert.Equal("中韩镇卫生院门口球机", panel.GetProperty("title").GetString());
        Assert.Equal("online", panel.GetProperty("status").GetString());
        Assert.Equal("在线 · 正常", panel.GetProperty("statusText").GetString());
        Assert.Equal("中韩镇卫生院门口球机 · 在线（正常）", panel.GetProperty("tag").GetString());
        var about = panel.GetProperty("about").EnumerateArray().ToDictionary(r => r[0].GetString()!, r => r[1].GetString()!);
        Assert.Equal(cameras["ptz"], about["设备编码"]);
        Assert.Equal("acme", about["厂商"]);
        Assert.Equal("是", about["云台（PTZ）"]);
        Assert.Equal("50° · 90° · 150 米", about["朝向 · 视场角 · 距离"]);
        Assert.StartsWith("高邑县 › 中韩镇 › ", about["所在区域"], StringComparison.Ordinal);
        Assert.Matches(@"^2026-11-22 \d\d:\d\d:\d\d [+-]\d\d:\d\d$", about["注册时间"]);
        var coverage = page.GetProperty("ptzCoverage");
        var grids = coverage.GetProperty("grids").EnumerateArray().Select(g => g.GetProperty("gridCode").GetString()).ToArray();
        Assert.NotEmpty(grids);
        Assert.Equal(grids, ConsoleBrowser.Strings(panel.GetProperty("grids")));
        Assert.Contains("KS-130127104-003", ConsoleBrowser.Strings(coverage.GetProperty("keySiteCodes")));
        Assert.Equal(ConsoleBrowser.Strings(coverage.GetProperty("keySiteCodes")), ConsoleBrowser.Strings(panel.GetProperty("sites")));
        Assert.Contains(ConsoleBrowser.Strings(panel.GetProperty("siteText")), s => s.StartsWith("中韩镇卫生院", StringComparison.Ordinal));
        Assert.Contains("H.264", panel.GetProperty("stream").GetString(), StringComparison.Ordinal);
        Assert.Contains("1920×1080", panel.GetProperty("stream").GetString(), StringComparison.Ordinal);
        // The 30-day history: the online fraction GetCameraHistory answers, as a percentage of the page's language.
        var history = panel.GetProperty("history");
        Assert.Equal("loaded", history.GetProperty("state").GetString());
        var fraction = page.GetProperty("ptzHistory").TryGetProperty("onlineFraction", out var f) ? f.GetDouble() : 0;
        Assert.Contains((fraction * 100).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + "%", history.GetProperty("fraction").GetString(), StringComparison.Ordinal);
        // No frame without an RTSP server: the panel says so in place.
        Assert.Equal("missing", panel.GetProperty("snapshot").GetProperty("state").GetString());
        Assert.Contains("尚无画面", panel.GetProperty("snapshot").GetProperty("text").GetString(), StringComparison.Ordinal);

        var faulty = page.GetProperty("faultyPanel");
        Assert.Equal("faulty", faulty.GetProperty("status").GetString());
        Assert.Contains("黑屏", faulty.GetProperty("stream").GetString(), StringComparison.Ordinal);
        Assert.Equal("offline", page.GetProperty("offlinePanel").GetProperty("status").GetString());
        Assert.False(page.GetProperty("potentialBefore").GetBoolean());

        // Planners may not call GetSnapshot: their panel says so and never asks.
        var planner = page.GetProperty("plannerPanel");
        Assert.Equal(cameras["ptz"], planner.GetProperty("about")[0][1].GetString());
        Assert.Equal("Planners do not see camera pictures", planner.GetProperty("snapshot").GetProperty("text").GetString()); // English: the choice is kept
        Assert.Equal(0, page.GetProperty("plannerSnapshotRequests").GetInt32());
        Assert.Equal(grids, ConsoleBrowser.Strings(planner.GetProperty("grids")));

        var english = page.GetProperty("englishPanel");
        Assert.Equal("Online · working", english.GetProperty("statusText").GetString());
        Assert.Contains("Device ID", ConsoleBrowser.Strings(english.GetProperty("about")));
        Assert.Contains("Never heard from", ConsoleBrowser.Strings(english.GetProperty("legend")));

        foreach (var shot in Shots)
        {
            Assert.True(new FileInfo(Path.Combine(artifacts, shot)).Length > 20_000, $"{shot} is missing or blank");
        }

        async Task Beat(params string[] ids) =>
            await registry.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { ids } }, host.Auth(vendor), cancellationToken: ct);
    }

    /// <summary>A black picture on a camera, recorded as a stream check records it (DeviceCatalog.SetHealth: a CAMERA_FAULTY event).</summary>
    private static async Task MakeFaultyAsync(GatewayHost host, string deviceId)
    {
        var catalog = host.Services.GetRequiredService<DeviceCatalog>();
        var journal = host.Services.GetRequiredService<Journal>();
        var entry = catalog.Find(deviceId)!;
        var next = entry.Health with { Faults = [.. entry.Health.Faults, "black"], FaultySince = host.Time.GetUtcNow() };
        await journal.ExecuteAsync(tx =>
        {
            catalog.SetHealth(tx, entry, next, host.Time.GetUtcNow());
            return true;
        }, TestContext.Current.CancellationToken);
    }
}
