using System.Collections.Concurrent;
using Google.Protobuf;
using MQTTnet;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// Two gateways on one PostgreSQL database write one feed: alarms acknowledged by either replica are numbered in
/// commit order, and a subscriber of either replica sees the same events, strictly increasing and gap-free.
/// </summary>
public sealed class ReplicaFeedTests(PostgresCluster cluster)
{
    [Fact]
    public async Task Alarms_acknowledged_by_two_replicas_make_one_gap_free_feed_that_both_replicas_serve_event_for_event()
    {
        var store = await cluster.CreateDatabaseAsync();
        await using var a = await GatewayHost.StartAsync(demo: true, extraArgs: ["--store", store, GatewayHost.NoMqttRateLimit]);
        var vendorKey = await a.CreateKeyAsync(Role.Vendor, "vendor-r");
        var centreKey = await a.CreateKeyAsync(Role.Centre);
        var registry = new DeviceRegistry.DeviceRegistryClient(a.Channel);
        var devices = new List<string>();
        for (var i = 1; i <= 20; i++)
        {
            // Spread over the county, so the alarms fall into many grids.
            await registry.RegisterDeviceAsync(TestDevices.Alarm(i, lon: 114.50 + (i * 0.007), lat: 37.56 + (i % 5 * 0.01)), a.Auth(vendorKey));
            devices.Add(TestDevices.AlarmId(i));
        }

        // The second replica starts on the same database (its own data directory) and loads what the first stored.
        await using var b = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store, GatewayHost.NoMqttRateLimit]);
        await using var feedA = new FeedReader(a, centreKey);
        await using var feedB = new FeedReader(b, centreKey);

        const int PerReplica = 600;
        var acked = new ConcurrentDictionary<string, bool>();
        var clientA = await AlarmPublisher.ConnectAsync(a.MqttPort, "vendor-r", vendorKey, "pub-a");
        var clientB = await AlarmPublisher.ConnectAsync(b.MqttPort, "vendor-r", vendorKey, "pub-b");
        await Task.WhenAll(
            AlarmPublisher.PublishAsync(clientA, devices, Enumerable.Range(0, PerReplica).Select(i => $"a-{i}"), acked),
            AlarmPublisher.PublishAsync(clientB, devices, Enumerable.Range(0, PerReplica).Select(i => $"b-{i}"), acked));
        Assert.Equal(2 * PerReplica, acked.Count);

        // Every acknowledged alarm is on both replicas' feeds (as an incident's alarm), once.
        static IEnumerable<string> AlarmsOf(IEnumerable<FeedEvent> events) =>
            events.Where(e => e.Incident is not null).SelectMany(e => e.Incident.Alarms).Select(a => a.EventId);
        await Eventually.TrueAsync(() => AlarmsOf(feedA.Events).Count() >= 2 * PerReplica, "every alarm on replica A's feed", TimeSpan.FromSeconds(60));
        await Eventually.TrueAsync(() => AlarmsOf(feedB.Events).Count() >= 2 * PerReplica, "every alarm on replica B's feed", TimeSpan.FromSeconds(60));
        var last = Math.Max(a.LastSequence, b.LastSequence);
        await Eventually.TrueAsync(() => feedA.Events[^1].Sequence == last && feedB.Events[^1].Sequence == last, "both feeds at the last sequence");

        var seenA = feedA.Events;
        var seenB = feedB.Events;
        foreach (var seen in new[] { seenA, seenB })
        {
            var sequences = seen.Select(e => e.Sequence).ToList();
            Assert.Equal(Enumerable.Range((int)sequences[0], sequences.Count).Select(s => (long)s), sequences); // strictly increasing, no gap
            Assert.Equal(1, sequences[0]);
        }

        Assert.Equal(seenA.Select(e => e.ToByteString()), seenB.Select(e => e.ToByteString())); // event for event, byte for byte
        Assert.Equal(acked.Keys.Order(StringComparer.Ordinal), AlarmsOf(seenA).Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(2 * PerReplica, AlarmsOf(seenA).Count());
        clientA.Dispose();
        clientB.Dispose();
    }
}
