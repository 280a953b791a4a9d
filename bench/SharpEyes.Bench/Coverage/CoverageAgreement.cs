using System.Diagnostics;
using Grpc.Core;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Demo;
using SharpEyes.Geo.Regions;
using SharpEyes.V1;
using Datum = SharpEyes.Geo.Datums.Datum;

namespace SharpEyes.Bench.Coverage;

/// <summary>
/// Whether the gateway's coverage, built change by change as devices were registered and came online, equals a full
/// recompute of the same county (issue 17: "coverage correct afterwards"). The bench parses the GeoJSON it imported into
/// the gateway, puts every camera into a fresh <see cref="CoverageModel"/> with the status the gateway should have given
/// it, runs <see cref="CoverageModel.RecomputeAll"/>, and compares every grid and key site as the gateway's
/// <c>ListGridCoverage</c> and <c>ListKeySiteCoverage</c> report them (their fractions rounded to 6 decimals as the API
/// does): the fractions, the camera counts and lists, the shares and the covered flags.
/// </summary>
public sealed class CoverageAgreement(RegionIndex index, CoverageRules rules)
{
    /// <summary>The index the gateway builds from these files.</summary>
    /// <param name="countyCode">The county the gateway serves (it was started with it, as the bench starts it).</param>
    public static CoverageAgreement FromGeoJson(string gridsGeoJson, string sitesGeoJson, string countyCode)
    {
        var grids = GeoJsonImport.ParseGrids(gridsGeoJson, Datum.Wgs84, [], new HashSet<string>(StringComparer.Ordinal) { countyCode });
        var sites = GeoJsonImport.ParseKeySites(sitesGeoJson, Datum.Wgs84);
        if (!grids.Ok || !sites.Ok)
        {
            throw new InvalidOperationException($"the bench's own GeoJSON did not parse: {grids.Errors.Concat(sites.Errors).FirstOrDefault()}");
        }

        return new CoverageAgreement(new RegionIndex(grids.Features, sites.Features), new CoverageRules());
    }

    /// <summary>
    /// The demo county as a gateway started with <c>--demo</c> holds it: each grid's coverage target is the plan's, the
    /// fraction every demo camera would cover (<see cref="GaoyiDemoCameras.PlannedGridTargets"/>, which the gateway imports).
    /// </summary>
    public static CoverageAgreement GaoyiDemoCounty() =>
        new(GaoyiDemo.CreateRegionIndex(), new CoverageRules { GridTargets = GaoyiDemoCameras.PlannedGridTargets });

    /// <summary>A full recompute of these cameras, as a fresh model computes it.</summary>
    public CoverageModel FullRecompute(IEnumerable<CameraFov> cameras)
    {
        var model = new CoverageModel(index, rules);
        foreach (var camera in cameras)
        {
            model.Upsert(camera);
        }

        model.RecomputeAll();
        return model;
    }

