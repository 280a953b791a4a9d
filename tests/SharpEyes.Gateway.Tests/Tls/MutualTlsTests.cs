using System.Net;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using SharpEyes.Gateway.Hosting;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Tls;

/// <summary>
/// Mutual TLS: client certificates from the configured CA whose subject is listed authenticate as their role and
/// vendor, on gRPC, the JSON API and MQTT, instead of a key or beside one; a vendor's certificate acts for its vendor
/// only; a certificate from another CA fails the handshake; a valid but unlisted one authenticates nobody.
/// </summary>
public sealed class MutualTlsTests : IAsyncLifetime
{
    private const string Acme = "acme";
    private const string Bravo = "bravo";
    private DevCa _ca = null!;
    private DevCa _foreign = null!;
    private GatewayHost _host = null!;
    private string _acmeKey = null!;
    private string _bravoKey = null!;

    public async ValueTask InitializeAsync()
    {
        _ca = await DevCa.CreateAsync("acme-gw", "centre-1", "unlisted");
        _foreign = await DevCa.CreateAsync("acme-gw"); // the same subject, from a CA the gateway does not know
        _host = await GatewayHost.StartTlsAsync(_ca, clientCa: true, demo: true,
            $"--SharpEyes:Tls:ClientCertificates:0:Subject={DevCa.Subject("acme-gw")}",
            "--SharpEyes:Tls:ClientCertificates:0:Role=Vendor",
            $"--SharpEyes:Tls:ClientCertificates:0:VendorId={Acme}",
            // The RFC 4514 form (openssl -nameopt RFC2253) matches too.
            "--SharpEyes:Tls:ClientCertificates:1:Subject=CN=centre-1,O=SharpEyes development",
            "--SharpEyes:Tls:ClientCertificates:1:Role=Centre");
        _acmeKey = await _host.CreateKeyAsync(Role.Vendor, Acme);
        _bravoKey = await _host.CreateKeyAsync(Role.Vendor, Bravo);
        await new DeviceRegistry.DeviceRegistryClient(_host.Channel).RegisterDeviceAsync(TestDevices.Alarm(2), _host.Auth(_bravoKey));
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task A_vendor_certificate_acts_as_its_vendor_and_only_its_vendor()
    {
        using var channel = _ca.Channel(_host.GrpcPort, _ca.Client("acme-gw"));
        var registry = new DeviceRegistry.DeviceRegistryClient(channel);

        var registered = await registry.RegisterDeviceAsync(TestDevices.Alarm(1));
        var own = await registry.ListDevicesAsync(new ListDevicesRequest());
        var foreign = await Assert.ThrowsAsync<RpcException>(() => registry.RegisterDeviceAsync(TestDevices.Alarm(2)).ResponseAsync);
        var admin = await Assert.ThrowsAsync<RpcException>(() => new Admin.AdminClient(channel).GetStatsAsync(new GetStatsRequest()).ResponseAsync);

        Assert.NotNull(registered);
        Assert.Equal([TestDevices.AlarmId(1)], own.Devices.Select(d => d.DeviceId));
        Assert.Equal(StatusCode.PermissionDenied, foreign.StatusCode);
        Assert.Contains("is registered by another vendor", foreign.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.PermissionDenied, admin.StatusCode);
        Assert.StartsWith("role Vendor may not call /sharpeyes.v1.Admin/GetStats", admin.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_centre_certificate_listed_in_rfc_4514_form_reads_as_the_centre()
    {
        using var channel = _ca.Channel(_host.GrpcPort, _ca.Client("centre-1"));

        var grids = await new V1.Geography.GeographyClient(channel).ListGridsAsync(new ListGridsRequest());
        var register = await Assert.ThrowsAsync<RpcException>(() => new DeviceRegistry.DeviceRegistryClient(channel).RegisterDeviceAsync(TestDevices.Alarm(3)).ResponseAsync);

        Assert.NotEmpty(grids.Grids);
        Assert.Equal(StatusCode.PermissionDenied, register.StatusCode);
    }

    [Fact]
    public async Task A_certificate_from_another_ca_fails_the_handshake_even_with_a_listed_subject()
    {
        var refusals = _host.Services.GetRequiredService<ClientRefusals>();
        using var channel = _foreign.Channel(_host.GrpcPort, _foreign.Client("acme-gw"));
        using var mqtt = new MqttClientFactory().CreateMqttClient();

        var grpc = await Assert.ThrowsAsync<RpcException>(() => new DeviceRegistry.DeviceRegistryClient(channel)
            .ListDevicesAsync(new ListDevicesRequest(), _host.Auth(_acmeKey)).ResponseAsync);
        await Assert.ThrowsAnyAsync<Exception>(() => mqtt.ConnectAsync(_ca.Mqtt(_host.MqttPort, _foreign.Client("acme-gw")).WithClientId("foreign").Build(),
            TestContext.Current.CancellationToken));

        // Refused in the handshake, before any call or CONNECT is read: not an answer from the gateway, a broken connection.
        Assert.True(grpc.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{grpc.StatusCode}: {grpc.Status.Detail}");
        Assert.False(mqtt.IsConnected);
        Assert.True(refusals[GatewayTls.ClientCertificateRefused] >= 2, $"{refusals[GatewayTls.ClientCertificateRefused]} handshakes refused");
        Assert.Contains($"client certificate '{DevCa.Subject("acme-gw")}' does not chain to SharpEyes:Tls:ClientCaPath", _host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_valid_certificate_that_is_not_listed_is_unauthenticated_with_the_reason()
    {
        using var channel = _ca.Channel(_host.GrpcPort, _ca.Client("unlisted"));

        var refused = await Assert.ThrowsAsync<RpcException>(() => new DeviceRegistry.DeviceRegistryClient(channel).ListDevicesAsync(new ListDevicesRequest()).ResponseAsync);
        var withKey = await new DeviceRegistry.DeviceRegistryClient(channel).ListDevicesAsync(new ListDevicesRequest(), _host.Auth(_bravoKey));

        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Equal($"client certificate '{DevCa.Subject("unlisted")}' is not listed in SharpEyes:Tls:ClientCertificates; present a listed certificate or an API key", refused.Status.Detail);
        Assert.Equal([TestDevices.AlarmId(2)], withKey.Devices.Select(d => d.DeviceId)); // a key still authenticates beside it
    }

    [Fact]
    public async Task A_key_beside_a_certificate_must_name_the_same_caller()
    {
        using var channel = _ca.Channel(_host.GrpcPort, _ca.Client("acme-gw"));
        var registry = new DeviceRegistry.DeviceRegistryClient(channel);

        var agreeing = await registry.ListDevicesAsync(new ListDevicesRequest(), _host.Auth(_acmeKey));
        var disagreeing = await Assert.ThrowsAsync<RpcException>(() => registry.ListDevicesAsync(new ListDevicesRequest(), _host.Auth(_bravoKey)).ResponseAsync);

        Assert.NotNull(agreeing);
        Assert.Equal(StatusCode.Unauthenticated, disagreeing.StatusCode);
        Assert.Contains($"role Vendor, vendor {Bravo}) and the client certificate ('{DevCa.Subject("acme-gw")}': role Vendor, vendor {Acme}) name different callers",
            disagreeing.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_json_api_takes_the_certificate_from_api_clients_but_not_from_browsers()
    {
        using var http = _ca.Http(_ca.Client("acme-gw"));
        await new DeviceRegistry.DeviceRegistryClient(_host.Channel).RegisterDeviceAsync(TestDevices.Alarm(4), _host.Auth(_acmeKey));

        var api = await http.GetStringAsync($"https://localhost:{_host.HttpPort}/api/v1/devices", TestContext.Current.CancellationToken);
        using var fromPage = new HttpRequestMessage(HttpMethod.Get, $"https://localhost:{_host.HttpPort}/api/v1/devices");
        fromPage.Headers.Add("Sec-Fetch-Site", "cross-site");
        var browser = await http.SendAsync(fromPage, TestContext.Current.CancellationToken);

        Assert.Contains(TestDevices.AlarmId(4), api, StringComparison.Ordinal);
        Assert.DoesNotContain(TestDevices.AlarmId(2), api, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, browser.StatusCode);
        Assert.Contains("a client certificate alone does not authenticate requests from a browser", await browser.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Over_mqtt_the_certificate_publishes_as_its_vendor_without_a_password()
    {
        await new DeviceRegistry.DeviceRegistryClient(_host.Channel).RegisterDeviceAsync(TestDevices.Alarm(5), _host.Auth(_acmeKey));
        using var client = new MqttClientFactory().CreateMqttClient();
        using var impostor = new MqttClientFactory().CreateMqttClient();

        var connected = await client.ConnectAsync(_ca.Mqtt(_host.MqttPort, _ca.Client("acme-gw")).WithClientId("acme-cert").Build(), TestContext.Current.CancellationToken);
        var own = await client.PublishAsync(AlarmPublisher.Alarm(TestDevices.AlarmId(5), "cert-1"), TestContext.Current.CancellationToken);
        var others = await client.PublishAsync(AlarmPublisher.Alarm(TestDevices.AlarmId(2), "cert-2"), TestContext.Current.CancellationToken);
        var asBravo = await impostor.ConnectAsync(_ca.Mqtt(_host.MqttPort, _ca.Client("acme-gw")).WithClientId("acme-as-bravo").WithCredentials(Bravo, "").Build(),
            TestContext.Current.CancellationToken);

        Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
        Assert.True(own.IsSuccess, own.ReasonString);
        Assert.False(others.IsSuccess); // bravo's device: dead-lettered as unknown to acme
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, asBravo.ResultCode);
        Assert.Contains($"is not the client certificate's vendor ({Acme})", asBravo.ReasonString, StringComparison.Ordinal);
        var stats = await _host.GetStatsAsync();
        Assert.Equal(1, stats.AlarmsAccepted);
    }
}
