using SharpEyes.Geo.Regions;

namespace SharpEyes.Geo.Coverage.Placement;

/// <summary>Tuning of <see cref="PlacementPlanner.Plan"/>; every value has a sensible default.</summary>
public sealed record PlacementOptions
{
    /// <summary>Lattice spacing of grid-area demand in metres; default <see cref="PlacementPlanner.DefaultDemandSpacingM"/>.</summary>
    public double? DemandSpacingM { get; init; }

    /// <summary>Spacing of grid candidate positions in metres; default <see cref="PlacementPlanner.DefaultCandidateStepM"/>.</summary>
    public double? CandidateStepM { get; init; }

    /// <summary>Weight of one uncovered square kilometre of grid area (default 1, i.e. a priority-1 site is worth 1 km²).</summary>
    public double AreaWeightPerKm2 { get; init; } = 1.0;

    /// <summary>Weight of a key site; default its priority (1–5).</summary>
    public Func<KeySiteFeature, double>? KeySiteWeight { get; init; }

    /// <summary>Working cameras a key site needs; default 1.</summary>
    public Func<KeySiteFeature, int>? RequiredCameras { get; init; }
}

/// <summary>
/// Wires <see cref="DemandSampler"/>, <see cref="CandidateGenerator"/> and <see cref="GreedyPlacement"/> over a
/// <see cref="RegionIndex"/>: the finest grid level is the region, its uncovered area and every key site are the demand.
/// </summary>
public static class PlacementPlanner
{
    /// <summary>Grid-area demand points aimed for at most over the whole region (bounds time and memory).</summary>
    public const double DemandLatticeBudget = 200_000;

    /// <summary>Grid candidate positions aimed for at most over the whole region (8 candidates each).</summary>
    public const double CandidatePositionBudget = 100_000;

    /// <summary>max(range / 2, √(region area / 200 000)): a wedge holds a few samples, the county at most ~200 000.</summary>
    public static double DefaultDemandSpacingM(CameraModel model, double regionAreaM2)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Math.Max(model.RangeM / 2.0, Math.Sqrt(Math.Max(0, regionAreaM2) / DemandLatticeBudget));
    }

    /// <summary>max(range, √(region area / 100 000)): about one position per range, at most ~100 000 lattice positions.</summary>
    public static double DefaultCandidateStepM(CameraModel model, double regionAreaM2)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Math.Max(model.RangeM, Math.Sqrt(Math.Max(0, regionAreaM2) / CandidatePositionBudget));
    }

    /// <summary>
    /// Suggests up to <paramref name="k"/> cameras of <paramref name="model"/> for the region of
    /// <paramref name="regions"/>. <paramref name="workingCamerasAt"/> counts the working cameras that already see a
    /// point given in <see cref="RegionIndex.Projection"/> metres (none when null).
    /// </summary>
    public static PlacementResult Plan(
        RegionIndex regions,
        CameraModel model,
        int k,
        Func<double, double, int>? workingCamerasAt = null,
        PlacementOptions? options = null,
        CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(regions);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        model.Validate();
        options ??= new PlacementOptions();
        workingCamerasAt ??= static (_, _) => 0;
        var projection = regions.Projection;

        int finest = regions.Grids.Count == 0 ? 0 : regions.Grids.Max(g => g.Level);
        var grids = regions.Grids
            .Where(g => g.Level == finest)
            .Select(g => (g.Code, Metric: projection.Project(g.Geometry)))
            .ToList();
        var sites = regions.KeySites
            .Select(s => (Site: s, Metric: projection.Project(s.Geometry)))
            .ToList();
        ct.ThrowIfCancellationRequested();

        double area = grids.Sum(g => g.Metric.Area);
        double spacing = options.DemandSpacingM ?? DefaultDemandSpacingM(model, area);
        double step = options.CandidateStepM ?? DefaultCandidateStepM(model, area);
        var siteWeight = options.KeySiteWeight ?? (static s => s.Priority);
        var required = options.RequiredCameras ?? (static _ => 1);

        var demand = DemandSampler.GridArea(grids, spacing, options.AreaWeightPerKm2 / 1e6, workingCamerasAt).ToList();
        foreach (var (site, metric) in sites)
        {
            demand.AddRange(DemandSampler.KeySite(site.Code, metric, siteWeight(site), required(site), spacing, workingCamerasAt));
        }

        ct.ThrowIfCancellationRequested();
        var candidates = CandidateGenerator.Generate(sites.Select(s => (s.Site.Code, s.Metric)), grids, model, step, projection);
        return GreedyPlacement.Place(demand, candidates, model, k, projection, ct);
    }
}
