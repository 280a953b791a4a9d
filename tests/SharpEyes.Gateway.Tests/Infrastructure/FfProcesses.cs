using System.Collections.Concurrent;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>ffprobe and ffmpeg processes on this machine as any local user sees them (ps, /proc/&lt;pid&gt;/cmdline).</summary>
public static class FfProcesses
{
    public sealed record Info(int Pid, int ParentPid, string CommandLine, bool Fixture);

    /// <summary>
    /// The environment of the test fixtures' own ffmpeg runs (the RTSP server's readiness check, which may carry a test
    /// mount's password in its URL): marked so that checks on what the gateway starts leave them out.
    /// </summary>
    public static IReadOnlyDictionary<string, string> FixtureEnvironment { get; } = new Dictionary<string, string> { [FixtureMarker] = "1" };

    private const string FixtureMarker = "SHARPEYES_TEST_FIXTURE";

    /// <summary>Every ffprobe or ffmpeg process now, with its command line (arguments joined by spaces).</summary>
    public static IEnumerable<Info> All()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            string cmdline;
            string stat;
            bool fixture;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').TrimEnd();
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
                fixture = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Contains(FixtureMarker + "=1");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // gone meanwhile, or not ours to read
            }

            var program = Path.GetFileName(cmdline.Split(' ', 2)[0]);
            if (program is "ffprobe" or "ffmpeg")
            {
                // stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so read after the last ')'.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                yield return new Info(pid, int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture), cmdline, fixture);
            }
        }
    }

    /// <summary>Waits until no ffprobe or ffmpeg process has <paramref name="needle"/> on its command line (a killed child can take a moment to be reaped).</summary>
    public static Task NoneLeftAsync(string needle) =>
        Eventually.TrueAsync(() => !All().Any(p => p.CommandLine.Contains(needle, StringComparison.Ordinal)),
            $"no ffprobe/ffmpeg process left with '{needle}' on its command line", TimeSpan.FromSeconds(10));
}

/// <summary>
/// Samples /proc every few milliseconds, until disposed, for the ffprobe and ffmpeg processes this test process (an
/// in-process gateway) starts, and keeps every command line seen. A probe runs for a second or more, so none is missed.
/// </summary>
public sealed class FfProcessWatcher : IAsyncDisposable
{
    private readonly ConcurrentDictionary<int, FfProcesses.Info> _seen = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FfProcessWatcher() => _loop = Task.Run(SampleAsync);

    public IReadOnlyCollection<FfProcesses.Info> Seen => [.. _seen.Values];

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    private async Task SampleAsync()
    {
        var self = Environment.ProcessId;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
        try
        {
            do
            {
                foreach (var p in FfProcesses.All().Where(p => p.ParentPid == self && !p.Fixture))
                {
                    _seen.TryAdd(p.Pid, p);
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }
}
