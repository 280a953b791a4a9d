using System.Collections.ObjectModel;

namespace SharpEyes.Geo.Coverage;

/// <summary>Which cameras, and which of their footprints, count towards a coverage figure.</summary>
public enum CoverageTruth
{
    /// <summary>Working cameras only (online and not faulty), each with its current wedge.</summary>
    Real,

    /// <summary>Every camera, whatever its status, each with its current wedge.</summary>
    Declared,

    /// <summary>
    /// Every camera, a PTZ camera with its full circle (radius = range) as well as its current wedge, a fixed one with
    /// its wedge.
    /// </summary>
    Potential,
}

/// <summary>
/// A camera's field of view: a wedge with its apex at the camera (WGS-84 <paramref name="Lon"/>/<paramref name="Lat"/>),
/// centred on <paramref name="AzimuthDeg"/> (degrees clockwise from true north), opening <paramref name="HfovDeg"/>
/// (360 or more = full circle), radius <paramref name="RangeM"/> metres. A camera with a zero range or a zero opening
/// sees nothing.
/// </summary>
/// <param name="Ptz">A PTZ camera: its current wedge is its coverage, its full circle its potential coverage.</param>
public sealed record CameraFov(
    string Id,
    double Lon,
    double Lat,
    double AzimuthDeg,
    double HfovDeg,
    double RangeM,
    bool Ptz,
    bool Online,
    bool Faulty)
{
    /// <summary>Online and not faulty: the camera counts for <see cref="CoverageTruth.Real"/> coverage.</summary>
    public bool Working => Online && !Faulty;
}

/// <summary>The thresholds coverage is judged against.</summary>
public sealed record CoverageRules
{
    /// <summary>An area key site is covered when at least this fraction of its area is seen by at least k cameras.</summary>
    public double SiteAreaFraction { get; init; } = 0.8;

    /// <summary>k, the number of cameras a key site of a category needs; categories not listed need 1.</summary>
    public IReadOnlyDictionary<string, int> MinCamerasByCategory { get; init; } =
        new Dictionary<string, int>(StringComparer.Ordinal) { ["intersection"] = 2 };

    /// <summary>A grid is a gap when its real covered fraction is below its target; this is the target by default.</summary>
    public double DefaultGridTarget { get; init; } = 0.8;

    /// <summary>Per level-4 grid code targets overriding <see cref="DefaultGridTarget"/>.</summary>
    public IReadOnlyDictionary<string, double> GridTargets { get; init; } = ReadOnlyDictionary<string, double>.Empty;

    /// <summary>k for a category: the listed value (at least 1), else 1.</summary>
    public int MinCamerasFor(string category)
    {
        ArgumentNullException.ThrowIfNull(category);
        return MinCamerasByCategory.TryGetValue(category, out int k) ? Math.Max(1, k) : 1;
    }

    /// <summary>The target real covered fraction of a grid: its own, else <see cref="DefaultGridTarget"/>.</summary>
    public double GridTargetFor(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        return GridTargets.TryGetValue(code, out double target) ? target : DefaultGridTarget;
    }
}

/// <summary>The fraction of a camera's current wedge area that lies inside one grid.</summary>
public sealed record CameraShare(string CameraId, double Share);

/// <summary>The fraction of a camera's current wedge area that lies inside one grid, seen from the camera.</summary>
public sealed record GridShare(string GridCode, double Share);

/// <summary>
/// Coverage of one level-4 grid. Areas in square metres in the region index's local projection.
/// <paramref name="Cameras"/> counts the cameras whose current wedge overlaps the grid with a positive area,
/// <paramref name="CamerasWorking"/> the working ones among them; <paramref name="Shares"/> lists them by camera id.
/// Equality compares every value, the shares element by element.
/// </summary>
public sealed record GridCoverage(
    string Code,
    double AreaM2,
    double RealCoveredM2,
    double DeclaredCoveredM2,
    double PotentialCoveredM2,
    int Cameras,
    int CamerasWorking,
    double Target,
    IReadOnlyList<CameraShare> Shares)
{
    public double RealFraction => AreaM2 > 0 ? RealCoveredM2 / AreaM2 : 0;

    public double DeclaredFraction => AreaM2 > 0 ? DeclaredCoveredM2 / AreaM2 : 0;

    public double PotentialFraction => AreaM2 > 0 ? PotentialCoveredM2 / AreaM2 : 0;

    /// <summary>The real covered fraction is below the grid's target.</summary>
    public bool IsGap => RealFraction < Target;

    /// <summary>The sum of the cameras' shares: how many whole cameras' worth of wedge the grid receives.</summary>
    public double CameraEquivalents => Shares.Sum(s => s.Share);

    public bool Equals(GridCoverage? other) =>
        other is not null
        && string.Equals(Code, other.Code, StringComparison.Ordinal)
        && AreaM2.Equals(other.AreaM2)
        && RealCoveredM2.Equals(other.RealCoveredM2)
        && DeclaredCoveredM2.Equals(other.DeclaredCoveredM2)
        && PotentialCoveredM2.Equals(other.PotentialCoveredM2)
        && Cameras == other.Cameras
        && CamerasWorking == other.CamerasWorking
        && Target.Equals(other.Target)
        && Shares.SequenceEqual(other.Shares);

    public override int GetHashCode() =>
        HashCode.Combine(Code, AreaM2, RealCoveredM2, DeclaredCoveredM2, PotentialCoveredM2, Cameras, CamerasWorking, Shares.Count);
}

