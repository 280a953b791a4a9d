using GeoDatum = SharpEyes.Geo.Datums.Datum;
using ProtoDatum = SharpEyes.V1.Datum;

namespace SharpEyes.Gateway.Geography;

/// <summary>Bridges the API's datum enum to the geometry library's converter.</summary>
public static class GeoConvert
{
    public static GeoDatum ToGeo(ProtoDatum datum) => datum switch
    {
        ProtoDatum.Gcj02 => GeoDatum.Gcj02,
        ProtoDatum.Bd09 => GeoDatum.Bd09,
        _ => GeoDatum.Wgs84,
    };

    public static (double Lon, double Lat) ToWgs84(double lon, double lat, ProtoDatum datum) =>
        Geo.Datums.DatumConverter.ToWgs84(lon, lat, ToGeo(datum));

    /// <summary>Parses "WGS84", "wgs-84", "GCJ02", "gcj-02", "BD09", "bd-09" (any case); null when unknown.</summary>
    public static ProtoDatum? Parse(string? text) =>
        text?.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToUpperInvariant() switch
        {
            "WGS84" => ProtoDatum.Wgs84,
            "GCJ02" => ProtoDatum.Gcj02,
            "BD09" => ProtoDatum.Bd09,
            _ => null,
        };
}
