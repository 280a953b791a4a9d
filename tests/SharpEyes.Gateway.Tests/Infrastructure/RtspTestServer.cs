using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SharpEyes.Gateway.Streams;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// tests/rtsp/rtsp_server.py, a real gst-rtsp-server with test cameras (/h264-1080p, /h265-1080p, /auth, /token, ...) and a
/// "silent" TCP port that accepts and never answers, on 127.0.0.1 and ports of its own choosing. It runs under
/// Debian's /usr/bin/python3 (python3-gi) and exits when its stdin closes, so even a killed test run leaves no server.
/// <para>
/// <see cref="StartAsync"/> answers only when the server is ready for tests: every mount (or those asked for) has
/// answered a DESCRIBE and delivered a frame that ffmpeg decoded, within <see cref="ReadyTimeout"/>; otherwise it
/// throws, naming each mount that was not ready and what it waited for. A cold machine (GStreamer's registry built on
/// first start, encoders and decoders loaded from disk for the first time) is thus paid for here, once, under a deadline
/// that says so, and never inside a test's own timeouts.
/// </para>
/// </summary>
public sealed class RtspTestServer : IAsyncDisposable
{
    public const string Python = "/usr/bin/python3";
    public const string AuthUser = "viewer";
    public const string AuthPassword = "s3cret!";

    /// <summary>/token lets in only a URL whose query carries token=AuthToken.</summary>
    public const string AuthToken = "t0ken-in-query";