    /// <summary>
    /// Reads the gateway's coverage until it equals <paramref name="expected"/> or <paramref name="limit"/> has passed (a
    /// bulk registration's declared-only changes are recomputed up to 5 s after their commit), and reports the last
    /// comparison.
    /// </summary>
    public static async Task<AgreementResult> CompareAsync(V1.Coverage.CoverageClient client, Metadata auth, CoverageModel expected, string label,
        TimeSpan limit, TextWriter log, CancellationToken ct)
    {
        var wantGrids = expected.GridsWithPrefix("").ToDictionary(g => g.Code, StringComparer.Ordinal);
        var wantSites = expected.SitesWithPrefix("").ToDictionary(s => s.Code, StringComparer.Ordinal);
        var start = Stopwatch.GetTimestamp();
        int reads = 0;
        while (true)
        {
            var grids = (await client.ListGridCoverageAsync(new ListGridCoverageRequest(), auth, DateTime.UtcNow.AddSeconds(60), cancellationToken: ct)).Grids;
            var sites = (await client.ListKeySiteCoverageAsync(new ListKeySiteCoverageRequest(), auth, DateTime.UtcNow.AddSeconds(60), cancellationToken: ct)).Sites;
            reads++;
            var differences = new List<string>();
            CompareSet("grid", grids.Select(g => g.Code), wantGrids.Keys, differences);
            CompareSet("key site", sites.Select(s => s.Code), wantSites.Keys, differences);
            int gridDiffs = 0, siteDiffs = 0;
            foreach (var got in grids)
            {
                if (wantGrids.TryGetValue(got.Code, out var want) && GridDifference(got, want, expected) is { } d)
                {
                    gridDiffs++;
                    differences.Add(d);
                }
            }

            foreach (var got in sites)
            {
                if (wantSites.TryGetValue(got.Code, out var want) && SiteDifference(got, want) is { } d)
                {
                    siteDiffs++;
                    differences.Add(d);
                }
            }

            var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (differences.Count == 0 || seconds > limit.TotalSeconds)
            {
                var result = new AgreementResult(label, grids.Count, sites.Count, grids.Sum(g => g.Shares.Count), gridDiffs, siteDiffs,
                    differences.Count - gridDiffs - siteDiffs, seconds, reads, differences.Take(3).ToList());
                log.WriteLine($"[coverage]   {result.Describe()}");
                foreach (var d in result.FirstDifferences)
                {
                    log.WriteLine($"[coverage]     {d}");
                }

                return result;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
        }
    }

    private static void CompareSet(string what, IEnumerable<string> got, IEnumerable<string> want, List<string> differences)
    {
        var gotSet = got.ToHashSet(StringComparer.Ordinal);
        var wantSet = want.ToHashSet(StringComparer.Ordinal);
        foreach (var code in wantSet.Except(gotSet).Take(3))
        {
            differences.Add($"{what} {code}: missing from the gateway");
        }

        foreach (var code in gotSet.Except(wantSet).Take(3))
        {
            differences.Add($"{what} {code}: not in the full recompute");
        }
    }

    private static double R6(double value) => Math.Round(value, 6);

    private static string? GridDifference(V1.GridCoverage got, Geo.Coverage.GridCoverage want, CoverageModel model)
    {
        if (got.RealFraction != R6(want.RealFraction) || got.DeclaredFraction != R6(want.DeclaredFraction) || got.PotentialFraction != R6(want.PotentialFraction))
        {
            return $"grid {got.Code}: fractions real/declared/potential {got.RealFraction}/{got.DeclaredFraction}/{got.PotentialFraction}, " +
                $"full recompute {R6(want.RealFraction)}/{R6(want.DeclaredFraction)}/{R6(want.PotentialFraction)}";
        }

        if (got.Cameras != want.Cameras || got.CamerasWorking != want.CamerasWorking || got.Gap != want.IsGap)
        {
            return $"grid {got.Code}: cameras {got.Cameras} ({got.CamerasWorking} working, gap {got.Gap}), full recompute {want.Cameras} ({want.CamerasWorking}, gap {want.IsGap})";
        }

        if (got.Shares.Count != want.Shares.Count)
        {
            return $"grid {got.Code}: {got.Shares.Count} shares, full recompute {want.Shares.Count}";
        }

        for (int i = 0; i < got.Shares.Count; i++)
        {
            var (g, w) = (got.Shares[i], want.Shares[i]);
            bool working = model.Camera(w.CameraId)?.Working ?? false;
            if (g.CameraId != w.CameraId || g.Share != R6(w.Share) || g.Working != working)
            {
                return $"grid {got.Code}: share {i} {g.CameraId} {g.Share} (working {g.Working}), full recompute {w.CameraId} {R6(w.Share)} (working {working})";
            }
        }

        return null;
    }

    private static string? SiteDifference(V1.KeySiteCoverage got, Geo.Coverage.KeySiteCoverage want)
    {
        if (got.RealFraction != R6(want.RealFraction) || got.DeclaredFraction != R6(want.DeclaredFraction)
            || got.CoveredReal != want.RealCovered || got.CoveredDeclared != want.DeclaredCovered || got.RequiredCameras != want.RequiredCameras)
        {
            return $"key site {got.Code}: real {got.RealFraction} ({got.CoveredReal}), declared {got.DeclaredFraction} ({got.CoveredDeclared}); " +
                $"full recompute {R6(want.RealFraction)} ({want.RealCovered}), {R6(want.DeclaredFraction)} ({want.DeclaredCovered})";
        }

        if (!got.WorkingCameraIds.SequenceEqual(want.WorkingCameras, StringComparer.Ordinal) || !got.DeclaredCameraIds.SequenceEqual(want.DeclaredCameras, StringComparer.Ordinal))
        {
            return $"key site {got.Code}: cameras {got.WorkingCameraIds.Count} working / {got.DeclaredCameraIds.Count} declared, " +
                $"full recompute {want.WorkingCameras.Count} / {want.DeclaredCameras.Count}";
        }

        return null;
    }
}

/// <summary>One comparison of the gateway's coverage with a full recompute.</summary>
public sealed record AgreementResult(
    string Label,
    int Grids,
    int Sites,
    int Shares,
    int GridDifferences,
    int SiteDifferences,
    int SetDifferences,
    double Seconds,
    int Reads,
    IReadOnlyList<string> FirstDifferences)
{
    public bool Equal => GridDifferences + SiteDifferences + SetDifferences == 0;

    public string Describe() => Equal
        ? $"{Label}: equal to a full recompute: {Grids:N0} grids ({Shares:N0} camera shares) and {Sites:N0} key sites (after {Seconds:F1} s, {Reads} reads)"
        : $"{Label}: DIFFERS from a full recompute: {GridDifferences:N0} of {Grids:N0} grids, {SiteDifferences:N0} of {Sites:N0} key sites, {SetDifferences} missing or extra (after {Seconds:F1} s, {Reads} reads)";
}
