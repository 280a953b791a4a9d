using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// The intake counts (GetStats, sharpeyes_alarms_*) are the store's on every replica: alarms accepted, duplicates and
/// dead letters counted by one replica are counted by the other, once.
/// </summary>
public sealed class AlarmStatsReplicaTests(PostgresCluster cluster)
{
    private const string Vendor = "vendor-s";

    [Fact]
    public async Task Alarms_duplicates_and_dead_letters_taken_by_either_replica_are_counted_alike_by_both()
    {
        var store = await cluster.CreateDatabaseAsync();
        await using var a = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store, GatewayHost.NoMqttRateLimit]);
        var vendorKey = await a.CreateKeyAsync(Role.Vendor, Vendor);
        await new DeviceRegistry.DeviceRegistryClient(a.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), a.Auth(vendorKey));
        await using var b = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store, GatewayHost.NoMqttRateLimit]);
        await Eventually.TrueAsync(async () => (await b.GetStatsAsync()).Devices == 1, "B knows the device");

        var topic = "sharpeyes/v1/alarms/" + TestDevices.AlarmId(1);
        using var toA = await a.ConnectMqttAsync(Vendor, vendorKey, clientId: "to-a");
        using var toB = await b.ConnectMqttAsync(Vendor, vendorKey, clientId: "to-b");
        foreach (var (client, payload, reason) in new[]
        {
            (toA, TestDevices.AlarmJson("s-1"), (string?)null),
            (toA, TestDevices.AlarmJson("s-2"), null),
            (toB, TestDevices.AlarmJson("s-3"), null),
            (toB, TestDevices.AlarmJson("s-1"), null), // a duplicate of A's, acknowledged by B
            (toA, "{not json", "malformed"),
            (toB, "[]", "malformed"),
        })
        {
            var ack = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            if (reason is null)
            {
                Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode); // a duplicate is acknowledged too
            }
            else
            {
                Assert.Equal(reason, ack.ReasonString);
            }
        }

        foreach (var host in new[] { a, b })
        {
            await Eventually.TrueAsync(async () =>
            {
                var stats = await host.GetStatsAsync();
                return (stats.AlarmsAccepted, stats.AlarmsDuplicate, stats.DeadLettersByReason["malformed"], stats.AlarmsReceived) == (3, 1, 2, 6);
            }, "3 accepted, 1 duplicate, 2 malformed, 6 received on " + (host == a ? "A" : "B"));
        }

        // Counted once: nothing more arrives later (every announcement was followed by the time both agree; wait for the
        // feed to be read to its end on both, then compare again).
        var last = Math.Max(a.LastSequence, b.LastSequence);
        await Eventually.TrueAsync(() => a.LastSequence >= last && b.LastSequence >= last, "both replicas at the last sequence");
        foreach (var host in new[] { a, b })
        {
            var stats = await host.GetStatsAsync();
            Assert.Equal((3L, 1L, 2L), (stats.AlarmsAccepted, stats.AlarmsDuplicate, stats.DeadLettersByReason["malformed"]));
        }
    }
}
