using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// tests/rtsp/rtsp_server.py, a real gst-rtsp-server with test cameras (/h264-1080p, /h265-1080p, /auth, /token, ...) and a
/// "silent" TCP port that accepts and never answers, on 127.0.0.1 and ports of its own choosing. It runs under
/// Debian's /usr/bin/python3 (python3-gi) and exits when its stdin closes, so even a killed test run leaves no server.
/// </summary>
public sealed class RtspTestServer : IAsyncDisposable
{
    public const string Python = "/usr/bin/python3";
    public const string AuthUser = "viewer";
    public const string AuthPassword = "s3cret!";

    /// <summary>/token lets in only a URL whose query carries token=AuthToken.</summary>
    public const string AuthToken = "t0ken-in-query";

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);
    private static readonly Lazy<string?> Missing = new(FindMissingTools);

    private readonly Process _process;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly SemaphoreSlim _commands = new(1, 1);

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
    public static async Task<RtspTestServer> StartAsync(int benchMounts = 0, string authMethods = "basic,digest")
    {
        RequireTools();
        var info = new ProcessStartInfo(Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new System.Text.UTF8Encoding(false),
        };
        foreach (var arg in new[] { "-u", Script, "--port", "0", "--address", "127.0.0.1", "--bench-mounts", benchMounts.ToString(), "--auth-methods", authMethods })
        {
            info.ArgumentList.Add(arg);
        }

        // A pyenv or venv on the caller's PATH must not leak its module paths into Debian's interpreter.
        info.Environment.Remove("PYTHONHOME");
        info.Environment.Remove("PYTHONPATH");
        var server = new RtspTestServer(Process.Start(info) ?? throw new InvalidOperationException($"{Python} did not start"));
        try
        {
            var ready = await server.WaitForLineAsync(l => l.StartsWith("READY ", StringComparison.Ordinal), ReadyTimeout, "READY");
            using var ports = JsonDocument.Parse(ready["READY ".Length..]);
            server.RtspPort = ports.RootElement.GetProperty("rtsp").GetInt32();
            server.SilentPort = ports.RootElement.GetProperty("silent").GetInt32();
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

    private async Task CommandAsync(string verb, string path)
    {
        var command = $"{verb} /{path.TrimStart('/')}";
        await _commands.WaitAsync();
        try
        {
            await _process.StandardInput.WriteLineAsync(command);
            await _process.StandardInput.FlushAsync();
            await WaitForLineAsync(l => l == "OK " + command, CommandTimeout, "OK " + command);
        }
        finally
        {
            _commands.Release();
        }
    }

    private async Task<string> WaitForLineAsync(Func<string, bool> wanted, TimeSpan timeout, string what)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var line = await _stdout.Reader.ReadAsync(deadline.Token);
                if (wanted(line))
                {
                    return line;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            var state = _process.HasExited ? $"it exited with {_process.ExitCode}" : $"no line within {timeout.TotalSeconds:0} s";
            throw new InvalidOperationException($"rtsp_server.py did not print '{what}' ({state})\n--- stderr ---\n{string.Join('\n', _stderr)}", e);
        }
    }

    private async Task PumpStdoutAsync()
    {
        try
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                await _stdout.Writer.WriteAsync(line);
            }
        }
        finally
        {
            _stdout.Writer.TryComplete();
        }
    }

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
