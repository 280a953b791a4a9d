using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using SharpEyes.Bench.Gateway;
using SharpEyes.Bench.Reporting;

namespace SharpEyes.Bench.Hostile;

/// <summary>
/// <c>sharpeyes-bench hostile --gateway-dll NEW/sharpeyes.dll --baseline-dll OLD/sharpeyes.dll --work DIR --admin-key K
/// [--pid-file F] [--out latest.md] [--json hostile.json] [--attacks idle-flood,...]</c>: the attacks of issue 11 ("Hostile
/// and careless clients") against the gateway before its fixes (the baseline, started on explicit free ports: it
/// cannot listen on port 0) and the current one, in the same run, one fresh gateway process per attack and build
/// (Release, --demo without demo cameras or stream checks, under <c>ulimit -n</c> --gateway-open-files, 20,000 by
/// default). For each: the canary (<see cref="Canary"/>) starts, 3 s pass, the attack runs while
/// <see cref="ProcessWatch"/> samples RSS and open files every 250 ms, then --after-s (10) more seconds; then RSS again,
/// whether the process is alive (its exit code if not), what the canary got, the log lines the gateway wrote from the
/// attack's start, and the refusal counters it exposes (sharpeyes_refusals_total, current build only).
/// The attacker needs more open files than the gateway (bench/run.sh raises its own limit).
/// </summary>
internal static class HostileCommand
{
    private const string Tag = "hostile";
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(10);

    public static readonly HostileAttack[] Attacks =
        [IdleFlood.Attack, MqttAttacks.BigConnect, MqttAttacks.BigPublish, GrpcAttacks.UnauthImport, MqttAttacks.SessionQueues, GrpcAttacks.GuessKeys];

    public static async Task<int> RunAsync(Options options, CancellationToken ct)
    {
        var log = Console.Error;
        var launch = GatewayProcess.Launch.FromOptions(options, Tag) with { OpenFilesLimit = options.Int("gateway-open-files", 20_000) };
        Build[] builds =
        [
            new("before", options.Get("baseline-label", "baseline"), Path.GetFullPath(options.Get("baseline-dll", "")), ExplicitPorts: true),
            new("after", options.Get("current-label", "current"), launch.GatewayDll, ExplicitPorts: false),
        ];
        if (builds.Any(b => !File.Exists(b.Dll)) || launch.AdminKey.Length == 0)
        {
            log.WriteLine("[hostile] --gateway-dll and --baseline-dll (existing sharpeyes.dll files) and --admin-key are required");
            return 2;
        }

        var names = options.Get("attacks", string.Join(',', Attacks.Select(a => a.Name))).Split(',', StringSplitOptions.RemoveEmptyEntries);
        var unknown = names.Except(Attacks.Select(a => a.Name)).ToList();
        if (unknown.Count > 0)
        {
            log.WriteLine($"[hostile] unknown attacks: {string.Join(", ", unknown)} (known: {string.Join(", ", Attacks.Select(a => a.Name))})");
            return 2;
        }

        var settings = HostileSettings.From(options);
        Directory.CreateDirectory(launch.Work);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var results = new List<HostileResult>();
        foreach (var attack in Attacks.Where(a => names.Contains(a.Name)))
        {
            foreach (var build in builds)
            {
                log.WriteLine($"[hostile] {attack.Name} against {build.Label}");
                var result = await RunOneAsync(attack, build, launch, settings, ct);
                log.WriteLine($"[hostile]   {result}");
                results.Add(result);
            }
        }

        var section = HostileReport.Render(Attacks.Where(a => names.Contains(a.Name)).ToList(), builds, settings, results, launch,
            $"{started:yyyy-MM-dd HH:mm} UTC, {clock.Elapsed.TotalMinutes:F0} min");
        Console.WriteLine(section);
        if (options.Get("out", "") is { Length: > 0 } outPath)
        {
            ReportSections.Merge(outPath, Tag, section);
        }

        if (options.Get("json", "") is { Length: > 0 } jsonPath)
        {
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(results, Options.Json), CancellationToken.None);
        }