    /// <summary>From start until every mount has answered a DESCRIBE and delivered a decoded frame.</summary>
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);
    private static readonly Lazy<string?> Missing = new(FindMissingTools);

    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly List<LineWaiter> _waiters = [];
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly SemaphoreSlim _commands = new(1, 1);
    private readonly ConcurrentDictionary<string, int> _heldFrom = new(StringComparer.Ordinal);
    private bool _stdoutClosed;

    private RtspTestServer(Process process)
    {
        _process = process;
        _ = PumpStdoutAsync();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _stderr.Enqueue(e.Data);
            }
        };
        process.BeginErrorReadLine();
    }

    public int RtspPort { get; private set; }

    public int SilentPort { get; private set; }

    /// <summary>Every mount with a pipeline of its own ("/h264-1080p", ...), as the server listed them.</summary>
    public IReadOnlyList<string> Mounts { get; private set; } = [];

    /// <summary>The mounts that need <see cref="AuthUser"/>'s credentials.</summary>
    public IReadOnlyList<string> ProtectedMounts { get; private set; } = [];

    /// <summary>The bench mounts (/cam/NNNN), which all play one shared pipeline.</summary>
    public IReadOnlyList<string> SharedMounts { get; private set; } = [];

    public static string Script => Path.Combine(InteropPaths.RepoRoot, "tests", "rtsp", "rtsp_server.py");

    /// <summary>rtsp://127.0.0.1:port/path; the leading slash of <paramref name="path"/> is optional.</summary>
    public Uri Url(string path) => new($"rtsp://127.0.0.1:{RtspPort}/{path.TrimStart('/')}");

    /// <summary>Why the RTSP tests cannot run here (the tool that is missing), or null when they can.</summary>
    public static string? MissingTools => Missing.Value;

    /// <summary>
    /// Skips the calling test (fails it under CI=true) unless /usr/bin/python3 has gi with GstRtspServer 1.0 and ffprobe
    /// is on PATH: scripts/install-test-deps.sh installs both.
    /// </summary>
    public static void RequireTools()
    {
        if (Missing.Value is { } reason)
        {
            InteropPaths.SkipUnlessCi(reason);
        }
    }

    /// <param name="benchMounts">Adds /cam/0000 .. /cam/{n-1:0000}, all served by one shared, always-prepared pipeline.</param>
    /// <param name="authMethods">What /auth's 401 offers: "basic", "digest" or "basic,digest".</param>
    /// <param name="readyMounts">The mounts that must be ready before this answers; null: every mount the server lists.</param>
    /// <param name="held">Mounts held from the start (see <see cref="HoldAsync"/>).</param>
    /// <param name="readyTimeout">Instead of <see cref="ReadyTimeout"/>.</param>
    public static async Task<RtspTestServer> StartAsync(int benchMounts = 0, string authMethods = "basic,digest", IReadOnlyList<string>? readyMounts = null,
        IReadOnlyList<string>? held = null, TimeSpan? readyTimeout = null)
    {
        var started = Stopwatch.GetTimestamp();
        RequireTools();
        var info = new ProcessStartInfo(Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new System.Text.UTF8Encoding(false),
        };
        var holds = (held ?? []).SelectMany(path => new[] { "--hold", Normal(path) });
        foreach (var arg in new[] { "-u", Script, "--port", "0", "--address", "127.0.0.1", "--bench-mounts", benchMounts.ToString(CultureInfo.InvariantCulture), "--auth-methods", authMethods }.Concat(holds))
        {
            info.ArgumentList.Add(arg);
        }

        // A pyenv or venv on the caller's PATH must not leak its module paths into Debian's interpreter.
        info.Environment.Remove("PYTHONHOME");
        info.Environment.Remove("PYTHONPATH");
        var server = new RtspTestServer(Process.Start(info) ?? throw new InvalidOperationException($"{Python} did not start"));
        try
        {
            var timeout = readyTimeout ?? ReadyTimeout;
            var ready = await server.WaitForLineAsync(0, l => l.StartsWith("READY ", StringComparison.Ordinal), timeout, "READY");
            using var listing = JsonDocument.Parse(ready["READY ".Length..]);
            var root = listing.RootElement;
            server.RtspPort = root.GetProperty("rtsp").GetInt32();
            server.SilentPort = root.GetProperty("silent").GetInt32();
            server.Mounts = [.. root.GetProperty("mounts").EnumerateArray().Select(m => m.GetString()!)];
            server.ProtectedMounts = [.. root.GetProperty("protected").EnumerateArray().Select(m => m.GetString()!)];
            server.SharedMounts = [.. root.GetProperty("shared").EnumerateArray().Select(m => m.GetString()!)];
            await server.WaitUntilReadyAsync(readyMounts ?? [.. server.Mounts, .. server.SharedMounts], started, timeout);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Removes the mount and disconnects its players (they see the stream end); DESCRIBE then answers 404.</summary>
    public Task StopMountAsync(string path) => CommandAsync("stop", path);

    /// <summary>Puts a stopped mount back.</summary>
    public Task StartMountAsync(string path) => CommandAsync("start", path);

    /// <summary>
    /// Holds the mount's next media before its payloader: the client that asks for it next (DESCRIBE, or a player)
    /// waits, as on a camera slow to start, until <see cref="ReleaseAsync"/>. Other clients are not held up.
    /// </summary>
    public async Task HoldAsync(string path)
    {
        _heldFrom[Normal(path)] = LineCount;
        await CommandAsync("hold", path);
    }

    /// <summary>Waits until a client is held by <see cref="HoldAsync"/> (its media is waiting to start).</summary>
    public Task WaitHeldAsync(string path, TimeSpan timeout) =>
        WaitForLineAsync(_heldFrom.GetValueOrDefault(Normal(path)), l => l == "HELD " + Normal(path), timeout, "HELD " + Normal(path));

    /// <summary>Lets the held media start (its client then gets its answer) and ends the hold.</summary>
    public Task ReleaseAsync(string path) => CommandAsync("release", path);

    public async ValueTask DisposeAsync()
    {
        try
        {
            // EOF on stdin is the server's signal to exit.
            _process.StandardInput.Close();
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(grace.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            // Not gone in time, or its stdin was already broken: kill it below.
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
        _commands.Dispose();
    }

    private static string Normal(string path) => "/" + path.TrimStart('/');

    /// <summary>
    /// One DESCRIBE and one decoded frame per mount (a shared pipeline's frame once), a core's worth at a time, all
    /// within <paramref name="timeout"/> of <paramref name="started"/>. Each mount is tried once: what fails is
    /// reported, never retried.
    /// </summary>
    private async Task WaitUntilReadyAsync(IReadOnlyList<string> mounts, long started, TimeSpan timeout)
    {
        var ffmpeg = InteropPaths.FindOnPath("ffmpeg") ?? throw new InvalidOperationException("ffmpeg is not on PATH; run scripts/install-test-deps.sh");
        var deadline = started + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var framesFrom = mounts.Where(m => !SharedMounts.Contains(m)).Concat(mounts.Where(SharedMounts.Contains).Take(1)).ToHashSet(StringComparer.Ordinal);
        var notReady = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(mounts, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, async (mount, ct) =>
        {
            if (await MountNotReadyAsync(mount, framesFrom.Contains(mount), ffmpeg, deadline, ct) is { } why)
            {
                notReady[mount] = why;
            }
        });
        if (!notReady.IsEmpty)
        {
            throw new InvalidOperationException(
                $"rtsp_server.py (port {RtspPort}) was not ready within {timeout.TotalSeconds:0} s: {notReady.Count} of {mounts.Count} mounts\n"
                + string.Join('\n', notReady.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"  {p.Key}: {p.Value}"))
                + $"\n--- rtsp_server.py stderr ---\n{string.Join('\n', _stderr)}");
        }
    }

    /// <summary>Null when the mount answered a DESCRIBE and (when <paramref name="frames"/>) ffmpeg decoded a frame of it; else what it waited for.</summary>
    private async Task<string?> MountNotReadyAsync(string mount, bool frames, string ffmpeg, long deadline, CancellationToken ct)
    {
        TimeSpan Left() => TimeSpan.FromSeconds(Math.Max(0.5, (deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency));
        var secret = ProtectedMounts.Contains(mount);
        var (user, password) = secret ? (AuthUser, AuthPassword) : ((string?)null, (string?)null);
        // /token takes its credential in the query, as some cameras do.
        var mountUrl = mount == "/token" ? new Uri(Url(mount) + "?token=" + AuthToken) : Url(mount);
        var describe = await RtspDescribe.DescribeAsync(mountUrl, user, password, Left(), ct);
        if (!describe.Ok)
        {
            return $"waited for a DESCRIBE answer: {describe.Failure} after {describe.Elapsed.TotalSeconds:0.0} s ({describe.Reason})";
        }

        if (!frames)
        {
            return null;
        }

        var url = secret ? new UriBuilder(mountUrl) { UserName = AuthUser, Password = Uri.EscapeDataString(AuthPassword) }.Uri : mountUrl;
        var left = Left();
        var timeoutUs = ((long)left.TotalMicroseconds).ToString(CultureInfo.InvariantCulture);
        // -progress prints "frame=N" when done: N frames decoded and handed on. One is the proof asked for; a short
        // analysis (200 ms, 100 kB) is enough for that and takes a second less than ffmpeg's default per mount.
        ToolResult run;
        try
        {
            run = await ExternalTool.RunAsync(ffmpeg,
                ["-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-timeout", timeoutUs, "-analyzeduration", "200000", "-probesize", "100000", "-i", url.ToString(), "-an", "-frames:v", "1", "-f", "null", "-progress", "pipe:1", "-"],
                left, environment: FfProcesses.FixtureEnvironment);
        }
        catch (TimeoutException)
        {
            return $"DESCRIBE answered in {describe.Elapsed.TotalSeconds:0.0} s, then waited for a decoded frame (ffmpeg -frames:v 1): none within {left.TotalSeconds:0} s";
        }

        return run.ExitCode == 0 && run.Stdout.Split('\n').Contains("frame=1") ? null
            : $"DESCRIBE answered in {describe.Elapsed.TotalSeconds:0.0} s, then waited for a decoded frame (ffmpeg -frames:v 1): exit {run.ExitCode}, "
              + FfmpegRunner.Redact(string.Join(' ', run.Stderr.Split('\n').Take(3)), url);
    }

    private async Task CommandAsync(string verb, string path)
    {
        var command = $"{verb} {Normal(path)}";
        await _commands.WaitAsync();
        try
        {
            var from = LineCount;
            await _process.StandardInput.WriteLineAsync(command);
            await _process.StandardInput.FlushAsync();
            await WaitForLineAsync(from, l => l == "OK " + command, CommandTimeout, "OK " + command);
        }
        finally
        {
            _commands.Release();
        }
    }

    private int LineCount
    {
        get
        {
            lock (_lines)
            {
                return _lines.Count;
            }
        }
    }

    /// <summary>The first line from index <paramref name="from"/> on (counting every line the server printed) that is wanted.</summary>
    private async Task<string> WaitForLineAsync(int from, Func<string, bool> wanted, TimeSpan timeout, string what)
    {
        var waiter = new LineWaiter(wanted, new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_lines)
        {
            for (var i = from; i < _lines.Count; i++)
            {
                if (wanted(_lines[i]))
                {
                    return _lines[i];
                }
            }

            if (_stdoutClosed)
            {
                waiter.Found.TrySetException(new EndOfStreamException("rtsp_server.py closed its stdout"));
            }
            else
            {
                _waiters.Add(waiter);
            }
        }

        try
        {
            return await waiter.Found.Task.WaitAsync(timeout);
        }
        catch (Exception e) when (e is TimeoutException or EndOfStreamException)
        {
            lock (_lines)
            {
                _waiters.Remove(waiter);
            }

            var state = _process.HasExited ? $"it exited with {_process.ExitCode}" : $"no such line within {timeout.TotalSeconds:0} s";
            throw new InvalidOperationException($"rtsp_server.py did not print '{what}' ({state})\n--- stderr ---\n{string.Join('\n', _stderr)}", e);
        }
    }

    private async Task PumpStdoutAsync()
    {
        try
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (_lines)
                {
                    _lines.Add(line);
                    foreach (var waiter in _waiters.Where(w => w.Wanted(line)).ToList())
                    {
                        _waiters.Remove(waiter);
                        waiter.Found.TrySetResult(line);
                    }
                }
            }
        }
        finally
        {
            lock (_lines)
            {
                _stdoutClosed = true;
                foreach (var waiter in _waiters)
                {
                    waiter.Found.TrySetException(new EndOfStreamException("rtsp_server.py closed its stdout"));
                }

                _waiters.Clear();
            }
        }
    }

    private sealed record LineWaiter(Func<string, bool> Wanted, TaskCompletionSource<string> Found);

    private static string? FindMissingTools()
    {
        if (!File.Exists(Python))
        {
            return $"{Python} is missing; run scripts/install-test-deps.sh (python3-gi, gir1.2-gst-rtsp-server-1.0) to run the RTSP tests.";
        }

        if (InteropPaths.FindOnPath("ffprobe") is null)
        {
            return "ffprobe is not on PATH; run scripts/install-test-deps.sh (ffmpeg) to run the RTSP tests.";
        }

        var check = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        check.ArgumentList.Add("-c");
        check.ArgumentList.Add("import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst, GstRtspServer");
        check.Environment.Remove("PYTHONHOME");
        check.Environment.Remove("PYTHONPATH");
        using var process = Process.Start(check)!;
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            process.Kill(entireProcessTree: true);
            return $"{Python} did not import gi within 20 s";
        }

        return process.ExitCode == 0 ? null
            : $"{Python} cannot load GstRtspServer 1.0 through gi; run scripts/install-test-deps.sh (python3-gi, gir1.2-gst-rtsp-server-1.0, GStreamer plugins):\n{stderr.GetAwaiter().GetResult()}";
    }
}
