using System.Text.RegularExpressions;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// SIPp (Debian's sip-tester, scripts/install-test-deps.sh), the independent SIP peer of the GB/T 28181 tests, running
/// the scenarios of tests/.../Sip/Sipp (README.md there) in a temporary working directory, bound to 127.0.0.1, with a
/// hard time limit. Its error file, without the notices every out-of-call request logs, says what went wrong.
/// </summary>
internal sealed partial class Sipp : IAsyncDisposable
{
    private readonly ExternalTool _tool;
    private readonly string _directory;

    private Sipp(ExternalTool tool, string directory)
    {
        _tool = tool;
        _directory = directory;
    }

    public static string Scenario(string name) => Path.Combine(InteropPaths.RepoRoot, "tests", "SharpEyes.Gateway.Tests", "Sip", "Sipp", name);

    private static string Skip()
    {
        InteropPaths.SkipUnlessCi("sipp is not on PATH; scripts/install-test-deps.sh installs Debian's sip-tester");
        return "";
    }

    /// <summary>Starts SIPp with <paramref name="args"/> (the common options added) and a limit of <paramref name="limit"/>.</summary>
    public static Sipp Start(IEnumerable<string> args, TimeSpan limit)
    {
        var sipp = InteropPaths.FindOnPath("sipp") ?? Skip();
        var directory = Directory.CreateTempSubdirectory("sharpeyes-sipp-").FullName;
        string[] common = ["-i", "127.0.0.1", "-ci", "127.0.0.1", "-nostdin", "-trace_err", "-error_file", Path.Combine(directory, "errors.log"),
            "-timeout", ((int)limit.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture), "-timeout_error"];
        return new Sipp(ExternalTool.Start(sipp, [.. args, .. common], directory), directory);
    }

    /// <summary>Runs a device scenario against the gateway's SIP port to its end; asserts SIPp succeeded, naming its errors if not.</summary>
    public static async Task<ToolResult> RunAsync(IEnumerable<string> args, int gatewayPort, TimeSpan limit)
    {
        await using var sipp = Start([.. args, "-p", Ports.Free().ToString(System.Globalization.CultureInfo.InvariantCulture), $"127.0.0.1:{gatewayPort}"], limit);
        return await sipp.WaitAsync(limit + TimeSpan.FromSeconds(15));
    }

    /// <summary>Waits for SIPp to end; asserts it exited 0 with no error beyond the out-of-call notices.</summary>
    public async Task<ToolResult> WaitAsync(TimeSpan timeout)
    {
        var result = await _tool.WaitForExitAsync(timeout);
        var errors = Errors();
        Assert.True(result.ExitCode == 0 && errors.Count == 0, $"SIPp failed: {result}\n--- errors ---\n{string.Join('\n', errors)}");
        return result;
    }

    /// <summary>The text of <paramref name="name"/> in SIPp's working directory (a trace it writes), "" while it has none.</summary>
    public string File(string name)
    {
        var path = Path.Combine(_directory, name);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return new StreamReader(stream).ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return "";
        }
    }

    /// <summary>Waits for SIPp to end, whatever its outcome (a peer killed under it).</summary>
    public Task<ToolResult> ExitAsync(TimeSpan timeout) => _tool.WaitForExitAsync(timeout);

    /// <summary>The error file's entries, without "Received out-of-call ... using the out-of-call scenario" (logged for every request the gateway sends a device).</summary>
    public IReadOnlyList<string> Errors()
    {
        var path = Path.Combine(_directory, "errors.log");
        if (!System.IO.File.Exists(path))
        {
            return [];
        }

        return [.. Entry().Split(System.IO.File.ReadAllText(path)).Select(e => e.Trim())
            .Where(e => e.Length > 0 && !e.StartsWith("The following events occurred", StringComparison.Ordinal)
                && !e.Contains("using the out-of-call scenario", StringComparison.Ordinal))];
    }

    [GeneratedRegex(@"\d{4}-\d{2}-\d{2}\t\d{2}:\d{2}:\d{2}\.\d+\t\d+\.\d+: ")]
    private static partial Regex Entry();

    public async ValueTask DisposeAsync()
    {
        await _tool.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // a file still held by a process being killed: the temp directory is the OS's to clean
        }
    }
}
