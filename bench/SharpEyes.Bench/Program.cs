using System.Globalization;
using System.Text.Json;
using SharpEyes.Bench.Coverage;
using SharpEyes.Bench.Gateway;
using SharpEyes.Bench.Mqtt;
using SharpEyes.Bench.Reporting;

// sharpeyes-bench baseline --mqtt-port P [--broker-pid PID] [--broker NAME] --out baseline.json
// sharpeyes-bench mqttnet-broker --port P (the second baseline's broker: the gateway's MQTTnet server, bare; Mqtt/BareMqttnetBroker.cs)
// sharpeyes-bench gateway  --grpc-port G --mqtt-port Q --http-port H --gateway-pid PID --admin-key K
//                          [--baseline baseline.json] [--baseline-mqttnet baseline-mqttnet.json] --out latest.md [--context "key=value"]...
//                          [--full-results full.json] (the same bench's --json from a gateway with --sqlite-synchronous FULL: its rows too)
//                          [--check-coverage 0] (skips the end's comparison of the gateway's coverage with a full recompute; it runs --demo)
// sharpeyes-bench coverage [--grpc-port G --gateway-pid PID --admin-key K] [--out latest.md] [--json coverage.json]
//                          (without --grpc-port: the in-process rows only; see Coverage/CoverageCommand.cs)
// sharpeyes-bench streams  --grpc-port G --gateway-pid PID --admin-key K --rtsp-ports P,.. --rtsp-pids Q,.. (Streams/StreamsCommand.cs)
// sharpeyes-bench outbox   --gateway-dll sharpeyes.dll --work DIR --admin-key K [--pid-file F] [--out latest.md]
//                          (starts its own gateways and a CentreSink; see Outbox/OutboxCommand.cs)
// sharpeyes-bench feeds    --gateway-dll sharpeyes.dll --work DIR --admin-key K [--pid-file F] [--out latest.md]
//                          [--feed-subscribers 500] [--feed-events 20000] (feed streams that never read; FeedMemory/FeedsCommand.cs)
// sharpeyes-bench hostile  --gateway-dll NEW/sharpeyes.dll --baseline-dll OLD/sharpeyes.dll --work DIR --admin-key K [--pid-file F]
//                          [--out latest.md] [--json hostile.json] [--attacks idle-flood,big-connect,...] (issue 11's attacks against
//                          both builds, a gateway per attack and build; Hostile/HostileCommand.cs; its idle flood runs in
//                          "sharpeyes-bench flood-worker" child processes, Hostile/IdleFlood.cs)
// sharpeyes-bench gateway ... --tls-ca ca.pem: the same against a TLS gateway (https gRPC, MQTT over TLS, trusting that CA)
// sharpeyes-bench tls-report --plain a.json --tls b.json [...pairs] --out latest.md (the "tls" section; Reporting/TlsReport.cs)
// sharpeyes-bench load-county --grpc-port G --admin-key K (the synthetic county into a running gateway, for the console
//                          bench; ConsolePage/LoadCountyCommand.cs)
// sharpeyes-bench shape-register --grpc-ports G[,G2] --admin-key K --devices N --state state.json (keys, bulk registration;
//                          replicas: waits until the others have the devices)
// sharpeyes-bench shape-alarms --state state.json --grpc-ports G --mqtt-ports Q[,Q2] [--mqtt-user U --mqtt-password P]
//                          --alarms M --shape NAME --round R --json out.json (end-to-end alarms/s; Shapes/ShapesCommand.cs)
// sharpeyes-bench shapes-report --result out.json [...] --out latest.md [--docs docs/benchmarks.md] (Reporting/ShapesReport.cs)
// sharpeyes-bench soak --grpc-port G --mqtt-port Q --gateway-pid PID --admin-key K [--soak-minutes 10] [--soak-rate 2000]
//                          [--soak-interval-s 10] [--devices 50000] --out latest.md [--json soak.json] (RSS under a steady load;
//                          Gateway/SoakCommand.cs)
// All are driven by bench/run.sh, which starts and stops the processes under test.
if (args.Length == 0 || args[0] is not ("baseline" or "gateway" or "coverage" or "streams" or "outbox" or "feeds" or "hostile" or "flood-worker" or "load-county" or "tls-report"
    or "shape-register" or "shape-alarms" or "shapes-report" or "mqttnet-broker" or "soak"))
{
    Console.Error.WriteLine("usage: sharpeyes-bench baseline|gateway|coverage|streams|outbox|feeds|hostile --option value ... (see bench/run.sh)");
    return 2;
}

