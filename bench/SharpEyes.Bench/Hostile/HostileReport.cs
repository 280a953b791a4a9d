using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using SharpEyes.Bench.Gateway;
using SharpEyes.Bench.Reporting;

namespace SharpEyes.Bench.Hostile;

/// <summary>The "hostile" section of bench/results/latest.md: one row per attack and build, then what each attack did and the raw observations.</summary>
internal static class HostileReport
{
    public static string Render(IReadOnlyList<HostileAttack> attacks, IReadOnlyList<HostileCommand.Build> builds, HostileSettings settings,
        IReadOnlyList<HostileResult> results, GatewayProcess.Launch launch, string run)
    {
        var b = new StringBuilder();
        void Line(string text = "") => b.Append(text).Append('\n');
        var label = builds.ToDictionary(x => x.Name, x => x.Label, StringComparer.Ordinal);

        Line(ReportSections.Begin("hostile"));
        Line("## Hostile and careless clients (issue 11): the gateway before and after its fixes, same run");
        Line();
        Line(string.Create(CultureInfo.InvariantCulture, $"- builds: {string.Join("; ", builds.Select(x => $"**{x.Name}** = {x.Label} (`{x.Dll}`)"))}"));
        Line(string.Create(CultureInfo.InvariantCulture, $"- each attack × build on a fresh gateway process: Release, `--demo --demo-cameras false --stream-checks false`, 127.0.0.1, "
            + $"`ulimit -n {launch.OpenFilesLimit:N0}`; the attacker (this bench and its flood workers) {IdleFlood.OpenFilesLimit():N0} open files per process; every attack comes from its own 127.0.0.x, never 127.0.0.1"));
        Line(string.Create(CultureInfo.InvariantCulture, $"- canary from 127.0.0.1, once per second per probe from {HostileCommand.Settle.TotalSeconds:0} s before the attack to {settings.After.TotalSeconds:0} s after it, each bounded by "
            + $"{Canary.ProbeTimeout.TotalSeconds:0} s: a vendor's valid QoS 1 alarm (answered = success PUBACK), GET /healthz on a new connection (2xx), "
            + $"Admin.GetStats with the admin key on a kept gRPC channel (OK); \"a/n, worst t\" = answered of attempted, slowest answer"));
        Line(string.Create(CultureInfo.InvariantCulture, $"- RSS = VmRSS in MiB, sampled every 250 ms: before the attack → peak → {settings.After.TotalSeconds:0} s after it ended; open files = entries of /proc/PID/fd; "
            + $"log lines = lines the gateway wrote from the attack's start to the end of the run"));
        Line(string.Create(CultureInfo.InvariantCulture, $"- run: {run}; machine: {Environment.ProcessorCount} CPUs, {MarkdownReport.CpuModel()}, {RuntimeInformation.OSDescription}"));
        Line();
        Line("| attack | build | alive after | RSS MiB before → peak → after | open files before → peak | canary alarms | canary /healthz | canary GetStats | log lines | what the attack got |");
        Line("|---|---|---|---:|---:|---|---|---|---:|---|");
        foreach (var r in results)
        {
            if (r.Error is not null)
            {
                Line(string.Create(CultureInfo.InvariantCulture, $"| {r.Attack} | {r.Build} ({label[r.Build]}) | — | — | — | — | — | — | — | run failed: {Cell(r.Error)} |"));
                continue;
            }

            var alive = r.ExitCode is { } code
                ? string.Create(CultureInfo.InvariantCulture, $"**no**: exit {code}{(r.ExitedAfterSeconds is { } at ? $" at +{at:F0} s" : "")}")
                : "yes";
            var after = r.RssAfterKb is { } a ? Mib(a) : "gone";
            var canary = r.Canary.Select(p => p.ToString()).Concat(Enumerable.Repeat("—", 3)).Take(3).ToList();
            Line(string.Create(CultureInfo.InvariantCulture, $"| {r.Attack} | {r.Build} ({label[r.Build]}) | {alive} | {Mib(r.RssBeforeKb)} → {Mib(r.PeakRssKb)} → {after} | {r.FilesBefore:N0} → {r.PeakFiles:N0} | "
                + $"{canary[0]} | {canary[1]} | {canary[2]} | {r.LogLines:N0} | {Cell(r.Outcome)} |"));
        }

        Line();
        Line("### The attacks");
        Line();
        foreach (var attack in attacks)
        {
            Line($"- **{attack.Name}**: {attack.What(settings)}. Issue 11, before the fixes: \"{attack.IssueFigures}\".");
        }

        Line();
        Line("### Raw observations");
        Line();
        foreach (var r in results)
        {
            Line($"- **{r.Attack} / {r.Build}**" + (r.Error is null ? string.Create(CultureInfo.InvariantCulture, $" (attack {r.AttackSeconds:F1} s)") : $": run failed: {r.Error}"));
            foreach (var d in r.Details)
            {
                Line("  - " + d);
            }

            foreach (var p in r.Canary.Where(p => p.Failures.Count > 0))
            {
                Line(string.Create(CultureInfo.InvariantCulture, $"  - canary {p.Probe} failures: {string.Join(", ", p.Failures.Select(f => $"{f.Key} ×{f.Value}"))}"));
            }

            if (r.Refusals.Count > 0)
            {
                Line(string.Create(CultureInfo.InvariantCulture, $"  - refusals counted (sharpeyes_refusals_total): {string.Join(", ", r.Refusals.Select(f => $"{f.Key} {f.Value:N0}"))}"));
            }

            if (r.FilesAfter is { } files)
            {
                Line(string.Create(CultureInfo.InvariantCulture, $"  - open files {settings.After.TotalSeconds:0} s after: {files:N0}"));
            }

            if (r.LogSample.Count > 0)
            {
                Line("  - first log lines of the attack: " + string.Join(" ⏎ ", r.LogSample.Select(l => $"`{l.Replace('`', '\'')}`")));
            }

            if (r.LogTail.Count > 0)
            {
                Line("  - last log lines before the exit: " + string.Join(" ⏎ ", r.LogTail.Select(l => $"`{l.Replace('`', '\'')}`")));
            }
        }

        Line(ReportSections.End("hostile"));
        return b.ToString();
    }

    private static string Mib(long kb) => (kb / 1024.0).ToString("N0", CultureInfo.InvariantCulture);

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
