using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// What the two-replica durability tests share (<see cref="ReplicaDurabilityTests"/>, embedded brokers;
/// <see cref="ExternalBrokerReplicaTests"/>, mosquitto in front): publishers that send a fixed set of QoS 1 alarms until
/// each is acknowledged, and the check that both replicas serve one gap-free feed holding each acknowledged alarm once.
/// </summary>
internal static class ReplicaFeedChecks
{
    /// <summary>Where a publisher's broker listens now; while it is down (killed, not yet restarted), a task that completes when it is back.</summary>
    internal sealed class ReplicaPort(int port)
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

    /// <summary>
    /// Publishes <paramref name="ids"/> (round-robin over <paramref name="devices"/> alarm devices) until every one is
    /// acknowledged, reconnecting (to the broker's new port) when the connection dies, as a QoS 1 publisher retries
    /// what it was not acknowledged.
    /// </summary>
    internal static async Task PublishAllAsync(ReplicaPort broker, string vendorId, string secret, string clientId, IReadOnlyList<string> ids, int devices,
        ConcurrentDictionary<string, bool> acked, TimeSpan timeout)
    {
        var deviceIds = Enumerable.Range(0, devices).Select(TestDevices.AlarmId).ToList();
        var deadline = DateTime.UtcNow + timeout;
        for (var attempt = 0; DateTime.UtcNow < deadline; attempt++)
        {
            var pending = ids.Where(id => !acked.ContainsKey(id)).ToList();
            if (pending.Count == 0)
            {
                return;
            }

            try
            {
                var port = await broker.PortAsync().WaitAsync(TimeSpan.FromMinutes(2));
                using var client = await AlarmPublisher.ConnectAsync(port, vendorId, secret, $"{clientId}-{attempt}");
                await AlarmPublisher.PublishAsync(client, deviceIds, pending, acked, occurredAt: DateTimeOffset.UtcNow);
            }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or TimeoutException)
            {
                // The broker is down or restarting: connect again.
            }
        }
    }

    /// <summary>
    /// Once both replicas are at the same last sequence: that both serve the same feed from 1 to it, byte for byte,
    /// without a gap, and that the alarms on it are exactly <paramref name="acked"/>, each once. Answers the last sequence.
    /// </summary>
    internal static async Task<long> AssertOneFeedWithEachAlarmOnceAsync(GatewayProcess a, GatewayProcess b, string adminKey, string centreKey,
        IReadOnlyCollection<string> acked)
    {
        long last = 0;
        await Eventually.TrueAsync(async () =>
        {
            var (lastA, lastB) = (await LastSequenceAsync(a, adminKey), await LastSequenceAsync(b, adminKey));
            last = lastA;
            return lastA == lastB && lastA > 0;
        }, "both replicas at the same last sequence", TimeSpan.FromSeconds(60));
        var feedA = await ReadFeedAsync(a, centreKey, last);
        var feedB = await ReadFeedAsync(b, centreKey, last);

        Assert.Equal(Enumerable.Range(1, (int)last).Select(s => (long)s), feedA.Select(e => e.Sequence)); // gap-free, increasing
        Assert.Equal(feedA.Select(e => e.ToByteString()), feedB.Select(e => e.ToByteString())); // event for event
        var onFeed = AlarmIds(feedA).ToList();
        Assert.Equal(onFeed.Count, onFeed.Distinct().Count()); // exactly once, though some were sent again
        Assert.Equal(acked.Order(StringComparer.Ordinal), onFeed.Order(StringComparer.Ordinal));
        return last;
    }

    /// <summary>The event ids of the alarms the feed events carry (each alarm is carried by the incident event it joined).</summary>
    internal static IEnumerable<string> AlarmIds(IEnumerable<FeedEvent> events) =>
        events.Where(e => e.Incident is not null && e.Kind != FeedEventKind.IncidentClosed).SelectMany(e => e.Incident.Alarms).Select(al => al.EventId);

    internal static async Task<long> LastSequenceAsync(GatewayProcess gateway, string adminKey) =>
        (await new Admin.AdminClient(gateway.Channel).GetStatsAsync(new GetStatsRequest(), GatewayProcess.Auth(adminKey))).LastSequence;

    /// <summary>The feed from its start through <paramref name="through"/>, as <c>Feeds.Subscribe</c> serves it.</summary>
    internal static async Task<List<FeedEvent>> ReadFeedAsync(GatewayProcess gateway, string centreKey, long through)
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
