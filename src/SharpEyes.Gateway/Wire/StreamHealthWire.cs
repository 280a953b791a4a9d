using SharpEyes.Gateway.Domain;

namespace SharpEyes.Gateway.Wire;

/// <summary>
/// Stream health between the domain (<see cref="StreamHealthRecord"/>) and the contract (<see cref="V1.CameraHealth"/>): the
/// measured part of an answer (the view adds the rest: Streams/StreamHealthRules.cs, View) and the stored encoding,
/// unchanged from earlier versions.
/// </summary>
public static class StreamHealthWire
{
    public static V1.CameraHealth ToWire(this StreamHealthRecord h)
    {
        var wire = new V1.CameraHealth
        {
            DeviceId = h.DeviceId,
            FaultySince = h.FaultySince.ToWire(),
            Measured = h.Measured?.ToWire(),
            LastLiveness = h.LastLiveness?.ToWire(),
            LastProbe = h.LastProbe?.ToWire(),
            LastGrab = h.LastGrab?.ToWire(),
            LastQuality = h.LastQuality?.ToWire(),
            ConsecutiveFailures = h.ConsecutiveFailures,
            ConsecutiveProbeFailures = h.ConsecutiveProbeFailures,
        };
        wire.Faults.AddRange(h.Faults);
        foreach (var m in h.Mismatches)
        {
            wire.Mismatches.Add(new V1.StreamMismatch { Field = m.Field, Declared = m.Declared, Measured = m.Measured, Since = Timestamp.FromDateTimeOffset(m.Since) });
        }

        return wire;
    }

    public static StreamHealthRecord ToDomain(this V1.CameraHealth h) => new(
        h.DeviceId, h.Faults.ToValueList(), h.FaultySince.ToDomain(), h.Measured?.ToDomain(),
        h.Mismatches.Select(m => new StreamDifference(m.Field, m.Declared, m.Measured, m.Since.ToDomainOrDefault())).ToValueList(),
        h.LastLiveness?.ToDomain(), h.LastProbe?.ToDomain(), h.LastGrab?.ToDomain(), h.LastQuality?.ToDomain(),
        h.ConsecutiveFailures, h.ConsecutiveProbeFailures);

    public static V1.MeasuredStream ToWire(this StreamMeasurement m) => new()
    {
        Codec = m.Codec,
        Width = m.Width,
        Height = m.Height,
        FrameRate = m.FrameRate,
        BitrateBps = m.BitrateBps,
        ProbeMs = m.ProbeMs,
        MeasuredAt = m.MeasuredAt.ToWireUnlessDefault(),
    };

    public static StreamMeasurement ToDomain(this V1.MeasuredStream m) =>
        new(m.Codec, m.Width, m.Height, m.FrameRate, m.BitrateBps, m.ProbeMs, m.MeasuredAt.ToDomainOrDefault());

    public static V1.CheckOutcome ToWire(this CheckResult c) =>
        new() { At = Timestamp.FromDateTimeOffset(c.At), Ok = c.Ok, Failure = c.Failure, Detail = c.Detail, ElapsedMs = c.ElapsedMs };

    public static CheckResult ToDomain(this V1.CheckOutcome c) => new(c.At.ToDomainOrDefault(), c.Ok, c.Failure, c.Detail, c.ElapsedMs);

    public static V1.QualityCheck ToWire(this PictureCheck q)
    {
        var wire = new V1.QualityCheck
        {
            At = Timestamp.FromDateTimeOffset(q.At),
            Ok = q.Ok,
            MeanLuma = q.MeanLuma,
            DarkFraction = q.DarkFraction,
            Detail = q.Detail,
            Motion = q.Motion,
            Frames = q.Frames,
            ElapsedMs = q.ElapsedMs,
        };
        wire.Faults.AddRange(q.Faults);
        return wire;
    }

    public static PictureCheck ToDomain(this V1.QualityCheck q) => new(
        q.At.ToDomainOrDefault(), q.Ok, q.Faults.ToValueList(), q.MeanLuma, q.DarkFraction, q.Detail, q.Motion, q.Frames, q.ElapsedMs);
}
