using SharpEyes.Bench.Mqtt;
using SharpEyes.V1;

namespace SharpEyes.Bench.Gateway;

/// <summary>
/// Deterministic registrations inside the 高邑县 demo county (WGS-84 lon 114.55–114.65, lat 37.57–37.64): every
/// <c>alarmEvery</c>-th device is an alarm input device (type 134), the rest are IPCs (type 132) with a wedge.
/// Alarm device serials run 0, 1, 2, ... in stream order, so the first ones are those the alarm phases publish for.
/// Camera serials start at <see cref="CameraSerialOffset"/>: --demo registers its own cameras (vendor demo-vendor,
/// serials from 1), and a bench camera with the same id would be rejected as another vendor's.
/// </summary>
public static class DeviceFixtures
{
    /// <summary>Bench camera serials start here, above the demo cameras' (1, 2, ... in GaoyiDemoCameras).</summary>
    public const int CameraSerialOffset = 100_000;

    public static List<RegisterDeviceRequest> Build(int total, int alarmEvery, int seed = 1301_27, int serialBase = 0)
    {
        var random = new Random(seed);
        var list = new List<RegisterDeviceRequest>(total);
        int alarms = 0, cameras = 0;
        for (var i = 0; i < total; i++)
        {
            var position = new GeoPoint
            {
                Lon = Math.Round(114.55 + (random.NextDouble() * 0.10), 7),
                Lat = Math.Round(37.57 + (random.NextDouble() * 0.07), 7),
                Datum = Datum.Wgs84,
            };
            if (i % alarmEvery == 0)
            {
                list.Add(new RegisterDeviceRequest
                {
                    DeviceId = AlarmMessages.AlarmDeviceId(serialBase + alarms),
                    Kind = DeviceKind.AlarmDevice,
                    Name = $"bench alarm input {alarms}",
                    Model = "bench-pir",
                    Position = position,
                });
                alarms++;
            }
            else
            {
                list.Add(new RegisterDeviceRequest
                {
                    DeviceId = AlarmMessages.CameraId(serialBase + CameraSerialOffset + cameras),
                    Kind = DeviceKind.Camera,
                    Name = $"bench camera {cameras}",
                    Model = "bench-ipc",
                    Position = position,
                    Camera = new CameraSpec
                    {
                        AzimuthDeg = Math.Round(random.NextDouble() * 359.9, 1),
                        HfovDeg = 60 + random.Next(0, 31),
                        RangeM = 30 + random.Next(0, 51),
                        MountHeightM = 6,
                        ResolutionWidth = 1920,
                        ResolutionHeight = 1080,
                    },
                });
                cameras++;
            }
        }

        return list;
    }
}
