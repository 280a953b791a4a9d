using SharpEyes.V1;
using RegionCodes = SharpEyes.Geo.Regions.RegionCodes;

namespace SharpEyes.Gateway.Devices;

/// <summary>GB/T 28181 20-digit device codes: centre code (1–8), industry (9–10), type (11–13), network (14), serial (15–20).</summary>
public static class GbDeviceId
{
    /// <summary>Type codes accepted per kind: 131 camera and 132 IPC; 134 alarm input and 117 alarm controller.</summary>
    public static readonly IReadOnlyDictionary<DeviceKind, int[]> TypeCodes = new Dictionary<DeviceKind, int[]>
    {
        [DeviceKind.Camera] = [131, 132],
        [DeviceKind.AlarmDevice] = [134, 117],
    };

    public static string CountyCode(string id) => id[..6];

    /// <summary>A device's region code: the grid containing it, else (outside every grid) its ID's county code.</summary>
    public static string RegionCode(RegionCodes region, string id) => region.GridCode.Length > 0 ? region.GridCode : CountyCode(id);

    public static int TypeCode(string id) => (id[10] - '0') * 100 + (id[11] - '0') * 10 + (id[12] - '0');

    /// <summary>Null when valid; otherwise why not (without the field name).</summary>
    public static string? Check(string? id, DeviceKind kind, Func<string, bool> isKnownCounty)
    {
        if (string.IsNullOrEmpty(id))
        {
            return "required";
        }

        if (id.Length != 20 || !id.All(char.IsAsciiDigit))
        {
            return $"must be 20 digits (GB/T 28181), got {id.Length} characters";
        }

        if (!isKnownCounty(CountyCode(id)))
        {
            return $"county code {CountyCode(id)} (digits 1-6) is not a county this gateway serves";
        }

        var type = TypeCode(id);
        if (kind != DeviceKind.Unspecified && TypeCodes.TryGetValue(kind, out var allowed) && !allowed.Contains(type))
        {
            return $"type code {type:D3} (digits 11-13) does not fit kind {kind}; expected {string.Join(" or ", allowed)}";
        }

        return null;
    }

    /// <summary>Only the shape (20 digits); used for MQTT topics before the device is looked up.</summary>
    public static bool IsWellFormed(ReadOnlySpan<char> id)
    {
        if (id.Length != 20)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}
