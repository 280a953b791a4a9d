using System.Diagnostics;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// The real gateway executable (sharpeyes.dll, copied beside the tests) in its own process, so tests can kill it
/// with SIGKILL or stop it with SIGTERM the way an operator's machine would.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output;

    private GatewayProcess(Process process, StringBuilder output, int grpc, int mqtt, int http)
    {
        _process = process;
        _output = output;
        GrpcPort = grpc;
        MqttPort = mqtt;
        HttpPort = http;
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpc}");
    }

    public int GrpcPort { get; }

    /// <summary>The embedded broker's port; 0 when the process was started with <c>ExternalBroker:Embedded=false</c> (no MQTT listener).</summary>
    public int MqttPort { get; }

    public int HttpPort { get; }

    /// <summary>The SIP port the gateway reported ("GB/T 28181: SIP on address:port"); 0 before it did or without SIP.</summary>
    public int SipPort
    {
        get
        {
            var match = System.Text.RegularExpressions.Regex.Match(Text(_output), @"GB/T 28181: SIP on [^\s]+:(\d+) ");
            return match.Success ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        }
    }

    public GrpcChannel Channel { get; }

    public int Pid => _process.Id;

    /// <summary>The process has ended (a test, or a script it runs, stopped it).</summary>
    public bool HasExited => _process.HasExited;

    public string Output => Text(_output);

    public static Metadata Auth(string key) => new() { { "authorization", "Bearer " + key } };

    /// <summary>
    /// Creates a vendor key and registers <paramref name="devices"/> alarm devices (<see cref="TestDevices.AlarmId"/>
    /// 0..n-1, a kilometre apart across the county); returns the vendor's key.
    /// </summary>
    public async Task<string> AddVendorWithAlarmDevicesAsync(string adminKey, string vendorId, int devices)
    {
        var admin = new SharpEyes.V1.Admin.AdminClient(Channel);
        var vendor = (await admin.CreateApiKeyAsync(new SharpEyes.V1.CreateApiKeyRequest { Role = SharpEyes.V1.Role.Vendor, VendorId = vendorId }, Auth(adminKey))).ApiKey;
        var registry = new SharpEyes.V1.DeviceRegistry.DeviceRegistryClient(Channel);
        for (var i = 0; i < devices; i++)
        {
            await registry.RegisterDeviceAsync(TestDevices.Alarm(i, lon: 114.56 + (i * 0.01), lat: 37.60), Auth(vendor));
        }

        return vendor;
    }

    /// <param name="adminKey">SHARPEYES_ADMIN_KEY for the process; null starts it without one (it generates the first key).</param>
    public static async Task<GatewayProcess> StartAsync(string dataDir, string? adminKey, params string[] extraArgs)
    {
        // Port 0 everywhere: the gateway reports the ports it got in its "listening on" lines.
        var dll = Path.Combine(AppContext.BaseDirectory, "sharpeyes.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        // Plain text, asked for explicitly, unless the test configures TLS or says otherwise itself.
        var plain = !extraArgs.Any(a => a.StartsWith("--tls-", StringComparison.Ordinal) || a.Contains("SharpEyes:Tls:", StringComparison.Ordinal)
            || a.Contains("InsecureListeners", StringComparison.Ordinal) || a.StartsWith("--insecure-listeners", StringComparison.Ordinal));
        foreach (var arg in new[] { dll, "--bind", "127.0.0.1", "--grpc-port", "0", "--mqtt-port", "0", "--http-port", "0", "--sip-port", "0", "--data-dir", dataDir }
            .Concat(plain ? ["--insecure-listeners"] : []).Concat(await TestStores.ArgsAsync(dataDir, extraArgs)).Concat(extraArgs))
        {
            info.ArgumentList.Add(arg);
        }

        if (adminKey is null)
        {
            info.Environment.Remove("SHARPEYES_ADMIN_KEY");
        }
        else
        {
            info.Environment["SHARPEYES_ADMIN_KEY"] = adminKey;
        }

        return await StartAsync(info, TimeSpan.FromSeconds(60));
    }

    /// <summary>
    /// Starts whatever <paramref name="info"/> runs (the gateway itself, or a script that runs it on port 0 everywhere)
    /// and waits until it reports its three listeners (two when an external broker replaces the embedded one) and answers /healthz.
    /// </summary>
    public static async Task<GatewayProcess> StartAsync(ProcessStartInfo info, TimeSpan startTimeout)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        var mqtt = !info.ArgumentList.Any(a => a.Contains("ExternalBroker:Embedded=false", StringComparison.OrdinalIgnoreCase));
        var process = Process.Start(info)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var ports = await Eventually.WaitAsync(() =>
        {
            if (process.HasExited)
            {
                process.WaitForExit(); // also waits until the redirected output is read to its end
                throw new InvalidOperationException("gateway exited at start:\n" + Text(output));
            }

            return Task.FromResult(ListeningPorts(Text(output), mqtt));
        }, "the gateway to report its listeners", startTimeout);
        var gateway = new GatewayProcess(process, output, ports[0], ports[1], ports[2]);
        var http = gateway.HttpPort;
        using var http1 = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Eventually.TrueAsync(async () =>
        {
            if (process.HasExited)
            {
                process.WaitForExit(); // also waits until the redirected output is read to its end
                throw new InvalidOperationException("gateway exited at start:\n" + Text(output));
            }

            try
            {
                return (await http1.GetAsync($"http://127.0.0.1:{http}/healthz")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }, "the gateway process to answer /healthz", startTimeout);
        return gateway;
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>SIGTERM, as systemd sends it; returns the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]))
        {
            await kill.WaitForExitAsync().WaitAsync(timeout);
            Assert.Equal(0, kill.ExitCode);
        }

        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }

        _process.Dispose();
    }

    /// <summary>gRPC, MQTT and HTTP ports from the "X listening on scheme://address:port" lines, once all three are there (MQTT 0 when <paramref name="mqtt"/> is false).</summary>
    private static int[]? ListeningPorts(string output, bool mqtt)
    {
        var ports = new[] { "gRPC", "MQTT", "HTTP" }.Select(name =>
        {
            if (name == "MQTT" && !mqtt)
            {
                return -1;
            }

            var match = System.Text.RegularExpressions.Regex.Match(output, name + @" listening on \w+://[^\s]+:(\d+)");
            return match.Success ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        }).ToArray();
        return ports.All(p => p != 0) ? [.. ports.Select(p => Math.Max(p, 0))] : null;
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }
}
