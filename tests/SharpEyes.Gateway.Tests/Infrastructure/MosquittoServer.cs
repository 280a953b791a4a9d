using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// A real mosquitto broker (the Debian package's /usr/sbin/mosquitto, installed by scripts/install-test-deps.sh) on
/// 127.0.0.1 and a port of its own, with a config file and a data directory in a temp folder. It can be stopped
/// (SIGTERM, as an operator's restart would) and started again on the same port.
/// <para>
/// Persistence is on by default, in the temp folder: on SIGTERM mosquitto saves its sessions (subscriptions and the
/// QoS 1 messages queued for clients that are away) and loads them when it starts again, as a production broker with
/// persistence does. A restart then loses nothing that the broker acknowledged, so whatever a subscriber misses
/// after a restart is something the publisher never got acknowledged and had to send again; without persistence a
/// restart drops every session and queued message, and a missing message would say nothing about the publisher.
/// </para>
/// </summary>
public sealed class MosquittoServer : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string _configFile;
    private readonly StringBuilder _log = new();
    private Process? _process;

    private MosquittoServer(string executable, string directory, int port)
    {
        Executable = executable;
        _directory = directory;
        _configFile = Path.Combine(directory, "mosquitto.conf");
        Port = port;
    }

    public string Executable { get; }

    public int Port { get; }

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Everything mosquitto wrote (all its runs), for failure messages.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>The mosquitto executable, or null when it is not installed.</summary>
    public static string? Find() =>
        File.Exists("/usr/sbin/mosquitto") ? "/usr/sbin/mosquitto" : InteropPaths.FindOnPath("mosquitto");

    /// <summary>
    /// Starts mosquitto on <paramref name="port"/> (a free one when null) and waits until it accepts connections.
    /// With <paramref name="tls"/> the listener speaks only TLS (mqtts://) with that certificate and key.
    /// Skips the calling test when mosquitto is not installed (fails it under CI=true). <paramref name="extraConfig"/> is
    /// appended (global settings such as a password file and ACL); with <paramref name="anonymous"/> false clients must
    /// authenticate; <paramref name="maxQueuedMessages"/> is the per-client queue beyond which mosquitto drops QoS 1 messages.
    /// </summary>
    public static async Task<MosquittoServer> StartAsync(int? port = null, bool persistence = true, MosquittoTls? tls = null,
        string? extraConfig = null, bool anonymous = true, int maxQueuedMessages = 100_000)
    {
        var executable = Find();
        if (executable is null)
        {
            InteropPaths.SkipUnlessCi("mosquitto (the broker) is not installed; run scripts/install-test-deps.sh to run the external MQTT broker tests.");
        }

        var directory = Directory.CreateTempSubdirectory("sharpeyes-mosquitto-").FullName;
        var server = new MosquittoServer(executable, directory, port ?? Ports.Free());
        // "user": run as root, mosquitto would switch to the mosquitto user, which cannot write the temp folder;
        // naming the current user keeps it (for any other user the setting has no effect).
        var config = new StringBuilder()
            .Append("listener ").Append(server.Port).Append(" 127.0.0.1\n")
            .Append("allow_anonymous ").Append(anonymous ? "true" : "false").Append('\n')
            .Append("user ").Append(Environment.UserName).Append('\n')
            .Append("max_queued_messages ").Append(maxQueuedMessages).Append('\n')
            .Append("log_dest stderr\n")
            .Append("log_type error\nlog_type warning\nlog_type notice\nlog_type information\n");
        config.Append(persistence
            ? $"persistence true\npersistence_location {directory}/\nautosave_interval 0\n"
            : "persistence false\n");
        if (tls is not null)
        {
            // Listener options: they apply to the listener above.
            config.Append("cafile ").Append(tls.CaFile).Append("\ncertfile ").Append(tls.CertFile).Append("\nkeyfile ").Append(tls.KeyFile).Append('\n');
        }

        config.Append(extraConfig);
        await File.WriteAllTextAsync(server._configFile, config.ToString());
        try
        {
            await server.StartAgainAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>Starts the stopped broker again on the same port (with what it persisted) and waits until it accepts connections.</summary>
    public async Task StartAgainAsync()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("mosquitto is already running");
        }

        _process?.Dispose();
        var info = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _directory,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(_configFile);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"{Executable} did not start");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        await Eventually.TrueAsync(async () =>
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"mosquitto exited at start with code {process.ExitCode}:\n{Log}");
            }

            using var probe = new TcpClient();
            try
            {
                await probe.ConnectAsync("127.0.0.1", Port).WaitAsync(TimeSpan.FromSeconds(2));
                return true;
            }
            catch (Exception e) when (e is SocketException or TimeoutException)
            {
                return false;
            }
        }, $"mosquitto to accept connections on 127.0.0.1:{Port}", TimeSpan.FromSeconds(20));
    }

    /// <summary>SIGTERM (mosquitto saves its persistent sessions and exits); SIGKILL if it has not exited within 10 s.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>Kills the broker (if running) and deletes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>The TLS listener's files (PEM): the CA offered to clients, the broker's certificate and its key.</summary>
    public sealed record MosquittoTls(string CaFile, string CertFile, string KeyFile);

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }
}
