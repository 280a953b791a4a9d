using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Tls;

/// <summary>
/// The real executable's start: it refuses to serve plain text unless asked to, warns whenever it does, and stops with
/// one line naming the file and its setting when a TLS file is missing, unreadable or does not match.
/// </summary>
public sealed class TlsStartupTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private static Task<ToolResult> RunGatewayAsync(params string[] args) => ExternalTool.RunAsync("dotnet",
        [Path.Combine(AppContext.BaseDirectory, "sharpeyes.dll"), "--bind", "127.0.0.1", "--grpc-port", "0", "--mqtt-port", "0", "--http-port", "0", "--sip-port", "0",
         "--data-dir", GatewayHost.NewDataDir(), .. args], StartTimeout);

    [Fact]
    public async Task Without_tls_or_the_insecure_flag_the_gateway_refuses_to_start_and_names_both_ways_out()
    {
        var run = await RunGatewayAsync();

        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.Stderr.Split('\n'), l => l.Length > 0);
        Assert.StartsWith("sharpeyes: invalid configuration: no TLS configured: set SharpEyes:Tls:CertificatePath and KeyPath", line, StringComparison.Ordinal);
        Assert.Contains("--tls-cert", line, StringComparison.Ordinal);
        Assert.Contains("--insecure-listeners", line, StringComparison.Ordinal);
        Assert.DoesNotContain("listening on", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_the_insecure_flag_it_serves_plain_text_and_warns_at_every_start()
    {
        var dataDir = GatewayHost.NewDataDir();
        string first;
        await using (var gateway = await GatewayProcess.StartAsync(dataDir, GatewayHost.TestAdminKey))
        {
            first = gateway.Output;
            await gateway.TerminateAsync(TimeSpan.FromSeconds(30));
        }

        await using var again = await GatewayProcess.StartAsync(dataDir, GatewayHost.TestAdminKey);
        using var http = new HttpClient();
        var health = await http.GetAsync($"http://127.0.0.1:{again.HttpPort}/healthz", TestContext.Current.CancellationToken);

        Assert.True(health.IsSuccessStatusCode);
        foreach (var output in new[] { first, again.Output })
        {
            Assert.Contains("Plain-text listeners (--insecure-listeners): API keys, MQTT passwords, alarms and the feed cross the network unencrypted", output, StringComparison.Ordinal);
            Assert.Contains("gRPC listening on http://127.0.0.1:", output, StringComparison.Ordinal);
            Assert.Contains("MQTT listening on mqtt://127.0.0.1:", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_demo_without_tls_implies_plain_text_with_the_warning()
    {
        await using var gateway = await GatewayProcess.StartAsync(GatewayHost.NewDataDir(), GatewayHost.TestAdminKey,
            "--SharpEyes:InsecureListeners=false", "--demo", "--demo-cameras", "false", "--stream-checks", "false");

        Assert.Contains("Plain-text listeners (--demo without SharpEyes:Tls)", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_text_and_tls_together_are_refused()
    {
        var ca = await DevCa.CreateAsync();

        var run = await RunGatewayAsync([.. ca.GatewayArgs(), "--insecure-listeners"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("InsecureListeners (--insecure-listeners) and Tls:CertificatePath (--tls-cert) are both set; choose TLS or plain text", run.Stderr, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BrokenFiles => new()
    {
        { "missing-certificate", "sharpeyes: SharpEyes:Tls:CertificatePath (--tls-cert): '{dir}/nope.pem' does not exist" },
        { "missing-key", "sharpeyes: SharpEyes:Tls:KeyPath (--tls-key): '{dir}/nope-key.pem' does not exist" },
        { "unreadable-key", "sharpeyes: SharpEyes:Tls:KeyPath (--tls-key): '{dir}/server-key.pem' cannot be read" },
        { "not-pem", "sharpeyes: SharpEyes:Tls:CertificatePath (--tls-cert): '{dir}/server-key.pem' holds no '-----BEGIN CERTIFICATE-----' block" },
        { "mismatched", "sharpeyes: the key in SharpEyes:Tls:KeyPath (--tls-key) '{dir}/client-other-key.pem' does not match the certificate in SharpEyes:Tls:CertificatePath (--tls-cert) '{dir}/server.pem'" },
        { "missing-client-ca", "sharpeyes: SharpEyes:Tls:ClientCaPath (--tls-client-ca): '{dir}/nope-ca.pem' does not exist" },
    };

    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public async Task A_missing_unreadable_or_mismatched_file_stops_the_start_naming_the_file_and_its_setting(string @case, string expected)
    {
        var ca = await DevCa.CreateAsync("other");
        var dir = ca.Directory;
        var (cert, key, clientCa) = (ca.CertificatePath, ca.KeyPath, (string?)null);
        switch (@case)
        {
            case "missing-certificate": cert = Path.Combine(dir, "nope.pem"); break;
            case "missing-key": key = Path.Combine(dir, "nope-key.pem"); break;
            case "not-pem": cert = ca.KeyPath; break;
            case "mismatched": key = Path.Combine(dir, "client-other-key.pem"); break;
            case "missing-client-ca": clientCa = Path.Combine(dir, "nope-ca.pem"); break;
            case "unreadable-key":
                // root reads a file whatever its mode: a directory where the file should be cannot be read by anyone.
                File.Move(ca.KeyPath, ca.KeyPath + ".moved");
                Directory.CreateDirectory(ca.KeyPath);
                break;
        }

        var run = await RunGatewayAsync(["--tls-cert", cert, "--tls-key", key, .. clientCa is null ? [] : new[] { "--tls-client-ca", clientCa }]);

        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.Stderr.Split('\n'), l => l.Length > 0);
        Assert.StartsWith(expected.Replace("{dir}", dir, StringComparison.Ordinal), line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr + run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_mqtt_port_defaults_to_8883_with_tls_and_1883_without_unless_given()
    {
        var plain = new GatewayOptions();
        var tls = new GatewayOptions { Tls = { CertificatePath = "server.pem", KeyPath = "server-key.pem" } };
        var given = new GatewayOptions { MqttPort = 1883, Tls = { CertificatePath = "server.pem", KeyPath = "server-key.pem" } };

        Assert.Equal(1883, plain.MqttListenPort);
        Assert.Equal(8883, tls.MqttListenPort);
        Assert.Equal(1883, given.MqttListenPort);
    }
}
