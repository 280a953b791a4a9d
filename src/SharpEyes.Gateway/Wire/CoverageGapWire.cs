using SharpEyes.Gateway.Domain;

namespace SharpEyes.Gateway.Wire;

/// <summary>
/// Coverage gaps between the domain (<see cref="CoverageGapRecord"/>) and the contract (<see cref="V1.CoverageGap"/>):
/// answers, feed events, and the stored encoding, unchanged from earlier versions.
/// </summary>
public static class CoverageGapWire
{
    public static V1.CoverageGap ToWire(this CoverageGapRecord g)
    {
        var wire = new V1.CoverageGap
        {
            GapId = g.GapId,
            Kind = g.Kind,
            Code = g.Code,
            Name = g.Name,
            Category = g.Category,
            Priority = g.Priority,
            GridCode = g.GridCode,
            Open = g.Open,
            RealFraction = g.RealFraction,
            Threshold = g.Threshold,
            CamerasWorking = g.CamerasWorking,
            CamerasDeclared = g.CamerasDeclared,
            RequiredCameras = g.RequiredCameras,
            OpenedAt = g.OpenedAt.ToWire(),
            ClosedAt = g.ClosedAt.ToWire(),
        };
        foreach (var cause in g.Causes)
        {
            wire.Causes.Add(new V1.CoverageCause { CameraId = cause.CameraId, Change = cause.Change });
        }

        return wire;
    }

    public static CoverageGapRecord ToDomain(this V1.CoverageGap g) => new(
        g.GapId, g.Kind, g.Code, g.Name, g.Category, g.Priority, g.GridCode, g.Open, g.RealFraction, g.Threshold,
        g.CamerasWorking, g.CamerasDeclared, g.RequiredCameras, g.Causes.Select(c => new GapCause(c.CameraId, c.Change)).ToValueList(),
        g.OpenedAt.ToDomain(), g.ClosedAt.ToDomain());
}
