using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Mqtt;

/// <summary>
/// MQTT publishes per vendor (SharpEyes:RateLimits:MqttVendor): a vendor over its limit is slowed, not dropped (every
/// alarm is stored, but PUBACKs beyond its tokens are held until the bucket refills, so a client with a bounded
/// in-flight window publishes at the limit); another vendor is not slowed meanwhile; a flood is disconnected with
/// reason 0x96 and counted. The bucket refills on the network clock, which these tests hold still and move by hand:
/// what may pass is counted in tokens, never measured in wall-clock time.
/// </summary>
public sealed class MqttRateLimitTests
{
    private const string Vendor = "acme";
    private const string Other = "beta";

    private static string[] Limits(int perSecond, int burst, int maxHeld) =>
    [
        $"--SharpEyes:RateLimits:MqttVendor:PerSecond={perSecond}", $"--SharpEyes:RateLimits:MqttVendor:Burst={burst}",
        $"--SharpEyes:RateLimits:MqttVendor:MaxHeldPublishes={maxHeld}",
    ];

    private static async Task<(string Vendor, string Other)> VendorsAsync(GatewayHost host)
    {
        var vendor = await host.CreateKeyAsync(Role.Vendor, Vendor);
        var other = await host.CreateKeyAsync(Role.Vendor, Other);
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        await registry.RegisterDeviceAsync(TestDevices.Alarm(1), host.Auth(vendor));
        await registry.RegisterDeviceAsync(TestDevices.Alarm(2), host.Auth(other));
        return (vendor, other);
    }

