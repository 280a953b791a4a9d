using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace SharpEyes.Gateway.Tests.Interop;

/// <summary>Where the repository is (from this source file; tests may run from any artifacts path) and which tools are on PATH.</summary>
internal static class InteropPaths
{
    public static string RepoRoot { get; } = FindRoot();

    public static string NodeDirectory => Path.Combine(RepoRoot, "tests", "node");

    public static string NodeInteropDirectory => Path.Combine(NodeDirectory, "interop");

    /// <summary>The full path of an executable on PATH, or null.</summary>
    public static string? FindOnPath(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var candidate in new[] { Path.Combine(dir, name), Path.Combine(dir, name + ".exe") })
            {
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// A missing external tool skips the test on a developer's machine, but fails it under CI (CI=true), where
    /// scripts/test.sh has installed every tool: a green CI must never hide an interop test that did not run.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void SkipUnlessCi(string reason)
    {
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail(reason + " (CI=true: scripts/test.sh should have installed it)");
        }

        Assert.Skip(reason);
    }

    /// <summary>Skips the calling test unless node and tests/node/node_modules are there (the CI setup script installs both).</summary>
    public static string RequireNode()
    {
        var node = FindOnPath("node");
        if (node is null)
        {
            SkipUnlessCi("node is not on PATH; install Node 20+ (and run 'npm ci' in tests/node) to run the Node interop tests.");
        }

        if (!Directory.Exists(Path.Combine(NodeDirectory, "node_modules")))
        {
            SkipUnlessCi($"{Path.Combine(NodeDirectory, "node_modules")} is missing; run 'npm ci' in tests/node to run the Node interop tests.");
        }

        return node;
    }

    private static string FindRoot([CallerFilePath] string sourceFile = "")
    {
        // tests/SharpEyes.Gateway.Tests/Interop/ExternalTools.cs → repository root.
        var fromSource = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(sourceFile) ?? ".", "..", "..", ".."));
        if (File.Exists(Path.Combine(fromSource, "SharpEyes.sln")))
        {
            return fromSource;
        }

        // A build with mapped source paths: walk up from the test binaries instead.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SharpEyes.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"cannot find the repository root (SharpEyes.sln) from {sourceFile} or {AppContext.BaseDirectory}");
    }
}

/// <summary>What an external program did.</summary>
internal sealed record ToolResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalMilliseconds:F0} ms\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// An external program (node, mosquitto_pub, mosquitto_sub) run with a bounded lifetime: its output is captured line by
/// line, and it is killed, with its children, if it outlives the bound.
/// </summary>
internal sealed class ExternalTool : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly string _display;

    private ExternalTool(string file, IReadOnlyList<string> args, string? workingDirectory, IReadOnlyDictionary<string, string>? environment)
    {
        _display = Path.GetFileName(file) + " " + string.Join(' ', args);
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
            StandardErrorEncoding = System.Text.Encoding.UTF8,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[k] = v;
        }

        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Collect(e.Data, _stdout, _stdoutClosed);
        _process.ErrorDataReceived += (_, e) => Collect(e.Data, _stderr, _stderrClosed);
        if (!_process.Start())
        {
            throw new InvalidOperationException($"{_display} did not start");
        }

        _process.StandardInput.Close();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public IReadOnlyList<string> StdoutLines => [.. _stdout];

    public bool HasExited => _process.HasExited;

    public static ExternalTool Start(string file, IReadOnlyList<string> args, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null) =>
        new(file, args, workingDirectory, environment);

    /// <summary>Runs a program to its end (killing it after <paramref name="timeout"/>) and returns what it did.</summary>
    public static async Task<ToolResult> RunAsync(string file, IReadOnlyList<string> args, TimeSpan timeout, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        await using var tool = Start(file, args, workingDirectory, environment);
        return await tool.WaitForExitAsync(timeout);
    }

    /// <summary>Waits at most <paramref name="timeout"/> for the program to end; true when it did.</summary>
    public async Task<bool> WaitForExitOrAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(timeout, TestContext.Current.CancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public async Task<ToolResult> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            // The asynchronous readers deliver their last lines after the exit: wait for both streams to close.
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{_display} did not finish within {timeout.TotalSeconds:F0} s\n{Output()}");
        }

        return new ToolResult(_process.ExitCode, string.Join('\n', _stdout), string.Join('\n', _stderr), _clock.Elapsed);
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private static void Collect(string? line, ConcurrentQueue<string> into, TaskCompletionSource closed)
    {
        if (line is null)
        {
            closed.TrySetResult();
        }
        else
        {
            into.Enqueue(line);
        }
    }

    private string Output() => $"--- stdout ---\n{string.Join('\n', _stdout)}\n--- stderr ---\n{string.Join('\n', _stderr)}";

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}
