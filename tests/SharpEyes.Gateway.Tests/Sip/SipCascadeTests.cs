using System.Text;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Sip;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Sip;

/// <summary>
/// Cascade: the gateway registers to an upper platform (a scripted one over UDP on 127.0.0.1; SIPp plays it in
/// SippTests) with digest authentication, forwards an alarm as an Alarm notification through the durable outbox (sent
/// again after a refusal, so nothing is lost), and answers the platform's Catalog query with the cameras of its region.
/// </summary>
public sealed class SipCascadeTests
{
    private const string UpperId = "13000000002000000001";

    [Fact]
    public async Task The_gateway_registers_upward_forwards_alarms_through_the_outbox_and_answers_catalog_queries()
    {
        using var upper = new RawSipDevice(0, UpperId, "1300000000");
        await using var host = await GatewayHost.StartAsync(extraArgs:
        [
            "--SharpEyes:Outbox:Endpoints:0:Name=province", $"--SharpEyes:Outbox:Endpoints:0:Url=sip://{UpperId}@127.0.0.1:{upper.Port}",
            "--SharpEyes:Outbox:Endpoints:0:ApiKey=upper-pass-1", "--SharpEyes:Outbox:Endpoints:0:RegionPrefix=130127",
            "--SharpEyes:Outbox:Endpoints:0:RetryBaseDelay=00:00:01", "--SharpEyes:Outbox:Endpoints:0:RetryMaxDelay=00:00:01",
        ]);
        upper.Target(host.SipPort);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "acme");
        var camera = TestDevices.Camera(1);
        camera.Name = "东门枪机";
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(camera, host.Auth(vendor));
        using var mqtt = await AlarmPublisher.ConnectAsync(host.MqttPort, "acme", vendor, "cascade-1");
        await mqtt.PublishAsync(AlarmPublisher.Alarm(camera.DeviceId, "e-1"), TestContext.Current.CancellationToken);

        // The gateway registers: challenged, then with a digest the platform checks with the password it was given.
        var register = await NextAsync(upper, host, "REGISTER");
        Assert.Equal($"<sip:{host.Services.GetRequiredService<SipGateway>().ServerId}@1301270000>", register.Header("To"));
        await upper.AnswerAsync(register, 401, [new("WWW-Authenticate", SipDigest.Challenge("1300000000", "n0nce-1"))]);
        var authorized = await NextAsync(upper, host, "REGISTER");
        var credentials = SipDigest.Parse(authorized.Header("Authorization"))!;
        Assert.Equal("13012700002000000001", credentials.Username);
        Assert.True(SipDigest.Verify(credentials, "REGISTER", "upper-pass-1"));
        await upper.AnswerAsync(authorized, 200, [new("Expires", "3600")]);

        // The alarm as an Alarm notification; refused once, it comes again (the outbox's retry), then is held.
        var notify = await NextAsync(upper, host, "MESSAGE");
        await upper.AnswerAsync(notify, 503);
        var again = await NextAsync(upper, host, "MESSAGE");
        Assert.Equal(Encoding.ASCII.GetString(notify.Body).Split("<SN>")[0], Encoding.ASCII.GetString(again.Body).Split("<SN>")[0]);
        Assert.Equal(Encoding.ASCII.GetString(notify.Body).Split("</SN>")[1], Encoding.ASCII.GetString(again.Body).Split("</SN>")[1]); // the same alarm, a new SN
        Assert.True(Manscdp.TryParse(again.Body, out var alarm, out _));
        Assert.Equal(("Notify", "Alarm", camera.DeviceId), (alarm!.Root, alarm.CmdType, alarm.DeviceId));
        Assert.Equal(("2", "5", "6"), (alarm["AlarmPriority"], alarm["AlarmMethod"], alarm["Info/AlarmType"]));
        Assert.Equal("2026-11-22T16:00:00", alarm["AlarmTime"]); // China Standard Time, as devices write it
        await upper.AnswerAsync(again, 200);
        var endpoint = host.Services.GetRequiredService<Outbox.OutboxService>().Endpoints.Single();
        await Eventually.TrueAsync(() => endpoint.AckedSequence == host.LastSequence, "the outbox's cursor past the alarm");

        // The platform queries the catalog: 200 at once, then the cameras of its region, declared GB2312.
        var asked = await upper.MessageAsync(Manscdp.Query("Catalog", 77, "13012700002000000001"));
        Assert.Equal(200, asked.StatusCode);
        var response = await NextAsync(upper, host, "MESSAGE");
        Assert.Contains("encoding=\"GB2312\"", Encoding.ASCII.GetString(response.Body), StringComparison.Ordinal);
        Assert.True(Manscdp.TryParse(response.Body, out var catalog, out _));
        Assert.Equal(("Response", "Catalog", 77L, "1"), (catalog!.Root, catalog.CmdType, catalog.Sn, catalog["SumNum"]));
        var item = Assert.Single(catalog.Items);
        Assert.Equal((camera.DeviceId, "东门枪机"), (item["DeviceID"], item["Name"]));
        await upper.AnswerAsync(response, 200);

        // DeviceInfo and DeviceStatus queries are answered with the gateway's own.
        Assert.Equal(200, (await upper.MessageAsync(Manscdp.Query("DeviceInfo", 78, "13012700002000000001"))).StatusCode);
        var info = await NextAsync(upper, host, "MESSAGE");
        Assert.True(Manscdp.TryParse(info.Body, out var infoDoc, out _));
        Assert.Equal(("DeviceInfo", 78L, "OK", "1"), (infoDoc!.CmdType, infoDoc.Sn, infoDoc["Result"], infoDoc["Channel"]));
        await upper.AnswerAsync(info, 200);
        Assert.Equal(200, (await upper.MessageAsync(Manscdp.Query("DeviceStatus", 79, "13012700002000000001"))).StatusCode);
        var status = await NextAsync(upper, host, "MESSAGE");
        Assert.True(Manscdp.TryParse(status.Body, out var statusDoc, out _));
        Assert.Equal(("DeviceStatus", "ONLINE", "OK"), (statusDoc!.CmdType, statusDoc["Online"], statusDoc["Status"]));
        await upper.AnswerAsync(status, 200);
    }

    /// <summary>The next request of <paramref name="method"/> the gateway sends the platform, the gateway's clock moved on meanwhile so its outbox retries.</summary>
    private static async Task<SipMessage> NextAsync(RawSipDevice upper, GatewayHost host, string method)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var request = await upper.NextRequestAsync(TimeSpan.FromMilliseconds(200));
                if (request.Method == method)
                {
                    return request;
                }
            }
            catch (OperationCanceledException)
            {
                host.Time.Advance(TimeSpan.FromMilliseconds(500)); // retry delays and SIP timers run on the gateway's clock
            }
        }

        throw new TimeoutException($"no {method} from the gateway in 30 s");
    }
}
