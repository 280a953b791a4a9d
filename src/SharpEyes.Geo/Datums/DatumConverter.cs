using NetTopologySuite.Geometries;

namespace SharpEyes.Geo.Datums;

/// <summary>
/// Conversions between WGS-84, GCJ-02 and BD-09 (all coordinates are (longitude, latitude) in degrees).
/// </summary>
/// <remarks>
/// "Inside China" is a fixed bounding box, <b>longitude 72.004..137.8347, latitude 0.8293..55.8271</b> (inclusive),
/// the box the widely used open implementations (eviltransform, gcoord) use. Points outside it are returned unchanged
/// by every WGS-84 ↔ GCJ-02 conversion. The box is deliberately coarse (it includes parts of neighbouring countries);
/// what matters is that every system in the chain agrees on it.
/// </remarks>
public static class DatumConverter
{
    /// <summary>Semi-major axis of the Krasovsky 1940 ellipsoid used by GCJ-02.</summary>
    private const double KrasovskyA = 6378245.0;

    /// <summary>First eccentricity squared of the Krasovsky 1940 ellipsoid.</summary>
    private const double KrasovskyEe = 0.00669342162296594323;

    private const double XPi = Math.PI * 3000.0 / 180.0;

    private const double MinLon = 72.004;
    private const double MaxLon = 137.8347;
    private const double MinLat = 0.8293;
    private const double MaxLat = 55.8271;

    /// <summary>Convergence target of the GCJ-02 inversion: forward transform within 1e-10° (≈ 0.01 mm).</summary>
    private const double InverseTolerance = 1e-10;
    private const int MaxInverseIterations = 20;

    /// <summary>True outside the fixed China bounding box (see the class remarks).</summary>
    public static bool IsOutsideChina(double lon, double lat) =>
        !(lon >= MinLon && lon <= MaxLon && lat >= MinLat && lat <= MaxLat);

    public static (double Lon, double Lat) ToWgs84(double lon, double lat, Datum from) => from switch
    {
        Datum.Wgs84 => (lon, lat),
        Datum.Gcj02 => Gcj02ToWgs84(lon, lat),
        Datum.Bd09 => Bd09ToWgs84(lon, lat),
        _ => throw new ArgumentOutOfRangeException(nameof(from), from, "Unknown datum."),
    };

    public static (double Lon, double Lat) FromWgs84(double lon, double lat, Datum to) => to switch
    {
        Datum.Wgs84 => (lon, lat),
        Datum.Gcj02 => Wgs84ToGcj02(lon, lat),
        Datum.Bd09 => Wgs84ToBd09(lon, lat),
        _ => throw new ArgumentOutOfRangeException(nameof(to), to, "Unknown datum."),
    };

    public static (double Lon, double Lat) Wgs84ToGcj02(double lon, double lat)
    {
        if (IsOutsideChina(lon, lat))
        {
            return (lon, lat);
        }

        var (dLon, dLat) = Delta(lon, lat);
        return (lon + dLon, lat + dLat);
    }

    /// <summary>
    /// GCJ-02 → WGS-84 by fixed-point iteration: start from the one-step inverse (≈ 5 m) and correct the estimate
    /// by the residual of the forward transform until that residual is below 1e-10° (bounded at 20 iterations;
    /// it typically converges in 3–4). The result is within millimetres of the true inverse, far inside the 0.5 m target.
    /// </summary>
    public static (double Lon, double Lat) Gcj02ToWgs84(double lon, double lat)
    {
        if (IsOutsideChina(lon, lat))
        {
            return (lon, lat);
        }

        var (dLon0, dLat0) = Delta(lon, lat);
        double wLon = lon - dLon0;
        double wLat = lat - dLat0;
        for (int i = 0; i < MaxInverseIterations; i++)
        {
            var (gLon, gLat) = Wgs84ToGcj02(wLon, wLat);
            double eLon = gLon - lon;
            double eLat = gLat - lat;
            if (Math.Abs(eLon) < InverseTolerance && Math.Abs(eLat) < InverseTolerance)
            {
                break;
            }

            wLon -= eLon;
            wLat -= eLat;
        }

        return (wLon, wLat);
    }

    public static (double Lon, double Lat) Gcj02ToBd09(double lon, double lat)
    {
        double x = lon;
        double y = lat;
        double z = Math.Sqrt((x * x) + (y * y)) + (0.00002 * Math.Sin(y * XPi));
        double theta = Math.Atan2(y, x) + (0.000003 * Math.Cos(x * XPi));
        return ((z * Math.Cos(theta)) + 0.0065, (z * Math.Sin(theta)) + 0.006);
    }

