using Grpc.Core;
using SharpEyes.V1;

namespace SharpEyes.Bench.Coverage;

/// <summary>The synthetic county's cameras as registrations, and keeping them online: shared by the coverage and console benches.</summary>
public static class CountyDevices
{
    public static async Task HeartbeatAllAsync(DeviceRegistry.DeviceRegistryClient registry, Metadata auth, List<string> ids, CancellationToken ct)
    {
        foreach (var chunk in ids.Chunk(10_000))
        {
            await registry.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { chunk } }, auth, DateTime.UtcNow.AddSeconds(60), ct);
        }
    }

    public static RegisterDeviceRequest ToRequest(SyntheticCamera c) => new()
    {
        DeviceId = c.Id,
        Kind = DeviceKind.Camera,
        Name = "bench coverage camera " + c.Id[^6..],
        Model = "bench-ipc",
        Position = new GeoPoint { Lon = c.Lon, Lat = c.Lat, Datum = Datum.Wgs84 },
        Camera = new CameraSpec
        {
            AzimuthDeg = c.AzimuthDeg,
            HfovDeg = c.HfovDeg,
            RangeM = c.RangeM,
            Ptz = c.Ptz,
            MountHeightM = 6,
            ResolutionWidth = 1920,
            ResolutionHeight = 1080,
        },
    };
}
