using System.Diagnostics;
using System.Text.Json;
using SharpEyes.Bench.Reporting;

namespace SharpEyes.Bench.Coverage;

/// <summary>
/// <c>sharpeyes-bench coverage [--grpc-port G --gateway-pid PID --admin-key K] [--out latest.md] [--json coverage.json]</c>:
/// rows 1, 2 and 4 in process (the gateway, if any, is still empty and idle meanwhile), then rows 3 and 5 against the
/// gateway when a gRPC port is given. Prints the section and merges it into the Markdown report.
/// Options (defaults): --cov-sites 5000, --cov-cameras 20000, --cov-probes 200, --cov-runs 5 and --cov-warmups 3 (RecomputeAll: timed and unscored runs),
/// --cov-changes 2000 and --cov-changes-warmup 500 (row 2), --cov-dense-wedges 420 and --cov-dense-changes 1000 (row 2b),
/// --cov-footprints-per-tile 4 (the model's tiling), --cov-baseline 1 (rows 1, 2 and 2b again with each grid measured whole, the baseline), --placement-count 20, --placement-limit-s 120,
/// --cov-rounds 3 and --cov-warmup rounds × probes (row 3 cycles), --phase-limit-s 90.
/// <c>BENCH_COVERAGE_DUMP=file</c> writes row 1's results with round-trip doubles (with --cov-baseline 0; the baseline's
/// model would overwrite them), to compare two builds of the sweep byte for byte.
/// </summary>
internal static class CoverageCommand
{
    public static async Task<int> RunAsync(Options options, CancellationToken ct)
    {
        var log = Console.Error;
        var errors = new List<string>();
        var started = DateTimeOffset.UtcNow;
        int sites = options.Int("cov-sites", 5_000), cameras = options.Int("cov-cameras", 20_000), probes = options.Int("cov-probes", 200);
        var phaseLimit = TimeSpan.FromSeconds(options.Int("phase-limit-s", 90));

        log.WriteLine($"[coverage] generating the synthetic county: {sites:N0} key sites, {cameras:N0} cameras, {probes} probes");
        var start = Stopwatch.GetTimestamp();
        var county = SyntheticCounty.Build(sites, cameras, probes);
        var shape = new CountyShape(county.GridCount, county.VillageCount, county.TownshipCount, county.KeySites.Count, county.PointSites,
            county.Cameras.Count, county.Cameras.Count(c => c.Ptz), county.Cameras.Count(c => !c.Online), county.Probes.Count,
            Stopwatch.GetElapsedTime(start).TotalSeconds);

        RecomputeAllResult? recompute = null;
        IncrementalResult? incremental = null;
        IncrementalResult? dense = null;
        PlacementBenchResult? placement = null;
        var engine = new EngineBench(county, log, options.Int("cov-footprints-per-tile", SharpEyes.Geo.Coverage.CoverageModel.DefaultFootprintsPerTile));
        try
        {
            recompute = engine.RecomputeAll(options.Int("cov-runs", 5), options.Int("cov-warmups", 3), phaseLimit);
            log.WriteLine($"[coverage] row 1: median {recompute.MedianSeconds:F3} s, max {recompute.MaxSeconds:F3} s; peak RSS {recompute.PeakRssKb / 1024:N0} MiB");
            incremental = engine.Incremental(options.Int("cov-changes", 2_000), warmup: options.Int("cov-changes-warmup", 500), TimeSpan.FromSeconds(60));
            log.WriteLine($"[coverage] row 2: p50 {incremental.P50Ms:F3} ms, p99 {incremental.P99Ms:F3} ms, max {incremental.MaxMs:F2} ms");
            dense = engine.DenseGrid(options.Int("cov-dense-wedges", 420), options.Int("cov-dense-changes", 1_000), warmup: 100, TimeSpan.FromSeconds(60));
            using var placementLimit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            placementLimit.CancelAfter(TimeSpan.FromSeconds(options.Int("placement-limit-s", 120)));
            placement = engine.Placement(options.Int("placement-count", 20), 90, 60, placementLimit.Token);
            log.WriteLine($"[coverage] row 4: {placement.Seconds:F2} s, peak RSS {placement.PeakRssKb / 1024:N0} MiB");
        }
        catch (OperationCanceledException)
        {
            errors.Add("an in-process row was cancelled at its time limit");
        }

        // Free the in-process model before the baseline and the gateway rows (less GC work while they measure).
        engine = null;
        GC.Collect();
        GC.WaitForPendingFinalizers();

        // The baseline of rows 1, 2 and 2b in the same run: the same engine measuring each grid whole (one sweep per
        // grid, as before tiles; issue 17).
        RecomputeAllResult? wholeRecompute = null;
        IncrementalResult? wholeIncremental = null, wholeDense = null;
        if (options.Int("cov-baseline", 1) == 1)
        {
            try
            {
                var whole = new EngineBench(county, log, footprintsPerTile: 0);
                log.WriteLine("[coverage] baseline: each grid measured whole (no tiles)");
                wholeRecompute = whole.RecomputeAll(options.Int("cov-runs", 5), options.Int("cov-warmups", 3), phaseLimit);
                wholeIncremental = whole.Incremental(options.Int("cov-changes", 2_000), warmup: options.Int("cov-changes-warmup", 500), TimeSpan.FromSeconds(60));
                wholeDense = whole.DenseGrid(options.Int("cov-dense-wedges", 420), options.Int("cov-dense-changes", 1_000), warmup: 100, TimeSpan.FromSeconds(60));
                log.WriteLine($"[coverage] baseline: full recompute median {wholeRecompute.MedianSeconds:F3} s; change p99 {wholeIncremental.P99Ms:F3} ms; dense p99 {wholeDense.P99Ms:F3} ms");
            }
            catch (OperationCanceledException)
            {
                errors.Add("a baseline row was cancelled at its time limit");
            }

            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        GatewayCoverageResult? gateway = null;
        string? skipped = null;
        int grpcPort = options.Int("grpc-port", 0);
        if (grpcPort == 0)
        {
            skipped = "no gateway (run through bench/run.sh coverage)";
        }
        else
        {
            // Warm-up as many cycles as are measured: with fewer, the gateway's tiered JIT is still busy during the
            // measured cycles (seen: "Tiered Compilation" thread at 20-35 % of a core after 10 or 200 warm-up cycles).
            int rounds = options.Int("cov-rounds", 3);
            var gatewayOptions = new GatewayCoverageOptions(grpcPort, options.Int("gateway-pid", 0),
                options.Get("admin-key", Environment.GetEnvironmentVariable("SHARPEYES_ADMIN_KEY") ?? ""),
                rounds, options.Int("cov-warmup", rounds * probes), phaseLimit, TimeSpan.FromSeconds(5));
            try
            {
                gateway = await new GatewayCoverageBench(county, gatewayOptions, log).RunAsync(ct);
                log.WriteLine($"[coverage] row 3: online → gap closed {gateway.GapClosed.Describe()}; alarm online {gateway.AlarmOnline.Describe()}");
            }
            catch (Exception e) when (e is Grpc.Core.RpcException or InvalidOperationException or OperationCanceledException or TimeoutException)
            {
                skipped = $"failed: {e.GetType().Name}: {e.Message}";
                errors.Add("gateway rows " + skipped);
                log.WriteLine($"[coverage] gateway rows failed: {e}");
            }
        }

        var results = new CoverageResults(shape, recompute, incremental, placement, gateway, skipped, errors) { DenseGrid = dense, WholeRecompute = wholeRecompute, WholeIncremental = wholeIncremental, WholeDenseGrid = wholeDense };
        var context = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["run"] = $"{started:yyyy-MM-dd HH:mm:ss} UTC; coverage section took {(DateTimeOffset.UtcNow - started).TotalSeconds:F0} s",
        };
        foreach (var extra in options.All("context"))
        {
            var eq = extra.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                context[extra[..eq]] = extra[(eq + 1)..];
            }
        }

        var section = CoverageReport.Render(results, context);
        if (options.Get("out", "") is { Length: > 0 } outFile)
        {
            ReportSections.Merge(outFile, "coverage", section);
        }

        if (options.Get("json", "") is { Length: > 0 } jsonFile)
        {
            await File.WriteAllTextAsync(jsonFile, JsonSerializer.Serialize(results, Options.Json), CancellationToken.None);
        }

        Console.Out.Write(section);
        return errors.Count == 0 && (gateway is null || gateway.Errors.Count == 0) ? 0 : 1;
    }
}
