namespace SharpEyes.Geo.Coverage.Placement;

/// <summary>The camera model to place: horizontal field of view in degrees (0, 360] and effective range in metres (0, 5000].</summary>
public sealed record CameraModel(double HfovDeg, double RangeM)
{
    /// <summary>The largest range accepted, in metres.</summary>
    public const double MaxRangeM = 5000.0;

    /// <summary>Horizontal field of view in degrees, in (0, 360]; 360 is the full circle.</summary>
    public double HfovDeg { get; init; } = HfovDeg > 0 && HfovDeg <= 360
        ? HfovDeg
        : throw new ArgumentOutOfRangeException(nameof(HfovDeg), HfovDeg, "The field of view must be in (0, 360] degrees.");

    /// <summary>Effective range in metres, in (0, 5000].</summary>
    public double RangeM { get; init; } = RangeM > 0 && RangeM <= MaxRangeM
        ? RangeM
        : throw new ArgumentOutOfRangeException(nameof(RangeM), RangeM, "The range must be in (0, 5000] metres.");

    /// <summary>Throws when a value set through <c>with</c> bypassed the checks above.</summary>
    internal void Validate()
    {
        if (!(HfovDeg > 0 && HfovDeg <= 360))
        {
            throw new ArgumentOutOfRangeException(nameof(HfovDeg), HfovDeg, "The field of view must be in (0, 360] degrees.");
        }

        if (!(RangeM > 0 && RangeM <= MaxRangeM))
        {
            throw new ArgumentOutOfRangeException(nameof(RangeM), RangeM, "The range must be in (0, 5000] metres.");
        }
    }
}

/// <summary>
/// Something that must be seen, in projection metres. The gain of one more camera seeing it is
/// <see cref="Weight"/> / <see cref="Required"/> while <see cref="Current"/> plus the cameras added so far is below
/// <see cref="Required"/>, and 0 once it is satisfied (partial credit keeps the objective submodular).
/// </summary>
/// <param name="Weight">Importance, &gt; 0.</param>
/// <param name="Required">Cameras needed, ≥ 1.</param>
/// <param name="Current">Working cameras that already see it, ≥ 0.</param>
/// <param name="SiteCode">The key site it samples; null for a grid-area sample.</param>
/// <param name="AreaM2">The area it stands for in m²; 0 for a point site.</param>
public sealed record DemandPoint(double X, double Y, double Weight, int Required, int Current, string? SiteCode, double AreaM2);

/// <summary>A possible camera: position in projection metres, true azimuth in degrees clockwise from north, and where it came from.</summary>
/// <param name="Source">"key-site:&lt;code&gt;" or "grid:&lt;code&gt;".</param>
public sealed record PlacementCandidate(double X, double Y, double AzimuthDeg, string Source);

/// <summary>One suggested camera, in the order chosen (rank 1 first).</summary>
/// <param name="X">Position east in projection metres.</param>
/// <param name="Y">Position north in projection metres.</param>
/// <param name="Lon">The same position in WGS-84.</param>
/// <param name="Lat">The same position in WGS-84.</param>
/// <param name="AzimuthDeg">True azimuth, degrees clockwise from north.</param>
/// <param name="GainWeight">Uncovered weight this camera removes, given the cameras ranked before it.</param>
/// <param name="GainAreaM2">
/// Area gained with the same partial credit as the weight (AreaM2 / Required per credited demand point); for grid-area
/// samples (Required 1) simply the newly covered area.
/// </param>
/// <param name="SitesCompleted">Key sites (ordinal order) whose every sampled point is satisfied once this camera is added.</param>
/// <param name="SitesImproved">Key sites (ordinal order) this camera credits without completing them.</param>
public sealed record PlacementSuggestion(
    int Rank,
    double X,
    double Y,
    double Lon,
    double Lat,
    double AzimuthDeg,
    double GainWeight,
    double GainAreaM2,
    IReadOnlyList<string> SitesCompleted,
    IReadOnlyList<string> SitesImproved,
    string Source);

/// <summary>
/// The outcome of a placement. Uncovered weight = Σ Weight · max(0, Required − Current − added) / Required over the
/// demand points; <see cref="UncoveredWeightAfter"/> = before − Σ gains.
/// </summary>
public sealed record PlacementResult(
    IReadOnlyList<PlacementSuggestion> Suggestions,
    double UncoveredWeightBefore,
    double UncoveredWeightAfter,
    int Candidates,
    int DemandPoints);
