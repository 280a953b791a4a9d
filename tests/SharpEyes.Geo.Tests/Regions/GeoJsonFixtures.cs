using System.Globalization;
using System.Text;

namespace SharpEyes.Geo.Tests.Regions;

/// <summary>Builds small GeoJSON documents for import tests.</summary>
internal static class GeoJsonFixtures
{
    public static readonly HashSet<string> KnownCounties = ["130127"];

    public static string Rect(double minLon, double minLat, double maxLon, double maxLat) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"{{\"type\":\"Polygon\",\"coordinates\":[[[{minLon},{minLat}],[{maxLon},{minLat}],[{maxLon},{maxLat}],[{minLon},{maxLat}],[{minLon},{minLat}]]]}}");

    public static string Feature(string? code, string? name, string geometry, string extraProperties = "")
    {
        var props = new List<string>();
        if (code is not null)
        {
            props.Add($"\"code\":\"{code}\"");
        }

        if (name is not null)
        {
            props.Add($"\"name\":\"{name}\"");
        }

        if (extraProperties.Length > 0)
        {
            props.Add(extraProperties);
        }

        return $"{{\"type\":\"Feature\",\"properties\":{{{string.Join(",", props)}}},\"geometry\":{geometry}}}";
    }

    public static string Collection(params string[] features)
    {
        var sb = new StringBuilder("{\"type\":\"FeatureCollection\",\"features\":[");
        sb.AppendJoin(",", features);
        return sb.Append("]}").ToString();
    }

    // A 0.2° county split into two townships; one village and one grid in the first.
    public static string County => Feature("130127", "高邑县", Rect(114.5, 37.5, 114.7, 37.7));

    public static string TownshipWest => Feature("130127100", "高邑镇", Rect(114.5, 37.5, 114.6, 37.7));

    public static string TownshipEast => Feature("130127101", "大营镇", Rect(114.6, 37.5, 114.7, 37.7));

    public static string Village => Feature("130127100201", "东关村民委员会", Rect(114.5, 37.5, 114.6, 37.6));

    public static string Grid => Feature("130127100201001", "东关村第一网格", Rect(114.5, 37.5, 114.6, 37.6));

    public static string Valid => Collection(County, TownshipWest, TownshipEast, Village, Grid);
}
