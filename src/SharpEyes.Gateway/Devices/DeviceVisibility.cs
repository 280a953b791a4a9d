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

    /// <summary>The device, or NOT_FOUND "device_id: X is not registered" when it is missing or not the caller's to see.</summary>
    public static DeviceEntry FindFor(this DeviceCatalog catalog, string deviceId, Principal caller)
    {
        if (string.IsNullOrEmpty(deviceId))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "device_id: required"));
        }

        var entry = catalog.Find(deviceId);
        return entry is not null && caller.Sees(entry) ? entry : throw NotRegistered(deviceId);
    }

    public static RpcException NotRegistered(string deviceId) =>
        new(new Status(StatusCode.NotFound, $"device_id: {deviceId} is not registered"));
}