    private static MqttApplicationMessage Alarm(int device, string eventId, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce) =>
        new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(device))
            .WithPayload(TestDevices.AlarmJson(eventId)).WithQualityOfServiceLevel(qos).Build();

    private static int Lines(GatewayHost host, string text) =>
        host.Logs.Lines.Count(l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal));

    [Fact]
    public async Task A_vendor_over_its_limit_has_every_alarm_stored_but_its_pubacks_held_until_tokens_come_and_another_vendor_is_not_slowed()
    {
        const int PerSecond = 10, Burst = 20, Window = 5, Total = 60;
        var network = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await GatewayHost.StartWithNetworkClockAsync(network, Limits(PerSecond, Burst, 100));
        var (vendorKey, otherKey) = await VendorsAsync(host);
        var client = await host.ConnectMqttAsync(Vendor, vendorKey);
        var otherClient = await host.ConnectMqttAsync(Other, otherKey);

        // Five publishers, each waiting for its PUBACK before the next: an in-flight window of 5.
        var acked = 0;
        var senders = Enumerable.Range(0, Window).Select(w => Task.Run(async () =>
        {
            for (var i = w; i < Total; i += Window)
            {
                var ack = await client.PublishAsync(Alarm(1, $"a-{i}"));
                Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode);
                Interlocked.Increment(ref acked);
            }
        })).ToArray();

        // The burst is acknowledged; the next five are stored, their PUBACKs held while the clock stands still.
        await Eventually.TrueAsync(() => Volatile.Read(ref acked) == Burst, "the burst acknowledged");
        await Eventually.TrueAsync(async () => (await host.GetStatsAsync()).AlarmsAccepted == Burst + Window, "the held alarms stored");
        Assert.Equal(Burst, Volatile.Read(ref acked));

        // Meanwhile another vendor publishes within its own bucket, unslowed (the clock has not moved).
        for (var i = 0; i < 15; i++)
        {
            Assert.Equal(MqttClientPublishReasonCode.Success, (await otherClient.PublishAsync(Alarm(2, $"b-{i}"))).ReasonCode);
        }

        Assert.Equal(Burst, Volatile.Read(ref acked));

        // Each second of the network clock brings exactly PerSecond more acknowledgements.
        var seconds = 0;
        while (Volatile.Read(ref acked) < Total)
        {
            network.Advance(TimeSpan.FromSeconds(1));
            seconds++;
            var expected = Math.Min(Total, Burst + (PerSecond * seconds));
            await Eventually.TrueAsync(() => Volatile.Read(ref acked) == expected, $"{expected} acknowledged after {seconds} s");
        }

        await Task.WhenAll(senders);
        Assert.Equal((Total - Burst) / PerSecond, seconds);
        Assert.True(client.IsConnected);
        var stats = await host.GetStatsAsync();
        Assert.Equal(Total + 15, stats.AlarmsAccepted); // nothing dropped
        Assert.Equal(0, stats.AlarmsDuplicate);

        // Counted per vendor (each publish that waited for a token), logged once in the interval; the other vendor not at all.
        var metrics = await MetricsScrape.ReadAsync(host.HttpPort);
        Assert.InRange(metrics[$"sharpeyes_mqtt_rate_limited_total{{vendor=\"{Vendor}\"}}"], Window, Total - Burst);
        Assert.Equal(0, metrics.GetValueOrDefault($"sharpeyes_mqtt_rate_limited_total{{vendor=\"{Other}\"}}"));
        Assert.Equal(1, Lines(host, $"MQTT vendor {Vendor} is over its publish rate limit of {PerSecond}/s (burst {Burst}"));
        Assert.Equal(0, Lines(host, $"MQTT vendor {Other}"));
    }

    [Fact]
    public async Task A_flood_of_held_publishes_is_disconnected_with_message_rate_too_high_counted_and_logged_once_per_interval()
    {
        const int Burst = 5, MaxHeld = 3;
        var network = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await GatewayHost.StartWithNetworkClockAsync(network, Limits(10, Burst, MaxHeld));
        var (vendorKey, otherKey) = await VendorsAsync(host);
        var otherClient = await host.ConnectMqttAsync(Other, otherKey);

        async Task<MqttClientDisconnectedEventArgs> FloodAsync(string prefix)
        {
            var client = await host.ConnectMqttAsync(Vendor, vendorKey);
            var disconnected = new TaskCompletionSource<MqttClientDisconnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
            client.DisconnectedAsync += e =>
            {
                disconnected.TrySetResult(e);
                return Task.CompletedTask;
            };

            // Far more in flight than the bucket and the held queue take.
            var publishes = Enumerable.Range(0, 30).Select(i => Task.Run(() => client.PublishAsync(Alarm(1, $"{prefix}-{i}")))).ToArray();
            var e = await disconnected.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
            await Task.WhenAll(publishes.Select(p => p.ContinueWith(_ => { }, TaskScheduler.Default)));
            return e;
        }

        var first = await FloodAsync("f1");

        // The client reads the reason unless a reset overtook it (ServerDisconnect.Seen); the flood counter below is the gateway's own record.
        if (ServerDisconnect.Seen(first) is { } seen)
        {
            Assert.Equal((MqttClientDisconnectReason.MessageRateTooHigh,
                $"vendor {Vendor}: {MaxHeld} publishes already wait for their PUBACK (SharpEyes:RateLimits:MqttVendor:MaxHeldPublishes)"), seen);
        }
        // The burst and the held ones were stored (their commits may still be finishing when the client sees the
        // disconnect: on PostgreSQL they often are); the one that overflowed and those after it were neither stored nor acknowledged.
        await Eventually.TrueAsync(async () => (await host.GetStatsAsync()).AlarmsAccepted >= Burst + MaxHeld, "the burst and the held publishes stored");
        Assert.Equal(Burst + MaxHeld, (await host.GetStatsAsync()).AlarmsAccepted);
        Assert.True(otherClient.IsConnected, "another vendor's connection was closed too");
        Assert.Equal(MqttClientPublishReasonCode.Success, (await otherClient.PublishAsync(Alarm(2, "b-1"))).ReasonCode);

        // A second flood within the log interval is counted, not logged again; after the interval it is logged again.
        network.Advance(TimeSpan.FromSeconds(1));
        await FloodAsync("f2");
        var metrics = await MetricsScrape.ReadAsync(host.HttpPort);
        Assert.Equal(2, metrics[$"sharpeyes_mqtt_flood_disconnects_total{{vendor=\"{Vendor}\"}}"]);
        Assert.Equal(1, Lines(host, $"MQTT vendor {Vendor} flooded"));
        network.Advance(TimeSpan.FromSeconds(11));
        await FloodAsync("f3");
        Assert.Equal(3, (await MetricsScrape.ReadAsync(host.HttpPort))[$"sharpeyes_mqtt_flood_disconnects_total{{vendor=\"{Vendor}\"}}"]);
        Assert.Equal(2, Lines(host, $"MQTT vendor {Vendor} flooded"));
        Assert.Contains(host.Logs.Lines, l => l.Contains($"MQTT vendor {Vendor} flooded: client disconnected, message rate too high (x2 since the last such line)", StringComparison.Ordinal));
        Assert.Equal(0, metrics.GetValueOrDefault($"sharpeyes_mqtt_flood_disconnects_total{{vendor=\"{Other}\"}}"));
    }

    [Fact]
    public async Task QoS_0_over_the_limit_cannot_be_slowed_and_closes_an_mqtt_3_1_1_connection()
    {
        const int Burst = 5;
        var network = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await GatewayHost.StartWithNetworkClockAsync(network, Limits(10, Burst, 100));
        var (vendorKey, _) = await VendorsAsync(host);
        var client = await host.ConnectMqttAsync(Vendor, vendorKey, version: MQTTnet.Formatter.MqttProtocolVersion.V311);
        var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.DisconnectedAsync += _ =>
        {
            disconnected.TrySetResult();
            return Task.CompletedTask;
        };

        try
        {
            for (var i = 0; i < 20 && client.IsConnected; i++)
            {
                await client.PublishAsync(Alarm(1, $"q0-{i}", MqttQualityOfServiceLevel.AtMostOnce));
            }
        }
        catch (MQTTnet.Exceptions.MqttCommunicationException)
        {
            // The gateway closed the connection while the client was still sending: what this test expects.
        }

        await disconnected.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await Eventually.TrueAsync(async () => (await host.GetStatsAsync()).AlarmsAccepted == Burst, "the burst stored");
        Assert.Equal(1, (await MetricsScrape.ReadAsync(host.HttpPort))[$"sharpeyes_mqtt_flood_disconnects_total{{vendor=\"{Vendor}\"}}"]);
        Assert.Contains(host.Logs.Lines, l => l.Contains($"MQTT vendor {Vendor} flooded", StringComparison.Ordinal) && l.Contains("QoS 0 cannot be slowed", StringComparison.Ordinal));
        Assert.Equal(Burst, (await host.GetStatsAsync()).AlarmsAccepted);
    }

    [Fact]
    public async Task A_limit_of_zero_is_no_limit()
    {
        var network = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await GatewayHost.StartWithNetworkClockAsync(network, GatewayHost.NoMqttRateLimit, "--SharpEyes:RateLimits:MqttVendor:Burst=1");
        var (vendorKey, _) = await VendorsAsync(host);
        var client = await host.ConnectMqttAsync(Vendor, vendorKey);

        var acks = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => client.PublishAsync(Alarm(1, $"z-{i}"))));

        Assert.All(acks, a => Assert.Equal(MqttClientPublishReasonCode.Success, a.ReasonCode));
        Assert.Equal(50, (await host.GetStatsAsync()).AlarmsAccepted);
        Assert.DoesNotContain("sharpeyes_mqtt_rate_limited_total{", await MetricsScrape.TextAsync(host.HttpPort), StringComparison.Ordinal);
    }
}
