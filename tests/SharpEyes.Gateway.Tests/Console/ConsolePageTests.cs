using System.Text.Json;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.WebConsole;

/// <summary>
/// The console in a real browser against a real gateway: Debian's chromium, headless, driven by playwright-core
/// (src/SharpEyes.Console/test/console-page.mjs) loads http://127.0.0.1:HTTP_PORT/, waits for the map to draw the
/// demo county, and fails on any request to another origin, any failed request, CSP violation or page error. It
/// switches to English, turns a layer off and reloads; the screenshots are written to TestResults/console/.
/// </summary>
public sealed class ConsolePageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_page_draws_the_county_in_chromium_and_requests_nothing_from_another_origin()
    {
        var (node, chromium) = ConsoleBrowser.Require();
        await using var host = await GatewayHost.StartAsync(demo: true);
        var origin = $"http://127.0.0.1:{host.HttpPort}";
        var artifacts = ConsoleBrowser.Artifacts;
        ConsoleBrowser.ClearScreenshots("console-signin.png", "console-zh.png", "console-en.png");

        var run = await ExternalTool.RunAsync(node, [Path.Combine(ConsoleBrowser.ConsoleDirectory, "test", "console-page.mjs"), origin + "/", artifacts],
            TimeSpan.FromSeconds(120), ConsoleBrowser.ConsoleDirectory,
            new Dictionary<string, string> { ["CHROMIUM"] = chromium, ["SHARPEYES_KEY"] = await host.CreateKeyAsync(Role.Operator) });
        output.WriteLine($"screenshots: {artifacts}/console-zh.png, console-en.png");
        Assert.True(run.ExitCode == 0, $"console-page.mjs failed: {run}");

        using var seen = JsonDocument.Parse(run.Stdout);
        var page = seen.RootElement;
        output.WriteLine($"navigation to the county drawn: {page.GetProperty("drawnMs").GetInt32()} ms");
        Assert.Equal("drawn", page.GetProperty("map").GetString());
        // Signed in with the key through the form; the key is nowhere the page can read, the cookie is HttpOnly.
        Assert.Equal("ROLE_OPERATOR", page.GetProperty("role").GetString());
        Assert.False(page.GetProperty("keyVisible").GetBoolean(), "the key is visible to the page after sign-in");
        Assert.Equal("", page.GetProperty("cookies").GetString());
        Assert.Equal(220, page.GetProperty("regions").GetInt32()); // demo/gaoyi: county, 5 townships, 107 villages, 107 grids
        Assert.Equal(40, page.GetProperty("keySites").GetInt32());
        Assert.True(page.GetProperty("drawnPixels").GetInt32() > 1000, "the map canvas holds no pixels of the county border's colour");

        // Chinese by default, English on request, and the choice kept across a reload.
        Assert.Equal("zh-CN", page.GetProperty("lang").GetString());
        Assert.Equal("SharpEyes 雪亮工程网关 · 控制台", page.GetProperty("heading").GetString());
        Assert.Equal("已显示 220 个区域、40 个重点部位", page.GetProperty("status").GetString());
        Assert.Equal(["警情", "摄像机", "云台摄像机可转动范围", "重点部位覆盖", "网格覆盖率（实际）", "重点部位", "县界", "乡镇", "网格", "村（社区）"], Strings(page.GetProperty("layers")));
        Assert.Contains("村（社区）", Strings(page.GetProperty("legend")));
        Assert.DoesNotContain("网格", Strings(page.GetProperty("legend"))); // grids start hidden: no legend row
        var english = page.GetProperty("english");
        Assert.Equal("en", english.GetProperty("lang").GetString());
        Assert.Equal("SharpEyes gateway · console", english.GetProperty("heading").GetString());
        Assert.Equal("220 regions and 40 key sites shown", english.GetProperty("status").GetString());
        Assert.Equal(["Incidents", "Cameras", "PTZ cameras: reach when turned", "Key-site coverage", "Grid coverage (real)", "Key sites", "County border", "Townships", "Grids", "Villages"], Strings(english.GetProperty("layers")));
        Assert.Equal(
            ["Priority-1 incident (flashing)", "Priority 2–4 incident", "Online (working)", "Online, stream fault", "Offline", "Never heard from", "Field of view (from zoom 15)",
             "Key site: covered", "Key site: NOT covered (gap)", "Target met", "Below target", "Far below target (under half)", "No working camera", "Key site (area)", "Key site (point)", "County border", "Townships"],
            Strings(page.GetProperty("legendWithoutVillages")));
        Assert.Equal("en", page.GetProperty("langAfterReload").GetString());

        // The script fails on another origin itself; this checks its record independently.
        var requests = Strings(page.GetProperty("requests"));
        Assert.Contains(origin + "/", requests);
        Assert.Contains(requests, r => r.StartsWith(origin + "/assets/main-", StringComparison.Ordinal) && r.EndsWith(".js", StringComparison.Ordinal));
        Assert.Contains(origin + "/api/v1/grids?includeGeometry=true", requests);
        Assert.All(requests, r => Assert.StartsWith(origin + "/", r, StringComparison.Ordinal));

        foreach (var shot in new[] { "console-signin.png", "console-zh.png", "console-en.png" })
        {
            Assert.True(new FileInfo(Path.Combine(artifacts, shot)).Length > 20_000, $"{shot} is missing or blank");
        }
    }

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];
}
