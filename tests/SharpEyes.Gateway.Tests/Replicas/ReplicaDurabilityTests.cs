using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// Two gateway processes on one PostgreSQL database take 50,000 QoS 1 alarms from publishers spread over both while one
/// of them is killed (SIGKILL) and restarted: every acknowledged alarm is on the feed exactly once, the sequence is
/// gap-free and increasing, and both replicas serve the same feed event for event.
/// </summary>
public sealed class ReplicaDurabilityTests(PostgresCluster cluster)
{
    private const string AdminKey = "replica-durability-admin-key-0123456789";
    private const int Devices = 8;
    private const int Publishers = 4; // even ones publish through replica A, odd ones through B
    private const int PerPublisher = 12_500;

    [Fact]
    public async Task Fifty_thousand_alarms_through_two_replicas_one_killed_and_restarted_are_each_on_both_feeds_once_without_a_gap()
    {
        var store = await cluster.CreateDatabaseAsync();
        string[] args = ["--store", store, "--SharpEyes:RateLimits:MqttVendor:PerSecond=0"];
        var dirB = GatewayHost.NewDataDir();
        await using var a = await GatewayProcess.StartAsync(GatewayHost.NewDataDir(), AdminKey, ["--demo", .. args]);
        var vendorKey = await a.AddVendorWithAlarmDevicesAsync(AdminKey, "vendor-r", Devices);
        var centreKey = (await new Admin.AdminClient(a.Channel).CreateApiKeyAsync(
            new CreateApiKeyRequest { Role = Role.Centre }, GatewayProcess.Auth(AdminKey))).ApiKey;
        var b = await GatewayProcess.StartAsync(dirB, AdminKey, args);
        var replicaB = new ReplicaPort(b.MqttPort);
        try
        {
            var acked = new ConcurrentDictionary<string, bool>();
            var sent = new ConcurrentDictionary<string, bool>();
            var publishers = Enumerable.Range(0, Publishers)
                .Select(p => PublishAllAsync(p % 2 == 0 ? new ReplicaPort(a.MqttPort) : replicaB, vendorKey, p, acked, sent))
                .ToList();

            // Kill B mid-stream, then bring it back on the same data directory and database; its publishers reconnect
            // to it and send again what it never acknowledged (QoS 1: a publisher retries until acknowledged).
            await Eventually.TrueAsync(() => acked.Count >= 15_000, "15,000 acknowledged alarms", TimeSpan.FromSeconds(120));
            replicaB.Down();
            await b.KillAsync();
            var killedAt = acked.Count;
            await b.DisposeAsync();
            b = await GatewayProcess.StartAsync(dirB, AdminKey, args);
            replicaB.Up(b.MqttPort);
            await Task.WhenAll(publishers).WaitAsync(TimeSpan.FromMinutes(5));
            Assert.Equal(Publishers * PerPublisher, acked.Count);

            long last = 0;
            await Eventually.TrueAsync(async () =>
            {
                var (lastA, lastB) = (await LastSequenceAsync(a), await LastSequenceAsync(b));
                last = lastA;
                return lastA == lastB && lastA > 0;
            }, "both replicas at the same last sequence", TimeSpan.FromSeconds(60));
            var feedA = await ReadFeedAsync(a, centreKey, last);
            var feedB = await ReadFeedAsync(b, centreKey, last);

            Assert.Equal(Enumerable.Range(1, (int)last).Select(s => (long)s), feedA.Select(e => e.Sequence)); // gap-free, increasing
            Assert.Equal(feedA.Select(e => e.ToByteString()), feedB.Select(e => e.ToByteString())); // event for event
            var onFeed = feedA.Where(e => e.Incident is not null && e.Kind != FeedEventKind.IncidentClosed)
                .SelectMany(e => e.Incident.Alarms).Select(al => al.EventId).ToList();
            Assert.Equal(onFeed.Count, onFeed.Distinct().Count()); // exactly once, though B's unacknowledged ones were sent again
            Assert.Equal(acked.Keys.Order(StringComparer.Ordinal), onFeed.Order(StringComparer.Ordinal));
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"acknowledged: {acked.Count} ({killedAt} when replica B was killed); on both feeds once each; feed events: {last}");
        }
        finally
        {
            await b.DisposeAsync();
        }
    }

    /// <summary>Where a publisher's replica listens now; while it is down (killed, not yet restarted), a task that completes when it is back.</summary>
    private sealed class ReplicaPort(int port)
    {
        private volatile TaskCompletionSource<int> _port = Ready(port);

        public Task<int> PortAsync() => _port.Task;

        public void Down() => _port = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Up(int port) => _port.TrySetResult(port);

        private static TaskCompletionSource<int> Ready(int port)
        {
            var ready = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            ready.SetResult(port);
            return ready;
        }
    }

    /// <summary>Publishes this publisher's alarms until every one is acknowledged, reconnecting (to the replica's new port) when the connection dies.</summary>
    private static async Task PublishAllAsync(ReplicaPort replica, string vendorKey, int publisher, ConcurrentDictionary<string, bool> acked,
        ConcurrentDictionary<string, bool> sent)
    {
        var ids = Enumerable.Range(0, PerPublisher).Select(n => $"p{publisher}-{n}").ToList();
        var devices = Enumerable.Range(0, Devices).Select(TestDevices.AlarmId).ToList();
        var deadline = DateTime.UtcNow.AddMinutes(4);
        for (var attempt = 0; DateTime.UtcNow < deadline; attempt++)
        {
            var pending = ids.Where(id => !acked.ContainsKey(id)).ToList();
            if (pending.Count == 0)
            {
                return;
            }

            try
            {
                var port = await replica.PortAsync().WaitAsync(TimeSpan.FromMinutes(2));
                using var client = await AlarmPublisher.ConnectAsync(port, "vendor-r", vendorKey, $"replica-pub-{publisher}-{attempt}");
                foreach (var id in pending)
                {
                    sent[id] = true;
                }

                await AlarmPublisher.PublishAsync(client, devices, pending, acked, occurredAt: DateTimeOffset.UtcNow);
            }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or TimeoutException)
            {
                // The replica is down or restarting: connect again.
            }
        }
    }

    private static async Task<long> LastSequenceAsync(GatewayProcess gateway) =>
        (await new Admin.AdminClient(gateway.Channel).GetStatsAsync(new GetStatsRequest(), GatewayProcess.Auth(AdminKey))).LastSequence;

    private static async Task<List<FeedEvent>> ReadFeedAsync(GatewayProcess gateway, string centreKey, long through)
    {
        var events = new List<FeedEvent>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        using var call = new V1.Feeds.FeedsClient(gateway.Channel).Subscribe(new SubscribeRequest(), GatewayProcess.Auth(centreKey), cancellationToken: cts.Token);
        await foreach (var e in call.ResponseStream.ReadAllAsync(cts.Token))
        {
            events.Add(e);
            if (e.Sequence >= through)
            {
                break;
            }
        }

        return events;
    }
}
