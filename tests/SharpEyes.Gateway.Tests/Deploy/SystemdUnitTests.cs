using System.Diagnostics;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Deploy;

/// <summary>deploy/systemd/sharpeyes.service, the single-node unit: consistent with the gateway, and accepted by systemd.</summary>
public sealed class SystemdUnitTests
{
    private static string UnitFile => Path.Combine(InteropPaths.RepoRoot, "deploy", "systemd", "sharpeyes.service");

    /// <summary>Runs everywhere: what the unit says agrees with what the gateway reads and does.</summary>
    [Fact]
    public void The_unit_sets_only_variables_the_gateway_reads_and_gives_it_the_directory_and_time_it_needs()
    {
        var lines = File.ReadAllLines(UnitFile).Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] is not ('#' or ';')).ToList();
        string Value(string key) => Assert.Single(lines, l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];

        // Every Environment= is a variable the gateway reads (a typo would be silently ignored by both): DeployedSettings.
        var set = lines.Where(l => l.StartsWith("Environment=", StringComparison.Ordinal)).Select(l => l["Environment=".Length..].Split('=')[0]).ToList();
        Assert.NotEmpty(set);
        DeployedSettings.AssertKnownVariables(set);

        // The data directory: systemd's StateDirectory, the one --data-dir names, and writable under ProtectSystem=strict.
        var dataDir = "/var/lib/" + Value("StateDirectory");
        Assert.Contains("--data-dir " + dataDir, Value("ExecStart"), StringComparison.Ordinal);
        Assert.Equal("strict", Value("ProtectSystem"));
        Assert.Contains(dataDir, Value("ReadWritePaths").Split(' '));
        Assert.Equal("0700", Value("StateDirectoryMode"));

        // SIGTERM leaves the host its shutdown timeout (the journal commits what was acknowledged) before systemd's SIGKILL.
        Assert.Equal("SIGTERM", Value("KillSignal"));
        Assert.True(int.Parse(Value("TimeoutStopSec"), System.Globalization.CultureInfo.InvariantCulture) > 30, "TimeoutStopSec must exceed the host's 30 s shutdown timeout");

        // Open files: well above the MQTT connection limit (each connection is one).
        Assert.True(int.Parse(Value("LimitNOFILE"), System.Globalization.CultureInfo.InvariantCulture) > new LimitOptions().MqttMaxConnections * 2);
    }

    /// <summary>systemd's own check of the unit (unknown keys, bad values, a missing executable), when systemd-analyze is here.</summary>
    [Fact]
    public async Task Systemd_analyze_verify_accepts_the_unit()
    {
        var analyze = File.Exists("/usr/bin/systemd-analyze") ? "/usr/bin/systemd-analyze" : InteropPaths.FindOnPath("systemd-analyze");
        if (analyze is null)
        {
            Assert.Skip("systemd-analyze is not installed (package systemd), so systemd's own check of the unit cannot run here; the consistency test above still ran.");
        }

        if (!File.Exists("/usr/bin/dotnet"))
        {
            Assert.Skip("/usr/bin/dotnet, the unit's ExecStart, is not on this machine (the unit expects Debian's or Microsoft's dotnet package there); verify would only report that.");
        }

        var info = new ProcessStartInfo(analyze, ["verify", UnitFile]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, output);
        Assert.True(output.Trim().Length == 0, "systemd-analyze verify warned:\n" + output); // warnings (an unknown key) exit 0
    }
}
