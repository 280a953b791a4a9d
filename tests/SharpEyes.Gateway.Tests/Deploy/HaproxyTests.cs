using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Deploy;

/// <summary>
/// deploy/haproxy/haproxy.cfg, the shipped file itself (parametrised by the environment variables HAProxy expands), run
/// by Debian's /usr/sbin/haproxy on 127.0.0.1 in front of two gateway processes: gRPC, MQTT and HTTP go through it,
/// and a replica killed with SIGKILL is taken out by the /healthz checks so new connections reach the other.
/// </summary>
public sealed class HaproxyTests
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(500);

    private static string ConfigFile => Path.Combine(InteropPaths.RepoRoot, "deploy", "haproxy", "haproxy.cfg");

    [Fact]
    public async Task The_shipped_config_is_valid_with_its_defaults_and_with_test_values()
    {
        var haproxy = Find();
        var socket = Path.Combine(Directory.CreateTempSubdirectory("sharpeyes-haproxy-").FullName, "stats.sock");

        // Defaults only (the replicas' host names do not resolve here: the file says so, and starts them as down).
        var (code, output) = await RunAsync(haproxy, new() { ["SHARPEYES_LB_STATS_SOCKET"] = socket }, "-c", "-f", ConfigFile);
        Assert.True(code == 0, output);
        Assert.Contains("Configuration file is valid", output, StringComparison.Ordinal);

        // Every variable set, as the test below sets them: valid and without a single warning.
        (code, output) = await RunAsync(haproxy, LbEnvironment(socket, new Replica(1, 2, 3), new Replica(4, 5, 6), 7, 8, 9), "-c", "-f", ConfigFile);
        Assert.True(code == 0, output);
        Assert.DoesNotContain("WARNING", output, StringComparison.Ordinal);

        // And with certificate checks on /healthz (SHARPEYES_LB_CHECK_CA): a CA bundle that loads.
        var ca = (await DevCa.CreateAsync()).CaPath;
        var tls = LbEnvironment(socket, new Replica(1, 2, 3), new Replica(4, 5, 6), 7, 8, 9);
        tls["SHARPEYES_LB_CHECK_TLS"] = "on";
        tls["SHARPEYES_LB_CHECK_CA"] = ca;
        (code, output) = await RunAsync(haproxy, tls, "-c", "-f", ConfigFile);
        Assert.True(code == 0, output);
        Assert.DoesNotContain("WARNING", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_replicas_behind_haproxy_serve_grpc_mqtt_and_http_and_a_killed_one_is_taken_out_within_the_checks()
    {
        var haproxy = Find();
        var adminKey = "lb-admin-" + Guid.NewGuid().ToString("N");

        // Two replicas holding the same keys and devices, as replicas sharing one store would: the first one's data
        // directory, after a clean stop, copied for the second (a restore).
        var dirA = GatewayHost.NewDataDir();
        string vendorKey;
        await using (var first = await GatewayProcess.StartAsync(dirA, adminKey))
        {
            vendorKey = await first.AddVendorWithAlarmDevicesAsync(adminKey, "lb-vendor", 1);
            Assert.Equal(0, await first.TerminateAsync(TimeSpan.FromSeconds(45)));
        }

        var dirB = GatewayHost.NewDataDir();
        Copy(dirA, dirB);
        await using var a = await GatewayProcess.StartAsync(dirA, adminKey);
        await using var b = await GatewayProcess.StartAsync(dirB, adminKey);

        int grpcPort = Ports.Free(), mqttPort = Ports.Free(), httpPort = Ports.Free();
        var socket = Path.Combine(Directory.CreateTempSubdirectory("sharpeyes-haproxy-").FullName, "stats.sock");
        await using var lb = await HaproxyProcess.StartAsync(haproxy, ConfigFile,
            LbEnvironment(socket, new Replica(a.GrpcPort, a.MqttPort, a.HttpPort), new Replica(b.GrpcPort, b.MqttPort, b.HttpPort), grpcPort, mqttPort, httpPort), socket);
        await Eventually.TrueAsync(async () => (await lb.StatesAsync()).Values.Count(s => s == "UP") == 6, "both replicas UP in the grpc, mqtt and http backends",
            TimeSpan.FromSeconds(30));

        // gRPC through the balancer: registrations on fresh connections (leastconn spreads them over both replicas).
        var registered = await RegisterThroughAsync(grpcPort, vendorKey, first: 10, count: 4);
        var onA = await HeldByAsync(a, vendorKey, registered);
        var onB = await HeldByAsync(b, vendorKey, registered);
        Assert.Equal(registered.Count, onA.Count + onB.Count); // each went to exactly one replica
        Assert.NotEmpty(onA);
        Assert.NotEmpty(onB);

        // MQTT through the balancer: a QoS 1 alarm acknowledged, counted by the replica that took the connection.
        Assert.Equal(1, await PublishThroughAsync(mqttPort, vendorKey, "lb-before"));
        Assert.Equal(1, await ReceivedAsync(a) + await ReceivedAsync(b));

        // HTTP through the balancer.
        var (status, body) = await MetricsScrape.HealthAsync(httpPort);
        Assert.Equal(200, status);
        Assert.StartsWith("status: Healthy", body, StringComparison.Ordinal);

        // One replica dies. Its /healthz checks fail (2 in a row, every 500 ms here): it is taken out of every backend.
        var bReceived = await ReceivedAsync(b);
        var clock = Stopwatch.StartNew();
        await a.KillAsync();
        await Eventually.TrueAsync(async () =>
        {
            var states = await lb.StatesAsync();
            return new[] { "grpc", "mqtt", "http" }.All(backend => states[(backend, "replica1")] == "DOWN" && states[(backend, "replica2")] == "UP");
        }, "replica1 DOWN and replica2 UP in every backend", TimeSpan.FromSeconds(20));
        var takenOut = clock.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"replica1 marked DOWN {takenOut.TotalMilliseconds:0} ms after its SIGKILL (check interval {CheckInterval.TotalMilliseconds:0} ms, fall 2)"));
        Assert.True(takenOut < TimeSpan.FromSeconds(10), $"taken out after {takenOut}");

        // New connections all reach the survivor: registrations, an alarm, /healthz.
        var after = await RegisterThroughAsync(grpcPort, vendorKey, first: 20, count: 4);
        Assert.Equal(after.Count, (await HeldByAsync(b, vendorKey, after)).Count);
        Assert.Equal(1, await PublishThroughAsync(mqttPort, vendorKey, "lb-after"));
        Assert.Equal(bReceived + 1, await ReceivedAsync(b));
        Assert.Equal(200, (await MetricsScrape.HealthAsync(httpPort)).Status);
    }

    /// <summary>The variables the shipped file reads, for two replicas on 127.0.0.1 and plain text (--insecure-listeners).</summary>
    private static Dictionary<string, string> LbEnvironment(string socket, Replica one, Replica two, int grpcPort, int mqttPort, int httpPort)
    {
        var env = new Dictionary<string, string>
        {
            ["SHARPEYES_LB_BIND"] = "127.0.0.1",
            ["SHARPEYES_LB_GRPC_PORT"] = Text(grpcPort),
            ["SHARPEYES_LB_MQTT_PORT"] = Text(mqttPort),
            ["SHARPEYES_LB_HTTP_PORT"] = Text(httpPort),
            ["SHARPEYES_LB_CHECK_TLS"] = "off",
            ["SHARPEYES_LB_CHECK_INTERVAL"] = Text((int)CheckInterval.TotalMilliseconds) + "ms",
            ["SHARPEYES_LB_MQTT_TIMEOUT"] = "10m",
            ["SHARPEYES_LB_STATS_SOCKET"] = socket,
            ["SHARPEYES_LB_MAXCONN"] = "2000", // within the test machine's open-file limit
        };
        foreach (var (n, replica) in new[] { (1, one), (2, two) })
        {
            env[$"SHARPEYES_REPLICA{n}_HOST"] = "127.0.0.1";
            env[$"SHARPEYES_REPLICA{n}_GRPC_PORT"] = Text(replica.Grpc);
            env[$"SHARPEYES_REPLICA{n}_MQTT_PORT"] = Text(replica.Mqtt);
            env[$"SHARPEYES_REPLICA{n}_HTTP_PORT"] = Text(replica.Http);
        }

        return env;
    }

    private static string Text(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static async Task<List<string>> RegisterThroughAsync(int port, string vendorKey, int first, int count)
    {
        var ids = new List<string>();
        for (var i = first; i < first + count; i++)
        {
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}"); // a connection of its own
            await new DeviceRegistry.DeviceRegistryClient(channel).RegisterDeviceAsync(TestDevices.Alarm(i), GatewayProcess.Auth(vendorKey));
            ids.Add(TestDevices.AlarmId(i));
        }

        return ids;
    }

    private static async Task<List<string>> HeldByAsync(GatewayProcess replica, string vendorKey, IEnumerable<string> ids)
    {
        var client = new DeviceRegistry.DeviceRegistryClient(replica.Channel);
        var held = new List<string>();
        foreach (var id in ids)
        {
            try
            {
                await client.GetDeviceAsync(new GetDeviceRequest { DeviceId = id }, GatewayProcess.Auth(vendorKey));
                held.Add(id);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
            }
        }

        return held;
    }

    private static async Task<int> PublishThroughAsync(int port, string vendorKey, string eventId)
    {
        using var client = await AlarmPublisher.ConnectAsync(port, "lb-vendor", vendorKey, "lb-" + eventId);
        var acked = new ConcurrentDictionary<string, bool>();
        await AlarmPublisher.PublishAsync(client, [TestDevices.AlarmId(0)], [eventId], acked);
        return acked.Count;
    }

    private static async Task<double> ReceivedAsync(GatewayProcess replica) =>
        (await MetricsScrape.ReadAsync(replica.HttpPort))["sharpeyes_alarms_received_total"];

    private static void Copy(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        }

        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)), overwrite: true);
        }
    }

    /// <summary>Debian's haproxy (scripts/install-test-deps.sh); skips the test when it is not installed (fails it under CI=true).</summary>
    private static string Find()
    {
        var haproxy = File.Exists("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : InteropPaths.FindOnPath("haproxy");
        if (haproxy is null)
        {
            InteropPaths.SkipUnlessCi("haproxy is not installed; run scripts/install-test-deps.sh to run the load balancer tests.");
        }

        return haproxy!;
    }

    private static async Task<(int Code, string Output)> RunAsync(string executable, Dictionary<string, string> env, params string[] args)
    {
        var info = new ProcessStartInfo(executable, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in env)
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (process.ExitCode, await stdout + await stderr);
    }

    private sealed record Replica(int Grpc, int Mqtt, int Http);

    /// <summary>haproxy in the foreground (-db) with the shipped file, and its admin socket for the servers' states.</summary>
    private sealed class HaproxyProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly string _socket;

        private HaproxyProcess(Process process, string socket)
        {
            _process = process;
            _socket = socket;
        }

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public static async Task<HaproxyProcess> StartAsync(string executable, string config, Dictionary<string, string> env, string socket)
        {
            var info = new ProcessStartInfo(executable, ["-db", "-f", config]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var (name, value) in env)
            {
                info.Environment[name] = value;
            }

            var haproxy = new HaproxyProcess(Process.Start(info)!, socket);
            haproxy._process.OutputDataReceived += (_, e) => haproxy.Append(e.Data);
            haproxy._process.ErrorDataReceived += (_, e) => haproxy.Append(e.Data);
            haproxy._process.BeginOutputReadLine();
            haproxy._process.BeginErrorReadLine();
            await Eventually.TrueAsync(() =>
            {
                Assert.False(haproxy._process.HasExited, "haproxy exited at start:\n" + haproxy.Output);
                return File.Exists(socket);
            }, "haproxy to open its admin socket", TimeSpan.FromSeconds(20));
            return haproxy;
        }

        /// <summary>Each server's status (UP, DOWN, ...) by (backend, server), from "show stat" on the admin socket.</summary>
        public async Task<Dictionary<(string Backend, string Server), string>> StatesAsync()
        {
            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await client.ConnectAsync(new UnixDomainSocketEndPoint(_socket));
            await client.SendAsync(Encoding.ASCII.GetBytes("show stat\n"));
            using var stream = new NetworkStream(client);
            var csv = await new StreamReader(stream).ReadToEndAsync();
            var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var header = lines[0].TrimStart('#', ' ').Split(',');
            int status = Array.IndexOf(header, "status"), backend = Array.IndexOf(header, "pxname"), server = Array.IndexOf(header, "svname");
            return lines.Skip(1).Select(l => l.Split(',')).Where(f => f[server] is not ("FRONTEND" or "BACKEND"))
                .ToDictionary(f => (f[backend], f[server]), f => f[status].Split(' ')[0]); // "DOWN 1/2" while going down
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }

            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_output)
                {
                    _output.Append(line).Append('\n');
                }
            }
        }
    }
}
