using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Sip;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Sip;

/// <summary>
/// SIPp (an independent SIP implementation) against a real gateway, over UDP and TCP on 127.0.0.1, with the scenarios
/// of Sip/Sipp: a device's whole life (digest registration, the catalog over several Response messages, keepalives, a
/// GB2312 alarm, unregistration), a wrong password, a catalog of 20,000 channels, and the gateway cascading to SIPp as
/// its upper platform. What SIPp sees is checked by its scenario; what the gateway made of it, through its API and feed.
/// </summary>
public sealed class SippTests
{
    private const string Nvr = "13012700001180000001";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private static async Task<GatewayHost> StartAsync(params string[] extraArgs)
    {
        var host = await GatewayHost.StartAsync(extraArgs: extraArgs);
        var sip = new V1.Sip.SipClient(host.Channel);
        await sip.CreateSipAccountAsync(new CreateSipAccountRequest { AccountId = "hik-county", VendorId = "hik", Password = "county-pass-1" }, host.AdminAuth);
        await sip.AssignSipDeviceAsync(new AssignSipDeviceRequest { DeviceId = Nvr, AccountId = "hik-county" }, host.AdminAuth);
        return host;
    }

    private static string[] Device(string transport, params string[] sets) =>
    [
        "-sf", Sipp.Scenario("device.xml"), "-oocsf", Sipp.Scenario("device-ooc.xml"), "-s", "13012700002000000001",
        "-au", "hik-county", "-ap", "county-pass-1", "-t", transport, "-m", "1", "-set", "device_id", Nvr,
        "-set", "alarm_time", "2026-11-22T15:59:00", .. sets,
    ];