var options = Options.Parse(args[1..]);
var alarms = options.Int("alarms", 100_000);
var connectionCounts = options.Get("connections", "1,4").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
var window = options.Int("window", 500);
var alarmDevices = options.Int("alarm-devices", 1_000);
var phaseLimit = TimeSpan.FromSeconds(options.Int("phase-limit-s", 90));
using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(options.Int("total-limit-s", 240)));
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

if (args[0] == "mqttnet-broker")
{
    return await BareMqttnetBroker.RunAsync(options);
}

if (args[0] == "soak")
{
    return await SoakCommand.RunAsync(options, cancel.Token);
}

if (args[0] == "coverage")
{
    return await CoverageCommand.RunAsync(options, cancel.Token);
}

if (args[0] == "streams")
{
    return await SharpEyes.Bench.Streams.StreamsCommand.RunAsync(options, cancel.Token);
}

if (args[0] == "outbox")
{
    return await SharpEyes.Bench.Outbox.OutboxCommand.RunAsync(options, cancel.Token);
}

if (args[0] == "feeds")
{
    return await SharpEyes.Bench.FeedMemory.FeedsCommand.RunAsync(options, cancel.Token);
}

if (args[0] == "hostile")
{
    return await SharpEyes.Bench.Hostile.HostileCommand.RunAsync(options, cancel.Token);
}

if (args[0] == "load-county")
{
    return await SharpEyes.Bench.ConsolePage.LoadCountyCommand.RunAsync(options, cancel.Token);
}

if (args[0] == "flood-worker")
{
    return await SharpEyes.Bench.Hostile.IdleFlood.RunWorkerAsync(options, cancel.Token);
}

if (args[0] == "shape-register")
{
    return await SharpEyes.Bench.Shapes.ShapesCommand.RegisterAsync(options, cancel.Token);
}

if (args[0] == "shape-alarms")
{
    return await SharpEyes.Bench.Shapes.ShapesCommand.AlarmsAsync(options, cancel.Token);
}

if (args[0] == "shapes-report")
{
    return SharpEyes.Bench.Shapes.ShapesCommand.Report(options);
}

if (args[0] == "tls-report")
{
    var plainRuns = options.All("plain").ToList();
    var tlsRuns = options.All("tls").ToList();
    if (plainRuns.Count == 0 || plainRuns.Count != tlsRuns.Count)
    {
        Console.Error.WriteLine($"tls-report: give as many --plain as --tls result files ({plainRuns.Count} and {tlsRuns.Count})");
        return 2;
    }

    GatewayResults Read(string file) => JsonSerializer.Deserialize<GatewayResults>(File.ReadAllText(file), Options.Json)
        ?? throw new InvalidDataException($"{file}: no results");
    var rounds = plainRuns.Zip(tlsRuns, (p, t) => (Read(p), Read(t))).ToList();
    var tlsContext = options.All("context").Select(c => c.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1]);
    var section = TlsReport.Render(rounds, tlsContext);
    ReportSections.Merge(options.Get("out", "latest.md"), TlsReport.Section, section);
    Console.Out.Write(section);
    return rounds.All(r => r.Item1.Errors.Count == 0 && r.Item2.Errors.Count == 0) ? 0 : 1;
}

if (args[0] == "baseline")
{
    var port = options.Int("mqtt-port", 0);
    int? brokerPid = options.Int("broker-pid", 0) is > 0 and var pid ? pid : null;
    var runs = new List<ThroughputResult>();
    Console.Error.WriteLine($"[baseline] warm-up: 5,000 messages, 1 connection");
    await BrokerBaseline.RunAsync(port, brokerPid, 1, 5_000, alarmDevices, window, phaseLimit, cancel.Token);
    foreach (var n in connectionCounts)
    {
        Console.Error.WriteLine($"[baseline] {alarms:N0} messages, {n} publisher connection(s)");
        var result = await BrokerBaseline.RunAsync(port, brokerPid, n, alarms, alarmDevices, window, phaseLimit, cancel.Token);
        Console.Error.WriteLine($"[baseline]   subscriber {result.DeliveredRate:N0}/s, PUBACKs {result.PubackRate:N0}/s; broker CPU {result.ServerCpu?.Describe()} {result.Note}");
        runs.Add(result);
    }

    var baseline = new BaselineResults(options.Get("broker", "mosquitto"), AlarmMessages.Payload(0, 0, "2026-11-22T16:00:00+08:00").Length, runs);
    await File.WriteAllTextAsync(options.Get("out", "baseline.json"), JsonSerializer.Serialize(baseline, Options.Json));
    return 0;
}

