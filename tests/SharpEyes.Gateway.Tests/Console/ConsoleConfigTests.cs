using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Hosting;
using SharpEyes.Gateway.Tests.Docs;
using SharpEyes.Gateway.Tests.Http;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.WebConsole;

/// <summary>
/// SharpEyes:Console:BaseLayer: validated at start, answered by <c>GET /api/console/config</c> to signed-in operators,
/// planners and admins, and its tile origins (only those) added to the page's img-src.
/// </summary>
public sealed class ConsoleConfigTests
{
    private const string Template = "https://{s}.tiles.intranet:8443/gis/{z}/{x}/{y}.png";

    private static readonly string[] BaseLayerArgs =
    [
        $"--SharpEyes:Console:BaseLayer:Url={Template}", "--SharpEyes:Console:BaseLayer:Datum=Gcj02",
        "--SharpEyes:Console:BaseLayer:Subdomains=ab", "--SharpEyes:Console:BaseLayer:Attribution=县公安局 PGIS",
        "--SharpEyes:Console:BaseLayer:MinZoom=8", "--SharpEyes:Console:BaseLayer:MaxZoom=19",
    ];

    private static async Task<(HttpStatusCode Status, JsonElement Body)> ConfigAsync(GatewayHost host, string? key)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };
        using var request = new HttpRequestMessage(HttpMethod.Get, ConsoleConfig.Route);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return (response.StatusCode, response.StatusCode == HttpStatusCode.OK ? JsonDocument.Parse(text).RootElement.Clone() : default);
    }

    private static async Task<string> PolicyAsync(GatewayHost host)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };
        using var page = await http.GetAsync("/", TestContext.Current.CancellationToken); // 200 with a built console, 503 without: the same headers
        return Assert.Single(page.Headers.GetValues("Content-Security-Policy"));
    }

    [Fact]
    public async Task Without_a_base_layer_the_config_has_none_and_images_come_from_this_origin_and_blob_URLs_only()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var operatorKey = await host.CreateKeyAsync(Role.Operator);

        var (status, body) = await ConfigAsync(host, operatorKey);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["baseLayer", "serverTime", "version"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Null, body.GetProperty("baseLayer").ValueKind);
        Assert.Equal("2026-11-22T08:00:00Z", body.GetProperty("serverTime").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("version").GetString()));

        var policy = await PolicyAsync(host);
        Assert.Equal(ConsoleFiles.DefaultContentSecurityPolicy, policy);
        Assert.Contains("img-src 'self' blob:;", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("http", policy, StringComparison.Ordinal);
        Assert.StartsWith("default-src 'self';", policy, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_base_layer_the_config_answers_it_and_img_src_adds_exactly_its_origins()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: BaseLayerArgs);
        var planner = await host.CreateKeyAsync(Role.Planner);

        var (status, body) = await ConfigAsync(host, planner);
        Assert.Equal(HttpStatusCode.OK, status);
        var layer = body.GetProperty("baseLayer");
        Assert.Equal(["url", "datum", "attribution", "minZoom", "maxZoom", "subdomains"], layer.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Template, layer.GetProperty("url").GetString());
        Assert.Equal("gcj02", layer.GetProperty("datum").GetString());
        Assert.Equal("县公安局 PGIS", layer.GetProperty("attribution").GetString());
        Assert.Equal((8, 19), (layer.GetProperty("minZoom").GetInt32(), layer.GetProperty("maxZoom").GetInt32()));
        Assert.Equal("ab", layer.GetProperty("subdomains").GetString());

        var policy = await PolicyAsync(host);
        Assert.Equal(
            "default-src 'self'; img-src 'self' blob: https://a.tiles.intranet:8443 https://b.tiles.intranet:8443; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            policy);
    }

    [Fact]
    public async Task Only_signed_in_operators_planners_and_admins_read_it()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ConfigAsync(host, null)).Status);
        Assert.Equal(HttpStatusCode.OK, (await ConfigAsync(host, host.AdminKey)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await ConfigAsync(host, await host.CreateKeyAsync(Role.Vendor, "vendor-a"))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await ConfigAsync(host, await host.CreateKeyAsync(Role.Centre))).Status);

        // With a session cookie, as the page calls it.
        using var browser = new SessionClient(host);
        await browser.SignInOrFailAsync(await host.CreateKeyAsync(Role.Operator));
        using var response = await browser.SendAsync(HttpMethod.Get, ConsoleConfig.Route, csrf: false);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public static TheoryData<string, string, string> BadBaseLayers() => new()
    {
        { "ftp://tiles.intranet/{z}/{x}/{y}.png", "Wgs84", "Url must be an absolute http:// or https:// URL" },
        { "/tiles/{z}/{x}/{y}.png", "Wgs84", "Url must be an absolute http:// or https:// URL" },
        { "http://gis:secret@tiles.intranet/{z}/{x}/{y}.png", "Wgs84", "must not hold a user name or password" },
        { "http://tiles.intranet/{z}/{x}.png", "Wgs84", "Url lacks {y}" },
        { "http://tiles.intranet/{z}/{x}/{-y}.png", "Wgs84", "Url has {-y}" },
        { "http://tiles.intranet/{z}/{x}/{y}.png", "", "Datum is required with a Url" },
        { "http://{s}.tiles.intranet/{z}/{x}/{y}.png", "Wgs84", "Subdomains is required when the Url has {s}" },
    };

    [Theory]
    [MemberData(nameof(BadBaseLayers))]
    public void A_bad_base_layer_stops_the_start_naming_the_setting(string url, string datum, string reason)
    {
        var failure = ConfigurationReference.Validate([$"--SharpEyes:Console:BaseLayer:Url={url}", .. datum.Length > 0 ? [$"--SharpEyes:Console:BaseLayer:Datum={datum}"] : Array.Empty<string>()]);
        Assert.NotNull(failure);
        var line = StartupFailureException.Describe(failure);
        Assert.NotNull(line);
        Assert.StartsWith("invalid configuration: ", line, StringComparison.Ordinal);
        Assert.Contains("Console:BaseLayer", line, StringComparison.Ordinal);
        Assert.Contains(reason, line, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void Origins_are_one_per_subdomain_and_a_template_without_subdomains_has_one()
    {
        Assert.Equal(["http://10.1.2.3:8080"], ConsoleConfig.TileOrigins(new BaseLayerOptions { Url = "http://10.1.2.3:8080/{z}/{x}/{y}.png?style=road" }));
        Assert.Equal(["https://t0.pgis.gov", "https://t1.pgis.gov"], ConsoleConfig.TileOrigins(new BaseLayerOptions { Url = "https://t{s}.pgis.gov/{z}/{x}/{y}", Subdomains = "01" }));
        Assert.Empty(ConsoleConfig.TileOrigins(new BaseLayerOptions()));
    }
}