    [Theory]
    [InlineData("u1")]
    [InlineData("t1")]
    public async Task A_SIPp_device_registers_its_catalog_becomes_devices_and_its_GB2312_alarm_and_unregistration_reach_the_feed(string transport)
    {
        await using var host = await StartAsync();
        await using var feed = new FeedReader(host, host.AdminKey);

        await Sipp.RunAsync(Device(transport, "-set", "channels", "5", "-set", "alarm_inputs", "2", "-set", "per_message", "3",
            "-set", "keepalives", "2", "-set", "alarms", "1", "-set", "alarm_charset", "gb2312"), host.SipPort, Limit);

        var sip = await new V1.Sip.SipClient(host.Channel).GetSipDeviceAsync(new GetSipDeviceRequest { DeviceId = Nvr }, host.AdminAuth);
        Assert.Equal((CatalogState.Complete, 7, 7, 7, 0), (sip.Catalog.State, sip.Catalog.SumNum, sip.Catalog.Received, sip.Catalog.Registered, sip.Catalog.Refused));
        Assert.Equal((transport == "t1" ? "TCP" : "UDP", false, 7), (sip.Transport, sip.Registered, sip.Channels));
        var devices = await new DeviceRegistry.DeviceRegistryClient(host.Channel).ListDevicesAsync(new ListDevicesRequest { VendorId = "hik" }, host.AdminAuth);
        Assert.Equal(5, devices.Devices.Count(d => d.Kind == DeviceKind.Camera));
        Assert.Equal(2, devices.Devices.Count(d => d.Kind == DeviceKind.AlarmDevice));

        var opened = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentOpened, "the SIPp alarm's incident");
        var alarm = Assert.Single(opened.Incident.Alarms);
        Assert.Equal(("东门区域入侵", "13012700001310000001", "hik"), (alarm.Description, alarm.DeviceId, alarm.VendorId));
        var offline = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOffline && e.Device.DeviceId == "13012700001310000001", "channel 1 offline");
        Assert.Equal(SipGateway.UnregisteredReason, offline.Reason);
        var stats = host.Services.GetRequiredService<SipStats>();
        Assert.Equal((1L, 1L, 2L), (stats.Registrations, stats.AlarmsAccepted, stats.Keepalives));
    }

    [Fact]
    public async Task A_SIPp_device_with_a_wrong_password_gets_403_and_registers_nothing()
    {
        await using var host = await StartAsync();
        await Sipp.RunAsync(["-sf", Sipp.Scenario("register-wrong-password.xml"), "-s", "13012700002000000001", "-au", "hik-county", "-ap", "not-the-password",
            "-m", "1", "-set", "device_id", Nvr], host.SipPort, Limit);

        Assert.Equal(1, host.Services.GetRequiredService<SipStats>().RefusedRegistrations["wrong-password"]);
        var sip = await new V1.Sip.SipClient(host.Channel).GetSipDeviceAsync(new GetSipDeviceRequest { DeviceId = Nvr }, host.AdminAuth);
        Assert.False(sip.Registered);
        Assert.DoesNotContain("not-the-password", host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_catalog_of_20000_channels_over_1000_messages_completes()
    {
        // Alarm inputs: the catalog's own cost. 20,000 cameras at one point cost coverage's recompute of a grid of
        // 20,000 wedges per change, which is issue 17's (bench/run.sh sip measures cameras spread over the county).
        await using var host = await StartAsync();
        var watch = Stopwatch.StartNew();
        await Sipp.RunAsync(Device("u1", "-set", "channels", "0", "-set", "alarm_inputs", "20000", "-set", "per_message", "20", "-set", "alarms", "0",
            "-set", "catalog_wait_ms", "240000"), host.SipPort, TimeSpan.FromMinutes(5));

        var sip = await new V1.Sip.SipClient(host.Channel).GetSipDeviceAsync(new GetSipDeviceRequest { DeviceId = Nvr }, host.AdminAuth);
        Assert.Equal((CatalogState.Complete, 20_000, 20_000, 20_000), (sip.Catalog.State, sip.Catalog.SumNum, sip.Catalog.Received, sip.Catalog.Registered));
        Assert.Equal(20_000, host.Services.GetRequiredService<SharpEyes.Gateway.Devices.DeviceCatalog>().All.Count(e => e.VendorId == "hik"));
        TestContext.Current.SendDiagnosticMessage($"20,000 channels in {watch.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task The_gateway_cascades_to_a_SIPp_upper_platform_registering_with_digest_answering_its_catalog_query_and_forwarding_an_alarm()
    {
        var platformPort = Ports.Free();
        await using var platform = Sipp.Start(["-sf", Sipp.Scenario("upper-platform.xml"), "-p", platformPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-t", "u1", "-set", "username", "13012700002000000001", "-set", "password", "upper-pass-1", "-set", "keepalives", "1", "-set", "channels", "2",
            "-set", "alarms", "1"], Limit);
        await using var host = await GatewayHost.StartAsync(extraArgs:
        [
            "--SharpEyes:Outbox:Endpoints:0:Name=province", $"--SharpEyes:Outbox:Endpoints:0:Url=sip://13000000002000000001@127.0.0.1:{platformPort}",
            "--SharpEyes:Outbox:Endpoints:0:ApiKey=upper-pass-1", "--SharpEyes:Outbox:Endpoints:0:RegionPrefix=130127",
        ]);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "acme");
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        await registry.RegisterDeviceAsync(TestDevices.Camera(1), host.Auth(vendor));
        await registry.RegisterDeviceAsync(TestDevices.Camera(2), host.Auth(vendor));
        using var mqtt = await AlarmPublisher.ConnectAsync(host.MqttPort, "acme", vendor, "cascade-sipp");
        await mqtt.PublishAsync(AlarmPublisher.Alarm(TestDevices.CameraId(1), "up-1"), TestContext.Current.CancellationToken);

        // The platform waits for a keepalive before it queries the catalog: the gateway's clock moves it along.
        var upstream = host.Services.GetRequiredService<SipUpstreams>();
        var exited = platform.WaitAsync(Limit);
        while (!exited.IsCompleted)
        {
            await Task.WhenAny(exited, Task.Delay(200, TestContext.Current.CancellationToken));
            host.Time.Advance(TimeSpan.FromSeconds(5));
        }

        await exited; // SIPp checked the digest, the catalog (2 of SumNum 2, its SN) and the alarm
        var up = Assert.Single(upstream.All);
        Assert.True(up.Connected);
        Assert.Equal(1, up.CatalogQueries);
    }
}
