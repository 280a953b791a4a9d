using SharpEyes.V1;

namespace SharpEyes.Gateway.Domain;

/// <summary>
/// A coverage gap (Coverage/CoverageTracker.cs): a key site not covered by working cameras (<c>site:&lt;code&gt;</c>) or
/// a level-4 grid below its target (<c>grid:&lt;code&gt;</c>). Its identity (kind, code, name, category, priority, grid),
/// whether it is open, the figures at the time it was described (real fraction, threshold, working and declared cameras,
/// the cameras a key site's category requires), what opened or closed it, and when. The kind and change enums are the
/// contract's plain enums.
/// </summary>
public sealed record CoverageGapRecord(
    string GapId,
    CoverageGapKind Kind,
    string Code,
    string Name,
    string Category,
    int Priority,
    string GridCode,
    bool Open,
    double RealFraction,
    double Threshold,
    int CamerasWorking,
    int CamerasDeclared,
    int RequiredCameras,
    ValueList<GapCause> Causes,
    DateTimeOffset? OpenedAt = null,
    DateTimeOffset? ClosedAt = null);

/// <summary>One cause of a gap's opening or closing: a camera and what happened to it (no camera for a geography change or a recompute).</summary>
public sealed record GapCause(string CameraId, CoverageChange Change);
