using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// A vendor subscribed to its dead-letter topic on one replica gets the letters of messages another replica refused,
/// once each, with the same body the refusing replica's subscribers get.
/// </summary>
public sealed class DeadLetterReplicaTests(PostgresCluster cluster)
{
    private const string Vendor = "vendor-d";

    [Fact]
    public async Task A_message_refused_by_one_replica_is_dead_lettered_to_the_vendors_subscription_on_the_other()
    {
        var store = await cluster.CreateDatabaseAsync();
        await using var a = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]);
        var vendorKey = await a.CreateKeyAsync(Role.Vendor, Vendor);
        await new DeviceRegistry.DeviceRegistryClient(a.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), a.Auth(vendorKey));
        await using var b = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]);

        var onA = new ConcurrentQueue<string>();
        var onB = new ConcurrentQueue<string>();
        using var subscriberA = await SubscribeAsync(a, vendorKey, "sub-a", onA);
        using var subscriberB = await SubscribeAsync(b, vendorKey, "sub-b", onB);
        // A dead letter is published on another replica when that replica's listener hears its announcement: wait until
        // both listen (a letter announced before is stored and counted, not published there: docs/scale-out.md).
        await Eventually.TrueAsync(() => Listener(a).Listening && Listener(b).Listening, "both replicas listening");

        // Refused by A (malformed, and a device nobody registered): B's subscriber gets both, as A's does.
        using var publisher = await a.ConnectMqttAsync(Vendor, vendorKey, clientId: "pub-a");
        var topic = "sharpeyes/v1/alarms/" + TestDevices.AlarmId(1);
        var malformed = await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload("{not json")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal("malformed", malformed.ReasonString);
        var unknown = await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/13012700001340888888")
            .WithPayload(TestDevices.AlarmJson("nobody")).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal("unknown-device", unknown.ReasonString);

        await Eventually.TrueAsync(() => onA.Count >= 2 && onB.Count >= 2, "both letters on both replicas' subscriptions");
        Assert.Equal(onA.Order(StringComparer.Ordinal), onB.Order(StringComparer.Ordinal)); // the same bodies
        Assert.Equal(["malformed", "unknown-device"], onB.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("reason").GetString()).Order(StringComparer.Ordinal));

        // A letter refused by B reaches A's subscriber; none arrives twice.
        using var publisherB = await b.ConnectMqttAsync(Vendor, vendorKey, clientId: "pub-b");
        await publisherB.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload("[]")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await Eventually.TrueAsync(() => onA.Count >= 3 && onB.Count >= 3, "the third letter on both");
        Assert.Equal((3, 3, 3), (onA.Count, onB.Count, onA.Distinct().Count()));
        Assert.Equal(onA.Order(StringComparer.Ordinal), onB.Order(StringComparer.Ordinal));
    }

    private static SharpEyes.Gateway.Storage.Postgres.PostgresFeedListener Listener(GatewayHost host) =>
        host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<SharpEyes.Gateway.Storage.Postgres.PostgresFeedListener>().Single();

    private static async Task<IMqttClient> SubscribeAsync(GatewayHost host, string key, string clientId, ConcurrentQueue<string> into)
    {
        var client = await host.ConnectMqttAsync(Vendor, key, clientId: clientId);
        client.ApplicationMessageReceivedAsync += e =>
        {
            into.Enqueue(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        var granted = await client.SubscribeAsync("sharpeyes/v1/deadletter/" + Vendor, MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, granted.Items.Single().ResultCode);
        return client;
    }
}