/// <summary>
/// Coverage of one key site. A point site is seen by a camera whose current wedge contains it (analytic test); an
/// area site by a camera whose current wedge overlaps it with a positive area. A point site's fractions are 1 when
/// at least <paramref name="RequiredCameras"/> cameras see it, else 0 (its <paramref name="RequiredFraction"/> is 1);
/// an area site's are the fraction of its area seen by at least that many cameras. Real counts working cameras only,
/// declared every camera. Camera lists are ordered by id. Equality compares every value, the lists element by element.
/// </summary>
/// <param name="GridCode">The level-4 (else finest) grid containing the site's interior point; empty when none.</param>
public sealed record KeySiteCoverage(
    string Code,
    string Category,
    int Priority,
    string GridCode,
    bool IsArea,
    double AreaM2,
    int RequiredCameras,
    double RequiredFraction,
    IReadOnlyList<string> WorkingCameras,
    IReadOnlyList<string> DeclaredCameras,
    double RealFraction,
    double DeclaredFraction,
    bool RealCovered,
    bool DeclaredCovered)
{
    public bool Equals(KeySiteCoverage? other) =>
        other is not null
        && string.Equals(Code, other.Code, StringComparison.Ordinal)
        && string.Equals(Category, other.Category, StringComparison.Ordinal)
        && Priority == other.Priority
        && string.Equals(GridCode, other.GridCode, StringComparison.Ordinal)
        && IsArea == other.IsArea
        && AreaM2.Equals(other.AreaM2)
        && RequiredCameras == other.RequiredCameras
        && RequiredFraction.Equals(other.RequiredFraction)
        && WorkingCameras.SequenceEqual(other.WorkingCameras, StringComparer.Ordinal)
        && DeclaredCameras.SequenceEqual(other.DeclaredCameras, StringComparer.Ordinal)
        && RealFraction.Equals(other.RealFraction)
        && DeclaredFraction.Equals(other.DeclaredFraction)
        && RealCovered == other.RealCovered
        && DeclaredCovered == other.DeclaredCovered;

    public override int GetHashCode() =>
        HashCode.Combine(Code, GridCode, AreaM2, RealFraction, DeclaredFraction, WorkingCameras.Count, DeclaredCameras.Count);
}

/// <summary>
/// Totals over the level-4 grids whose code starts with <paramref name="Prefix"/> ("" = all), the key sites whose
/// grid code starts with it and the cameras standing in a grid whose code starts with it. A grid not computed yet
/// counts with no coverage.
/// </summary>
public sealed record CoverageSummary(
    string Prefix,
    int Grids,
    double AreaM2,
    double RealCoveredM2,
    double DeclaredCoveredM2,
    double PotentialCoveredM2,
    int KeySites,
    int KeySitesCoveredReal,
    int KeySitesCoveredDeclared,
    int Cameras,
    int CamerasOnline,
    int CamerasFaulty,
    int CamerasWorking,
    int CamerasPtz,
    int GridGaps);

/// <summary>
/// What a recomputation computed: each grid and key site recomputed, ordered by code, with its value before (null
/// when it had never been computed) and after, and the ids (ordered) of the cameras whose changes since the previous
/// recomputation made it dirty. Unchanged values are included; the caller diffs.
/// </summary>
public sealed record ChangedCoverage(
    IReadOnlyList<(GridCoverage? Before, GridCoverage After, IReadOnlyList<string> Causes)> Grids,
    IReadOnlyList<(KeySiteCoverage? Before, KeySiteCoverage After, IReadOnlyList<string> Causes)> Sites);
