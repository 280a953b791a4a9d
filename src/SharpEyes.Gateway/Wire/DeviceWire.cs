using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Domain;

namespace SharpEyes.Gateway.Wire;

/// <summary>
/// Devices between the domain (<see cref="DeviceRecord"/>, <see cref="DeviceEntry"/>) and the contract
/// (<see cref="V1.Device"/>): answers and feed events (<see cref="Snapshot"/>, with live status), and the stored
/// encoding of a registration (<see cref="ToWire(DeviceRecord)"/>, no live state), unchanged from earlier versions.
/// </summary>
public static class DeviceWire
{
    /// <summary>The registration as the contract's message, without live state (the stored encoding).</summary>
    public static V1.Device ToWire(this DeviceRecord d) => new()
    {
        DeviceId = d.DeviceId,
        Kind = d.Kind,
        Name = d.Name,
        VendorId = d.VendorId,
        Model = d.Model,
        Position = d.Position.ToWire(),
        Camera = d.Camera?.ToWire(),
        Region = d.Region.ToWire(),
        RegionCode = d.RegionCode,
        RegisteredAt = d.RegisteredAt.ToWireUnlessDefault(),
        UpdatedAt = d.UpdatedAt.ToWireUnlessDefault(),
        HasRtspCredentials = d.HasRtspCredentials,
    };

    public static DeviceRecord ToDomain(this V1.Device d) => new(
        d.DeviceId, d.Kind, d.Name, d.VendorId, d.Model, d.Position.ToDomain(), d.Camera?.ToDomain(), d.Region.ToDomain(), d.RegionCode,
        d.RegisteredAt.ToDomainOrDefault(), d.UpdatedAt.ToDomainOrDefault(), d.HasRtspCredentials);

    public static V1.CameraSpec ToWire(this CameraView c)
    {
        var wire = new V1.CameraSpec
        {
            AzimuthDeg = c.AzimuthDeg,
            HfovDeg = c.HfovDeg,
            RangeM = c.RangeM,
            Lens = c.Lens is { } l ? new V1.Lens { FocalLengthMm = l.FocalLengthMm, SensorWidthMm = l.SensorWidthMm, HorizontalPixels = l.HorizontalPixels } : null,
            Ptz = c.Ptz,
            MountHeightM = c.MountHeightM,
            ResolutionWidth = c.ResolutionWidth,
            ResolutionHeight = c.ResolutionHeight,
            RtspUrl = c.RtspUrl,
        };
        wire.Streams.AddRange(c.Streams.Select(ToWire));
        return wire;
    }

    /// <summary>A camera spec as stored or as validated (the input-only credential fields are not part of the view).</summary>
    public static CameraView ToDomain(this V1.CameraSpec c) => new(
        c.AzimuthDeg, c.HfovDeg, c.RangeM, c.Lens is { } l ? new LensSpec(l.FocalLengthMm, l.SensorWidthMm, l.HorizontalPixels) : null,
        c.Ptz, c.MountHeightM, c.ResolutionWidth, c.ResolutionHeight, c.RtspUrl, c.Streams.Select(ToDomain).ToValueList());

    public static V1.StreamProfile ToWire(this StreamDeclaration s) => new()
    {
        Role = s.Role,
        Codec = s.Codec,
        Width = s.Width,
        Height = s.Height,
        FrameRate = s.FrameRate,
        BitrateKbps = s.BitrateKbps,
        RtspUrl = s.RtspUrl,
    };

    public static StreamDeclaration ToDomain(this V1.StreamProfile s) => new(s.Role, s.Codec, s.Width, s.Height, s.FrameRate, s.BitrateKbps, s.RtspUrl);

    /// <summary>The device as answered over the API and in the feed: the registration plus live status, faults and last-seen time.</summary>
    public static V1.Device Snapshot(this DeviceEntry entry)
    {
        var d = entry.Device.ToWire();
        d.Status = entry.Status;
        var health = entry.Health;
        d.Faulty = health.Faults.Count > 0;
        d.Faults.Add(health.Faults);
        if (entry.LastSeenMs > 0)
        {
            d.LastSeenAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(entry.LastSeenMs));
        }

        return d;
    }
}
