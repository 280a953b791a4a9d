using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.WebConsole;

/// <summary>
/// The console's coverage view in chromium against a demo gateway (src/SharpEyes.Console/test/regions.mjs): grids
/// coloured as the gateway's coverage numbers make them, key sites covered or not, a grid's KPIs on click equal to
/// GetCoverageReport's, a gap event recolouring within 2 s, the trend chart, English number formats, no tile request
/// without a base layer. And the intranet base layer (test/regions-tiles.mjs): with a GCJ-02 tile server set, the
/// page loads tiles from that server only and draws the key sites where the gateway's own GCJ-02 conversion puts them.
/// </summary>
public sealed class RegionsPageTests(ITestOutputHelper output)
{
    private static readonly string Artifacts = ConsoleBrowser.Artifacts;

    /// <summary>A 1×1 PNG in a pale map colour: what the test's tile server answers for every tile.</summary>
    private static readonly byte[] Tile = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGO4++wCAAU3ApSK/PzsAAAAAElFTkSuQmCC");

    [Fact]
    public async Task Grids_and_key_sites_are_coloured_by_the_gateways_coverage_and_a_click_shows_the_report_KPIs()
    {
        ConsoleBrowser.Require();
        await using var host = await GatewayHost.StartAsync(demo: true);
        var origin = $"http://127.0.0.1:{host.HttpPort}";
        using var seen = await ConsoleBrowser.RunAsync("regions.mjs", origin, new Dictionary<string, string>
        {
            ["SHARPEYES_KEY"] = await host.CreateKeyAsync(Role.Operator),
            ["SHARPEYES_VENDOR_KEY"] = await host.CreateKeyAsync(Role.Vendor, "acme"),
        }, TimeSpan.FromSeconds(180));
        var page = seen.RootElement;
        output.WriteLine($"grid classes: {page.GetProperty("classCounts")}; a gap event recoloured in {page.GetProperty("recolourMs").GetInt32()} ms");
        // Five cameras at key sites, online: some grids covered, the rest with no working camera (the script checked
        // every grid's class against the API's numbers; this checks the spread is worth checking).
        var classes = page.GetProperty("classCounts");
        Assert.True(classes.GetProperty("met").GetInt32() >= 1, $"no grid meets its target: {classes}");
        Assert.True(classes.GetProperty("none").GetInt32() >= 50, $"{classes}");
        Assert.InRange(page.GetProperty("uncoveredSites").GetInt32(), 1, 39);
        Assert.InRange(page.GetProperty("recolourMs").GetInt32(), 0, 2000);
        Assert.Equal("met", page.GetProperty("classAfter").GetString());
        // The clicked grid's KPIs after its camera came online: one camera, online, some of its area covered.
        var after = page.GetProperty("after").EnumerateArray().ToDictionary(k => k.GetProperty("name").GetString()!, k => k);
        Assert.Equal("1", after["online_rate"].GetProperty("denominator").ToString());
        Assert.True(after["area_coverage"].GetProperty("value").GetDouble() > 0);
        Assert.Equal(["key_site_coverage", "area_coverage", "online_rate", "online_rate_time", "serviceability", "hd_rate"], after.Keys);
        // Every request to the gateway itself: no tile without a base layer.
        Assert.All(page.GetProperty("requests").EnumerateArray(), r => Assert.StartsWith(origin + "/", r.GetString(), StringComparison.Ordinal));
        Assert.NotEqual("gcj02", page.GetProperty("baseLayer").GetString());
        foreach (var shot in new[] { "regions-map.png", "regions-detail.png", "regions-detail-covered.png", "regions-en.png" })
        {
            Assert.True(new FileInfo(Path.Combine(Artifacts, shot)).Length > 20_000, $"{shot} is missing or blank");
        }
    }

    [Fact]
    public async Task A_GCJ02_intranet_base_layer_loads_its_tiles_only_from_its_server_and_moves_every_overlay_onto_it()
    {
        ConsoleBrowser.Require();
        var tiles = new ConcurrentQueue<string>();
        await using var tileServer = await StartTileServerAsync(tiles);
        var tileOrigin = tileServer.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        await using var host = await GatewayHost.StartAsync(demo: true, extraArgs:
        [
            $"--SharpEyes:Console:BaseLayer:Url={tileOrigin}/{{z}}/{{x}}/{{y}}.png",
            "--SharpEyes:Console:BaseLayer:Datum=Gcj02",
            "--SharpEyes:Console:BaseLayer:Attribution=县公安局 PGIS",
            "--SharpEyes:Console:BaseLayer:MaxZoom=17",
        ]);
        var origin = $"http://127.0.0.1:{host.HttpPort}";
        var key = await host.CreateKeyAsync(Role.Operator);
        using (var http = new HttpClient())
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, origin + "/api/console/config");
            request.Headers.Authorization = new("Bearer", key);
            using var config = await http.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, config.StatusCode);
        }

        using var seen = await ConsoleBrowser.RunAsync("regions-tiles.mjs", origin, new Dictionary<string, string> { ["SHARPEYES_KEY"] = key },
            TimeSpan.FromSeconds(180), tileOrigin);
        var page = seen.RootElement;
        output.WriteLine($"{page.GetProperty("sites").GetInt32()} key sites, worst {page.GetProperty("worstErrorM").GetDouble():F4} m from the gateway's GCJ-02 position; {tiles.Count} tiles served");
        Assert.Equal("gcj02", page.GetProperty("baseLayer").GetString());
        Assert.InRange(page.GetProperty("worstErrorM").GetDouble(), 0, 0.5);
        Assert.True(page.GetProperty("minShiftM").GetDouble() > 100, "GCJ-02 should move the demo county by hundreds of metres");
        Assert.Contains("县公安局 PGIS", page.GetProperty("attribution").GetString());
        // The tile server saw the page's tile requests, each an XYZ path within the configured zooms.
        Assert.NotEmpty(tiles);
        Assert.All(tiles, t => Assert.Matches(@"^/([0-9]|1[0-7])/\d+/\d+\.png$", t));
        Assert.True(new FileInfo(Path.Combine(Artifacts, "regions-tiles.png")).Length > 20_000, "regions-tiles.png is missing or blank");
    }

    /// <summary>A tile server on 127.0.0.1 answering the same PNG for every path, recording each path asked for.</summary>
    private static async Task<WebApplication> StartTileServerAsync(ConcurrentQueue<string> paths)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.Run(context =>
        {
            paths.Enqueue(context.Request.Path.Value ?? "");
            context.Response.ContentType = "image/png";
            return context.Response.Body.WriteAsync(Tile, context.RequestAborted).AsTask();
        });
        await app.StartAsync();
        return app;
    }
}
