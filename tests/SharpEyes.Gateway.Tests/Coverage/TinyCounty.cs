using System.Globalization;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Coverage;

/// <summary>
/// A hand-made geography in county 130127 whose numbers can be worked out on paper: one township and one village of
/// 400 m × 200 m, split into a west and an east grid of 200 m × 200 m; a checkpoint (a point, needs one camera) and an
/// intersection (a point, needs two) in the west grid. The west grid's coverage target is 3 %, the east grid's 0.
/// Offsets are metres from the south-west corner, converted with the local radii (good to well under a metre here).
/// </summary>
public static class TinyCounty
{
    public const double Lon0 = 114.60;
    public const double Lat0 = 37.60;
    public const string County = "130127";
    public const string Township = "130127100";
    public const string Village = "130127100201";
    public const string WestGrid = "1301271002010001";
    public const string EastGrid = "1301271002010002";
    public const string Checkpoint = "TC-CHECKPOINT";
    public const string Intersection = "TC-CROSSING";
    public const double WestTarget = 0.03;

    private const double MetresPerDegLat = 110_996.0; // WGS-84 meridional arc per degree at 37.6° N
    private static readonly double s_metresPerDegLon = 111_319.49 * Math.Cos(Lat0 * Math.PI / 180) / Math.Sqrt(1 - (0.00669438 * Math.Pow(Math.Sin(Lat0 * Math.PI / 180), 2)));

    /// <summary>WGS-84 lon/lat of a point x metres east and y metres north of the south-west corner.</summary>
    public static (double Lon, double Lat) At(double x, double y) => (Lon0 + (x / s_metresPerDegLon), Lat0 + (y / MetresPerDegLat));

    /// <summary>The west grid's centre: cameras here with range ≤ 100 m stay inside it.</summary>
    public static (double X, double Y) WestCentre => (100, 100);

    public static (double X, double Y) CheckpointAt => (100, 130);

    public static (double X, double Y) IntersectionAt => (60, 60);

    public static string GridsGeoJson => Collection(
        Feature(Rect(0, 0, 400, 200), $"\"code\":\"{County}\",\"name\":\"小县\""),
        Feature(Rect(0, 0, 400, 200), $"\"code\":\"{Township}\",\"name\":\"小镇\""),
        Feature(Rect(0, 0, 400, 200), $"\"code\":\"{Village}\",\"name\":\"小村\""),
        Feature(Rect(0, 0, 200, 200), $"\"code\":\"{WestGrid}\",\"name\":\"西网格\",\"coverage_target\":{WestTarget.ToString(CultureInfo.InvariantCulture)}"),
        Feature(Rect(200, 0, 400, 200), $"\"code\":\"{EastGrid}\",\"name\":\"东网格\",\"coverage_target\":0"));

    public static string KeySitesGeoJson => Collection(
        Feature(Point(CheckpointAt.X, CheckpointAt.Y), $"\"code\":\"{Checkpoint}\",\"name\":\"检查站\",\"category\":\"checkpoint\",\"priority\":4"),
        Feature(Point(IntersectionAt.X, IntersectionAt.Y), $"\"code\":\"{Intersection}\",\"name\":\"十字路口\",\"category\":\"intersection\",\"priority\":3"));

    public static async Task ImportAsync(Infrastructure.GatewayHost host)
    {
        var geography = new V1.Geography.GeographyClient(host.Channel);
        await geography.ImportGridsAsync(new ImportGeoJsonRequest { Geojson = GridsGeoJson, Datum = Datum.Wgs84 }, host.AdminAuth);
        await geography.ImportKeySitesAsync(new ImportGeoJsonRequest { Geojson = KeySitesGeoJson, Datum = Datum.Wgs84 }, host.AdminAuth);
    }

    /// <summary>A fixed camera at (x, y) metres.</summary>
    public static RegisterDeviceRequest Camera(int serial, double x, double y, double azimuth, double hfov, double range)
    {
        var (lon, lat) = At(x, y);
        return Infrastructure.TestDevices.Camera(serial, lon, lat, azimuth, hfov, range);
    }

    private static string Collection(params string[] features) => $"{{\"type\":\"FeatureCollection\",\"features\":[{string.Join(',', features)}]}}";

    private static string Feature(string geometry, string properties) => $"{{\"type\":\"Feature\",\"properties\":{{{properties}}},\"geometry\":{geometry}}}";

    private static string Rect(double x0, double y0, double x1, double y1)
    {
        string P(double x, double y)
        {
            var (lon, lat) = At(x, y);
            return $"[{lon.ToString("R", CultureInfo.InvariantCulture)},{lat.ToString("R", CultureInfo.InvariantCulture)}]";
        }

        return $"{{\"type\":\"Polygon\",\"coordinates\":[[{P(x0, y0)},{P(x1, y0)},{P(x1, y1)},{P(x0, y1)},{P(x0, y0)}]]}}";
    }

    private static string Point(double x, double y)
    {
        var (lon, lat) = At(x, y);
        return $"{{\"type\":\"Point\",\"coordinates\":[{lon.ToString("R", CultureInfo.InvariantCulture)},{lat.ToString("R", CultureInfo.InvariantCulture)}]}}";
    }
}
