using SharpEyes.V1;
using RegionCodes = SharpEyes.Geo.Regions.RegionCodes;

namespace SharpEyes.Gateway.Domain;

/// <summary>
/// A device's registration as stored: its GB/T 28181 id and kind, names, owning vendor, position (WGS-84), camera view
/// (cameras only), where it is (region codes, and the region code filters match: the grid, else the id's county), when
/// it was first registered and last changed, and whether RTSP credentials are stored for it (never the credentials:
/// Streams/RtspCredentials.cs). Its live state (status, last seen, stream health) is the catalog's
/// (Devices/DeviceCatalog.cs, DeviceEntry). The kind and role enums are the contract's plain enums.
/// </summary>
public sealed record DeviceRecord(
    string DeviceId,
    DeviceKind Kind,
    string Name,
    string VendorId,
    string Model,
    GeoPosition Position,
    CameraView? Camera,
    RegionCodes Region,
    string RegionCode,
    DateTimeOffset RegisteredAt = default,
    DateTimeOffset UpdatedAt = default,
    bool HasRtspCredentials = false);

/// <summary>
/// A camera's view and declared streams: the wedge (azimuth clockwise from north, opening, range in metres; a PTZ
/// camera's full circle counts for potential coverage), the lens it may have been derived from, mount height, declared
/// main-stream resolution, the main stream's URL without credentials, and the declared stream profiles.
/// </summary>
public sealed record CameraView(
    double AzimuthDeg,
    double HfovDeg,
    double RangeM,
    LensSpec? Lens,
    bool Ptz,
    double MountHeightM,
    int ResolutionWidth,
    int ResolutionHeight,
    string RtspUrl,
    ValueList<StreamDeclaration> Streams);

/// <summary>Lens data: focal length and sensor width in millimetres, sensor pixels across.</summary>
public sealed record LensSpec(double FocalLengthMm, double SensorWidthMm, int HorizontalPixels);

/// <summary>One encoder stream as the vendor declared it (its codec normalised, its URL without credentials).</summary>
public sealed record StreamDeclaration(StreamRole Role, string Codec, int Width, int Height, double FrameRate, int BitrateKbps, string RtspUrl);
