using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using MQTTnet;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Tls;

/// <summary>
/// A gateway with TLS from dev-ca.sh's PEM files: each of its three listeners serves TLS to clients that trust that CA
/// (the server certificate they see is the file's), and a plain-text client of any listener is served nothing.
/// </summary>
public sealed class TlsListenerTests : IAsyncLifetime
{
    private const string VendorId = "acme";
    private DevCa _ca = null!;
    private GatewayHost _host = null!;
    private string _vendorKey = null!;

    public async ValueTask InitializeAsync()
    {
        _ca = await DevCa.CreateAsync();
        _host = await GatewayHost.StartTlsAsync(_ca);
        _vendorKey = await _host.CreateKeyAsync(Role.Vendor, VendorId);
        await new DeviceRegistry.DeviceRegistryClient(_host.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_vendorKey));
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Grpc_is_http2_over_tls_with_the_configured_certificate()
    {
        X509Certificate2? seen = null;
        using var channel = _ca.Channel(_host.GrpcPort, seen: c => seen = c);

        var stats = await new Admin.AdminClient(channel).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth);

        Assert.NotNull(stats);
        Assert.Equal(_ca.Server().SerialNumber, seen?.SerialNumber);
        Assert.Contains($"gRPC listening on https://127.0.0.1:{_host.GrpcPort}", _host.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain("Plain-text listeners", _host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Http_is_https_and_the_console_cookie_is_secure()
    {
        X509Certificate2? seen = null;
        using var http = _ca.Http(seen: c => seen = c);

        var health = await http.GetAsync($"https://localhost:{_host.HttpPort}/healthz", TestContext.Current.CancellationToken);
        var signIn = await http.PostAsync($"https://localhost:{_host.HttpPort}/api/session",
            new StringContent($"{{\"apiKey\":\"{_host.AdminKey}\"}}", Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        var metrics = await http.GetStringAsync($"https://localhost:{_host.HttpPort}/metrics", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(_ca.Server().SerialNumber, seen?.SerialNumber);
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        var cookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"), c => c.StartsWith("sharpeyes.session=", StringComparison.Ordinal));
        Assert.Contains("; secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("; httponly", cookie, StringComparison.OrdinalIgnoreCase);
        var expiry = new DateTimeOffset(_ca.Server().NotAfter.ToUniversalTime()).ToUnixTimeSeconds();
        Assert.Equal(expiry, MetricsScrape.Parse(metrics)["sharpeyes_tls_certificate_expiry_timestamp_seconds"]);
    }

    [Fact]
    public async Task Mqtt_is_mqtt_over_tls_and_a_vendor_publishes_with_its_key()
    {
        X509Certificate2? seen = null;
        using var client = new MqttClientFactory().CreateMqttClient();

        var connected = await client.ConnectAsync(_ca.Mqtt(_host.MqttPort, seen: c => seen = c).WithCredentials(VendorId, _vendorKey).WithClientId("tls-pub").Build(),
            TestContext.Current.CancellationToken);
        var ack = await client.PublishAsync(AlarmPublisher.Alarm(TestDevices.AlarmId(1), "tls-1"), TestContext.Current.CancellationToken);

        Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
        Assert.True(ack.IsSuccess, ack.ReasonString);
        Assert.Equal(_ca.Server().SerialNumber, seen?.SerialNumber);
        Assert.Equal(1, (await _host.GetStatsAsync()).AlarmsAccepted);
        Assert.Contains($"MQTT listening on mqtts://127.0.0.1:{_host.MqttPort}", _host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mosquitto_pub_publishes_over_tls_trusting_the_dev_ca()
    {
        var pub = InteropPaths.FindOnPath("mosquitto_pub");
        if (pub is null)
        {
            InteropPaths.SkipUnlessCi("mosquitto_pub is missing (scripts/install-test-deps.sh installs mosquitto-clients)");
            return;
        }

        var run = await ExternalTool.RunAsync(pub,
            ["--cafile", _ca.CaPath, "-h", "localhost", "-p", _host.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "-V", "mqttv5", "-i", "mosq-tls", "-u", VendorId, "-P", _vendorKey, "-q", "1",
             "-t", "sharpeyes/v1/alarms/" + TestDevices.AlarmId(1), "-m", TestDevices.AlarmJson("mosq-tls")],
            TimeSpan.FromSeconds(20));
        var untrusting = await ExternalTool.RunAsync(pub,
            ["-h", "localhost", "-p", _host.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--capath", "/etc/ssl/certs",
             "-V", "mqttv5", "-i", "mosq-notrust", "-u", VendorId, "-P", _vendorKey, "-q", "1",
             "-t", "sharpeyes/v1/alarms/" + TestDevices.AlarmId(1), "-m", TestDevices.AlarmJson("mosq-notrust")],
            TimeSpan.FromSeconds(20));

        Assert.True(run.ExitCode == 0, $"mosquitto_pub over TLS: {run}");
        Assert.NotEqual(0, untrusting.ExitCode); // the system's CAs do not vouch for the dev CA's certificate
        Assert.Equal(1, (await _host.GetStatsAsync()).AlarmsAccepted);
    }

    [Fact]
    public async Task A_plain_text_client_of_any_listener_fails_and_is_served_nothing()
    {
        using var plainGrpc = GrpcChannel.ForAddress($"http://127.0.0.1:{_host.GrpcPort}");
        using var plainHttp = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var plainMqtt = new MqttClientFactory().CreateMqttClient();

        var grpc = await Assert.ThrowsAsync<RpcException>(() => new Admin.AdminClient(plainGrpc).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth).ResponseAsync);
        await Assert.ThrowsAsync<HttpRequestException>(() => plainHttp.GetAsync($"http://127.0.0.1:{_host.HttpPort}/healthz", TestContext.Current.CancellationToken));
        await Assert.ThrowsAnyAsync<Exception>(() => plainMqtt.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _host.MqttPort)
            .WithCredentials(VendorId, _vendorKey).WithTimeout(TimeSpan.FromSeconds(10)).Build(), TestContext.Current.CancellationToken));
        // What a plain-text request gets back on the raw socket: no HTTP answer, no health, no CONNACK.
        var http = await RawExchangeAsync(_host.HttpPort, Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"));
        var mqtt = await RawExchangeAsync(_host.MqttPort, RawMqtt.Connect("raw-plain", VendorId, _vendorKey));

        Assert.NotEqual(StatusCode.OK, grpc.StatusCode);
        Assert.False(plainMqtt.IsConnected);
        Assert.DoesNotContain("HTTP/1.1", Encoding.ASCII.GetString(http), StringComparison.Ordinal);
        Assert.DoesNotContain("Healthy", Encoding.ASCII.GetString(http), StringComparison.Ordinal);
        Assert.False(mqtt.Length > 0 && mqtt[0] == 0x20, "a plain-text CONNECT got a CONNACK");
        Assert.Equal(0, (await _host.GetStatsAsync()).AlarmsAccepted);
    }

    /// <summary>Sends bytes on a plain TCP connection and returns what came back before the gateway closed it (or 5 s passed).</summary>
    private static async Task<byte[]> RawExchangeAsync(int port, byte[] request)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, port, TestContext.Current.CancellationToken);
        var stream = socket.GetStream();
        await stream.WriteAsync(request, TestContext.Current.CancellationToken);
        using var received = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, n);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // closed by the gateway, or nothing more came
        }

        return received.ToArray();
    }
}