    public static (double Lon, double Lat) Bd09ToGcj02(double lon, double lat)
    {
        double x = lon - 0.0065;
        double y = lat - 0.006;
        double z = Math.Sqrt((x * x) + (y * y)) - (0.00002 * Math.Sin(y * XPi));
        double theta = Math.Atan2(y, x) - (0.000003 * Math.Cos(x * XPi));
        return (z * Math.Cos(theta), z * Math.Sin(theta));
    }

    public static (double Lon, double Lat) Wgs84ToBd09(double lon, double lat)
    {
        var (gLon, gLat) = Wgs84ToGcj02(lon, lat);
        return Gcj02ToBd09(gLon, gLat);
    }

    public static (double Lon, double Lat) Bd09ToWgs84(double lon, double lat)
    {
        var (gLon, gLat) = Bd09ToGcj02(lon, lat);
        return Gcj02ToWgs84(gLon, gLat);
    }

    /// <summary>Returns a transformed copy of <paramref name="geometry"/> with every coordinate converted to WGS-84.</summary>
    public static Geometry ToWgs84(Geometry geometry, Datum from)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        var copy = geometry.Copy();
        if (from == Datum.Wgs84)
        {
            return copy;
        }

        copy.Apply(new CoordinateFilter((lon, lat) => ToWgs84(lon, lat, from)));
        copy.GeometryChanged();
        return copy;
    }

    /// <summary>Returns a transformed copy of a WGS-84 <paramref name="geometry"/> in the datum <paramref name="to"/>.</summary>
    public static Geometry FromWgs84(Geometry geometry, Datum to)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        var copy = geometry.Copy();
        if (to == Datum.Wgs84)
        {
            return copy;
        }

        copy.Apply(new CoordinateFilter((lon, lat) => FromWgs84(lon, lat, to)));
        copy.GeometryChanged();
        return copy;
    }

    private static (double DLon, double DLat) Delta(double lon, double lat)
    {
        double dLat = TransformLat(lon - 105.0, lat - 35.0);
        double dLon = TransformLon(lon - 105.0, lat - 35.0);
        double radLat = lat / 180.0 * Math.PI;
        double magic = Math.Sin(radLat);
        magic = 1 - (KrasovskyEe * magic * magic);
        double sqrtMagic = Math.Sqrt(magic);
        dLat = dLat * 180.0 / (KrasovskyA * (1 - KrasovskyEe) / (magic * sqrtMagic) * Math.PI);
        dLon = dLon * 180.0 / (KrasovskyA / sqrtMagic * Math.Cos(radLat) * Math.PI);
        return (dLon, dLat);
    }

    private static double TransformLat(double x, double y)
    {
        double ret = -100.0 + (2.0 * x) + (3.0 * y) + (0.2 * y * y) + (0.1 * x * y) + (0.2 * Math.Sqrt(Math.Abs(x)));
        ret += ((20.0 * Math.Sin(6.0 * x * Math.PI)) + (20.0 * Math.Sin(2.0 * x * Math.PI))) * 2.0 / 3.0;
        ret += ((20.0 * Math.Sin(y * Math.PI)) + (40.0 * Math.Sin(y / 3.0 * Math.PI))) * 2.0 / 3.0;
        ret += ((160.0 * Math.Sin(y / 12.0 * Math.PI)) + (320.0 * Math.Sin(y * Math.PI / 30.0))) * 2.0 / 3.0;
        return ret;
    }

    private static double TransformLon(double x, double y)
    {
        double ret = 300.0 + x + (2.0 * y) + (0.1 * x * x) + (0.1 * x * y) + (0.1 * Math.Sqrt(Math.Abs(x)));
        ret += ((20.0 * Math.Sin(6.0 * x * Math.PI)) + (20.0 * Math.Sin(2.0 * x * Math.PI))) * 2.0 / 3.0;
        ret += ((20.0 * Math.Sin(x * Math.PI)) + (40.0 * Math.Sin(x / 3.0 * Math.PI))) * 2.0 / 3.0;
        ret += ((150.0 * Math.Sin(x / 12.0 * Math.PI)) + (300.0 * Math.Sin(x / 30.0 * Math.PI))) * 2.0 / 3.0;
        return ret;
    }
}
