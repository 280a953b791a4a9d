using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Streams;
using SharpEyes.Geo.Optics;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Devices;

/// <summary>
/// A registration turned into the canonical stored form: WGS-84 position, derived FOV and range, credentials split off.
/// <see cref="Given"/> holds the credentials the request carried (a URL without any keeps the stored ones on the same
/// host: <see cref="RtspSecrets.Resolve"/>).
/// </summary>
public sealed record ValidatedDevice(DeviceRecord Device, RtspSecrets Given)
{
    /// <summary>UpdateDevice: credential fields named in the update mask, applied after the keep-or-replace rule.</summary>
    public CredentialEdits? Edits { get; init; }

    /// <summary>UpdateDevice: the stored version the update was built on; a device changed since is not overwritten (ABORTED).</summary>
    public DateTimeOffset? ExpectedUpdatedAt { get; init; }
}

/// <summary>Validates <see cref="RegisterDeviceRequest"/>s; every failure names the field (<see cref="FieldException"/>).</summary>
public sealed class DeviceValidator(GeographyState geography, IOptions<GatewayOptions> options)
{
    public const double MaxRangeM = 5000;
    private readonly DoriLevel _doriLevel = options.Value.RangeDoriLevel;

    public ValidatedDevice Validate(RegisterDeviceRequest r, Principal caller)
    {
        if (r.Kind == DeviceKind.Unspecified || !System.Enum.IsDefined(r.Kind))
        {
            throw new FieldException("kind", "required: DEVICE_KIND_CAMERA or DEVICE_KIND_ALARM_DEVICE");
        }

        var idProblem = GbDeviceId.Check(r.DeviceId, r.Kind, geography.IsKnownCounty);
        if (idProblem is not null)
        {
            throw new FieldException("device_id", idProblem);
        }

        var vendorId = caller.Role == Role.Vendor ? caller.VendorId! : r.VendorId;
        if (caller.Role != Role.Vendor)
        {
            if (string.IsNullOrEmpty(vendorId) || !ApiKeyStore.VendorIdPattern().IsMatch(vendorId))
            {
                throw new FieldException("vendor_id", "required when registering with an admin key: [a-z0-9][a-z0-9_-]{1,63}");
            }
        }
        else if (!string.IsNullOrEmpty(r.VendorId) && r.VendorId != vendorId)
        {
            throw new FieldException("vendor_id", "a vendor key registers only its own devices; leave vendor_id empty");
        }

        Text("name", r.Name, required: true, max: 128);
        Text("model", r.Model, required: false, max: 128);
        var (lon, lat) = Position("position", r.Position);

        var given = new RtspSecrets(null, []);
        CameraView? camera = null;
        if (r.Kind == DeviceKind.Camera)
        {
            if (r.Camera is null)
            {
                throw new FieldException("camera", "required for cameras: azimuth_deg and hfov_deg + range_m (or lens)");
            }

            (camera, given) = Camera(r.Camera);
        }
        else if (r.Camera is not null)
        {
            throw new FieldException("camera", "only cameras have a camera spec");
        }

        var region = geography.Locate(lon, lat);
        var device = new DeviceRecord(r.DeviceId, r.Kind, r.Name.Trim(), vendorId, r.Model.Trim(), new GeoPosition(lon, lat), camera,
            region, GbDeviceId.RegionCode(region, r.DeviceId));
        return new ValidatedDevice(device, given);
    }

