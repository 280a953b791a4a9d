using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using MQTTnet;
using SharpEyes.Bench.Gateway;
using SharpEyes.Bench.Mqtt;
using SharpEyes.Bench.Reporting;
using SharpEyes.V1;

namespace SharpEyes.Bench.Shapes;

/// <summary>What <c>shape-register</c> hands to <c>shape-alarms</c>: the keys it made and the registration it measured.</summary>
public sealed record ShapeState(string VendorKey, string CentreKey, RegistrationResult? Registration, IReadOnlyList<string> Errors);

/// <summary>One deployment shape, one round: bulk registration and the alarm throughput runs, with the load around them.</summary>
public sealed record ShapeResult(
    string Shape,
    int Round,
    RegistrationResult? Registration,
    IReadOnlyList<ThroughputResult> Throughput,
    string LoadBefore,
    string LoadAfter,
    IReadOnlyList<string> Errors);

/// <summary>
/// The deployment-shapes bench (bench/run.sh shapes), in two steps so that run.sh can start an external broker between
/// them (its password file and ACL are generated from the registered devices):
/// <list type="bullet">
/// <item><c>shape-register</c>: keys, a warm-up registration, then the measured bulk registration through the first gateway
/// (devices/s); with several gateways (replicas of one database), waits until the others have the devices too.</item>
/// <item><c>shape-alarms</c>: a centre's feed on the first gateway (with replicas it carries every replica's events), a
/// warm-up, then QoS 1 alarms as fast as possible with each connection count; connection c goes to MQTT port c mod the
/// number of ports (replicas: half the connections to each) or to an external broker. Alarms/s is end to end: from the
/// first publish to the last alarm's incident event on the feed, as in the alarm benchmark.</item>
/// </list>
/// </summary>
internal static class ShapesCommand
{
    public static async Task<int> RegisterAsync(Options options, CancellationToken ct)
    {
        var grpcPorts = Ports(options.Get("grpc-ports", ""));
        var bench = NewBench(options, grpcPorts[0], 0);
        using var channel = BenchTls.Channel(grpcPorts[0], null, 64 * 1024 * 1024, 64 * 1024 * 1024);
        var admin = new Admin.AdminClient(channel);
        var adminAuth = GatewayBench.Auth(options.Get("admin-key", ""));
        string vendorKey, centreKey;
        if (options.Get("keys-from", "") is { Length: > 0 } keysFrom)
        {
            // Keys made before the other replicas started: a replica reads the API keys at its start only (a key created
            // on replica A is refused by a running replica B; see docs/benchmarks.md#deployment-shapes).
            var keys = JsonSerializer.Deserialize<ShapeState>(await File.ReadAllTextAsync(keysFrom, ct), Options.Json) ?? throw new InvalidDataException($"{keysFrom}: no keys");
            (vendorKey, centreKey) = (keys.VendorKey, keys.CentreKey);
        }
        else
        {
            vendorKey = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Vendor, VendorId = "bench", Description = "bench vendor" },
                adminAuth, GatewayBench.Deadline(10), ct)).ApiKey;
            centreKey = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Centre, Description = "bench centre" },
                adminAuth, GatewayBench.Deadline(10), ct)).ApiKey;
        }

        if (options.Get("keys-only", "0") == "1")
        {
            await File.WriteAllTextAsync(options.Get("state", "shape-state.json"), JsonSerializer.Serialize(new ShapeState(vendorKey, centreKey, null, []), Options.Json), ct);
            return 0;
        }

        var devices = options.Int("devices", 5_000);
        var alarmEvery = options.Int("alarm-every", 5);
        await bench.RegisterAsync(channel, GatewayBench.Auth(vendorKey), DeviceFixtures.Build(options.Int("warmup-devices", 2_000), alarmEvery, seed: 7, serialBase: 800_000),
            "warm-up registration", ct);
        var registration = await bench.RegisterAsync(channel, GatewayBench.Auth(vendorKey), DeviceFixtures.Build(devices, alarmEvery), "bulk registration", ct);
        var errors = bench.Errors.ToList();
        var expected = (await admin.GetStatsAsync(new GetStatsRequest(), adminAuth, GatewayBench.Deadline(10), ct)).Devices;
        foreach (var port in grpcPorts.Skip(1))
        {
            // Another replica of the same database: it must know the devices before alarms are published to it.
            using var other = BenchTls.Channel(port, null, 4 * 1024 * 1024);
            var otherAdmin = new Admin.AdminClient(other);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            long seen = 0;
            while (DateTime.UtcNow < deadline && (seen = (await otherAdmin.GetStatsAsync(new GetStatsRequest(), adminAuth, GatewayBench.Deadline(10), ct)).Devices) < expected)
            {
                await Task.Delay(200, ct);
            }

            Console.Error.WriteLine($"[shapes] the replica on gRPC {port} has {seen:N0}/{expected:N0} devices");
            if (seen < expected)
            {
                errors.Add($"the replica on gRPC {port} had {seen:N0} of {expected:N0} devices 60 s after registration");
            }
        }

        var state = new ShapeState(vendorKey, centreKey, registration, errors);
        await File.WriteAllTextAsync(options.Get("state", "shape-state.json"), JsonSerializer.Serialize(state, Options.Json), ct);
        return errors.Count == 0 ? 0 : 1;
    }

    public static async Task<int> AlarmsAsync(Options options, CancellationToken ct)
    {
        var loadBefore = Load();
        var state = JsonSerializer.Deserialize<ShapeState>(await File.ReadAllTextAsync(options.Get("state", "shape-state.json"), ct), Options.Json)
            ?? throw new InvalidDataException("no shape state");
        var grpcPort = Ports(options.Get("grpc-ports", ""))[0];
        var mqttPorts = Ports(options.Get("mqtt-ports", ""));
        var alarms = options.Int("alarms", 20_000);
        var connectionCounts = Ports(options.Get("connections", "1,4"));
        var bench = NewBench(options, grpcPort, alarms);
        // Publishers authenticate as vendor "bench": to the gateways with its API key, to an external broker with the
        // broker password `sharpeyes broker mosquitto` generated for that vendor.
        var user = options.Get("mqtt-user", "bench");
        var password = options.Get("mqtt-password", "") is { Length: > 0 } p ? p : state.VendorKey;

        async Task<List<IMqttClient>> Connect(int connections, string prefix)
        {
            var clients = new List<IMqttClient>(connections);
            try
            {
                for (var c = 0; c < connections; c++)
                {
                    clients.AddRange(await AlarmPublisher.ConnectAsync(mqttPorts[c % mqttPorts.Count], user, password, 1, $"{prefix}-{c}", ct));
                }
            }
            catch
            {
                await AlarmPublisher.DisconnectAsync(clients);
                throw;
            }

            return clients;
        }

        using var channel = BenchTls.Channel(grpcPort, null, 64 * 1024 * 1024);
        var admin = new Admin.AdminClient(channel);
        var stats = await admin.GetStatsAsync(new GetStatsRequest(), GatewayBench.Auth(options.Get("admin-key", "")), GatewayBench.Deadline(10), ct);
        await using var feed = new FeedCollector(channel, GatewayBench.Auth(state.CentreKey));
        feed.Start(stats.LastSequence);
        var occurredAt = DateTimeOffset.UtcNow;
        var throughput = new List<ThroughputResult>();
        var errors = state.Errors.ToList();
        try
        {
            var warmup = options.Int("warmup-alarms", 2_000);
            Console.Error.WriteLine($"[shapes] warm-up: {warmup:N0} alarms over {mqttPorts.Count} connection(s)");
            var w = await bench.ThroughputAsync(feed, 0, mqttPorts.Count, warmup, state.VendorKey, occurredAt, ct, Connect);
            Console.Error.WriteLine($"[shapes]   {GatewayBench.Describe(w)}");
            var phase = 2;
            foreach (var n in connectionCounts)
            {
                Console.Error.WriteLine($"[shapes] throughput: {alarms:N0} alarms, {n} connection(s) over {mqttPorts.Count} MQTT port(s)");
                var result = await bench.ThroughputAsync(feed, phase++, n, alarms, state.VendorKey, occurredAt, ct, Connect);
                throughput.Add(result);
                Console.Error.WriteLine($"[shapes]   {GatewayBench.Describe(result)}");
                if (!result.Complete)
                {
                    errors.Add($"N={n}: {result.Note}");
                }
            }
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or MQTTnet.Exceptions.MqttCommunicationException or TimeoutException)
        {
            errors.Add($"{e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine($"[shapes] phase failed: {e}");
        }

        var result2 = new ShapeResult(options.Get("shape", "?"), options.Int("round", 1), state.Registration, throughput, loadBefore, Load(), errors);
        await File.WriteAllTextAsync(options.Get("json", "shape.json"), JsonSerializer.Serialize(result2, Options.Json), ct);
        return errors.Count == 0 ? 0 : 1;
    }

    public static int Report(Options options)
    {
        var results = options.All("result")
            .Select(f => JsonSerializer.Deserialize<ShapeResult>(File.ReadAllText(f), Options.Json) ?? throw new InvalidDataException($"{f}: no results"))
            .ToList();
        var context = options.All("context").Select(c => c.Split('=', 2)).Where(kv => kv.Length == 2).Select(kv => (kv[0], kv[1])).ToList();
        var section = ShapesReport.Render(results, context);
        ReportSections.Merge(options.Get("out", "latest.md"), ShapesReport.Section, section);
        if (options.Get("docs", "") is { Length: > 0 } docs)
        {
            ReportSections.Merge(docs, ShapesReport.Section, section);
        }

        Console.Out.Write(section);
        return results.All(r => r.Errors.Count == 0) ? 0 : 1;
    }

    /// <summary>The 1, 5 and 15 minute load averages now.</summary>
    public static string Load() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static GatewayBench NewBench(Options options, int grpcPort, int alarms) => new(new GatewayBenchOptions(
        GrpcPort: grpcPort,
        MqttPort: 0,
        HttpPort: 0,
        GatewayPid: options.Int("gateway-pid", 0),
        AdminKey: options.Get("admin-key", ""),
        Devices: options.Int("devices", 5_000),
        AlarmEvery: options.Int("alarm-every", 5),
        AlarmDevices: options.Int("alarm-devices", 1_000),
        WarmupAlarms: 0,
        ThroughputAlarms: alarms,
        ConnectionCounts: [],
        Window: options.Int("window", 500),
        LatencyRate: 0,
        LatencyAlarms: 0,
        LatencyConnections: 0,
        PhaseLimit: TimeSpan.FromSeconds(options.Int("phase-limit-s", 90))), Console.Error);

    private static List<int> Ports(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
}
