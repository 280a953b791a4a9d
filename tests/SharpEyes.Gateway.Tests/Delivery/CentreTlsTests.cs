using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using SharpEyes.CentreSink;
using SharpEyes.Gateway.Outbox;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;
using static SharpEyes.Gateway.Tests.Delivery.OutboxTests;

namespace SharpEyes.Gateway.Tests.Delivery;

/// <summary>
/// The push outbox over TLS with certificates made by scripts/dev-ca.sh (openssl): the reference CentreSink served by
/// Kestrel over TLS, and mosquitto with a TLS listener, as the centre. The gateway must verify the centre (its CA file,
/// or the system trust store, and the host name), refuse with a specific reason counted in metrics and shown in
/// health, retry, and deliver everything once the CA file is right; it presents its client certificate when asked.
/// </summary>
public sealed class CentreTlsTests
{
    private const string CentreKey = "centre-tls-test-key-0123456789abcdefghij";

    [Fact]
    public async Task A_centre_certificate_from_another_CA_is_refused_with_its_reason_and_once_the_CA_file_is_fixed_everything_arrives()
    {
        var centreCa = await DevCa.MakeAsync();
        var otherCa = await DevCa.MakeAsync();
        await using var sink = await StartSinkAsync(centreCa, apiKey: CentreKey);
        var caFile = Path.Combine(GatewayHost.NewDataDir(), "centre-ca.pem");
        File.Copy(otherCa.Ca, caFile);
        await using var host = await GatewayHost.StartAsync(extraArgs:
        [
            "--centre-url", sink.Address.ToString(), "--centre-key", CentreKey, "--SharpEyes:Outbox:SourceId=tls-test",
            $"--SharpEyes:Outbox:Endpoints:0:CaPath={caFile}",
            // The same centre without a CA file: the development CA is in no system trust store.
            "--SharpEyes:Outbox:Endpoints:1:Name=system", $"--SharpEyes:Outbox:Endpoints:1:Url={sink.Address}",
            $"--SharpEyes:Outbox:Endpoints:1:ApiKey={CentreKey}",
        ]);
        await PublishAlarmsAsync(host, 10);
        var outbox = host.Services.GetRequiredService<OutboxService>();
        var centre = outbox.Endpoints.Single(e => e.Name == "centre");
        var system = outbox.Endpoints.Single(e => e.Name == "system");
        await WaitAsync(host, () => centre.FailedAttempts >= 2 && system.FailedAttempts >= 2, "both endpoints to fail their first attempts");

        // Refused, with the reason: in the endpoint's error, the health text and the metrics; nothing reached the centre.
        // Both CAs are named "SharpEyes development CA": only the signature tells them apart.
        Assert.Matches("centre certificate not trusted: (PartialChain|UntrustedRoot) ", centre.LastError);
        Assert.Contains($"trusted roots: the CA file {caFile}", centre.LastError, StringComparison.Ordinal);
        Assert.Contains("centre certificate not trusted: ", system.LastError, StringComparison.Ordinal);
        Assert.Contains("trusted roots: the system trust store", system.LastError, StringComparison.Ordinal);
        Assert.Equal(0, sink.Store.Calls);
        Assert.Equal(0, centre.AckedSequence);
        var metrics = await MetricsScrape.ReadAsync(host.HttpPort);
        Assert.True(metrics[Rejections("centre", "untrusted")] >= 2);
        Assert.Equal(0, metrics[Rejections("centre", "name_mismatch")]);
        Assert.True(metrics[Rejections("system", "untrusted")] >= 2);
        Assert.True(metrics["sharpeyes_outbox_delivery_failures_total{endpoint=\"centre\"}"] >= 2);
        var (_, health) = await MetricsScrape.HealthAsync(host.HttpPort);
        Assert.Contains("outbox: Degraded", health, StringComparison.Ordinal);
        Assert.Matches("centre is failing: .*centre certificate not trusted: ", health);
        Assert.Contains("delivery attempt 1 failed (centre certificate not trusted: ", host.Logs.All, StringComparison.Ordinal);

        // The operator puts the right CA in the file (written beside it and renamed over it, as a deployment tool would):
        // reread at the next connection, without a restart, and everything arrives in order with no gap.
        await ReplaceAsync(centreCa.Ca, caFile);
        await PublishAlarmsAsync(host, 5, "after-fix");
        await WaitAsync(host, () => sink.Store.Held("tls-test") == host.LastSequence && centre.AckedSequence == host.LastSequence, "the centre to hold everything");
        Assert.Equal(Enumerable.Range(1, (int)host.LastSequence).Select(i => (long)i), sink.Store.Events("tls-test").Select(e => e.Sequence));
        Assert.Contains($"Outbox centre: CaPath {caFile} changed and was reloaded", host.Logs.All, StringComparison.Ordinal);

        // The endpoint without a CA file is still refused: nothing ever falls back to an unverified connection.
        Assert.Equal(0, system.AckedSequence);
        Assert.Contains("centre certificate not trusted: ", system.LastError, StringComparison.Ordinal);
        Assert.DoesNotContain(CentreKey, host.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain("clear text", host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_centre_requiring_client_certificates_accepts_the_gateways_and_refuses_a_gateway_without_one()
    {
        var ca = await DevCa.MakeAsync("gateway-1");
        await using var sink = await StartSinkAsync(ca, clientCa: ca.Ca);
        await using var host = await GatewayHost.StartAsync(extraArgs:
        [
            "--centre-url", sink.Address.ToString(), "--SharpEyes:Outbox:SourceId=mtls-test",
            $"--SharpEyes:Outbox:Endpoints:0:CaPath={ca.Ca}",
            $"--SharpEyes:Outbox:Endpoints:0:ClientCertificatePath={ca.Client("gateway-1")}",
            $"--SharpEyes:Outbox:Endpoints:0:ClientKeyPath={ca.ClientKey("gateway-1")}",
            "--SharpEyes:Outbox:Endpoints:1:Name=anonymous", $"--SharpEyes:Outbox:Endpoints:1:Url={sink.Address}",
            $"--SharpEyes:Outbox:Endpoints:1:CaPath={ca.Ca}",
        ]);
        await PublishAlarmsAsync(host, 5);
        var outbox = host.Services.GetRequiredService<OutboxService>();
        var centre = outbox.Endpoints.Single(e => e.Name == "centre");
        var anonymous = outbox.Endpoints.Single(e => e.Name == "anonymous");
        await WaitAsync(host, () => sink.Store.Held("mtls-test") == host.LastSequence && centre.AckedSequence == host.LastSequence && anonymous.FailedAttempts >= 2,
            "the centre to hold everything, and the endpoint without a certificate to fail");

        Assert.Equal(Enumerable.Range(1, (int)host.LastSequence).Select(i => (long)i), sink.Store.Events("mtls-test").Select(e => e.Sequence));
        Assert.NotEmpty(sink.ClientCertificates);
        Assert.All(sink.ClientCertificates, subject => Assert.Contains("CN=gateway-1", subject, StringComparison.Ordinal));
        // The centre's refusal is the handshake's failure, not the certificate check's (which passed).
        Assert.Equal(0, anonymous.AckedSequence);
        Assert.NotNull(anonymous.LastError);
        Assert.DoesNotContain("centre certificate", anonymous.LastError, StringComparison.Ordinal);
        Assert.All(CentreTls.Reasons, reason => Assert.Equal(0, anonymous.Tls!.Rejections[reason]));
    }

    [Fact]
    public async Task A_client_certificate_replaced_on_disk_is_presented_at_the_next_connection()
    {
        // The gateway starts with a certificate from a CA the centre does not accept; the operator replaces the
        // certificate and key files (one after the other, so for a moment they do not match).
        var ca = await DevCa.MakeAsync("gateway-new");
        var otherCa = await DevCa.MakeAsync("gateway-old");
        await using var sink = await StartSinkAsync(ca, clientCa: ca.Ca);
        var dir = GatewayHost.NewDataDir();
        var (certificate, key) = (Path.Combine(dir, "gateway.pem"), Path.Combine(dir, "gateway-key.pem"));
        File.Copy(otherCa.Client("gateway-old"), certificate);
        File.Copy(otherCa.ClientKey("gateway-old"), key);
        await using var host = await GatewayHost.StartAsync(extraArgs:
        [
            "--centre-url", sink.Address.ToString(), "--SharpEyes:Outbox:SourceId=client-reload-test", "--centre-ca", ca.Ca,
            "--centre-client-cert", certificate, "--centre-client-key", key,
        ]);
        var centre = Assert.Single(host.Services.GetRequiredService<OutboxService>().Endpoints);
        await WaitAsync(host, () => centre.FailedAttempts >= 2, "the centre to refuse the old certificate");
        Assert.Equal(0, sink.Store.Calls);
        Assert.Empty(sink.ClientCertificates);

        await ReplaceAsync(ca.Client("gateway-new"), certificate);
        await ReplaceAsync(ca.ClientKey("gateway-new"), key);
        await WaitAsync(host, () => sink.Store.Held("client-reload-test") == host.LastSequence && centre.AckedSequence == host.LastSequence, "the centre to hold everything");
        Assert.Equal(Enumerable.Range(1, (int)host.LastSequence).Select(i => (long)i), sink.Store.Events("client-reload-test").Select(e => e.Sequence));
        Assert.All(sink.ClientCertificates, subject => Assert.Contains("CN=gateway-new", subject, StringComparison.Ordinal));
        Assert.Contains($"Outbox centre: ClientCertificatePath {certificate} changed and was reloaded", host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_centre_certificate_that_does_not_name_the_host_dialled_is_refused()
    {
        // The centre's certificate is trusted (same CA) but names localhost, 127.0.0.1 and ::1, and the gateway dials
        // 127.0.0.2 (another loopback address): as a host on the path presenting a valid certificate of another server.
        var ca = await DevCa.MakeAsync();
        await using var sink = await StartSinkAsync(ca, bind: "127.0.0.2");
        await using var host = await GatewayHost.StartAsync(extraArgs:
            ["--centre-url", sink.Address.ToString(), $"--SharpEyes:Outbox:Endpoints:0:CaPath={ca.Ca}"]);
        var centre = Assert.Single(host.Services.GetRequiredService<OutboxService>().Endpoints);
        await WaitAsync(host, () => centre.FailedAttempts >= 2, "the endpoint to fail");

        Assert.Contains("centre certificate name mismatch: it does not name 127.0.0.2 (it names localhost, 127.0.0.1, ::1)", centre.LastError, StringComparison.Ordinal);
        Assert.Equal(0, sink.Store.Calls);
        var metrics = await MetricsScrape.ReadAsync(host.HttpPort);
        Assert.True(metrics[Rejections("centre", "name_mismatch")] >= 2);
        Assert.Equal(0, metrics[Rejections("centre", "untrusted")]);
    }

    [Fact]
    public async Task An_mqtts_endpoint_delivers_to_a_broker_its_CA_file_trusts_and_refuses_one_it_does_not()
    {
        var ca = await DevCa.MakeAsync();
        var otherCa = await DevCa.MakeAsync();
        await using var broker = await MosquittoServer.StartAsync(persistence: false, tls: new(ca.Ca, ca.Server, ca.ServerKey));
        await using var subscriber = await TlsSubscriber.StartAsync(broker.Port, ca.Ca);
        await using var host = await GatewayHost.StartAsync(extraArgs:
        [
            "--centre-url", $"mqtts://127.0.0.1:{broker.Port}", $"--SharpEyes:Outbox:Endpoints:0:CaPath={ca.Ca}",
            "--SharpEyes:Outbox:Endpoints:1:Name=wrong-ca", $"--SharpEyes:Outbox:Endpoints:1:Url=mqtts://127.0.0.1:{broker.Port}",
            $"--SharpEyes:Outbox:Endpoints:1:CaPath={otherCa.Ca}", "--SharpEyes:Outbox:Endpoints:1:Topic=wrong-ca/feed",
        ]);
        await PublishAlarmsAsync(host, 5);
        var outbox = host.Services.GetRequiredService<OutboxService>();
        var centre = outbox.Endpoints.Single(e => e.Name == "centre");
        var wrong = outbox.Endpoints.Single(e => e.Name == "wrong-ca");
        await WaitAsync(host, () => centre.AckedSequence == host.LastSequence && subscriber.HoldsAllThrough(host.LastSequence) && wrong.FailedAttempts >= 2,
            "the broker to take every event over TLS, and the endpoint with the wrong CA to fail");

        Assert.True(centre.Connected);
        Assert.False(wrong.Connected);
        Assert.Equal(0, wrong.AckedSequence);
        Assert.Contains($"not connected to the MQTT broker 127.0.0.1:{broker.Port}: centre certificate not trusted: ", wrong.LastError, StringComparison.Ordinal);
        Assert.Contains($"trusted roots: the CA file {otherCa.Ca}", wrong.LastError, StringComparison.Ordinal);
        Assert.DoesNotContain(subscriber.Topics, t => t.StartsWith("wrong-ca/", StringComparison.Ordinal));
        var metrics = await MetricsScrape.ReadAsync(host.HttpPort);
        Assert.True(metrics[Rejections("wrong-ca", "untrusted")] >= 1);
        Assert.Equal(0, metrics[Rejections("centre", "untrusted")]);
        Assert.Contains("Connecting to the external MQTT broker", host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_clear_text_endpoint_is_warned_about_at_every_start()
    {
        await using var sink = await CentreSinkServer.StartAsync(new CentreSinkOptions
        {
            DatabasePath = Path.Combine(GatewayHost.NewDataDir(), "centre.db"), ConfigureLogging = l => l.ClearProviders(),
        });
        string[] args = ["--centre-url", sink.Address.ToString()];
        var host = await GatewayHost.StartAsync(extraArgs: args);
        var warning = $"Outbox centre: the feed to the centre at {sink.Address} goes in clear text";
        Assert.Contains(warning, host.Logs.All, StringComparison.Ordinal);
        host = await host.RestartAsync(args);
        await using (host)
        {
            Assert.Contains(warning, host.Logs.All, StringComparison.Ordinal);
            Assert.Null(Assert.Single(host.Services.GetRequiredService<OutboxService>().Endpoints).Tls);
        }
    }

    [Theory]
    [InlineData("http://127.0.0.1:1", "CaPath=/dev/null", "CaPath, ClientCertificatePath and ClientKeyPath need a https:// Url")]
    [InlineData("mqtt://127.0.0.1:1", "CaPath=/dev/null", "CaPath, ClientCertificatePath and ClientKeyPath need a mqtts:// Url")]
    [InlineData("https://127.0.0.1:1", "ClientCertificatePath=/dev/null", "give both ClientCertificatePath and ClientKeyPath, or neither")]
    [InlineData("https://127.0.0.1:1", "CaPath=/dev/null", "CaPath '/dev/null': no certificate in /dev/null")]
    [InlineData("https://127.0.0.1:1", "CaPath=/nonexistent/ca.pem", "CaPath '/nonexistent/ca.pem': ")]
    public async Task Bad_TLS_settings_stop_the_start_with_the_setting_named(string url, string setting, string message)
    {
        var error = await Assert.ThrowsAnyAsync<OptionsValidationException>(() =>
            GatewayHost.StartAsync(demo: false, extraArgs: ["--centre-url", url, "--SharpEyes:Outbox:Endpoints:0:" + setting]));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_certificate_whose_key_does_not_match_stops_the_start()
    {
        var ca = await DevCa.MakeAsync("one", "two");
        var error = await Assert.ThrowsAnyAsync<OptionsValidationException>(() => GatewayHost.StartAsync(demo: false, extraArgs:
        [
            "--centre-url", "https://127.0.0.1:1", $"--SharpEyes:Outbox:Endpoints:0:ClientCertificatePath={ca.Client("one")}",
            $"--SharpEyes:Outbox:Endpoints:0:ClientKeyPath={ca.ClientKey("two")}",
        ]));
        Assert.Contains($"ClientCertificatePath '{ca.Client("one")}' with ClientKeyPath '{ca.ClientKey("two")}': ", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Writes <paramref name="source"/>'s contents beside <paramref name="target"/> and renames it over it, as a deployment tool would.</summary>
    private static async Task ReplaceAsync(string source, string target)
    {
        var replacement = target + ".new";
        await File.WriteAllTextAsync(replacement, await File.ReadAllTextAsync(source, TestContext.Current.CancellationToken), TestContext.Current.CancellationToken);
        File.Move(replacement, target, overwrite: true);
    }

    private static string Rejections(string endpoint, string reason) =>
        $"sharpeyes_outbox_certificate_rejections_total{{endpoint=\"{endpoint}\",reason=\"{reason}\"}}";

    private static Task<CentreSinkServer> StartSinkAsync(DevCa ca, string? apiKey = null, string? clientCa = null, string bind = "127.0.0.1") =>
        CentreSinkServer.StartAsync(new CentreSinkOptions
        {
            Bind = bind,
            DatabasePath = Path.Combine(GatewayHost.NewDataDir(), "centre.db"),
            ApiKey = apiKey,
            CertificatePath = ca.Server,
            KeyPath = ca.ServerKey,
            ClientCaPath = clientCa,
            ConfigureLogging = l => l.ClearProviders(),
        });

    /// <summary>A development CA and its certificates, made by scripts/dev-ca.sh in a folder of its own.</summary>
    private sealed record DevCa(string Directory)
    {
        public string Ca => Path.Combine(Directory, "ca.pem");

        public string Server => Path.Combine(Directory, "server.pem");

        public string ServerKey => Path.Combine(Directory, "server-key.pem");

        public string Client(string name) => Path.Combine(Directory, $"client-{name}.pem");

        public string ClientKey(string name) => Path.Combine(Directory, $"client-{name}-key.pem");

        public static async Task<DevCa> MakeAsync(params string[] clients)
        {
            if (InteropPaths.FindOnPath("openssl") is null)
            {
                InteropPaths.SkipUnlessCi("openssl is not installed; run scripts/install-test-deps.sh to run the TLS tests.");
            }

            var directory = Path.Combine(GatewayHost.NewDataDir(), "ca");
            var result = await ExternalTool.RunAsync("bash", ["scripts/dev-ca.sh", directory, .. clients.SelectMany(c => new[] { "--client", c })],
                TimeSpan.FromMinutes(1), InteropPaths.RepoRoot);
            Assert.True(result.ExitCode == 0, result.ToString());
            return new DevCa(directory);
        }
    }

    /// <summary>The centre's side of the MQTT feed: a QoS 1 subscriber to every topic over TLS, trusting only the given CA.</summary>
    private sealed class TlsSubscriber : IAsyncDisposable
    {
        private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
        private readonly ConcurrentDictionary<long, bool> _seen = new();
        private readonly ConcurrentQueue<string> _topics = new();

        public IEnumerable<string> Topics => _topics;

        public static async Task<TlsSubscriber> StartAsync(int port, string caPath)
        {
            var subscriber = new TlsSubscriber();
            subscriber._client.ApplicationMessageReceivedAsync += e =>
            {
                subscriber._topics.Enqueue(e.ApplicationMessage.Topic);
                var sequence = e.ApplicationMessage.UserProperties?.FirstOrDefault(p => p.Name == "sequence")?.ReadValueAsString();
                if (long.TryParse(sequence, NumberStyles.None, CultureInfo.InvariantCulture, out var s))
                {
                    subscriber._seen[s] = true;
                }

                return Task.CompletedTask;
            };
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(caPath);
            var options = new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", port)
                .WithClientId("centre-tls-subscriber")
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
                .WithTlsOptions(o => o.UseTls().WithTrustChain(roots).WithRevocationMode(X509RevocationMode.NoCheck))
                .WithTimeout(TimeSpan.FromSeconds(10))
                .Build();
            var connected = await subscriber._client.ConnectAsync(options);
            Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
            await subscriber._client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(f => f.WithTopic("#").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build());
            return subscriber;
        }

        public bool HoldsAllThrough(long last) => Enumerable.Range(1, (int)last).All(s => _seen.ContainsKey(s));

        public async ValueTask DisposeAsync()
        {
            if (_client.IsConnected)
            {
                await _client.DisconnectAsync();
            }

            _client.Dispose();
        }
    }
}