    /// <summary>Validates a position and converts it to WGS-84; <paramref name="field"/> "" when the position is the request itself (errors then name lon, lat and datum).</summary>
    public static (double Lon, double Lat) Position(string field, GeoPoint? p)
    {
        string Path(string member) => field.Length == 0 ? member : field + "." + member;
        if (p is null)
        {
            throw new FieldException(field, "required: lon, lat and datum");
        }

        if (!double.IsFinite(p.Lon) || p.Lon < -180 || p.Lon > 180)
        {
            throw new FieldException(Path("lon"), $"must be in [-180, 180], got {p.Lon}");
        }

        if (!double.IsFinite(p.Lat) || p.Lat < -90 || p.Lat > 90)
        {
            throw new FieldException(Path("lat"), $"must be in [-90, 90], got {p.Lat}");
        }

        if (p.Lon == 0 && p.Lat == 0)
        {
            throw new FieldException(field.Length == 0 ? "lon, lat" : field, "0,0 is not a real position (a device that does not know where it is)");
        }

        if (!System.Enum.IsDefined(p.Datum))
        {
            throw new FieldException(Path("datum"), $"unknown datum {(int)p.Datum}");
        }

        return GeoConvert.ToWgs84(p.Lon, p.Lat, p.Datum);
    }

    private (CameraView View, RtspSecrets Given) Camera(CameraSpec c)
    {
        Range("camera.azimuth_deg", c.AzimuthDeg, 0, 360, lowOpen: false);
        LensSpec? lens = null;
        if (c.Lens is not null)
        {
            Range("camera.lens.focal_length_mm", c.Lens.FocalLengthMm, 0, 1000, lowOpen: true);
            Range("camera.lens.sensor_width_mm", c.Lens.SensorWidthMm, 0, 100, lowOpen: true);
            Range("camera.lens.horizontal_pixels", c.Lens.HorizontalPixels, 0, 20_000, lowOpen: true);
            lens = new LensSpec(c.Lens.FocalLengthMm, c.Lens.SensorWidthMm, c.Lens.HorizontalPixels);
        }

        double hfov, range;
        if (c.HfovDeg != 0 || c.RangeM != 0 || c.Lens is null)
        {
            Range("camera.hfov_deg", c.HfovDeg, 0, 360, lowOpen: true);
            Range("camera.range_m", c.RangeM, 0, MaxRangeM, lowOpen: true);
            (hfov, range) = (c.HfovDeg, c.RangeM);
        }
        else
        {
            hfov = Dori.HorizontalFovDegrees(c.Lens.FocalLengthMm, c.Lens.SensorWidthMm);
            range = Math.Min(MaxRangeM, Dori.MaxDistanceMeters(c.Lens.FocalLengthMm, c.Lens.SensorWidthMm, c.Lens.HorizontalPixels, _doriLevel));
        }

        Range("camera.mount_height_m", c.MountHeightM, 0, 500, lowOpen: false);
        if ((c.ResolutionWidth == 0) != (c.ResolutionHeight == 0))
        {
            throw new FieldException(c.ResolutionWidth == 0 ? "camera.resolution_width" : "camera.resolution_height",
                "give both resolution_width and resolution_height, or neither");
        }

        Range("camera.resolution_width", c.ResolutionWidth, 0, 16_384, lowOpen: false);
        Range("camera.resolution_height", c.ResolutionHeight, 0, 16_384, lowOpen: false);

        UrlCredentials? main = null;
        var url = "";
        if (!string.IsNullOrEmpty(c.RtspUrl))
        {
            var stripped = RtspUrl("camera.rtsp_url", c.RtspUrl);
            url = stripped.Url;
            // The credential fields win over the URL's userinfo.
            var found = stripped.Found with
            {
                User = c.RtspUsername.Length > 0 ? c.RtspUsername : stripped.Found.User,
                Password = c.RtspPassword.Length > 0 ? c.RtspPassword : stripped.Found.Password,
            };
            main = found.IsEmpty ? null : found;
        }
        else if (c.RtspUsername.Length > 0 || c.RtspPassword.Length > 0)
        {
            throw new FieldException("camera.rtsp_url", "required when RTSP credentials are given");
        }

        var (streams, credentials, width, height) = Streams(c);
        var view = new CameraView(c.AzimuthDeg % 360, hfov, range, lens, c.Ptz, c.MountHeightM, width, height, url, streams);
        return (view, new RtspSecrets(main, credentials));
    }

