using System.Diagnostics;
using System.Text.Json;

namespace SharpEyes.Geo.Tests.Oracle;

/// <summary>Runs a script of tests/node/oracle with node, passing input as a temp JSON file and parsing its JSON stdout.</summary>
internal static class NodeOracle
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Skips the calling test (with the reason) when node or tests/node/node_modules is missing — but fails it under CI
    /// (CI=true), where scripts/test.sh installs both, so a green CI never hides an oracle that did not run.
    /// </summary>
    public static void SkipUnlessAvailable()
    {
        if (FindNode() is null)
        {
            SkipUnlessCi("node is not on PATH; install Node 20+ to run the oracle checks.");
        }

        if (!Directory.Exists(Path.Combine(TestPaths.NodeDirectory, "node_modules")))
        {
            SkipUnlessCi($"{Path.Combine(TestPaths.NodeDirectory, "node_modules")} is missing; run 'npm ci' in tests/node to run the oracle checks.");
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void SkipUnlessCi(string reason)
    {
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail(reason + " (CI=true: scripts/test.sh should have installed it)");
        }

        Assert.Skip(reason);
    }

    public static async Task<JsonDocument> RunAsync(string script, object input)
    {
        string node = FindNode() ?? throw new InvalidOperationException("node not found");
        string inputPath = Path.Combine(Path.GetTempPath(), $"sharpeyes-oracle-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(inputPath, JsonSerializer.Serialize(input), TestContext.Current.CancellationToken);
        try
        {
            var start = new ProcessStartInfo(node)
            {
                WorkingDirectory = TestPaths.NodeDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(Path.Combine(TestPaths.NodeDirectory, "oracle", script));
            start.ArgumentList.Add(inputPath);
            using var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
            var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            cts.CancelAfter(s_timeout);
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"node {script} did not finish within {s_timeout}.");
            }

            string output = await stdout;
            string errors = await stderr;
            Assert.True(process.ExitCode == 0, $"node {script} exited with {process.ExitCode}: {errors}");
            return JsonDocument.Parse(output);
        }
        finally
        {
            File.Delete(inputPath);
        }
    }

    private static string? FindNode()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var name in new[] { "node", "node.exe" })
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
