using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Hosting;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;

// Not "...Tests.Console": a namespace of that name would hide System.Console from every other test namespace.
namespace SharpEyes.Gateway.Tests.WebConsole;

/// <summary>
/// The gateway serves the built browser console (src/SharpEyes.Console, copied beside the binary as console/) on its
/// HTTP port only: the page revalidated on each load, its content-named files immutable for a year, each answer with a
/// CSP that allows this origin only, nosniff and no referrer; and without a build, / says how to make one.
/// </summary>
public sealed class ConsoleServingTests
{
    private const string Immutable = "public, max-age=31536000, immutable";

    [Fact]
    public async Task The_built_console_and_its_files_are_served_on_the_HTTP_port_with_their_headers()
    {
        RequireBuiltConsole();
        await using var host = await GatewayHost.StartAsync(demo: false);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };

        using var page = await http.GetAsync("/", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        AssertSecurityHeaders(page);
        Assert.Equal("no-cache", page.Headers.CacheControl?.ToString());
        var html = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        AssertSecurityHeaders(head);
        Assert.DoesNotMatch("(src|href)=\"(https?:)?//", html); // nothing from another origin

        // The page names its script, style sheet and icon; the script carries no data of its own (regions come from
        // the API after sign-in) and names no other origin.
        var named = Regex.Matches(html, "(?:src|href)=\"(/assets/[^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        var script = Assert.Single(named, n => n.EndsWith(".js", StringComparison.Ordinal));
        var code = await http.GetStringAsync(script, TestContext.Current.CancellationToken);
        Assert.DoesNotMatch("/assets/[^\"']+\\.geojson", code);
        // The style sheet names the map library's images.
        var styles = await http.GetStringAsync(Assert.Single(named, n => n.EndsWith(".css", StringComparison.Ordinal)), TestContext.Current.CancellationToken);
        var images = Regex.Matches(styles, "url\\(\"?(/assets/[^)\"]+)\"?\\)").Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.NotEmpty(images);
        Assert.DoesNotMatch("url\\(\"?(https?:)?//", styles);
        var expectedTypes = new Dictionary<string, string>
        {
            [".js"] = "text/javascript", [".css"] = "text/css", [".svg"] = "image/svg+xml", [".png"] = "image/png",
        };
        var files = named.Concat(images).ToList();
        Assert.Equal(expectedTypes.Keys.Order(), files.Select(Path.GetExtension).Distinct().Order());
        foreach (var file in files)
        {
            using var response = await http.GetAsync(file, TestContext.Current.CancellationToken);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{file}: {response.StatusCode}");
            Assert.Equal(expectedTypes[Path.GetExtension(file)], response.Content.Headers.ContentType?.MediaType);
            AssertSecurityHeaders(response);
            Assert.Equal(Immutable, response.Headers.CacheControl?.ToString());
            Assert.Matches("^/assets/[a-z0-9-]+-[A-Z0-9]{8}\\.[a-z]+$", file); // content-named, so immutable is true

            // A browser revalidating with the ETag gets 304 and no body.
            using var again = new HttpRequestMessage(HttpMethod.Get, file);
            again.Headers.IfNoneMatch.Add(response.Headers.ETag!);
            using var notModified = await http.SendAsync(again, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        }

        // What is not a console file is not served: a missing asset, the folder, a path out of it, a hidden file.
        foreach (var path in new[] { "/assets/missing-AAAAAAAA.js", "/assets/", "/assets/%2e%2e/index.html", "/assets/..%2findex.html", "/assets/.hidden" })
        {
            using var response = await http.GetAsync(path, TestContext.Current.CancellationToken);
            Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Unauthorized, $"{path}: {response.StatusCode}");
        }
    }

    [Fact]
    public async Task The_console_is_not_served_on_the_gRPC_or_MQTT_ports()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);

        // The gRPC port speaks HTTP/2 only: the same GET, in HTTP/2, finds no console there.
        using var h2 = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        foreach (var path in new[] { "/", "/assets/main.js" })
        {
            using var response = await h2.GetAsync($"http://127.0.0.1:{host.GrpcPort}{path}", TestContext.Current.CancellationToken);
            Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.NotFound, $"gRPC port {path}: {response.StatusCode}");
            // A refusal (no-store) at most, never the console's caching (no-cache page, immutable assets) or its CSP.
            Assert.True(response.Headers.CacheControl is null || response.Headers.CacheControl.NoStore, $"gRPC port {path}: Cache-Control {response.Headers.CacheControl}");
            Assert.False(response.Headers.Contains("Content-Security-Policy"));
        }

        // The MQTT port does not answer HTTP at all: the broker drops a connection that does not start with CONNECT.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, host.MqttPort, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), TestContext.Current.CancellationToken);
        var answer = await ReadUntilClosedAsync(stream, TimeSpan.FromSeconds(15));
        Assert.DoesNotContain("HTTP/", Encoding.ASCII.GetString(answer), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_build_the_page_says_how_to_build_the_console()
    {
        var empty = GatewayHost.NewDataDir(); // an empty folder: no index.html, no assets/
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var app = builder.Build();
        app.MapSharpEyesConsole(empty);
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        using var http = new HttpClient { BaseAddress = new Uri(address) };

        using var page = await http.GetAsync("/", TestContext.Current.CancellationToken);
        var text = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        AssertSecurityHeaders(page);
        Assert.Contains("The console is not built", text, StringComparison.Ordinal);
        Assert.Contains("bash scripts/run.sh", text, StringComparison.Ordinal);
        Assert.Contains("npm ci &amp;&amp; npm run build", text, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", text, StringComparison.OrdinalIgnoreCase);

        using var asset = await http.GetAsync("/assets/main-AAAAAAAA.js", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, asset.StatusCode);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public void Both_console_routes_are_anonymous_in_the_access_table()
    {
        // The page and its files hold none of the gateway's data; the data comes from the authenticated APIs.
        Assert.True(AccessTable.Find("GET /")?.Anonymous);
        Assert.True(AccessTable.Find("GET /assets/{**path}")?.Anonymous);
    }

    /// <summary>Skips (fails under CI) when src/SharpEyes.Console was not built before the gateway.</summary>
    internal static void RequireBuiltConsole()
    {
        if (!File.Exists(Path.Combine(ConsoleFiles.DefaultDirectory, "index.html")))
        {
            InteropPaths.SkipUnlessCi($"the console is not built ({ConsoleFiles.DefaultDirectory} has no index.html): run scripts/install-console.sh, then build the tests");
        }
    }

    private static void AssertSecurityHeaders(HttpResponseMessage response)
    {
        Assert.Equal(ConsoleFiles.DefaultContentSecurityPolicy, Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
        Assert.StartsWith("default-src 'self';", ConsoleFiles.DefaultContentSecurityPolicy, StringComparison.Ordinal);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
    }

    private static async Task<byte[]> ReadUntilClosedAsync(NetworkStream stream, TimeSpan timeout)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(timeout);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, cts.Token)) > 0)
            {
                received.Write(buffer, 0, n);
            }
        }
        catch (IOException)
        {
            // A reset is a close too.
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"the MQTT port kept an HTTP request's connection open for {timeout.TotalSeconds:F0} s");
        }

        return received.ToArray();
    }
}
