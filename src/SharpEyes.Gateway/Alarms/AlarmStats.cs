using System.Data.Common;
using System.Collections.Concurrent;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;

namespace SharpEyes.Gateway.Alarms;

/// <summary>Intake counters. Accepted and dead-lettered counts are rebuilt from the store at start; duplicates are persisted as a counter.</summary>
public sealed class AlarmStats : IJournalParticipant
{
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
        Interlocked.Increment(ref _duplicates);
    }

    internal void CountDeadLetter(string reason) => _deadLetters.AddOrUpdate(reason, 1, (_, v) => v + 1);
}
