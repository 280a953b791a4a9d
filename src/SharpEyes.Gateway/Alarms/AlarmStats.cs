using System.Collections.Concurrent;
using System.Data.Common;
using System.Runtime.CompilerServices;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Postgres;
using SharpEyes.Gateway.Storage.Repositories;

namespace SharpEyes.Gateway.Alarms;

/// <summary>
/// Intake counters, store-wide. Accepted and dead-lettered counts are rebuilt from the store at start; duplicates are
/// persisted as a counter. On a shared store every replica's counts follow the others': each batch announces how many
/// alarms it stored and how many duplicates it refused on <see cref="ChangeChannel"/> (not through the feed: a replica
/// must never count its own twice, and the listener drops a replica's own announcements), and a dead letter is
/// announced by <see cref="DeadLetterSink"/>. After the listener reconnects every count is rebuilt from the store, in
/// one statement whose snapshot is kept: an announcement that comes after the rebuild from a transaction the snapshot
/// saw is already in the counts and is not added again.
/// </summary>
public sealed class AlarmStats : IJournalParticipant, IReplicaChangeFollower
{
    /// <summary>
    /// The channel on which a commit tells the other replicas what it counted, once per batch: "accepted &lt;n&gt;"
    /// (alarms stored) and "duplicates &lt;n&gt;" (duplicates refused).
    /// </summary>
    public const string ChangeChannel = "sharpeyes_alarm_stats";

    private const string DuplicatesChanged = "duplicates";
    private const string AcceptedChanged = "accepted";

    /// <summary>The per-batch tallies (<see cref="JournalTransaction.Shared"/>) and what a transaction follows of other replicas, each once per transaction.</summary>
    private readonly object _acceptedSlot = new(), _duplicatesSlot = new(), _followSlot = new();

    /// <summary>The snapshot of the last rebuild (PostgreSQL; null before one, and on SQLite). Touched after commits only, on the writer.</summary>
    private PgSnapshot? _rebuilt;

    /// <summary>The counter of alarms retention deleted (still counted as accepted).</summary>
    internal const string AlarmsPrunedCounter = "alarms.pruned";

    /// <summary>The counter of duplicates refused (they are not stored).</summary>
    internal const string DuplicatesCounter = "alarms.duplicates";

    /// <summary>The prefix of the per-reason counters of dead letters retention deleted (the reason follows it).</summary>
    internal const string DeadLettersPrunedPrefix = "dead_letters.pruned:";

    private readonly ConcurrentDictionary<string, long> _deadLetters = new(StringComparer.Ordinal);
    private long _accepted;
    private long _duplicates;
    private int _loaded;

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    public IReadOnlyDictionary<string, long> DeadLetters => _deadLetters;

    public long Received => Accepted + Duplicates + _deadLetters.Values.Sum();

    /// <summary>
    /// As the journal's participant: loads the counts at start only. Every count changes after its commit, so a batch
    /// rolled back leaves nothing to undo, and reading the store again then would, on a shared store, count twice the
    /// other replicas' alarms whose announcements are still on their way (a batch whose alarm keys another replica took
    /// meanwhile is rolled back and committed again item by item: not rare under load).
    /// </summary>
    void IJournalParticipant.Load(DbConnection connection)
    {
        if (Interlocked.Exchange(ref _loaded, 1) == 0)
        {
            Load(connection);
        }
    }

    /// <summary>Stored rows plus what retention deleted of them (the counters).</summary>
    public void Load(DbConnection connection) => Set(Read(connection));

    private sealed record Counts(long Accepted, long Duplicates, Dictionary<string, long> DeadLetters, PgSnapshot? Snapshot);

    private static Counts Read(DbConnection connection)
    {
        var read = IntakeCountRepository.Read(connection, [AlarmsPrunedCounter, DuplicatesCounter], DeadLettersPrunedPrefix);
        var deadLetters = DeadLetterReasons.All.ToDictionary(r => r, _ => 0L, StringComparer.Ordinal);
        foreach (var (reason, count) in read.DeadLettersByReason)
        {
            deadLetters[reason] = deadLetters.GetValueOrDefault(reason) + count;
        }

        foreach (var (name, count) in read.Counters.Where(c => c.Key.StartsWith(DeadLettersPrunedPrefix, StringComparison.Ordinal)))
        {
            var reason = name[DeadLettersPrunedPrefix.Length..];
            deadLetters[reason] = deadLetters.GetValueOrDefault(reason) + count;
        }

        return new Counts(
            read.Alarms + read.Counters.GetValueOrDefault(AlarmsPrunedCounter),
            read.Counters.GetValueOrDefault(DuplicatesCounter),
            deadLetters,
            PgSnapshot.Parse(read.Snapshot));
    }

