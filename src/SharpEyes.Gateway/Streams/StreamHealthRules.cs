using System.Globalization;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Streams;

/// <summary>Why a device went online or offline (FeedEvent.reason).</summary>
public static class StatusReasons
{
    public const string Heartbeat = "heartbeat";
    public const string Alarm = "alarm";
    public const string Stream = "stream";
    public const string KeepaliveTimeout = "keepalive-timeout";
    public const string StreamUnreachable = "stream-unreachable";
}

/// <summary>The declared main stream, as far as the vendor said.</summary>
public sealed record DeclaredStream(string? Codec, int Width, int Height, double FrameRate);

/// <summary>
/// The rules that turn check outcomes into a camera's health: which faults it has, where the measured stream differs
/// from the declared one, and whether it is HD. Pure functions over the stored messages.
/// </summary>
public static class StreamHealthRules
{
    /// <summary>The declared main stream: the MAIN stream profile, else the camera's declared resolution.</summary>
    public static DeclaredStream? DeclaredMain(DeviceRecord device)
    {
        var c = device.Camera;
        if (c is null)
        {
            return null;
        }

        var main = c.Streams.FirstOrDefault(s => s.Role == StreamRole.Main);
        if (main is not null)
        {
            return new DeclaredStream(StreamCodecs.Normalize(main.Codec), main.Width, main.Height, main.FrameRate);
        }

        return c.ResolutionHeight > 0 ? new DeclaredStream(null, c.ResolutionWidth, c.ResolutionHeight, 0) : null;
    }

    /// <summary>
    /// Health after a (re-)registration: a new stream URL or new credentials make every earlier measurement about
    /// another stream, so it starts afresh; otherwise the mismatches are compared with the new declaration.
    /// </summary>
    public static StreamHealthRecord AfterRegistration(StreamHealthRecord old, DeviceRecord oldDevice, UrlCredentials? oldCredentials, DeviceRecord device, UrlCredentials? credentials)
    {
        if (oldDevice.Camera?.RtspUrl != device.Camera?.RtspUrl || oldCredentials != credentials)
        {
            return StreamHealthRecord.New(device.DeviceId);
        }

        return WithMismatches(old, device, old.Measured?.MeasuredAt ?? default);
    }

    /// <summary>The health with its mismatch list recomputed; a mismatch that persists keeps the time it was first seen.</summary>
    public static StreamHealthRecord WithMismatches(StreamHealthRecord health, DeviceRecord device, DateTimeOffset now)
    {
        var declared = DeclaredMain(device);
        var measured = health.Measured;
        if (declared is null || measured is null)
        {
            return health.Mismatches.Count == 0 ? health : health with { Mismatches = [] };
        }

        var previous = health.Mismatches.ToDictionary(m => m.Field, StringComparer.Ordinal);
        var mismatches = new List<StreamDifference>(3);
        void Add(string field, string d, string m) => mismatches.Add(new StreamDifference(field, d, m,
            previous.TryGetValue(field, out var p) && p.Declared == d && p.Measured == m ? p.Since : now));

        if (declared.Codec is not null && measured.Codec.Length > 0 && declared.Codec != measured.Codec)
        {
            Add("codec", declared.Codec, measured.Codec);
        }

        if (declared.Height > 0 && measured.Height > 0 && (declared.Width != measured.Width || declared.Height != measured.Height))
        {
            Add("resolution", $"{declared.Width}x{declared.Height}", $"{measured.Width}x{measured.Height}");
        }

        // Live streams wobble around their nominal rate; 10 % (at least 1 fps) is a real difference.
        if (declared.FrameRate > 0 && measured.FrameRate > 0 &&
            Math.Abs(declared.FrameRate - measured.FrameRate) > Math.Max(1.0, declared.FrameRate * 0.1))
        {
            Add("frame_rate", declared.FrameRate.ToString("0.###", CultureInfo.InvariantCulture), measured.FrameRate.ToString("0.###", CultureInfo.InvariantCulture));
        }

        return health with { Mismatches = [.. mismatches] };
    }

    /// <summary>
    /// The health with its faults from the counters and the last picture check: no-signal after
    /// <paramref name="failuresToFault"/> failed DESCRIBEs in a row, or as many failed probes or grabs in a row while
    /// DESCRIBE answers; black, frozen and low-detail from the last frame grab.
    /// </summary>
    public static StreamHealthRecord WithFaults(StreamHealthRecord health, int failuresToFault, DateTimeOffset now)
    {
        var faults = new SortedSet<string>(StringComparer.Ordinal);
        if (health.ConsecutiveFailures >= failuresToFault || health.ConsecutiveProbeFailures >= failuresToFault)
        {
            faults.Add(PictureFaults.NoSignal);
        }

        if (health.LastQuality is { Ok: false } q)
        {
            faults.UnionWith(q.Faults);
        }

        var was = health.Faulty;
        if (!faults.SetEquals(health.Faults))
        {
            health = health with { Faults = [.. faults] };
        }

        if (faults.Count == 0)
        {
            return health.FaultySince is null ? health : health with { FaultySince = null };
        }

        return was ? health : health with { FaultySince = now };
    }

    /// <summary>HD by the measured main stream where one was measured, else by the declared resolution.</summary>
    public static (bool Hd, bool Measured, bool DeclaredHd) Hd(DeviceEntry entry, int hdMinHeight)
    {
        var declaredHeight = DeclaredMain(entry.Device)?.Height ?? 0;
        var measured = entry.Health.Measured;
        var declaredHd = declaredHeight >= hdMinHeight;
        return measured is { Height: > 0 } ? (measured.Height >= hdMinHeight, true, declaredHd) : (declaredHd, false, declaredHd);
    }

    /// <summary>The camera's health as answered over the API and in the feed.</summary>
    public static CameraHealth View(DeviceEntry entry, int hdMinHeight, bool snapshotAvailable = false)
    {
        var h = entry.Health.ToWire();
        var d = entry.Device;
        h.DeviceId = d.DeviceId;
        h.Name = d.Name;
        h.RegionCode = d.RegionCode;
        h.Status = entry.Status;
        h.Faulty = h.Faults.Count > 0;
        h.Probed = !string.IsNullOrEmpty(d.Camera?.RtspUrl);
        h.Declared.Clear();
        if (d.Camera is not null)
        {
            h.Declared.Add(d.Camera.Streams.Select(s => s.ToWire()));
        }

        if (entry.LastSeenMs > 0)
        {
            h.LastSeenAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(entry.LastSeenMs));
        }

        if (entry.LastHeardMs > 0)
        {
            h.LastHeardAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(entry.LastHeardMs));
        }

        var (hd, measured, _) = Hd(entry, hdMinHeight);
        h.Hd = hd;
        h.HdSource = measured ? "measured" : "declared";
        h.SnapshotAvailable = snapshotAvailable;
        return h;
    }
}
