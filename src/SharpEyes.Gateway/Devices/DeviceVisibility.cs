using Grpc.Core;
using SharpEyes.Gateway.Auth;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Devices;

/// <summary>
/// Which devices a caller may see. A vendor sees only its own: another vendor's device is answered exactly like an
/// unregistered one (same status, same text), so no answer tells a vendor which foreign ids exist.
/// </summary>
public static class DeviceVisibility
{
    public static bool Sees(this Principal caller, DeviceEntry entry) => caller.Role != Role.Vendor || entry.VendorId == caller.VendorId;

    /// <summary>
    /// The device, or NOT_FOUND "device_id: X is not registered" when it is missing or not the caller's to see;
    /// <paramref name="field"/> is the request's field that named it (<c>device_ids[3]</c> in a list).
    /// </summary>
    public static DeviceEntry FindFor(this DeviceCatalog catalog, string deviceId, Principal caller, string field = "device_id")
    {
        if (string.IsNullOrEmpty(deviceId))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"{field}: required"));
        }

        var entry = catalog.Find(deviceId);
        return entry is not null && caller.Sees(entry) ? entry : throw NotRegistered(deviceId, field);
    }

    public static RpcException NotRegistered(string deviceId, string field = "device_id") =>
        new(new Status(StatusCode.NotFound, $"{field}: {deviceId} is not registered"));
}
