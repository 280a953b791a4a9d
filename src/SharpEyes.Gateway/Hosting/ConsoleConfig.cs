using System.Reflection;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;

namespace SharpEyes.Gateway.Hosting;

/// <summary>
/// <c>GET /api/console/config</c>: what the console needs to know of the gateway before it draws anything — the
/// intranet base layer (or none), the gateway's clock and version. Signed-in operators, planners and admins (session
/// cookie or bearer key, <see cref="AccessTable"/>).
/// </summary>
public static partial class ConsoleConfig
{
    public const string Route = "/api/console/config";

    private static readonly string[] AllowedPlaceholders = ["{z}", "{x}", "{y}", "{s}"];

    private static readonly ConsoleConfigJson Json = new(JsonStatusResponse.Options(JsonIgnoreCondition.Never));

    /// <summary>The gateway's version (the assembly's informational version, without a source-revision suffix).</summary>
    public static string Version { get; } =
        (typeof(ConsoleConfig).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "").Split('+')[0];

    public static IEndpointConventionBuilder MapSharpEyesConsoleConfig(this IEndpointRouteBuilder routes)
    {
        var layer = routes.ServiceProvider.GetRequiredService<IOptions<GatewayOptions>>().Value.Console.BaseLayer;
        var time = routes.ServiceProvider.GetRequiredService<TimeProvider>();
        var baseLayer = layer.Url.Length == 0 ? null : new BaseLayerAnswer(
            layer.Url, layer.Datum == TileDatum.Gcj02 ? "gcj02" : "wgs84", layer.Attribution, layer.MinZoom, layer.MaxZoom, layer.Subdomains);
        return routes.MapGet(Route, (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            var answer = new ConsoleConfigAnswer(baseLayer, time.GetUtcNow().UtcDateTime, Version);
            return context.Response.WriteAsJsonAsync(answer, Json.ConsoleConfigAnswer);
        });
    }

    /// <summary>What is wrong with a base layer's settings (nothing when it has no Url); each message names its setting.</summary>
    public static IEnumerable<string> Problems(BaseLayerOptions layer)
    {
        const string Where = "Console:BaseLayer";
        if (layer.Url.Length == 0)
        {
            yield break;
        }

        if (layer.Datum is null)
        {
            yield return $"{Where}:Datum is required with a Url: Wgs84 or Gcj02, the datum the tiles are drawn in";
        }

        if (layer.MinZoom > layer.MaxZoom)
        {
            yield return $"{Where}: MinZoom {layer.MinZoom} is above MaxZoom {layer.MaxZoom}";
        }

        var unknown = Placeholder().Matches(layer.Url).Select(m => m.Value).Where(p => !AllowedPlaceholders.Contains(p)).Distinct().ToList();
        if (unknown.Count > 0)
        {
            yield return $"{Where}:Url has {string.Join(", ", unknown)}; a tile URL may hold {{z}}, {{x}}, {{y}} and {{s}} only";
        }

        var missing = AllowedPlaceholders[..3].Where(p => !layer.Url.Contains(p, StringComparison.Ordinal)).ToList();
        if (missing.Count > 0)
        {
            yield return $"{Where}:Url lacks {string.Join(", ", missing)}: it must be an XYZ template such as http://tiles.example/{{z}}/{{x}}/{{y}}.png";
        }

        bool sub = layer.Url.Contains("{s}", StringComparison.Ordinal);
        if (sub && layer.Subdomains.Length == 0)
        {
            yield return $"{Where}:Subdomains is required when the Url has {{s}} (the letters it takes, such as abc)";
        }

        if (!Uri.TryCreate(Sample(layer.Url, 'a'), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            yield return $"{Where}:Url must be an absolute http:// or https:// URL";
        }
        else if (uri.UserInfo.Length > 0)
        {
            // Never a credential in a URL every browser would send and log: the tile server must be reachable without one.
            yield return $"{Where}:Url must not hold a user name or password (user@host); give the tile server's address only";
        }
    }

    /// <summary>The origins the console loads tiles from: one per subdomain when the Url has {s}; none without a base layer.</summary>
    public static IReadOnlyList<string> TileOrigins(BaseLayerOptions layer)
    {
        if (layer.Url.Length == 0)
        {
            return [];
        }

        IEnumerable<char> letters = layer.Url.Contains("{s}", StringComparison.Ordinal) ? layer.Subdomains : ['a'];
        return letters.Select(l => new Uri(Sample(layer.Url, l)).GetLeftPart(UriPartial.Authority)).Distinct(StringComparer.Ordinal).ToList();
    }

    private static string Sample(string url, char subdomain) =>
        url.Replace("{s}", subdomain.ToString(), StringComparison.Ordinal)
            .Replace("{z}", "0", StringComparison.Ordinal).Replace("{x}", "0", StringComparison.Ordinal).Replace("{y}", "0", StringComparison.Ordinal);

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Placeholder();
}

/// <summary>The base layer as <c>GET /api/console/config</c> answers it.</summary>
public sealed record BaseLayerAnswer(string Url, string Datum, string Attribution, int MinZoom, int MaxZoom, string Subdomains);

/// <summary>The answer of <c>GET /api/console/config</c>.</summary>
public sealed record ConsoleConfigAnswer(BaseLayerAnswer? BaseLayer, DateTime ServerTime, string Version);

[JsonSerializable(typeof(ConsoleConfigAnswer))]
internal sealed partial class ConsoleConfigJson : JsonSerializerContext;
