using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using SharpEyes.Gateway.Hosting;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;
using Microsoft.Extensions.DependencyInjection;

namespace SharpEyes.Gateway.Tests.Tls;

/// <summary>
/// Certificate rotation without a restart: dev-ca.sh issues a new server certificate into the watched files, and new
/// connections to every listener get it; a broken replacement keeps the certificate in use, with an error and a count.
/// </summary>
public sealed class CertificateReloadTests : IAsyncLifetime
{
    private DevCa _ca = null!;
    private GatewayHost _host = null!;

    public async ValueTask InitializeAsync()
    {
        _ca = await DevCa.CreateAsync();
        _host = await GatewayHost.StartTlsAsync(_ca, extraArgs: "--SharpEyes:Tls:ReloadDelay=00:00:00.2");
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    /// <summary>The serial number of the certificate a new gRPC connection is served.</summary>
    private async Task<string?> GrpcSerialAsync()
    {
        X509Certificate2? seen = null;
        using var channel = _ca.Channel(_host.GrpcPort, seen: c => seen = c);
        await new Admin.AdminClient(channel).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth);
        return seen?.SerialNumber;
    }

    private async Task<string?> HttpsSerialAsync()
    {
        X509Certificate2? seen = null;
        using var http = _ca.Http(seen: c => seen = c);
        (await http.GetAsync($"https://localhost:{_host.HttpPort}/healthz", TestContext.Current.CancellationToken)).EnsureSuccessStatusCode();
        return seen?.SerialNumber;
    }

    private async Task<string?> MqttSerialAsync()
    {
        X509Certificate2? seen = null;
        using var client = new MqttClientFactory().CreateMqttClient();
        // No credentials: the TLS handshake (where the certificate is seen) comes before the CONNECT is refused.
        try
        {
            await client.ConnectAsync(_ca.Mqtt(_host.MqttPort, seen: c => seen = c).WithClientId("reload-probe").Build(), TestContext.Current.CancellationToken);
        }
        catch (MQTTnet.Adapter.MqttConnectingFailedException)
        {
        }

        return seen?.SerialNumber;
    }

    [Fact]
    public async Task A_reissued_certificate_is_served_to_new_connections_without_a_restart()
    {
        var before = _ca.Server().SerialNumber;
        using var open = _ca.Channel(_host.GrpcPort);
        await new Admin.AdminClient(open).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth); // a connection opened before the rotation
        Assert.Equal(before, await GrpcSerialAsync());

        await _ca.IssueAsync(); // new server key and certificate in the same files, as a rotation would write them
        var after = _ca.Server().SerialNumber;

        Assert.NotEqual(before, after);
        await Eventually.TrueAsync(async () => await GrpcSerialAsync() == after, "a new gRPC connection to get the new certificate");
        Assert.Equal(after, await HttpsSerialAsync());
        Assert.Equal(after, await MqttSerialAsync());
        // The connection opened before goes on with the certificate it started with.
        await new Admin.AdminClient(open).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth);
        using var http = _ca.Http();
        var metrics = MetricsScrape.Parse(await http.GetStringAsync($"https://localhost:{_host.HttpPort}/metrics", TestContext.Current.CancellationToken));
        Assert.True(metrics["sharpeyes_tls_reloads_total"] >= 1);
        Assert.Contains($"TLS files changed: new connections are served certificate '{_ca.Server().Subject}' serial {after}", _host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broken_replacement_keeps_the_certificate_in_use_logs_an_error_and_is_counted()
    {
        var before = _ca.Server().SerialNumber;
        var tls = _host.Services.GetRequiredService<GatewayTls>();

        // A certificate whose key is not the one beside it (a half-finished copy, the wrong file).
        var other = await DevCa.CreateAsync();
        await File.WriteAllTextAsync(_ca.CertificatePath, await File.ReadAllTextAsync(other.CertificatePath, TestContext.Current.CancellationToken), TestContext.Current.CancellationToken);

        await Eventually.TrueAsync(() => tls.ReloadFailures >= 1, "the broken pair to be tried and refused");
        Assert.Equal(before, await GrpcSerialAsync());
        Assert.Equal(before, await HttpsSerialAsync());
        Assert.Equal(before, await MqttSerialAsync());
        Assert.Contains($"TLS files changed but do not load; the previous certificate (serial {before}) stays in use: the key in SharpEyes:Tls:KeyPath (--tls-key)", _host.Logs.All, StringComparison.Ordinal);
        using var http = _ca.Http();
        var metrics = MetricsScrape.Parse(await http.GetStringAsync($"https://localhost:{_host.HttpPort}/metrics", TestContext.Current.CancellationToken));
        Assert.True(metrics["sharpeyes_tls_reload_failures_total"] >= 1);

        // Mended: the next change loads.
        await _ca.IssueAsync();
        var mended = _ca.Server().SerialNumber;
        await Eventually.TrueAsync(async () => await GrpcSerialAsync() == mended, "the mended pair to be served");
    }
}
