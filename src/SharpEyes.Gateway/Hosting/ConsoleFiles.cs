using System.Net;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace SharpEyes.Gateway.Hosting;

/// <summary>
/// Serves the browser console: the files src/SharpEyes.Console's <c>npm run build</c> writes, which the gateway's
/// build copies beside its binary as console/. <c>GET /</c> answers index.html (revalidated on every load) and
/// <c>GET /assets/...</c> the scripts, styles, icons and data it names, which the build names by their content hash,
/// so they are cached for a year as immutable. Every answer carries a Content-Security-Policy that lets the page load
/// and connect to this origin only (and show images from blob: URLs and the configured intranet tile server). The page holds no data of the gateway's (data comes from authenticated APIs), so
/// both routes are anonymous in <see cref="Auth.AccessTable"/>. Without a build, <c>/</c> says how to make one.
/// </summary>
public static class ConsoleFiles
{
    /// <summary>
    /// Scripts, styles, fonts and connections from this origin only: no inline script or style, no data: URL, no
    /// plugins, not framed. Images also from blob: URLs (the page shows a camera's snapshot from the JPEG bytes
    /// GetSnapshot answers in JSON), and with <see cref="ContentSecurityPolicy(IReadOnlyList{string})"/> from the
    /// intranet tile server.
    /// </summary>
    public const string DefaultContentSecurityPolicy =
        "default-src 'self'; img-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

    /// <summary>The policy with the base layer's tile origins (<see cref="ConsoleConfig.TileOrigins"/>) added to img-src only.</summary>
    public static string ContentSecurityPolicy(IReadOnlyList<string> tileOrigins) => tileOrigins.Count == 0
        ? DefaultContentSecurityPolicy
        : DefaultContentSecurityPolicy.Replace("img-src 'self' blob:", "img-src 'self' blob: " + string.Join(' ', tileOrigins), StringComparison.Ordinal);

    /// <summary>The folder the gateway's build copies the console into, beside the binary.</summary>
    public static string DefaultDirectory => Path.Combine(AppContext.BaseDirectory, "console");

    private const string Immutable = "public, max-age=31536000, immutable";

    private const string HowToBuild = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>SharpEyes: the console is not built</title></head>
        <body>
        <h1>The console is not built</h1>
        <p>控制台尚未构建。This gateway was built without its browser console. To build it (needs Node.js 18 or later and npm):</p>
        <pre>bash scripts/run.sh            # builds the console, then the gateway, and runs it

        # or by hand, in the repository:
        cd src/SharpEyes.Console &amp;&amp; npm ci &amp;&amp; npm run build
        dotnet build src/SharpEyes.Gateway -c Release   # copies it beside the gateway as console/</pre>
        <p>Then restart the gateway. /healthz and /metrics work without it.</p>
        </body></html>
        """;

    /// <summary>
    /// Maps <c>GET /</c> and <c>GET /assets/{**path}</c> (and HEAD) to the console in <paramref name="directory"/> (by default
    /// <see cref="DefaultDirectory"/>); the caller puts them on a listener and gives them their access rules.
    /// </summary>
    public static IEndpointConventionBuilder MapSharpEyesConsole(this IEndpointRouteBuilder routes, string? directory = null)
    {
        var root = directory ?? DefaultDirectory;
        var options = routes.ServiceProvider.GetService<Microsoft.Extensions.Options.IOptions<Configuration.GatewayOptions>>()?.Value;
        var policy = ContentSecurityPolicy(options is null ? [] : ConsoleConfig.TileOrigins(options.Console.BaseLayer));
        // PhysicalFileProvider refuses paths that leave the root (.., absolute paths) and hidden files.
        IFileProvider files = Directory.Exists(root) ? new PhysicalFileProvider(Path.GetFullPath(root)) : new NullFileProvider();
        var types = new FileExtensionContentTypeProvider();
        types.Mappings[".geojson"] = "application/geo+json";

        var group = routes.MapGroup("");
        string[] getOrHead = [HttpMethods.Get, HttpMethods.Head];
        group.MapMethods("/", getOrHead, (HttpContext context) =>
        {
            var index = files.GetFileInfo("index.html");
            return index.Exists
                ? Serve(context, policy, index, "text/html; charset=utf-8", "no-cache")
                : Page(context, policy, HowToBuild, HttpStatusCode.ServiceUnavailable);
        });
        group.MapMethods("/assets/{**path}", getOrHead, (HttpContext context, string? path) =>
        {
            var file = string.IsNullOrEmpty(path) ? null : files.GetFileInfo("assets/" + path);
            return file is { Exists: true, IsDirectory: false } && types.TryGetContentType(file.Name, out var type)
                ? Serve(context, policy, file, type, Immutable)
                : Page(context, policy, "", HttpStatusCode.NotFound);
        });
        return group;
    }

    private static IResult Serve(HttpContext context, string policy, IFileInfo file, string contentType, string cacheControl)
    {
        SecurityHeaders(context.Response, policy, cacheControl);
        // ETag and Last-Modified from the file, as the static file middleware makes them: FileResult answers
        // If-None-Match and If-Modified-Since with 304.
        var modified = file.LastModified.ToUniversalTime();
        var etag = new EntityTagHeaderValue($"\"{(modified.ToFileTime() ^ file.Length):x}\"");
        return TypedResults.PhysicalFile(file.PhysicalPath!, contentType, lastModified: modified, entityTag: etag);
    }

    private static IResult Page(HttpContext context, string policy, string html, HttpStatusCode status)
    {
        SecurityHeaders(context.Response, policy, "no-cache");
        return TypedResults.Content(html, "text/html; charset=utf-8", statusCode: (int)status);
    }

    private static void SecurityHeaders(HttpResponse response, string policy, string cacheControl)
    {
        response.Headers.ContentSecurityPolicy = policy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.CacheControl = cacheControl;
    }
}
