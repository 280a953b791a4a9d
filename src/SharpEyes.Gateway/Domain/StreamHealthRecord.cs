namespace SharpEyes.Gateway.Domain;

/// <summary>
/// A camera's stream health as the gateway measured it (Streams/StreamHealthMonitor.cs): its faults now (no-signal,
/// black, frozen, low-detail; alphabetical) and since when, the last ffprobe measurement and where it differs from the
/// declared main stream, the last DESCRIBE, probe, frame grab and picture check, and the failure counters. A new RTSP
/// URL or new credentials start it afresh (<see cref="New"/>). What the API adds to it (name, status, HD) is the view's.
/// </summary>
public sealed record StreamHealthRecord(
    string DeviceId,
    ValueList<string> Faults,
    DateTimeOffset? FaultySince,
    StreamMeasurement? Measured,
    ValueList<StreamDifference> Mismatches,
    CheckResult? LastLiveness,
    CheckResult? LastProbe,
    CheckResult? LastGrab,
    PictureCheck? LastQuality,
    int ConsecutiveFailures,
    int ConsecutiveProbeFailures)
{
    /// <summary>A camera never checked (or checked only on an earlier URL).</summary>
    public static StreamHealthRecord New(string deviceId) => new(deviceId, [], null, null, [], null, null, null, null, 0, 0);

    public bool Faulty => Faults.Count > 0;
}

/// <summary>What ffprobe measured on the main stream: codec, size, average frame rate (0: unknown), bit rate (0: not said), how long the probe took, and when.</summary>
public sealed record StreamMeasurement(string Codec, int Width, int Height, double FrameRate, long BitrateBps, int ProbeMs, DateTimeOffset MeasuredAt);

/// <summary>The outcome of one check (DESCRIBE, probe or frame grab): when it ended, whether the stream answered, else why (a failure name and a text without credentials), and its wall time.</summary>
public sealed record CheckResult(DateTimeOffset At, bool Ok, string Failure, string Detail, int ElapsedMs);

/// <summary>The picture check of one frame grab: its faults, and the measures they come from (luma, dark share, detail, motion) over its frames.</summary>
public sealed record PictureCheck(
    DateTimeOffset At, bool Ok, ValueList<string> Faults, double MeanLuma, double DarkFraction, double Detail, double Motion, int Frames, int ElapsedMs);

/// <summary>A field (codec, resolution, frame_rate) where the measured main stream differs from the declared one, and the measurement that first found it.</summary>
public sealed record StreamDifference(string Field, string Declared, string Measured, DateTimeOffset Since);
