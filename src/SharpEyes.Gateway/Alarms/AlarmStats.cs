using System.Data.Common;
using System.Collections.Concurrent;
using SharpEyes.Gateway.Storage;

namespace SharpEyes.Gateway.Alarms;

/// <summary>Intake counters. Accepted and dead-lettered counts are rebuilt from the store at start; duplicates are persisted as a counter.</summary>
public sealed class AlarmStats : IJournalParticipant
{
    private readonly ConcurrentDictionary<string, long> _deadLetters = new(StringComparer.Ordinal);
    private long _accepted;
    private long _duplicates;

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    public IReadOnlyDictionary<string, long> DeadLetters => _deadLetters;

    public long Received => Accepted + Duplicates + _deadLetters.Values.Sum();

    public void Load(DbConnection connection)
    {
        _deadLetters.Clear();
        foreach (var reason in DeadLetterReasons.All)
        {
            _deadLetters[reason] = 0;
        }

        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT 'accepted', COUNT(*) + COALESCE((SELECT value FROM counters WHERE name = 'alarms.pruned'), 0) FROM alarms
            UNION ALL SELECT 'duplicates', COALESCE((SELECT value FROM counters WHERE name = 'alarms.duplicates'), 0)
            UNION ALL SELECT 'dl:' || reason, COUNT(*) FROM dead_letters GROUP BY reason
            UNION ALL SELECT 'dl:' || substr(name, 22), value FROM counters WHERE name LIKE 'dead_letters.pruned:%'
            """;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var name = reader.GetString(0);
            var value = reader.GetInt64(1);
            if (name == "accepted")
            {
                _accepted = value;
            }
            else if (name == "duplicates")
            {
                _duplicates = value;
            }
            else
            {
                _deadLetters[name[3..]] = _deadLetters.GetValueOrDefault(name[3..]) + value;
            }
        }
    }

    internal void CountAccepted() => Interlocked.Increment(ref _accepted);

    internal void CountDuplicate(JournalTransaction tx)
    {
        tx.AddToCounter("alarms.duplicates", 1);
        Interlocked.Increment(ref _duplicates);
    }

    internal void CountDeadLetter(string reason) => _deadLetters.AddOrUpdate(reason, 1, (_, v) => v + 1);
}
