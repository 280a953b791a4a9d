using System.Runtime.CompilerServices;
using System.Data.Common;
using System.Collections.Concurrent;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;

namespace SharpEyes.Gateway.Alarms;

/// <summary>
/// Intake counters, store-wide. Accepted and dead-lettered counts are rebuilt from the store at start; duplicates are
/// persisted as a counter. On a shared store every replica's counts follow the others': each batch announces how many
/// alarms it stored on <see cref="ChangeChannel"/> (not through the feed: a replica must never count its own twice,
/// and the listener drops a replica's own announcements), a dead letter is announced by <see cref="DeadLetterSink"/>, and a duplicate announces itself
/// (the persisted counter is read again). After the listener reconnects every count is rebuilt from the store.
/// </summary>
public sealed class AlarmStats : IJournalParticipant, IReplicaChangeFollower
{
    /// <summary>
    /// The channel on which a commit tells the other replicas what it counted: "accepted &lt;n&gt;" (alarms
    /// stored, once per batch) or "duplicates" (read the persisted counter again).
    /// </summary>
    public const string ChangeChannel = "sharpeyes_alarm_stats";

    private const string DuplicatesChanged = "duplicates";
    private const string AcceptedChanged = "accepted";

    private readonly object _batchSlot = new();

    /// <summary>The counter of alarms retention deleted (still counted as accepted).</summary>
    internal const string AlarmsPrunedCounter = "alarms.pruned";

    /// <summary>The counter of duplicates refused (they are not stored).</summary>
    internal const string DuplicatesCounter = "alarms.duplicates";

    /// <summary>The prefix of the per-reason counters of dead letters retention deleted (the reason follows it).</summary>
    internal const string DeadLettersPrunedPrefix = "dead_letters.pruned:";

    private readonly ConcurrentDictionary<string, long> _deadLetters = new(StringComparer.Ordinal);
    private long _accepted;
    private long _duplicates;

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    public IReadOnlyDictionary<string, long> DeadLetters => _deadLetters;

    public long Received => Accepted + Duplicates + _deadLetters.Values.Sum();

    /// <summary>Stored rows plus what retention deleted of them (the counters).</summary>
    public void Load(DbConnection connection)
    {
        _deadLetters.Clear();
        foreach (var reason in DeadLetterReasons.All)
        {
            _deadLetters[reason] = 0;
        }

        _accepted = AlarmRepository.Count(connection) + CounterRepository.Read(connection, AlarmsPrunedCounter);
        _duplicates = CounterRepository.Read(connection, DuplicatesCounter);
        foreach (var (reason, count) in DeadLetterRepository.CountByReason(connection))
        {
            _deadLetters[reason] = _deadLetters.GetValueOrDefault(reason) + count;
        }

        foreach (var (name, count) in CounterRepository.ReadPrefixed(connection, DeadLettersPrunedPrefix))
        {
            var reason = name[DeadLettersPrunedPrefix.Length..];
            _deadLetters[reason] = _deadLetters.GetValueOrDefault(reason) + count;
        }
    }

    internal void CountAccepted() => Interlocked.Increment(ref _accepted);

    internal void CountDuplicate(JournalTransaction tx)
    {
        tx.AddToCounter(DuplicatesCounter, 1);
        tx.NotifyReplicas(ChangeChannel, DuplicatesChanged);
        Interlocked.Increment(ref _duplicates);
    }

    /// <summary>
    /// Counts an alarm stored in <paramref name="tx"/> (after its commit) and, once per batch, tells the other replicas
    /// how many the batch stored (nothing on SQLite).
    /// </summary>
    internal void CountAccepted(JournalTransaction tx)
    {
        tx.AfterCommit(CountAccepted);
        var batch = tx.Shared(_batchSlot, () => new StrongBox<int>());
        batch.Value++;
        tx.BeforeCommitOnce(_batchSlot, t => t.NotifyReplicas(ChangeChannel,
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{AcceptedChanged} {batch.Value}")));
    }

    string IReplicaChangeFollower.Channel => ChangeChannel;

    /// <summary>
    /// Another replica stored alarms (add them) or counted a duplicate (read the persisted count again); this replica's
    /// own announcements never reach here. Null (the listener reconnected and may have missed some): rebuild every count.
    /// </summary>
    void IReplicaChangeFollower.Changed(string? what, JournalTransaction tx)
    {
        if (what is null)
        {
            Load(tx.Connection);
            return;
        }

        if (what.Split(' ') is [AcceptedChanged, var count])
        {
            if (long.TryParse(count, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
            {
                Interlocked.Add(ref _accepted, n);
            }

            return;
        }

        var stored = CounterRepository.Read(tx, DuplicatesCounter);
        var current = Interlocked.Read(ref _duplicates);
        while (stored > current && Interlocked.CompareExchange(ref _duplicates, stored, current) != current)
        {
            current = Interlocked.Read(ref _duplicates);
        }
    }

    internal void CountDeadLetter(string reason) => _deadLetters.AddOrUpdate(reason, 1, (_, v) => v + 1);
}
