using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>Devices inside the demo county (高邑县, 130127), positions in WGS-84.</summary>
public static class TestDevices
{
    /// <summary>A point near the middle of the county (in the demo partition it falls in township 130127103).</summary>
    public const double SeatLon = 114.6030;
    public const double SeatLat = 37.6060;

    public static string CameraId(int serial, string type = "132") => $"1301270000{type}0{serial:D6}";

    public static string AlarmId(int serial) => $"13012700001340{serial:D6}";

    public static RegisterDeviceRequest Camera(int serial, double lon = SeatLon, double lat = SeatLat, double azimuth = 90, double hfov = 90, double range = 60) => new()
    {
        DeviceId = CameraId(serial),
        Kind = DeviceKind.Camera,
        Name = $"测试摄像机 {serial}",
        Model = "DS-2CD",
        Position = new GeoPoint { Lon = lon, Lat = lat, Datum = Datum.Wgs84 },
        Camera = new CameraSpec
        {
            AzimuthDeg = azimuth,
            HfovDeg = hfov,
            RangeM = range,
            MountHeightM = 6,
            ResolutionWidth = 1920,
            ResolutionHeight = 1080,
            RtspUrl = $"rtsp://admin:s3cr3t-pw@127.0.0.1:8554/cam{serial}",
        },
    };

    public static RegisterDeviceRequest Alarm(int serial, double lon = SeatLon, double lat = SeatLat) => new()
    {
        DeviceId = AlarmId(serial),
        Kind = DeviceKind.AlarmDevice,
        Name = $"一键报警 {serial}",
        Model = "PB-1",
        Position = new GeoPoint { Lon = lon, Lat = lat, Datum = Datum.Wgs84 },
    };

    /// <summary>An RFC 3339 time with its offset, as vendors send <c>occurredAt</c>.</summary>
    public static string Rfc3339(DateTimeOffset time) => time.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", System.Globalization.CultureInfo.InvariantCulture);

    public static string AlarmJson(string eventId, int priority = 2, int method = 5, int type = 6, string occurredAt = "2026-11-22T16:00:00+08:00", string? position = null) =>
        $$"""{"eventId":"{{eventId}}","occurredAt":"{{occurredAt}}","priority":{{priority}},"method":{{method}},"type":{{type}},"description":"test"{{(position is null ? "" : ",\"position\":" + position)}}}""";
}
