using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.WebConsole;

/// <summary>
/// What every browser test of the console needs before it starts a gateway: node, Debian's chromium, the console's
/// npm packages (playwright-core) and its build. A missing one skips the test outside CI and fails it in CI. Also the
/// folder the screenshots go to, emptied of a test's previous ones.
/// </summary>
internal static class ConsoleBrowser
{
    public static readonly string ConsoleDirectory = Path.Combine(InteropPaths.RepoRoot, "src", "SharpEyes.Console");

    /// <summary>The paths of node and chromium, once everything is there.</summary>
    public static (string Node, string Chromium) Require()
    {
        var node = InteropPaths.FindOnPath("node");
        if (node is null)
        {
            InteropPaths.SkipUnlessCi("node is not on PATH; run scripts/install-test-deps.sh to run the console's browser test.");
        }

        var chromium = Environment.GetEnvironmentVariable("CHROMIUM") ?? "/usr/bin/chromium";
        if (!File.Exists(chromium))
        {
            InteropPaths.SkipUnlessCi($"{chromium} is missing; install Debian's chromium (scripts/install-test-deps.sh does) to run the console's browser test.");
        }

        if (!Directory.Exists(Path.Combine(ConsoleDirectory, "node_modules", "playwright-core")))
        {
            InteropPaths.SkipUnlessCi($"{ConsoleDirectory}/node_modules is missing; run scripts/install-console.sh to run the console's browser test.");
        }

        ConsoleServingTests.RequireBuiltConsole();
        return (node!, chromium);
    }

    /// <summary>TestResults/console/, without the screenshots named (a failed run leaves none behind to mislead).</summary>
    public static string Artifacts(params string[] shots)
    {
        var artifacts = Path.Combine(InteropPaths.RepoRoot, "TestResults", "console");
        Directory.CreateDirectory(artifacts);
        foreach (var old in shots)
        {
            File.Delete(Path.Combine(artifacts, old));
        }

        return artifacts;
    }
}
