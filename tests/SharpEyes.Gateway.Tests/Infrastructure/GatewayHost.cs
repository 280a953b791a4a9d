using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using SharpEyes.Gateway.Hosting;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// A whole gateway in this process on real Kestrel, a real MQTTnet broker and a real SQLite file, bound to
/// 127.0.0.1 on free ports, with a <see cref="FakeTimeProvider"/> so tests move time instead of waiting.
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    /// <summary>In-process hosts take their first admin key from SHARPEYES_ADMIN_KEY, as an operator may; the generated-key path is tested out of process.</summary>
    public const string TestAdminKey = "se_testadmin_0123456789abcdefghijklmnopqrstuvwxyz";

    private readonly WebApplication _app;

    static GatewayHost() => Environment.SetEnvironmentVariable("SHARPEYES_ADMIN_KEY", TestAdminKey);

    private readonly List<IDisposable> _owned = [];

    private GatewayHost(WebApplication app, string dataDir, int grpc, int mqtt, int http, FakeTimeProvider time, CapturedLogs logs, DevCa? ca)
    {
        _app = app;
        DataDir = dataDir;
        GrpcPort = grpc;
        MqttPort = mqtt;
        HttpPort = http;
        Time = time;
        Logs = logs;
        Ca = ca;
        Channel = ca?.Channel(grpc) ?? GrpcChannel.ForAddress($"http://127.0.0.1:{grpc}");
        _owned.Add(Channel);
    }

    /// <summary>The CA whose server certificate the gateway serves (TLS listeners), else null (plain text).</summary>
    public DevCa? Ca { get; }

    public string DataDir { get; }

    public int GrpcPort { get; }

    public int MqttPort { get; }

    public int HttpPort { get; }

    /// <summary>The SIP port (UDP and TCP) of GB/T 28181 devices.</summary>
    public int SipPort => Services.GetRequiredService<SharpEyes.Gateway.Sip.SipService>().Port;

    public FakeTimeProvider Time { get; }

    public CapturedLogs Logs { get; }

    public GrpcChannel Channel { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The last committed feed sequence (a demo start already holds the coverage gaps it opened).</summary>
    public long LastSequence => Services.GetRequiredService<SharpEyes.Gateway.Storage.Journal>().LastSequence;

    public string AdminKey => TestAdminKey;

    /// <summary>
    /// For tests that flood the gateway with a vendor's calls on purpose (to fill a feed subscriber's buffer): the
    /// vendor's rate limit (SharpEyes:RateLimits:Vendor) is not what they test.
    /// </summary>
    public const string NoVendorRateLimit = "--SharpEyes:RateLimits:Vendor:PerSecond=0";

    /// <summary>For tests that flood the MQTT broker on purpose: the vendors' publish rate limit (SharpEyes:RateLimits:MqttVendor) is off.</summary>
    public const string NoMqttRateLimit = "--SharpEyes:RateLimits:MqttVendor:PerSecond=0";

    public static string NewDataDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "sharpeyes-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// Starts a gateway; <paramref name="demo"/> loads the demo geography. The demo's synthetic cameras are left out
    /// unless <paramref name="extraArgs"/> asks for them (<c>--SharpEyes:DemoCameras=true</c>), so tests see only their own cameras.
    /// </summary>
    public static Task<GatewayHost> StartAsync(bool demo = true, string? dataDir = null, FakeTimeProvider? time = null, params string[] extraArgs) =>
        StartAsync(demo, dataDir, time, networkClock: null, ca: null, extraArgs);

    /// <summary>A demo gateway whose network timeouts (MQTT CONNECT timeout, keepalive) run on <paramref name="networkClock"/>.</summary>
    public static Task<GatewayHost> StartWithNetworkClockAsync(FakeTimeProvider networkClock, params string[] extraArgs) =>
        StartAsync(demo: true, dataDir: null, time: null, networkClock, ca: null, extraArgs);

    /// <summary>
    /// A gateway whose listeners serve TLS with <paramref name="ca"/>'s server certificate (<see cref="Channel"/> and
    /// <see cref="ConnectMqttAsync"/> trust that CA); with <paramref name="clientCa"/> it asks for client certificates from it.
    /// </summary>
    public static Task<GatewayHost> StartTlsAsync(DevCa ca, bool clientCa = false, bool demo = true, params string[] extraArgs) =>
        StartAsync(demo, dataDir: null, time: null, networkClock: null, ca, [.. ca.GatewayArgs(clientCa), .. extraArgs]);

    private static async Task<GatewayHost> StartAsync(bool demo, string? dataDir, FakeTimeProvider? time, FakeTimeProvider? networkClock, DevCa? ca, string[] extraArgs)
    {
        dataDir ??= NewDataDir();
        time ??= new FakeTimeProvider(new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero));
        // Port 0: the gateway binds what the system gives it and reports it (no race for a "free" port). Plain text is
        // asked for explicitly unless the test configures TLS.
        var tls = extraArgs.Any(a => a.StartsWith("--tls-", StringComparison.Ordinal) || a.Contains("SharpEyes:Tls:", StringComparison.Ordinal)
            || a.Contains("InsecureListeners", StringComparison.Ordinal) || a.StartsWith("--insecure-listeners", StringComparison.Ordinal));
        string[] args =
        [
            "--bind", "127.0.0.1", "--grpc-port", "0", "--mqtt-port", "0", "--http-port", "0", "--sip-port", "0", .. tls ? [] : new[] { "--insecure-listeners" },
            "--data-dir", dataDir, .. demo ? new[] { "--demo" } : [], "--SharpEyes:DemoCameras=false", "--SharpEyes:Streams:Enabled=false",
            .. await TestStores.ArgsAsync(dataDir, extraArgs), .. extraArgs,
        ];
        var builder = WebApplication.CreateBuilder();
        var logs = new CapturedLogs();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Services.AddSingleton<TimeProvider>(time);
        if (networkClock is not null)
        {
            builder.Services.AddKeyedSingleton<TimeProvider>(SharpEyes.Gateway.Mqtt.MqttConnectionGuard.ClockKey, networkClock);
        }
        builder.AddSharpEyesGateway(args);
        var app = builder.Build();
        app.MapSharpEyesGateway();
        await app.StartAsync();
        var listeners = app.Services.GetRequiredService<GatewayListeners>();
        return new GatewayHost(app, dataDir, listeners.Port(GatewayListeners.Grpc), listeners.Port(GatewayListeners.Mqtt), listeners.Port(GatewayListeners.Http), time, logs, ca);
    }

    /// <summary>Stops cleanly (as on SIGTERM) and starts a new gateway on the same data directory.</summary>
    public async Task<GatewayHost> RestartAsync(params string[] extraArgs)
    {
        await DisposeAsync();
        return await StartAsync(demo: false, dataDir: DataDir, time: Time, networkClock: null, Ca, [.. Ca?.GatewayArgs() ?? [], .. extraArgs]);
    }

    /// <summary>The base address of the HTTP listener (https://localhost:port with TLS).</summary>
    public string HttpBase => Ca is null ? $"http://127.0.0.1:{HttpPort}" : $"https://localhost:{HttpPort}";

    public Metadata Auth(string key) => new() { { "authorization", "Bearer " + key } };

    public Metadata AdminAuth => Auth(AdminKey);

    public async Task<string> CreateKeyAsync(Role role, string? vendorId = null)
    {
        var response = await new Admin.AdminClient(Channel).CreateApiKeyAsync(
            new CreateApiKeyRequest { Role = role, VendorId = vendorId ?? "" }, AdminAuth);
        return response.ApiKey;
    }

    /// <summary>The admin stats (alarm intake counters, dead letters by reason).</summary>
    public async Task<GetStatsResponse> GetStatsAsync() => await new Admin.AdminClient(Channel).GetStatsAsync(new GetStatsRequest(), AdminAuth);

    public async Task<IMqttClient> ConnectMqttAsync(string userName, string password, string? clientId = null, bool cleanStart = true,
        MQTTnet.Formatter.MqttProtocolVersion version = MQTTnet.Formatter.MqttProtocolVersion.V500)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = (Ca?.Mqtt(MqttPort) ?? new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", MqttPort))
            .WithClientId(clientId ?? "test-" + Guid.NewGuid().ToString("N")[..8])
            .WithCredentials(userName, password)
            .WithCleanStart(cleanStart)
            .WithProtocolVersion(version)
            .WithTimeout(TimeSpan.FromSeconds(10))
            .Build();
        var result = await client.ConnectAsync(options);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new InvalidOperationException($"MQTT connect refused: {result.ResultCode}");
        }

        _owned.Add(client);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var d in _owned)
        {
            d.Dispose();
        }

        _owned.Clear();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
