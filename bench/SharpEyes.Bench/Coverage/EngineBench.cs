using System.Diagnostics;
using NetTopologySuite.Geometries;
using SharpEyes.Bench.Reporting;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Coverage.Placement;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Bench.Coverage;

/// <summary>
/// The coverage engine in process, over the synthetic county: full recompute (row 1), one camera's status change
/// (row 2) and placement with the gateway's assembly (row 4).
/// </summary>
/// <param name="footprintsPerTile">The model's tiling: the default, or 0 for the whole-grid baseline (each grid one sweep, as before tiles).</param>
public sealed class EngineBench(SyntheticCounty county, TextWriter log, int footprintsPerTile = CoverageModel.DefaultFootprintsPerTile)
{
    /// <summary>The gateway's default blind-spot weights per category (CoverageOptions.CategoryWeights).</summary>
    private static readonly Dictionary<string, double> s_categoryWeights = new(StringComparer.Ordinal)
    {
        ["school"] = 5, ["hospital"] = 5, ["complex-security"] = 5, ["government"] = 4, ["station"] = 4, ["checkpoint"] = 4,
        ["intersection"] = 3, ["traffic-artery"] = 3, ["square"] = 3, ["stadium"] = 3, ["commercial"] = 3, ["market"] = 3,
        ["religious"] = 2, ["scenic"] = 2, ["road"] = 2, ["other"] = 1,
    };

    private CoverageModel? _model;

    public CoverageModel Model => _model ?? throw new InvalidOperationException("run RecomputeAll first");

    /// <summary>Row 1: builds the index and the model (20,000 Upserts), runs <paramref name="warmups"/> RecomputeAll unscored, then times <paramref name="runs"/>.</summary>
    public RecomputeAllResult RecomputeAll(int runs, int warmups, TimeSpan limit)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        var start = Stopwatch.GetTimestamp();
        var index = county.CreateRegionIndex();
        var indexSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;

        start = Stopwatch.GetTimestamp();
        var model = new CoverageModel(index, new CoverageRules(), footprintsPerTile);
        var modelSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;

        start = Stopwatch.GetTimestamp();
        foreach (var camera in county.Cameras)
        {
            model.Upsert(camera.ToFov(camera.Online));
        }

        var upsertSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        log.WriteLine($"[coverage] model: index {indexSeconds:F2} s, model {modelSeconds:F2} s, {county.Cameras.Count:N0} Upserts {upsertSeconds:F2} s");

        // Warm-up (JIT, first-touch allocations), not scored. One is not enough: the tiered JIT compiles the hot methods'
        // tier-1 code in the background during the next one (0.37-0.54 s against 0.29-0.31 s for the runs after it on
        // the Xeon, and 0.30 s for all of them with DOTNET_TieredCompilation=0).
        var warmupSeconds = new List<double>(warmups);
        for (int i = 0; i < warmups; i++)
        {
            start = Stopwatch.GetTimestamp();
            model.RecomputeAll();
            warmupSeconds.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            log.WriteLine($"[coverage] RecomputeAll warm-up {i + 1}: {warmupSeconds[^1]:F3} s");
        }

        var seconds = new List<double>(runs);
        long allocated = 0, gcs = 0;
        var pause = TimeSpan.Zero;
        var cpuBefore = CpuSnapshot.Take(Environment.ProcessId);
        var machineBefore = CpuSnapshot.SystemBusy();
        for (int i = 0; i < runs && Stopwatch.GetTimestamp() < deadline; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
            int gcsBefore = GC.CollectionCount(0);
            var pauseBefore = GC.GetTotalPauseDuration();
            start = Stopwatch.GetTimestamp();
            model.RecomputeAll();
            seconds.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            allocated += GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
            gcs += GC.CollectionCount(0) - gcsBefore;
            pause += GC.GetTotalPauseDuration() - pauseBefore;
            log.WriteLine($"[coverage] RecomputeAll run {i + 1}: {seconds[^1]:F3} s");
        }

