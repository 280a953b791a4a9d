using System.Data.Common;
using Npgsql;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The intake counts as one statement read them: stored alarms, dead letters by reason, the counters named, and on
/// PostgreSQL the statement's snapshot (<c>pg_current_snapshot()</c>; null on SQLite), so that a replica rebuilding its
/// counts can tell which other replicas' announcements the rebuild already holds.
/// </summary>
public sealed record IntakeCounts(long Alarms, IReadOnlyDictionary<string, long> DeadLettersByReason, IReadOnlyDictionary<string, long> Counters, string? Snapshot);

/// <summary>
/// Reads <see cref="IntakeCounts"/> in one statement over <c>alarms</c>, <c>dead_letters</c> and <c>counters</c>
/// (written by <see cref="AlarmRepository"/>, <see cref="DeadLetterRepository"/> and <see cref="CounterRepository"/>):
/// one statement is one snapshot, under PostgreSQL's READ COMMITTED as under SQLite. Writes nothing.
/// </summary>
public static class IntakeCountRepository
{
    /// <summary>
    /// The counts, with every counter named in <paramref name="counters"/> or starting with <paramref name="prefix"/>
    /// (absent ones are not in the answer).
    /// </summary>
    public static IntakeCounts Read(DbConnection connection, IReadOnlyList<string> counters, string prefix)
    {
        var snapshot = connection is NpgsqlConnection ? "pg_current_snapshot()::text" : "CAST(NULL AS TEXT)";
        var named = counters.Count == 0 ? "" : $"name IN ({string.Join(", ", counters.Select((_, i) => "@c" + i))}) OR ";
        using var command = connection.Sql($"""
            SELECT 0, '', COUNT(*), CAST(NULL AS TEXT) FROM alarms
            UNION ALL SELECT 1, reason, COUNT(*), CAST(NULL AS TEXT) FROM dead_letters GROUP BY reason
            UNION ALL SELECT 2, name, value, CAST(NULL AS TEXT) FROM counters WHERE {named}name LIKE @prefix
            UNION ALL SELECT 3, '', 0, {snapshot}
            """).With("prefix", prefix + "%");
        for (var i = 0; i < counters.Count; i++)
        {
            command.With("c" + i, counters[i]);
        }

        long alarms = 0;
        string? taken = null;
        var deadLetters = new Dictionary<string, long>(StringComparer.Ordinal);
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            switch (reader.GetInt32Value(0))
            {
                case 0:
                    alarms = reader.GetInt64(2);
                    break;
                case 1:
                    deadLetters[reader.GetString(1)] = reader.GetInt64(2);
                    break;
                case 2:
                    var name = reader.GetString(1);
                    if (counters.Contains(name) || name.StartsWith(prefix, StringComparison.Ordinal)) // LIKE's '_' matches any character
                    {
                        values[name] = reader.GetInt64(2);
                    }

                    break;
                default:
                    taken = reader.IsDBNull(3) ? null : reader.GetString(3);
                    break;
            }
        }

        return new IntakeCounts(alarms, deadLetters, values, taken);
    }
}
