using System.ComponentModel.DataAnnotations;

namespace SharpEyes.Gateway.Configuration;

/// <summary>The "SharpEyes:Console" section: what the browser console reads from <c>GET /api/console/config</c>.</summary>
public sealed class ConsoleOptions
{
    /// <summary>
    /// An XYZ tile server on the user's own network (PGIS or an intranet tile server) drawn under the county's polygons.
    /// Without a <c>Url</c> the console draws the polygons alone and requests no tile.
    /// </summary>
    public BaseLayerOptions BaseLayer { get; set; } = new();
}

/// <summary>The datum a tile server draws its map in: the console converts every overlay to it.</summary>
public enum TileDatum
{
    /// <summary>WGS-84 (most PGIS and OpenStreetMap-style servers).</summary>
    Wgs84,

    /// <summary>GCJ-02 (tiles made from Chinese commercial maps).</summary>
    Gcj02,
}

/// <summary>An intranet XYZ base layer (docs/console-guide.md, "An intranet base map").</summary>
public sealed class BaseLayerOptions
{
    /// <summary>
    /// The tile URL template: an absolute <c>http://</c> or <c>https://</c> URL with <c>{z}</c>, <c>{x}</c> and
    /// <c>{y}</c>, and <c>{s}</c> for a subdomain if the server has several; no user name or password in it. The
    /// page's Content-Security-Policy lets images come from this server's origin (each subdomain's). Empty: no base layer.
    /// </summary>
    public string Url { get; set; } = "";

    /// <summary>The datum of the tiles; required with a <c>Url</c>.</summary>
    public TileDatum? Datum { get; set; }

    /// <summary>The attribution the map shows for the tiles (plain text).</summary>
    [MaxLength(200)] public string Attribution { get; set; } = "";

    /// <summary>The lowest zoom level the server has tiles for.</summary>
    [Range(0, 24)] public int MinZoom { get; set; }

    /// <summary>The highest zoom level the server has tiles for.</summary>
    [Range(0, 24)] public int MaxZoom { get; set; } = 18;

    /// <summary>The letters <c>{s}</c> takes, one subdomain each (for example <c>abc</c>); required when the Url has <c>{s}</c>.</summary>
    [RegularExpression("^[a-z0-9]{0,16}$")] public string Subdomains { get; set; } = "";
}
