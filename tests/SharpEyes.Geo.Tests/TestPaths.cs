using System.Runtime.CompilerServices;

namespace SharpEyes.Geo.Tests;

/// <summary>Locates the repository from this source file (tests may run from any artifacts path).</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    public static string DemoDirectory => Path.Combine(RepoRoot, "demo", "gaoyi");

    public static string NodeDirectory => Path.Combine(RepoRoot, "tests", "node");

    private static string FindRoot([CallerFilePath] string sourceFile = "")
    {
        // tests/SharpEyes.Geo.Tests/TestPaths.cs → repository root.
        var dir = Path.GetDirectoryName(sourceFile)!;
        return Path.GetFullPath(Path.Combine(dir, "..", ".."));
    }
}