var benchOptions = new GatewayBenchOptions(
    GrpcPort: options.Int("grpc-port", 50051),
    MqttPort: options.Int("mqtt-port", 1883),
    HttpPort: options.Int("http-port", 8080),
    GatewayPid: options.Int("gateway-pid", 0),
    AdminKey: options.Get("admin-key", Environment.GetEnvironmentVariable("SHARPEYES_ADMIN_KEY") ?? ""),
    Devices: options.Int("devices", 50_000),
    AlarmEvery: options.Int("alarm-every", 5),
    AlarmDevices: alarmDevices,
    WarmupAlarms: options.Int("warmup-alarms", 5_000),
    ThroughputAlarms: alarms,
    ConnectionCounts: connectionCounts,
    Window: window,
    LatencyRate: options.Int("latency-rate", 2_000),
    LatencyAlarms: options.Int("latency-alarms", 20_000),
    LatencyConnections: options.Int("latency-connections", 2),
    PhaseLimit: phaseLimit,
    TlsCa: options.Get("tls-ca", "") is { Length: > 0 } tlsCa ? tlsCa : null)
{
    CheckCoverage = options.Int("check-coverage", 1) == 1,
};

async Task<BaselineResults?> ReadBaseline(string option) =>
    options.Get(option, "") is { Length: > 0 } file && File.Exists(file)
        ? JsonSerializer.Deserialize<BaselineResults>(await File.ReadAllTextAsync(file), Options.Json)
        : null;
var baselineResults = await ReadBaseline("baseline");
var mqttnetResults = await ReadBaseline("baseline-mqttnet");

var started = DateTimeOffset.UtcNow;
var results = await new GatewayBench(benchOptions, Console.Error).RunAsync(cancel.Token);
var context = new Dictionary<string, string>(StringComparer.Ordinal)
{
    ["run"] = $"{started:yyyy-MM-dd HH:mm:ss} UTC; gateway phases took {(DateTimeOffset.UtcNow - started).TotalSeconds:F0} s",
    ["settings"] = $"{alarms:N0} alarms per throughput run over {alarmDevices:N0} devices, window {window} PUBACKs outstanding per connection, " +
        $"latency run {benchOptions.LatencyAlarms:N0} alarms at {benchOptions.LatencyRate:N0}/s over {benchOptions.LatencyConnections} connection(s), " +
        $"{benchOptions.Devices:N0} devices registered first, phase limit {phaseLimit.TotalSeconds:F0} s",
};
foreach (var extra in options.All("context"))
{
    var eq = extra.IndexOf('=', StringComparison.Ordinal);
    if (eq > 0)
    {
        context[extra[..eq]] = extra[(eq + 1)..];
    }
}

var fullResults = options.Get("full-results", "") is { Length: > 0 } fullFile && File.Exists(fullFile)
    ? JsonSerializer.Deserialize<GatewayResults>(await File.ReadAllTextAsync(fullFile), Options.Json)
    : null;
var markdown = MarkdownReport.Render(baselineResults, mqttnetResults, results, context, fullResults);
var outFile = options.Get("out", "latest.md");
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
await File.WriteAllTextAsync(outFile, markdown);
if (options.Get("json", "") is { Length: > 0 } jsonFile)
{
    await File.WriteAllTextAsync(jsonFile, JsonSerializer.Serialize(results, Options.Json));
}

Console.Out.Write(markdown);
return results.Errors.Count == 0 ? 0 : 1;

/// <summary>--name value pairs; a name may repeat.</summary>
internal sealed class Options
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private readonly List<(string Name, string Value)> _values = [];

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected --name value, got '{args[i]}'");
            }

            o._values.Add((args[i][2..], args[++i]));
        }

        return o;
    }

    public string Get(string name, string fallback) => _values.LastOrDefault(v => v.Name == name).Value ?? fallback;

    public int Int(string name, int fallback) => int.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    public IEnumerable<string> All(string name) => _values.Where(v => v.Name == name).Select(v => v.Value);
}
