using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Docs;

/// <summary>
/// The README's five-minute tour, run as written: its first block (<c>bash scripts/run.sh --demo</c>) starts the
/// gateway, the others run in order in one bash session from the repository root. The only changes are the ones a
/// test needs to share the machine: the gateway gets free ports (port 0) and a data directory of its own through its
/// environment variables, the CLI finds them through SHARPEYES_SERVER and SHARPEYES_DATA_DIR, and the MQTT and HTTP
/// port numbers in the commands are replaced by the ones the gateway got. Then what the tour's text promises is checked
/// against what the commands printed.
/// </summary>
public sealed partial class ReadmeTourTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("sharpeyes-tour-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task Every_command_of_the_README_tour_runs_and_does_what_the_README_says()
    {
        if (InteropPaths.FindOnPath("mosquitto_pub") is null || InteropPaths.FindOnPath("curl") is null)
        {
            InteropPaths.SkipUnlessCi("the tour needs mosquitto_pub and curl (scripts/install-test-deps.sh installs both)");
        }

        var blocks = TourBlocks(await File.ReadAllTextAsync(Path.Combine(InteropPaths.RepoRoot, "README.md"), TestContext.Current.CancellationToken));
        Assert.True(blocks.Count >= 6, $"the tour has {blocks.Count} sh blocks");
        Assert.Equal("bash scripts/run.sh --demo", blocks[0].Trim());

        var start = new ProcessStartInfo("bash") { WorkingDirectory = InteropPaths.RepoRoot };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(blocks[0]);
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("SHARPEYES_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name); // as in a newcomer's shell
        }

        foreach (var (name, value) in new[] { ("GRPC_PORT", "0"), ("MQTT_PORT", "0"), ("HTTP_PORT", "0"), ("SIP_PORT", "0"), ("BIND", "127.0.0.1"), ("DATA_DIR", _dataDir) })
        {
            start.Environment["SHARPEYES_" + name] = value;
        }

        // run.sh builds before it runs (a no-op build after the suite's own, longer on a cold machine).
        await using var gateway = await GatewayProcess.StartAsync(start, TimeSpan.FromMinutes(5));

        var script = new StringBuilder("set -euo pipefail\n");
        for (var i = 1; i < blocks.Count; i++)
        {
            var block = blocks[i]
                .Replace("-p 1883", string.Create(System.Globalization.CultureInfo.InvariantCulture, $"-p {gateway.MqttPort}"), StringComparison.Ordinal)
                .Replace("127.0.0.1:8080", string.Create(System.Globalization.CultureInfo.InvariantCulture, $"127.0.0.1:{gateway.HttpPort}"), StringComparison.Ordinal);
            script.Append(System.Globalization.CultureInfo.InvariantCulture, $"echo '@@block {i}'\n").Append(block).Append('\n');
        }

        // Every default port of the tour was one of the two replaced above.
        Assert.DoesNotMatch(@"\b(1883|8080|50051)\b", script.ToString());

        // A newcomer's shell has no SHARPEYES_* variables; this process has some (GatewayHost sets the admin key of
        // the in-process hosts), and an empty variable counts as unset.
        var environment = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith("SHARPEYES_", StringComparison.Ordinal)).ToDictionary(k => k, _ => "");
        environment["SHARPEYES_SERVER"] = $"http://127.0.0.1:{gateway.GrpcPort}";
        environment["SHARPEYES_DATA_DIR"] = _dataDir;
        var run = await ExternalTool.RunAsync("bash", ["-c", script.ToString()], TimeSpan.FromMinutes(3), InteropPaths.RepoRoot, environment);
        Assert.True(run.ExitCode == 0, $"the tour failed (exit {run.ExitCode})\n{run.Stdout}\n{run.Stderr}\n--- gateway ---\n{gateway.Output}");

        var output = Outputs(run.Stdout, blocks);
        string Of(string command) => output.Single(o => o.Block.Contains(command, StringComparison.Ordinal)).Output;

        // "the hospital 中韩镇卫生院 (KS-130127104-003) has none" ... "the hospital is gone from the list"
        var blindSpots = output.Where(o => o.Block.Contains("coverage blind-spots", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, blindSpots.Count);
        Assert.Matches(@"KS-130127104-003\t中韩镇卫生院\thospital\t\d\t\d+\tno-camera", blindSpots[0].Output);
        Assert.DoesNotContain("KS-130127104-003", blindSpots[1].Output, StringComparison.Ordinal);
        Assert.Equal(5, blindSpots[1].Output.Split('\n').Count(l => Regex.IsMatch(l, @"^\d+\t[\d.]+\t(key-site|grid)\t")));

        // The camera is registered to acme in the hospital's grid and works.
        Assert.Contains("created 13012710401320000901 in grid 130127104207001", Of("devices register"), StringComparison.Ordinal);
        Assert.Contains("accepted 1", Of("devices register"), StringComparison.Ordinal);

        // "watch it open an incident on the centre's feed": sequence, grid, incident, alarm.
        Assert.Matches(@"^\d+\t\S+\tincident-opened\t130127104207001\tinc_[0-9a-f]{32} va-intrusion priority 1, 1 alarm\(s\): intrusion at the gate$", Of("feed watch").Trim());

        // "where three more cameras ... would help most": three ranked suggestions.
        Assert.Equal(3, Of("coverage suggest").Split('\n').Count(l => Regex.IsMatch(l, @"^\d+\t114\.\d+\t37\.\d+\t")));

        // What Prometheus would scrape: the one alarm, the incident it opened, the registered devices.
        var metrics = Of("/metrics");
        Assert.Contains("sharpeyes_alarms_accepted_total 1", metrics, StringComparison.Ordinal);
        Assert.Contains("sharpeyes_incidents_open 1", metrics, StringComparison.Ordinal);
        Assert.Matches(@"sharpeyes_devices\{kind=""camera"",status=""online""\} \d+", metrics);
    }

    /// <summary>The sh blocks between the tour markers, in order.</summary>
    internal static List<string> TourBlocks(string readme)
    {
        var begin = readme.IndexOf("<!-- tour:begin", StringComparison.Ordinal);
        var end = readme.IndexOf("<!-- tour:end -->", StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, "README.md has no <!-- tour:begin ... --> ... <!-- tour:end --> section");
        return [.. ShBlock().Matches(readme[begin..end]).Select(m => m.Groups[1].Value)];
    }

    private static List<(string Block, string Output)> Outputs(string stdout, List<string> blocks)
    {
        var parts = Regex.Split(stdout, @"^@@block (\d+)$", RegexOptions.Multiline);
        var result = new List<(string, string)>();
        for (var i = 1; i + 1 < parts.Length; i += 2)
        {
            result.Add((blocks[int.Parse(parts[i], System.Globalization.CultureInfo.InvariantCulture)], parts[i + 1]));
        }

        Assert.Equal(blocks.Count - 1, result.Count);
        return result;
    }

    [GeneratedRegex(@"```sh\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex ShBlock();
}
