using Google.Protobuf.WellKnownTypes;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Streams;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Devices;

/// <summary>
/// UpdateDevice (AIP-134): checks the update mask and applies the named fields to the stored device, giving a full
/// registration request that goes through the same <see cref="DeviceValidator"/> as any registration. Credential fields
/// are not merged: they become <see cref="CredentialEdits"/>, so that an empty value clears (in a registration an empty
/// value means "none given", which keeps the stored credentials).
/// </summary>
public static class DeviceUpdate
{
    private const string Mask = "update_mask";
    private const string RtspUsername = "camera.rtsp_username";
    private const string RtspPassword = "camera.rtsp_password";

    /// <summary>Fields the gateway sets; naming one is an error rather than silently ignored.</summary>
    private static readonly HashSet<string> OutputOnly = new(StringComparer.Ordinal)
    {
        "vendor_id", "status", "region", "region_code", "registered_at", "updated_at", "last_seen_at", "has_rtsp_credentials", "faulty", "faults",
    };

    private static readonly FieldMask.MergeOptions Replace = new() { ReplaceMessageFields = true, ReplaceRepeatedFields = true, ReplacePrimitiveFields = true };

    /// <summary>Checks the mask on its own (before the device is looked up): every path a field that may change.</summary>
    public static void CheckMask(FieldMask? mask)
    {
        if (mask is null || mask.Paths.Count == 0)
        {
            throw new FieldException(Mask, "required: name the fields to change, e.g. camera.azimuth_deg");
        }

        foreach (var path in mask.Paths)
        {
            var top = path.Split('.', 2)[0];
            if (OutputOnly.Contains(top))
            {
                throw new FieldException(Mask, $"'{path}' is output only");
            }

            if (top is "device_id" or "kind")
            {
                throw new FieldException(Mask, top == "kind"
                    ? "'kind' cannot be changed (deregister the device and register it again)"
                    : "'device_id' names the device to change and cannot be changed");
            }

            if (!FieldMask.IsValid(Device.Descriptor, path))
            {
                throw new FieldException(Mask, $"unknown path '{LogText.Client(path)}'");
            }

            if (top == "position" && path != "position")
            {
                throw new FieldException(Mask, $"'{path}': name 'position' as a whole (lon, lat and datum go together)");
            }
        }
    }

    /// <summary>
    /// The stored device with the named fields of <paramref name="patch"/>, as a registration request (vendor, id and
    /// kind as stored), and the credential fields the mask names.
    /// </summary>
    public static (RegisterDeviceRequest Request, CredentialEdits? Edits) Merge(Device stored, Device patch, FieldMask mask)
    {
        var paths = mask.Paths.ToHashSet(StringComparer.Ordinal);
        var merged = stored.Clone();
        var fields = new FieldMask();
        fields.Paths.Add(paths.Where(p => p is not (RtspUsername or RtspPassword)));
        fields.Merge(patch, merged, Replace);

        var camera = merged.Camera;
        if (camera is not null && !paths.Contains("camera"))
        {
            // A new lens derives field of view and range again, unless they are given too.
            if (paths.Any(p => p.StartsWith("camera.lens", StringComparison.Ordinal)) && !paths.Contains("camera.hfov_deg") && !paths.Contains("camera.range_m") && camera.Lens is not null)
            {
                camera.HfovDeg = 0;
                camera.RangeM = 0;
            }

            // New streams bring their main stream's size, where the old resolution was the old main stream's.
            var oldMain = stored.Camera?.Streams.FirstOrDefault(s => s.Role == StreamRole.Main);
            if (paths.Contains("camera.streams") && !paths.Contains("camera.resolution_width") && !paths.Contains("camera.resolution_height")
                && oldMain is not null && oldMain.Width == stored.Camera!.ResolutionWidth && oldMain.Height == stored.Camera.ResolutionHeight)
            {
                camera.ResolutionWidth = 0;
                camera.ResolutionHeight = 0;
            }
        }

        CredentialEdits? edits = null;
        if (paths.Contains(RtspUsername) || paths.Contains(RtspPassword))
        {
            edits = new CredentialEdits(
                paths.Contains(RtspUsername) ? patch.Camera?.RtspUsername ?? "" : null,
                paths.Contains(RtspPassword) ? patch.Camera?.RtspPassword ?? "" : null);
            if ((edits.User is { Length: > 0 } || edits.Password is { Length: > 0 }) && string.IsNullOrEmpty(camera?.RtspUrl))
            {
                throw new FieldException("camera.rtsp_url", "required when RTSP credentials are given");
            }
        }

        return (new RegisterDeviceRequest
        {
            DeviceId = stored.DeviceId,
            Kind = stored.Kind,
            Name = merged.Name,
            Model = merged.Model,
            Position = merged.Position,
            Camera = merged.Camera,
            VendorId = stored.VendorId,
        }, edits);
    }
}