        return results.All(r => r.Error is null) ? 0 : 1;
    }

    /// <summary>A gateway build under attack: "before" (the baseline) or "after", its label (a commit) and its dll.</summary>
    internal sealed record Build(string Name, string Label, string Dll, bool ExplicitPorts);

    private static async Task<HostileResult> RunOneAsync(HostileAttack attack, Build build, GatewayProcess.Launch launch, HostileSettings settings, CancellationToken ct)
    {
        var result = new HostileResult { Attack = attack.Name, Build = build.Name };
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(RunLimit);
        GatewayProcess? gateway = null;
        Canary? canary = null;
        try
        {
            gateway = await GatewayProcess.StartAsync(launch with { GatewayDll = build.Dll, ExplicitPorts = build.ExplicitPorts }, $"{attack.Name}-{build.Name}",
                ["--demo", "--demo-cameras", "false", "--stream-checks", "false"], limit.Token);
            var target = await HostileTarget.PrepareAsync(gateway, launch.AdminKey, limit.Token);
            canary = await Canary.StartAsync(gateway, target.Canary, launch.AdminKey, limit.Token);
            await Task.Delay(Settle, limit.Token);

            result.RssBeforeKb = CpuSnapshot.Memory(gateway.Pid).CurrentKb;
            result.FilesBefore = CpuSnapshot.OpenFiles(gateway.Pid);
            var logFrom = new FileInfo(gateway.LogFile).Length;
            var clock = Stopwatch.StartNew();
            await using (var watch = new ProcessWatch(gateway))
            {
                AttackOutcome outcome;
                try
                {
                    outcome = await attack.RunAsync(target, settings, limit.Token);
                }
                catch (Exception e) when (e is not OperationCanceledException || !limit.IsCancellationRequested)
                {
                    outcome = new AttackOutcome($"the attack failed: {e.GetType().Name}: {e.Message}", [e.ToString()]);
                }

                result.AttackSeconds = clock.Elapsed.TotalSeconds;
                result.Outcome = outcome.Summary;
                result.Details.AddRange(outcome.Details);
                await Task.Delay(settings.After, limit.Token);
                result.PeakRssKb = watch.PeakRssKb;
                result.PeakFiles = watch.PeakOpenFiles;
                result.ExitedAfterSeconds = watch.ExitedAfter?.TotalSeconds;
                if (!gateway.HasExited)
                {
                    result.RssAfterKb = CpuSnapshot.Memory(gateway.Pid).CurrentKb;
                    result.FilesAfter = CpuSnapshot.OpenFiles(gateway.Pid);
                }
            }

            await canary.DisposeAsync();
            result.Canary = [new("MQTT alarms", canary.Alarms), new("/healthz", canary.Health), new("gRPC GetStats", canary.Stats)];
            canary = null;
            var newLines = Lines(gateway.LogFile, logFrom);
            result.LogLines = newLines.Count;
            result.LogSample = [.. newLines.Take(3).Select(l => l.Length > 300 ? l[..300] + "…" : l)];
            if (gateway.HasExited)
            {
                result.ExitCode = gateway.ExitCode;
                result.LogTail = [.. Lines(gateway.LogFile, 0).TakeLast(4)];
            }
            else
            {
                try
                {
                    result.Refusals = (await MetricsScrape.ReadAsync(gateway.HttpPort, limit.Token))
                        .Where(m => m.Key.StartsWith("sharpeyes_refusals_total", StringComparison.Ordinal) && m.Value > 0)
                        .ToDictionary(m => m.Key["sharpeyes_refusals_total".Length..], m => m.Value, StringComparer.Ordinal);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    result.Details.Add("/metrics did not answer after the attack: " + e.Message);
                }
            }
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or TimeoutException or IOException or HttpRequestException
            or MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            result.Error = $"{e.GetType().Name}: {e.Message}";
            Console.Error.WriteLine($"[hostile]   run failed: {e}");
        }
        finally
        {
            if (canary is not null)
            {
                await canary.DisposeAsync();
            }

            if (gateway is not null)
            {
                result.ExitCode ??= gateway.HasExited ? gateway.ExitCode : null;
                await gateway.DisposeAsync();
            }
        }

        return result;
    }

    /// <summary>The lines of a file from byte <paramref name="offset"/> on.</summary>
    private static List<string> Lines(string file, long offset)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }
}

/// <summary>One canary probe's tally: attempts, answers, the slowest answer, the failures by kind.</summary>
internal sealed record CanaryProbe(string Probe, int Answered, int Attempts, double WorstMs, IReadOnlyDictionary<string, int> Failures)
{
    public CanaryProbe(string probe, Canary.Probe p)
        : this(probe, p.Answered, p.Attempts, p.WorstMs, p.Failures)
    {
    }

    /// <summary>"38/40, worst 12 ms" (the worst of the answered ones).</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Answered}/{Attempts}{(Answered > 0 ? $", worst {WorstMs:N0} ms" : "")}");
}

/// <summary>What one attack did to one build.</summary>
internal sealed class HostileResult
{
    public string Attack { get; init; } = "";

    public string Build { get; init; } = "";

    public long RssBeforeKb { get; set; }

    public long PeakRssKb { get; set; }

    public long? RssAfterKb { get; set; }

    public int FilesBefore { get; set; }

    public int PeakFiles { get; set; }

    public int? FilesAfter { get; set; }

    /// <summary>Null while the gateway runs.</summary>
    public int? ExitCode { get; set; }

    /// <summary>When the gateway was seen gone, in seconds from the attack's start (null if it survived).</summary>
    public double? ExitedAfterSeconds { get; set; }

    public double AttackSeconds { get; set; }

    public string Outcome { get; set; } = "";

    public List<string> Details { get; } = [];

    public List<CanaryProbe> Canary { get; set; } = [];

    /// <summary>Lines the gateway wrote from the attack's start to the end of the run.</summary>
    public int LogLines { get; set; }

    public List<string> LogSample { get; set; } = [];

    public List<string> LogTail { get; set; } = [];

    public Dictionary<string, double> Refusals { get; set; } = [];

    public string? Error { get; set; }

    public override string ToString() => Error ?? string.Create(CultureInfo.InvariantCulture,
        $"RSS {RssBeforeKb / 1024.0:F0} → peak {PeakRssKb / 1024.0:F0} → {(RssAfterKb is { } a ? $"{a / 1024.0:F0}" : "gone")} MiB, files peak {PeakFiles:N0}, "
        + $"{(ExitCode is { } c ? $"exited {c}" : "alive")}; canary {string.Join("; ", Canary.Select(p => $"{p.Probe} {p}"))}; log lines {LogLines:N0}; {Outcome}");
}