    private void Set(Counts counts)
    {
        _rebuilt = counts.Snapshot;
        _deadLetters.Clear();
        foreach (var (reason, count) in counts.DeadLetters)
        {
            _deadLetters[reason] = count;
        }

        Interlocked.Exchange(ref _accepted, counts.Accepted);
        Interlocked.Exchange(ref _duplicates, counts.Duplicates);
    }

    internal void CountAccepted() => Interlocked.Increment(ref _accepted);

    /// <summary>
    /// Counts a duplicate refused in <paramref name="tx"/> (after its commit; persisted for the next start) and, once per
    /// batch, tells the other replicas how many the batch refused.
    /// </summary>
    internal void CountDuplicate(JournalTransaction tx)
    {
        tx.AfterCommit(() => Interlocked.Increment(ref _duplicates));
        Announce(tx, _duplicatesSlot, DuplicatesChanged, (t, n) => t.AddToCounter(DuplicatesCounter, n)); // one write per batch
    }

    /// <summary>
    /// Counts an alarm stored in <paramref name="tx"/> (after its commit) and, once per batch, tells the other replicas
    /// how many the batch stored (nothing on SQLite).
    /// </summary>
    internal void CountAccepted(JournalTransaction tx)
    {
        tx.AfterCommit(CountAccepted);
        Announce(tx, _acceptedSlot, AcceptedChanged);
    }

    /// <summary>Tallies one more in the batch; before the commit, <paramref name="persist"/> (if any) and one announcement take the tally.</summary>
    private static void Announce(JournalTransaction tx, object slot, string what, Action<JournalTransaction, int>? persist = null)
    {
        var batch = tx.Shared(slot, () => new StrongBox<int>());
        batch.Value++;
        tx.BeforeCommitOnce(slot, t =>
        {
            persist?.Invoke(t, batch.Value);
            t.NotifyReplicas(ChangeChannel, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{what} {batch.Value}"));
        });
    }

    string IReplicaChangeFollower.Channel => ChangeChannel;

    /// <summary>
    /// Another replica stored alarms or refused duplicates ("accepted n", "duplicates n"). Null: the listener
    /// reconnected and may have missed some, and every count is read again. Both are applied in
    /// <see cref="Follow"/>.
    /// </summary>
    void IReplicaChangeFollower.Changed(ReplicaAnnouncement? announced, JournalTransaction tx)
    {
        var following = Follow(tx);
        if (announced is null)
        {
            following.Rebuild = true;
        }
        else if (announced.What.Split(' ') is [var kind and (AcceptedChanged or DuplicatesChanged), var count]
            && long.TryParse(count, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
        {
            following.Foreign.Add((announced.Transaction, () => Interlocked.Add(ref kind == AcceptedChanged ? ref _accepted : ref _duplicates, n)));
        }
    }

    /// <summary>A dead letter another replica stored in transaction <paramref name="transaction"/>, counted as <see cref="Follow"/> says.</summary>
    internal void CountForeignDeadLetter(JournalTransaction tx, ulong transaction, string reason) =>
        Follow(tx).Foreign.Add((transaction, () => CountDeadLetter(reason)));

    /// <summary>
    /// What <paramref name="tx"/> follows of other replicas' intake. A rebuild reads every count at the end of the
    /// transaction, in one statement (its own alarms included), and sets them after the commit, after the batch's own
    /// additions, which the reading already holds. Other replicas' counts are added after the commit too (a batch rolled
    /// back and run again item by item must not add them twice), after the rebuild, and only those of transactions the
    /// last rebuild's snapshot did not see: an alarm another replica committed between this listener's reconnect and
    /// its rebuild is announced to it and read by the rebuild, and is counted once.
    /// </summary>
    private Following Follow(JournalTransaction tx)
    {
        var following = tx.Shared(_followSlot, () => new Following());
        tx.BeforeCommitOnce(_followSlot, t =>
        {
            var counts = following.Rebuild ? Read(t.Connection) : null;
            t.AfterCommit(() =>
            {
                if (counts is not null)
                {
                    Set(counts);
                }

                var seen = _rebuilt;
                foreach (var (transaction, apply) in following.Foreign)
                {
                    if (seen?.Sees(transaction) != true)
                    {
                        apply();
                    }
                }
            });
        });
        return following;
    }

    private sealed class Following
    {
        public bool Rebuild { get; set; }

        public List<(ulong Transaction, Action Apply)> Foreign { get; } = [];
    }

    internal void CountDeadLetter(string reason) => _deadLetters.AddOrUpdate(reason, 1, (_, v) => v + 1);
}
