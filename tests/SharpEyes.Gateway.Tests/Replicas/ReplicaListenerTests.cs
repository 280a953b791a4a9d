using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Postgres;
using SharpEyes.Gateway.Storage.Repositories;
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
        var transaction = await a.WriteAsync(tx =>
        {
            tx.NotifyReplicas(Channel, "key-1 with spaces");
            return ulong.Parse((string)tx.Bound("SELECT pg_current_xact_id()::text").ExecuteScalar()!, CultureInfo.InvariantCulture);
        });
        await Eventually.TrueAsync(() => changes.Heard.Contains(new ReplicaAnnouncement("key-1 with spaces", transaction)), "A's announcement on B, with A's transaction");
        Assert.Equal([null, new ReplicaAnnouncement("key-1 with spaces", transaction)], changes.Heard);

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

    [Fact]
    public async Task Intake_counts_rebuilt_at_a_reconnect_of_the_listener_hold_each_of_the_other_replicas_alarms_once()
    {
        var database = await cluster.CreateDatabaseAsync();
        await using var a = await StoreUnderTest.OpenReplicaAsync(database, "replica-a", Empty, []);
        await using var b = await StoreUnderTest.OpenReplicaAsync(database + ";Application Name=replica-b", "replica-b", Empty, []);
        var stats = new AlarmStats();
        using (var reader = b.Store.OpenRead())
        {
            stats.Load(reader);
        }

        var marks = new RecordingChangeFollower();
        using var listener = new PostgresFeedListener(b.Store, b.Hub, b.Journal, [stats, marks], TimeProvider.System, NullLogger<PostgresFeedListener>.Instance);
        await listener.StartAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => marks.Heard.Contains(null), "B's listener connected");
        var t0 = new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);
        var stored = 0;
        Task StoreAsync(int count) => a.WriteAsync(tx =>
        {
            for (var i = 0; i < count; i++, stored++)
            {
                AlarmRepository.Insert(tx, new AlarmRecord("vendor-r", $"r-{stored}", "13013300001340000001", t0, t0, 1, 2, 0, "", default, true,
                    SharpEyes.Geo.Regions.RegionCodes.None, [], [], "inc_r"), t0.ToUnixTimeMilliseconds());
            }

            tx.NotifyReplicas(AlarmStats.ChangeChannel, $"accepted {count}"); // once per batch, as the intake announces
        });

        await StoreAsync(20);
        await Eventually.TrueAsync(() => stats.Accepted == 20, "B counts A's first 20 alarms from their announcements");

        // B's writer is held while its listener reconnects: the listener listens again, then waits for the writer to
        // rebuild the counts. A stores 30 alarms in between: they are announced to the new session and read by the
        // rebuild, the window in which an alarm could be counted twice.
        await using var admin = new NpgsqlConnection(database);
        await admin.OpenAsync();
        var writer = await b.WriteAsync(tx => Convert.ToInt32(tx.Bound("SELECT pg_backend_pid()").ExecuteScalar(), CultureInfo.InvariantCulture));
        using var gate = new ManualResetEventSlim();
        var held = b.WriteAsync(_ => gate.Wait(TimeSpan.FromMinutes(2)));
        var cutAt = DateTime.UtcNow;
        await using (var cut = new NpgsqlCommand(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'replica-b' AND pid <> @writer AND (query LIKE 'LISTEN%' OR query LIKE '%feed_events%')", admin))
        {
            cut.Parameters.AddWithValue("writer", writer);
            Assert.Equal(1L, (long)(await cut.ExecuteScalarAsync())!);
        }

        await Eventually.TrueAsync(async () =>
        {
            await using var listening = new NpgsqlCommand(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'replica-b' AND pid <> @writer AND backend_start > @cut AND query LIKE 'LISTEN%'", admin);
            listening.Parameters.AddWithValue("writer", writer);
            listening.Parameters.AddWithValue("cut", cutAt);
            return Convert.ToInt32(await listening.ExecuteScalarAsync(), CultureInfo.InvariantCulture) == 1;
        }, "B's listener listening again, its rebuild waiting for the writer", TimeSpan.FromSeconds(30));
        await StoreAsync(30);
        gate.Set();
        await held;

        await Eventually.TrueAsync(() => marks.Heard.Count(h => h is null) == 2, "B's rebuild after the reconnect");
        var done = await a.WriteAsync(tx =>
        {
            tx.NotifyReplicas(Channel, "done"); // after every announcement of A's: once B heard it, it heard them all
            return ulong.Parse((string)tx.Bound("SELECT pg_current_xact_id()::text").ExecuteScalar()!, CultureInfo.InvariantCulture);
        });
        await Eventually.TrueAsync(() => marks.Heard.Contains(new ReplicaAnnouncement("done", done)), "B heard A's last announcement");
        await b.WriteAsync(_ => { }); // the writer's next batch: the counts of the batch that heard it were applied after its commit
        Assert.Equal(50, stats.Accepted); // each once: the 30 both rebuilt from the store and announced are not added again
        await listener.StopAsync(CancellationToken.None);
    }

    [Fact]
    public void A_snapshot_sees_the_transactions_that_had_ended_and_not_those_running_or_not_yet_started()
    {
        var snapshot = PgSnapshot.Parse("812:820:812,815")!;
        Assert.Equal([true, false, true, false, true, false, false], new ulong[] { 811, 812, 813, 815, 819, 820, 900 }.Select(snapshot.Sees));
        var quiet = PgSnapshot.Parse("820:820:")!;
        Assert.True(quiet.Sees(819));
        Assert.False(quiet.Sees(820));
        Assert.Null(PgSnapshot.Parse(null));
        Assert.Null(PgSnapshot.Parse("not a snapshot"));
        Assert.Null(PgSnapshot.Parse("1:2:x"));
    }

    private static readonly IServiceProvider Empty = new ServiceCollection().BuildServiceProvider();

    private static PostgresFeedListener Listen(StoreUnderTest replica, IReplicaChangeFollower changes) =>
        new(replica.Store, replica.Hub, replica.Journal, [changes], TimeProvider.System, NullLogger<PostgresFeedListener>.Instance);

    private sealed class RecordingChangeFollower : IReplicaChangeFollower
    {
        private readonly ConcurrentQueue<ReplicaAnnouncement?> _heard = new();

        public List<ReplicaAnnouncement?> Heard => [.. _heard];

        public string Channel => ReplicaListenerTests.Channel;

        public void Changed(ReplicaAnnouncement? announced, JournalTransaction tx) => _heard.Enqueue(announced);
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
