using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Postgres;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// The listener that makes one replica follow the others (<see cref="PostgresFeedListener"/>), on two writers sharing a
/// PostgreSQL database, without gateways around them: a follower hears only the other replica's announcements and feed
/// events, never its own replica's, however the commits interleave.
/// </summary>
public sealed class ReplicaListenerTests(PostgresCluster cluster)
{
    private const string Channel = "sharpeyes_test_changes";

    [Fact]
    public async Task A_change_follower_hears_the_other_replicas_announcements_without_the_replica_id_and_never_its_own()
    {
        var database = await cluster.CreateDatabaseAsync();
        var changes = new RecordingChangeFollower();
        await using var a = await StoreUnderTest.OpenReplicaAsync(database, "replica-a", Empty, []);
        await using var b = await StoreUnderTest.OpenReplicaAsync(database, "replica-b", Empty, []);
        using var listener = Listen(b, changes);
        await listener.StartAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => changes.Heard.Contains(null), "the listener's first read (null: everything)");

        // B's own announcement commits first, A's after it: notifications arrive in commit order, so once A's is heard,
        // B's own was dropped rather than still on its way.
        await b.WriteAsync(tx => tx.NotifyReplicas(Channel, "from b"));
        await a.WriteAsync(tx => tx.NotifyReplicas(Channel, "key-1 with spaces"));
        await Eventually.TrueAsync(() => changes.Heard.Contains("key-1 with spaces"), "A's announcement on B");
        Assert.Equal([null, "key-1 with spaces"], changes.Heard);

        await listener.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Feed_events_written_by_both_replicas_at_once_are_followed_on_B_exactly_when_A_wrote_them()
    {
        var database = await cluster.CreateDatabaseAsync();
        var followed = new RecordingFollower();
        var services = new ServiceCollection().AddSingleton(followed).BuildServiceProvider();
        await using var a = await StoreUnderTest.OpenReplicaAsync(database, "replica-a", Empty, []);
        await using var b = await StoreUnderTest.OpenReplicaAsync(database, "replica-b", services, [new JournalParticipantRegistration(typeof(RecordingFollower))]);
        using var listener = Listen(b, new RecordingChangeFollower());
        await listener.StartAsync(CancellationToken.None);

        // Both write batches of feed events as fast as they can: B's own commits reach its hub directly while its listener
        // reads the store, the window in which an own event could pass for the other replica's. (When the journal pruned its
        // own ranges by the hub's progress, this failed under CPU load: B followed its own events 5421 and 5422.)
        const int Batches = 1500;
        var written = new ConcurrentDictionary<long, string>();
        async Task WriteAsync(StoreUnderTest replica, string who)
        {
            for (var i = 0; i < Batches; i++)
            {
                var events = await replica.WriteAsync(tx =>
                {
                    var batch = Enumerable.Range(0, 1 + (i % 3)).Select(n => tx.AppendFeedEvent(new FeedEvent { Kind = FeedEventKind.DeviceOnline, Reason = who })).ToList();
                    return batch;
                });
                foreach (var e in events)
                {
                    Assert.True(written.TryAdd(e.Sequence, who), $"sequence {e.Sequence} numbered twice");
                }
            }
        }

        await Task.WhenAll(Task.Run(() => WriteAsync(a, "a")), Task.Run(() => WriteAsync(b, "b")));
        var fromA = written.Where(w => w.Value == "a").Select(w => w.Key).Order().ToList();
        await Eventually.TrueAsync(() => followed.Sequences.Count >= fromA.Count, $"B follows A's {fromA.Count} events");

        // Exactly A's events, each once, in sequence order; none of B's own.
        Assert.Equal(fromA, followed.Sequences);
        Assert.All(followed.Reasons, r => Assert.Equal("a", r));
        await listener.StopAsync(CancellationToken.None);
    }

    private static readonly IServiceProvider Empty = new ServiceCollection().BuildServiceProvider();

    private static PostgresFeedListener Listen(StoreUnderTest replica, IReplicaChangeFollower changes) =>
        new(replica.Store, replica.Hub, replica.Journal, [changes], TimeProvider.System, NullLogger<PostgresFeedListener>.Instance);

    private sealed class RecordingChangeFollower : IReplicaChangeFollower
    {
        private readonly ConcurrentQueue<string?> _heard = new();

        public List<string?> Heard => [.. _heard];

        public string Channel => ReplicaListenerTests.Channel;

        public void Changed(string? what, JournalTransaction tx) => _heard.Enqueue(what);
    }

    private sealed class RecordingFollower : IJournalParticipant, IReplicaFollower
    {
        private readonly Lock _lock = new();
        private readonly List<(long Sequence, string Reason)> _followed = [];

        public List<long> Sequences
        {
            get
            {
                lock (_lock)
                {
                    return [.. _followed.Select(f => f.Sequence)];
                }
            }
        }

        public List<string> Reasons
        {
            get
            {
                lock (_lock)
                {
                    return [.. _followed.Select(f => f.Reason)];
                }
            }
        }

        public void Load(DbConnection connection)
        {
        }

        public void Follow(FeedEvent foreign, JournalTransaction tx)
        {
            lock (_lock)
            {
                _followed.Add((foreign.Sequence, foreign.Reason));
            }
        }
    }
}