        var cpu = CpuSnapshot.Diff(cpuBefore, CpuSnapshot.Take(Environment.ProcessId));
        var machine = CpuSnapshot.SystemPercent(machineBefore, CpuSnapshot.SystemBusy());
        int n = Math.Max(1, seconds.Count);
        log.WriteLine($"[coverage] RecomputeAll per run: {allocated / n / 1048576.0:N0} MiB allocated, {gcs / (double)n:F0} GCs, {pause.TotalMilliseconds / n:F0} ms GC pause");
        var (peak, rss) = CpuSnapshot.Memory(Environment.ProcessId);
        var summary = model.Summarize("");
        _model = model;
        if (Environment.GetEnvironmentVariable("BENCH_COVERAGE_DUMP") is { Length: > 0 } dump)
        {
            Dump(model, dump);
        }

        return new RecomputeAllResult(indexSeconds, modelSeconds, upsertSeconds, warmupSeconds, seconds, peak, rss,
            GC.GetTotalMemory(forceFullCollection: false), summary.GridGaps, summary.KeySitesCoveredReal,
            summary.AreaM2 > 0 ? summary.RealCoveredM2 / summary.AreaM2 : 0, cpu,
            allocated / (double)n / 1048576.0, gcs / (double)n, pause.TotalMilliseconds / n, BatchedBuild(index), machine);
    }

    /// <summary>
    /// The engine's share of the gateway's bulk registration: a second model filled as one RegisterDevices stream does
    /// it (batches of 2,000 cameras, each an Upsert per camera and one Recompute before the batch commits).
    /// </summary>
    private double BatchedBuild(RegionIndex index)
    {
        const int batch = 2_000;
        var model = new CoverageModel(index, new CoverageRules(), footprintsPerTile);
        model.Recompute();
        var start = Stopwatch.GetTimestamp();
        for (int i = 0; i < county.Cameras.Count; i += batch)
        {
            foreach (var camera in county.Cameras.Skip(i).Take(batch))
            {
                model.Upsert(camera.ToFov(online: false));
            }

            model.Recompute();
        }

        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        log.WriteLine($"[coverage] registration pattern: {county.Cameras.Count:N0} cameras in batches of {batch:N0} (Upserts + Recompute each): {seconds:F2} s");
        return seconds;
    }

    /// <summary>Row 2: a random camera's Online flag toggled (Upsert), then Recompute; the pair timed.</summary>
    public IncrementalResult Incremental(int changes, int warmup, TimeSpan limit, int seed = 42)
    {
        var model = Model;
        var random = new Random(seed);
        var cameras = county.Cameras;
        var total = new List<double>(changes);
        var upsert = new List<double>(changes);
        var recompute = new List<double>(changes);
        long grids = 0, sites = 0;
        int transitions = 0;
        var samples = new List<(double Ms, int Grids, int Sites, int GridCameras, CameraFov Camera)>(changes);
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        int gcsBefore = GC.CollectionCount(0);
        GC.Collect();
        var phase = new Phase(warmup, limit);
        for (int i = 0; i < warmup + changes; i++)
        {
            if (!phase.Continue(i, total.Count))
            {
                break;
            }

            var fov = model.Camera(cameras[random.Next(cameras.Count)].Id)!;
            var changed = fov with { Online = !fov.Online };
            long t0 = Stopwatch.GetTimestamp();
            model.Upsert(changed);
            long t1 = Stopwatch.GetTimestamp();
            var result = model.Recompute();
            long t2 = Stopwatch.GetTimestamp();
            if (i < warmup)
            {
                continue;
            }

            upsert.Add(Ms(t1 - t0));
            recompute.Add(Ms(t2 - t1));
            total.Add(Ms(t2 - t0));
            grids += result.Grids.Count;
            sites += result.Sites.Count;
            samples.Add((total[^1], result.Grids.Count, result.Sites.Count, result.Grids.Sum(g => g.After.Cameras), changed));
            transitions += result.Grids.Count(g => g.Before is not null && g.Before.IsGap != g.After.IsGap)
                + result.Sites.Count(s => s.Before is not null && s.Before.RealCovered != s.After.RealCovered);
        }

        var cpu = CpuSnapshot.Diff(phase.CpuBefore, CpuSnapshot.Take(Environment.ProcessId));
        var machine = CpuSnapshot.SystemPercent(phase.MachineBefore, CpuSnapshot.SystemBusy());
        var note = phase.Note;
        long allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;

        // Back to the county of row 1 (row 4 places cameras on it).
        foreach (var camera in cameras)
        {
            model.Upsert(camera.ToFov(camera.Online));
        }

        model.Recompute();
        log.WriteLine($"[coverage] incremental: {allocated / Math.Max(1, warmup + changes) / 1024.0:N0} KiB allocated per change, {GC.CollectionCount(0) - gcsBefore} GCs; slowest changes:");
        foreach (var slow in samples.OrderByDescending(x => x.Ms).Take(5))
        {
            log.WriteLine($"[coverage]   {slow.Ms:F2} ms: {slow.Grids} grids ({slow.GridCameras} camera wedges in them), {slow.Sites} sites; " +
                $"camera hfov {slow.Camera.HfovDeg}, range {slow.Camera.RangeM}, ptz {slow.Camera.Ptz}, now online {slow.Camera.Online}");
        }

        var all = Latency.Of(total);
        return new IncrementalResult(total.Count, all.P50Ms, all.P99Ms, all.MaxMs, Stats.Percentile(upsert, 0.5), Stats.Percentile(recompute, 0.5),
            total.Count > 0 ? grids / (double)total.Count : 0, total.Count > 0 ? sites / (double)total.Count : 0, transitions, note, cpu, machine);
    }

    /// <summary>
    /// Row 2b (issue 17): the densest grid. <paramref name="wedges"/> more cameras (hfov 40–120°, range 30–80 m, as the
    /// demo's village cameras) are added to the county's middle level-4 grid, then random ones of them have their Online
    /// flag toggled and the model recomputed, each pair timed. The added cameras are removed afterwards.
    /// </summary>
    public IncrementalResult DenseGrid(int wedges, int changes, int warmup, TimeSpan limit, int seed = 17)
    {
        var model = Model;
        var random = new Random(seed);
        var grid = model.LevelFourGrids[model.LevelFourGrids.Count / 2];
        var envelope = grid.Geometry.EnvelopeInternal;
        var ids = new List<string>(wedges);
        for (int i = 0; i < wedges; i++)
        {
            var id = $"dense-{i:D4}";
            ids.Add(id);
            model.Upsert(new CameraFov(id, envelope.MinX + (random.NextDouble() * envelope.Width), envelope.MinY + (random.NextDouble() * envelope.Height),
                random.NextDouble() * 360, 40 + (random.NextDouble() * 80), 30 + (random.NextDouble() * 50), Ptz: random.NextDouble() < 0.15, Online: true, Faulty: false));
        }

        model.Recompute();
        int inGrid = model.Grid(grid.Code)?.Cameras ?? 0;
        var total = new List<double>(changes);
        var samples = new List<(double Ms, int Gcs, CameraFov Camera)>(changes);
        long recomputedGrids = 0;
        var phase = new Phase(warmup, limit);
        for (int i = 0; i < warmup + changes; i++)
        {
            if (!phase.Continue(i, total.Count))
            {
                break;
            }

            var fov = model.Camera(ids[random.Next(ids.Count)])!;
            int gen0 = GC.CollectionCount(0);
            long t0 = Stopwatch.GetTimestamp();
            model.Upsert(fov with { Online = !fov.Online });
            var result = model.Recompute();
            long t1 = Stopwatch.GetTimestamp();
            if (i >= warmup)
            {
                total.Add(Ms(t1 - t0));
                recomputedGrids += result.Grids.Count;
                samples.Add((total[^1], GC.CollectionCount(0) - gen0, fov));
            }
        }

        var cpu = CpuSnapshot.Diff(phase.CpuBefore, CpuSnapshot.Take(Environment.ProcessId));
        var machine = CpuSnapshot.SystemPercent(phase.MachineBefore, CpuSnapshot.SystemBusy());
        var note = phase.Note;
        foreach (var id in ids)
        {
            model.Remove(id);
        }

        model.Recompute();
        var all = Latency.Of(total);
        log.WriteLine($"[coverage] dense grid {grid.Code}: {inGrid} camera wedges; toggles p50 {all.P50Ms:F3} ms, p99 {all.P99Ms:F3} ms, max {all.MaxMs:F2} ms");
        var ptz = samples.Where(x => x.Camera.Ptz).Select(x => x.Ms).ToList();
        var fixedOnes = samples.Where(x => !x.Camera.Ptz).Select(x => x.Ms).ToList();
        log.WriteLine($"[coverage]   PTZ cameras' toggles: n={ptz.Count}, p50 {Stats.Percentile(ptz, 0.5):F3} ms, p99 {Stats.Percentile(ptz, 0.99):F3} ms; " +
            $"fixed cameras': n={fixedOnes.Count}, p50 {Stats.Percentile(fixedOnes, 0.5):F3} ms, p99 {Stats.Percentile(fixedOnes, 0.99):F3} ms; " +
            $"changes with a GC in them: {samples.Count(x => x.Gcs > 0)}; slowest:");
        foreach (var slow in samples.OrderByDescending(x => x.Ms).Take(8))
        {
            log.WriteLine($"[coverage]   {slow.Ms:F2} ms: hfov {slow.Camera.HfovDeg:F0}, range {slow.Camera.RangeM:F0}, ptz {slow.Camera.Ptz}, now online {!slow.Camera.Online}, GCs {slow.Gcs}");
        }

        return new IncrementalResult(total.Count, all.P50Ms, all.P99Ms, all.MaxMs, double.NaN, double.NaN,
            total.Count > 0 ? recomputedGrids / (double)total.Count : 0, 0, 0, note, cpu, machine)
        {
            GridCode = grid.Code,
            WedgesInGrid = inGrid,
        };
    }

    /// <summary>
    /// Row 4: <c>SharpEyes.Gateway.Coverage.PlacementPlanner.Suggest</c>'s assembly, replicated (it is gateway-internal):
    /// grid-area demand where no working camera sees, demand for every key site real coverage leaves short (weight =
    /// category weight × priority, no incidents), candidates around the sites and along the grids (step = range),
    /// greedy maximum coverage. Warm-up once on the first township (JIT), then the whole county.
    /// </summary>
    public PlacementBenchResult Placement(int count, double hfov, double range, CancellationToken ct)
    {
        var model = Model;
        var warm = Stopwatch.GetTimestamp();
        Suggest(model, county.TownshipCode(0), count, hfov, range, ct);
        var warmupSeconds = Stopwatch.GetElapsedTime(warm).TotalSeconds;
        log.WriteLine($"[coverage] placement warm-up (township {county.TownshipCode(0)}): {warmupSeconds:F2} s");

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var (_, rssBefore) = CpuSnapshot.Memory(Environment.ProcessId);
        bool isolated = ResetPeakRss();
        var cpuBefore = CpuSnapshot.Take(Environment.ProcessId);
        var machineBefore = CpuSnapshot.SystemBusy();
        var timing = Suggest(model, "", count, hfov, range, ct);
        var cpu = CpuSnapshot.Diff(cpuBefore, CpuSnapshot.Take(Environment.ProcessId));
        var machine = CpuSnapshot.SystemPercent(machineBefore, CpuSnapshot.SystemBusy());
        var (peak, _) = CpuSnapshot.Memory(Environment.ProcessId);
        log.WriteLine($"[coverage] placement: {timing.Total:F2} s (demand {timing.Demand:F2} s, candidates {timing.Candidates:F2} s, greedy {timing.Greedy:F2} s), " +
            $"{timing.Result.DemandPoints:N0} demand points, {timing.Result.Candidates:N0} candidates");
        return new PlacementBenchResult(count, hfov, range, warmupSeconds, timing.Total, timing.Demand, timing.Candidates, timing.Greedy,
            timing.Result.DemandPoints, timing.Result.Candidates, timing.Result.Suggestions.Count, timing.Result.UncoveredWeightBefore,
            timing.Result.UncoveredWeightAfter, peak, rssBefore, isolated, null, cpu, machine);
    }

    private static (double Total, double Demand, double Candidates, double Greedy, PlacementResult Result) Suggest(
        CoverageModel model, string prefix, int count, double hfov, double range, CancellationToken ct)
    {
        long t0 = Stopwatch.GetTimestamp();
        var projection = model.Regions.Projection;
        var grids = model.LevelFourGrids
            .Where(g => g.Code.StartsWith(prefix, StringComparison.Ordinal))
            .Select(g => (g.Code, Metric: projection.Project(g.Geometry)))
            .ToList();
        var cameraModel = new CameraModel(hfov, range);
        double regionArea = grids.Sum(g => g.Metric.Area);
        double spacing = Math.Max(range / 2, Math.Sqrt(regionArea / 200_000));
        const double areaWeightPerHa = 1.0;
        Func<double, double, int> working = model.WorkingCamerasSeeing;

        var demand = new List<DemandPoint>(DemandSampler.GridArea(grids, spacing, areaWeightPerHa / 10_000.0, working));
        var siteGeometries = model.Regions.KeySites.ToDictionary(s => s.Code, s => s.Geometry, StringComparer.Ordinal);
        var sites = new List<(string Code, Geometry Metric)>();
        foreach (var site in model.SitesWithPrefix(prefix))
        {
            var metric = projection.Project(siteGeometries[site.Code]);
            sites.Add((site.Code, metric));
            if (!site.RealCovered)
            {
                double weight = s_categoryWeights.GetValueOrDefault(site.Category, 1.0) * site.Priority;
                demand.AddRange(DemandSampler.KeySite(site.Code, metric, weight, site.RequiredCameras, spacing, working));
            }
        }

        long t1 = Stopwatch.GetTimestamp();
        ct.ThrowIfCancellationRequested();
        var candidates = CandidateGenerator.Generate(sites, grids, cameraModel, range, projection);
        long t2 = Stopwatch.GetTimestamp();
        var result = GreedyPlacement.Place(demand, candidates, cameraModel, count, projection, ct);
        long t3 = Stopwatch.GetTimestamp();
        return (Seconds(t3 - t0), Seconds(t1 - t0), Seconds(t2 - t1), Seconds(t3 - t2), result);
    }

    /// <summary>Resets the kernel's peak-RSS mark (VmHWM) of this process (Linux ≥ 4.0: "5" to clear_refs); false when not allowed.</summary>
    public static bool ResetPeakRss()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A timed loop's deadline and the CPU counters taken once its warm-up is over.</summary>
    private sealed class Phase(int warmup, TimeSpan limit)
    {
        private readonly long _deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);

        public CpuSnapshot? CpuBefore { get; private set; }

        public (long, long)? MachineBefore { get; private set; }

        public string? Note { get; private set; }

        /// <summary>False once the limit has passed (with a note); at iteration <paramref name="i"/> == warm-up, takes the counters.</summary>
        public bool Continue(int i, int measured)
        {
            if (Stopwatch.GetTimestamp() > _deadline)
            {
                Note = $"stopped at the {limit.TotalSeconds:F0} s limit after {measured:N0} changes";
                return false;
            }

            if (i == warmup)
            {
                CpuBefore = CpuSnapshot.Take(Environment.ProcessId);
                MachineBefore = CpuSnapshot.SystemBusy();
            }

            return true;
        }
    }

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private static double Seconds(long ticks) => ticks / (double)Stopwatch.Frequency;

    /// <summary>
    /// Writes every grid's and key site's result with round-trip doubles (<c>BENCH_COVERAGE_DUMP=file</c>): two builds'
    /// files are equal byte for byte exactly when a change to the sweep left every area and share as it was.
    /// </summary>
    private static void Dump(CoverageModel model, string path)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        using var writer = new StreamWriter(path);
        foreach (var grid in model.GridsWithPrefix("").OrderBy(g => g.Code, StringComparer.Ordinal))
        {
            writer.Write(string.Create(inv, $"G {grid.Code} {grid.AreaM2:R} {grid.RealCoveredM2:R} {grid.DeclaredCoveredM2:R} {grid.PotentialCoveredM2:R} {grid.Cameras} {grid.CamerasWorking}"));
            foreach (var share in grid.Shares)
            {
                writer.Write(string.Create(inv, $" {share.CameraId}={share.Share:R}"));
            }

            writer.WriteLine();
        }

        foreach (var site in model.SitesWithPrefix("").OrderBy(s => s.Code, StringComparer.Ordinal))
        {
            writer.WriteLine(string.Create(inv, $"S {site.Code} {site.RealFraction:R} {site.DeclaredFraction:R} {string.Join(',', site.WorkingCameras)} {string.Join(',', site.DeclaredCameras)}"));
        }
    }
}
