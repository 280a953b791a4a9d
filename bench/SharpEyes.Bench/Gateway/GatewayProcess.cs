using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Grpc.Net.Client;

namespace SharpEyes.Bench.Gateway;

/// <summary>
/// The gateway under test in its own process (`dotnet sharpeyes.dll`, output to a log file in the work directory),
/// started in an empty working directory as bench/run.sh does, on loopback ports picked by the OS. Its pid is
/// written to the pid file while it runs; SIGKILL on dispose (its data directory is thrown away).
/// <para>
/// Gateways older than port-0 support (before 75937e0) log the configured port but route by it: for them
/// <see cref="Launch.ExplicitPorts"/> passes three ports that were free a moment before (picked by binding port 0 and
/// releasing it, so another process could take one in between; the start then fails and says so).
/// <see cref="Launch.OpenFilesLimit"/> starts the gateway under <c>ulimit -n</c> of that many files.
/// </para>
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    /// <summary>What every gateway of one bench command shares: the dll, the work directory, the first admin key, the pid file and the log tag.</summary>
    public sealed record Launch(string GatewayDll, string Work, string AdminKey, string PidFile, string Tag, bool ExplicitPorts = false, int OpenFilesLimit = 0)
    {
        /// <summary>From the bench options --gateway-dll, --work (default a fresh temporary directory), --admin-key (default $SHARPEYES_ADMIN_KEY) and --pid-file.</summary>
        public static Launch FromOptions(Options options, string tag) => new(
            Path.GetFullPath(options.Get("gateway-dll", "sharpeyes.dll")),
            options.Get("work", Path.Combine(Path.GetTempPath(), $"sharpeyes-{tag}-{Environment.ProcessId}")),
            options.Get("admin-key", Environment.GetEnvironmentVariable("SHARPEYES_ADMIN_KEY") ?? ""),
            options.Get("pid-file", ""),
            tag);
    }

    private readonly Process _process;
    private readonly string _pidFile;
    private readonly EventHandler _onExit;

    private GatewayProcess(Process process, string pidFile, string dataDir, string logFile, int grpc, int mqtt, int http)
    {
        _process = process;
        _pidFile = pidFile;
        LogFile = logFile;
        DatabasePath = Path.Combine(dataDir, "sharpeyes.db");
        GrpcPort = grpc;
        MqttPort = mqtt;
        HttpPort = http;
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpc}");
        // If this process is told to stop (SIGTERM from run.sh's timeout), take the gateway with it.
        _onExit = (_, _) => Kill();
        AppDomain.CurrentDomain.ProcessExit += _onExit;
    }

    public int Pid => _process.Id;

    /// <summary>The gateway's console output (stdout and stderr).</summary>
    public string LogFile { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The exit code once <see cref="HasExited"/> (128 + the signal when a signal ended it, e.g. 134 for SIGABRT).</summary>
    public int ExitCode => _process.ExitCode;

    public int MqttPort { get; }

    public int HttpPort { get; }

    public int GrpcPort { get; }

    public string DatabasePath { get; }

    public GrpcChannel Channel { get; }

    public static async Task<GatewayProcess> StartAsync(Launch s, string name, IEnumerable<string> extraArgs, CancellationToken ct)
    {
        var dataDir = Path.Combine(s.Work, $"data-{name}");
        var cwd = Path.Combine(s.Work, "cwd");
        Directory.CreateDirectory(cwd);
        var logFile = Path.Combine(s.Work, $"gateway-{name}.log");
        // sh execs into dotnet (same pid) with its output sent to the log file, so nothing here has to drain it.
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = cwd };
        var ports = s.ExplicitPorts ? FreePorts(3) : [0, 0, 0];
        // Plain text is asked for explicitly (the gateway refuses to start without TLS otherwise), unless TLS files are given.
        // An older gateway (the hostile run's baseline) ignores the switch it does not know.
        var extra = extraArgs.ToList();
        string[] plain = extra.Any(a => a.StartsWith("--tls-", StringComparison.Ordinal) || a.Contains("SharpEyes:Tls:", StringComparison.Ordinal)) ? [] : ["--insecure-listeners"];
        string[] args = ["-c", "{ [ -z \"$NOFILE\" ] || ulimit -n \"$NOFILE\"; } && exec \"$@\" >\"$LOG\" 2>&1", "sh", "dotnet", s.GatewayDll, "--bind", "127.0.0.1",
            "--grpc-port", Text(ports[0]), "--mqtt-port", Text(ports[1]), "--http-port", Text(ports[2]), "--sip-port", "0", .. plain, "--data-dir", dataDir, .. extra];
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["LOG"] = logFile;
        info.Environment["NOFILE"] = s.OpenFilesLimit > 0 ? Text(s.OpenFilesLimit) : "";
        info.Environment["SHARPEYES_ADMIN_KEY"] = s.AdminKey;
        var process = Process.Start(info) ?? throw new InvalidOperationException("the gateway process did not start");
        if (s.PidFile.Length > 0)
        {
            await File.WriteAllTextAsync(s.PidFile, Text(process.Id) + "\n", CancellationToken.None);
        }

        // Port 0: the gateway binds what the system gives it and logs "X listening on scheme://host:port" (older
        // gateways log the port they were given).
        var (grpc, mqtt, http) = await ListeningPortsAsync(process, logFile, TimeSpan.FromSeconds(60), ct);
        var gateway = new GatewayProcess(process, s.PidFile, dataDir, logFile, grpc, mqtt, http);
        Console.Error.WriteLine($"[{s.Tag}]   gateway pid {process.Id} (gRPC {grpc}, MQTT {mqtt}, HTTP {http}, data {dataDir})");
        try
        {
            await gateway.WaitReadyAsync(logFile, TimeSpan.FromSeconds(60), ct);
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= _onExit;
        Channel.Dispose();
        Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        _process.Dispose();
        if (_pidFile.Length > 0)
        {
            await File.WriteAllTextAsync(_pidFile, "", CancellationToken.None);
        }
    }

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

    /// <summary>/healthz answers 2xx and the MQTT listener accepts a connection.</summary>
    private async Task WaitReadyAsync(string logFile, TimeSpan limit, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        var healthy = false;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_process.HasExited)
            {
                var tail = File.Exists(logFile) ? string.Join('\n', File.ReadLines(logFile).TakeLast(20)) : "";
                throw new InvalidOperationException($"the gateway exited during start (code {_process.ExitCode}):\n{tail}");
            }

            try
            {
                if (!healthy)
                {
                    using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{HttpPort}/healthz"), ct);
                    healthy = response.IsSuccessStatusCode;
                }

                if (healthy)
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, MqttPort, ct);
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or SocketException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                // Not up yet.
            }

            await Task.Delay(200, ct);
        }

        throw new TimeoutException($"the gateway was not ready (healthz and MQTT) within {limit.TotalSeconds:F0} s; log {logFile}");
    }

    private static async Task<(int Grpc, int Mqtt, int Http)> ListeningPortsAsync(Process process, string logFile, TimeSpan limit, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var log = File.Exists(logFile) ? await File.ReadAllTextAsync(logFile, ct) : "";
            int Port(string name) => System.Text.RegularExpressions.Regex.Match(log, name + @" listening on \w+://[^\s]+:(\d+)") is { Success: true } m
                ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
            var (grpc, mqtt, http) = (Port("gRPC"), Port("MQTT"), Port("HTTP"));
            if (grpc > 0 && mqtt > 0 && http > 0)
            {
                return (grpc, mqtt, http);
            }

            if (process.HasExited)
            {
                throw new InvalidOperationException($"the gateway exited during start (code {process.ExitCode}):\n{string.Join('\n', log.Split('\n').TakeLast(20))}");
            }

            await Task.Delay(100, ct);
        }

        throw new TimeoutException($"the gateway did not report its listeners within {limit.TotalSeconds:F0} s; log {logFile}");
    }

    /// <summary>Distinct loopback ports free at the time of asking (each bound to port 0, read, released).</summary>
    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }

    private static string Text(int n) => n.ToString(CultureInfo.InvariantCulture);
}
