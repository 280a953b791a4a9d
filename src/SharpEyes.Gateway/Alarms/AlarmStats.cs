using System.Data.Common;
using System.Collections.Concurrent;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;

namespace SharpEyes.Gateway.Alarms;

/// <summary>
/// Intake counters, store-wide. Accepted and dead-lettered counts are rebuilt from the store at start; duplicates are
/// persisted as a counter. On a shared store every replica's counts follow the others': an accepted alarm is one
/// INCIDENT_OPENED or INCIDENT_UPDATED feed event, a dead letter is announced by <see cref="DeadLetterSink"/>, and a
/// duplicate announces itself on <see cref="ChangeChannel"/> (the persisted counter is read again). After the listener
/// reconnects every count is rebuilt from the store.
/// </summary>
public sealed class AlarmStats : IJournalParticipant, IReplicaFollower, IReplicaChangeFollower
{
    /// <summary>The channel on which a commit that counted a duplicate tells the other replicas to read the counter again.</summary>
    public const string ChangeChannel = "sharpeyes_alarm_stats";

    private const string DuplicatesChanged = "duplicates";

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

    /// <summary>Another replica accepted an alarm: its incident event is the count.</summary>
    void IReplicaFollower.Follow(V1.FeedEvent foreign, JournalTransaction tx)
    {
        if (foreign.Kind is V1.FeedEventKind.IncidentOpened or V1.FeedEventKind.IncidentUpdated)
        {
            Interlocked.Increment(ref _accepted);
        }
    }

    string IReplicaChangeFollower.Channel => ChangeChannel;

    /// <summary>A replica counted a duplicate: read the persisted count again. Null (the listener reconnected): rebuild every count.</summary>
    void IReplicaChangeFollower.Changed(string? what, JournalTransaction tx)
    {
        if (what is null)
        {
            Load(tx.Connection);
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
