namespace SharpEyes.Geo.Coverage.Placement;

/// <summary>
/// Default lattice spacings for a placement over a whole region. They scale with the camera range but are floored by
/// the region's area so a short-range model over a county stays within a fixed budget of demand points and candidates
/// (about 200 000 grid-area samples and 100 000 grid positions × 8 azimuths), which bounds time and memory.
/// </summary>
public static class PlacementDefaults
{
    /// <summary>Grid-area demand points aimed for at most over the whole region.</summary>
    public const double DemandLatticeBudget = 200_000;

    /// <summary>Grid candidate positions aimed for at most over the whole region (8 candidates each).</summary>
    public const double CandidatePositionBudget = 100_000;

    /// <summary>max(range / 2, √(region area / 200 000)): a wedge holds a few samples, the region at most ~200 000.</summary>
    public static double DemandSpacingM(CameraModel model, double regionAreaM2)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Math.Max(model.RangeM / 2.0, Math.Sqrt(Math.Max(0, regionAreaM2) / DemandLatticeBudget));
    }

    /// <summary>max(range, √(region area / 100 000)): about one position per range, at most ~100 000 lattice positions.</summary>
    public static double CandidateStepM(CameraModel model, double regionAreaM2)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Math.Max(model.RangeM, Math.Sqrt(Math.Max(0, regionAreaM2) / CandidatePositionBudget));
    }
}