    /// <summary>An absolute rtsp:// or rtsps:// URL with a host, its credentials stripped off.</summary>
    private static RtspCredentials.Stripped RtspUrl(string field, string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "rtsp" && uri.Scheme != "rtsps") || uri.Host.Length == 0)
        {
            throw new FieldException(field, "must be an absolute rtsp:// or rtsps:// URL with a host");
        }

        var stripped = RtspCredentials.Strip(uri);
        return stripped.CredentialInPath is { } name
            ? throw new FieldException(field, $"a credential parameter ('{name}=') in the path cannot be kept secret: give the credentials in the query string, as userinfo or in rtsp_username/rtsp_password")
            : stripped;
    }

    /// <summary>
    /// Declared stream profiles: one per role, a known codec, a real size and rate. The main stream's size is the
    /// camera's declared resolution. Answers the credentials stripped from the streams' own URLs, by role.
    /// </summary>
    private static (ValueList<StreamDeclaration> Streams, List<StreamCredentials> Credentials, int Width, int Height) Streams(CameraSpec c)
    {
        var roles = new HashSet<StreamRole>();
        var credentials = new List<StreamCredentials>();
        var declared = new List<StreamDeclaration>(c.Streams.Count);
        var (width, height) = (c.ResolutionWidth, c.ResolutionHeight);
        for (var i = 0; i < c.Streams.Count; i++)
        {
            var s = c.Streams[i];
            var field = $"camera.streams[{i}]";
            if (s.Role == StreamRole.Unspecified || !System.Enum.IsDefined(s.Role))
            {
                throw new FieldException(field + ".role", "must be MAIN, SUB or THIRD");
            }

            if (!roles.Add(s.Role))
            {
                throw new FieldException(field + ".role", $"{s.Role} is declared twice");
            }

            var codec = StreamCodecs.Normalize(s.Codec)
                ?? throw new FieldException(field + ".codec", $"'{LogText.Client(s.Codec, 32)}' is not a known codec ({string.Join(", ", StreamCodecs.Known)})");
            Range(field + ".width", s.Width, 16, 16_384, lowOpen: false);
            Range(field + ".height", s.Height, 16, 16_384, lowOpen: false);
            Range(field + ".frame_rate", s.FrameRate, 0, 240, lowOpen: true);
            Range(field + ".bitrate_kbps", s.BitrateKbps, 0, 200_000, lowOpen: false);
            var url = "";
            if (s.RtspUrl.Length > 0)
            {
                var stripped = RtspUrl(field + ".rtsp_url", s.RtspUrl);
                url = stripped.Url;
                if (!stripped.Found.IsEmpty)
                {
                    credentials.Add(new StreamCredentials(s.Role, stripped.Found));
                }
            }

            declared.Add(new StreamDeclaration(s.Role, codec, s.Width, s.Height, s.FrameRate, s.BitrateKbps, url));
            if (s.Role == StreamRole.Main)
            {
                if (height == 0)
                {
                    (width, height) = (s.Width, s.Height);
                }
                else if (width != s.Width || height != s.Height)
                {
                    throw new FieldException(field + ".width",
                        $"main stream {s.Width}x{s.Height} differs from camera.resolution {width}x{height}");
                }
            }
        }

        return ([.. declared], credentials, width, height);
    }

    private static void Text(string field, string value, bool required, int max)
    {
        if (required && string.IsNullOrWhiteSpace(value))
        {
            throw new FieldException(field, "required");
        }

        if (value.Length > max)
        {
            throw new FieldException(field, $"at most {max} characters, got {value.Length}");
        }
    }

    private static void Range(string field, double value, double low, double high, bool lowOpen)
    {
        if (!double.IsFinite(value) || value > high || value < low || (lowOpen && value <= low))
        {
            throw new FieldException(field, $"must be in {(lowOpen ? "(" : "[")}{low}, {high}], got {value}");
        }
    }
}
