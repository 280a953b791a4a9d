using System.Text.Json;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.WebConsole;

/// <summary>
/// What a browser test of the console needs: node, Debian's chromium, the console's npm packages (playwright-core)
/// and its build beside the gateway. Outside CI a missing one skips the test with the command that installs it. Runs
/// a script of src/SharpEyes.Console/test/ (keys in environment variables, never arguments) and answers the JSON line
/// it prints; screenshots go to TestResults/console/.
/// </summary>
internal static class ConsoleBrowser
{
    public static readonly string ConsoleDirectory = Path.Combine(InteropPaths.RepoRoot, "src", "SharpEyes.Console");

    public static readonly string Artifacts = Path.Combine(InteropPaths.RepoRoot, "TestResults", "console");

    /// <summary>Skips (outside CI) unless node, chromium, playwright-core and the built console are there.</summary>
    public static (string Node, string Chromium) Require()
    {
        var node = InteropPaths.FindOnPath("node");
        if (node is null)
        {
            InteropPaths.SkipUnlessCi("node is not on PATH; run scripts/install-test-deps.sh to run the console's browser tests.");
        }

        var chromium = Environment.GetEnvironmentVariable("CHROMIUM") ?? "/usr/bin/chromium";
        if (!File.Exists(chromium))
        {
            InteropPaths.SkipUnlessCi($"{chromium} is missing; install Debian's chromium (scripts/install-test-deps.sh does) to run the console's browser tests.");
        }

        if (!Directory.Exists(Path.Combine(ConsoleDirectory, "node_modules", "playwright-core")))
        {
            InteropPaths.SkipUnlessCi($"{ConsoleDirectory}/node_modules is missing; run scripts/install-console.sh to run the console's browser tests.");
        }

        ConsoleServingTests.RequireBuiltConsole();
        Directory.CreateDirectory(Artifacts);
        return (node!, chromium);
    }

    /// <summary>Deletes a test's old screenshots, so that a stale file never passes for a new one.</summary>
    public static void ClearScreenshots(params string[] names)
    {
        foreach (var name in names)
        {
            File.Delete(Path.Combine(Artifacts, name));
        }
    }

    /// <summary>Runs test/<paramref name="script"/> against <paramref name="origin"/>; fails the test on a non-zero exit.</summary>
    public static async Task<JsonDocument> RunAsync(string script, string origin, IReadOnlyDictionary<string, string> keys, TimeSpan timeout, params string[] extraArgs)
    {
        var (node, chromium) = Require();
        var environment = new Dictionary<string, string>(keys) { ["CHROMIUM"] = chromium };
        var run = await ExternalTool.RunAsync(node, [Path.Combine(ConsoleDirectory, "test", script), origin + "/", Artifacts, .. extraArgs],
            timeout, ConsoleDirectory, environment);
        Assert.True(run.ExitCode == 0, $"{script} failed: {run}");
        return JsonDocument.Parse(run.Stdout);
    }

    public static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];
}
