namespace SharpEyes.Geo.Datums;

/// <summary>The geodetic datums devices and map vendors send in China.</summary>
public enum Datum
{
    /// <summary>WGS-84, GPS; the gateway's canonical storage datum.</summary>
    Wgs84,

    /// <summary>GCJ-02 ("Mars coordinates"), used by Chinese maps (Amap/Gaode, Tencent, DataV).</summary>
    Gcj02,

    /// <summary>BD-09, Baidu's further offset of GCJ-02.</summary>
    Bd09,
}
