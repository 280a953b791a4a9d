using System.Data.Common;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The <c>counters</c> table: persisted totals that outlive the rows they count (alarms pruned, duplicates refused,
/// audit entries written), so a metric does not fall when retention deletes rows. The only code that names the table.
/// </summary>
public static class CounterRepository
{
    /// <summary>Adds <paramref name="delta"/> to counter <paramref name="name"/>, creating it at <paramref name="delta"/>.</summary>
    public static void Add(JournalTransaction tx, string name, long delta) =>
        tx.Execute("INSERT INTO counters(name, value) VALUES(@p0, @p1) ON CONFLICT(name) DO UPDATE SET value = counters.value + excluded.value", name, delta);

    /// <summary>Raises counter <paramref name="name"/> to <paramref name="value"/> (never lowers it), creating it at <paramref name="value"/>.</summary>
    public static void RaiseTo(JournalTransaction tx, string name, long value) =>
        tx.Execute("""
            INSERT INTO counters(name, value) VALUES(@p0, @p1)
            ON CONFLICT(name) DO UPDATE SET value = CASE WHEN excluded.value > counters.value THEN excluded.value ELSE counters.value END
            """, name, value);

    /// <summary>Counter <paramref name="name"/>; 0 when it was never written.</summary>
    public static long Read(DbConnection connection, string name)
    {
        using var command = connection.Sql("SELECT value FROM counters WHERE name = @name").With("name", name);
        return command.ScalarInt64();
    }

    /// <summary>Counter <paramref name="name"/> inside <paramref name="tx"/>; 0 when it was never written.</summary>
    public static long Read(JournalTransaction tx, string name) => tx.Scalar("SELECT value FROM counters WHERE name = @p0", name);

    /// <summary>Every counter whose name starts with <paramref name="prefix"/>, by full name.</summary>
    public static Dictionary<string, long> ReadPrefixed(DbConnection connection, string prefix)
    {
        using var command = connection.Sql("SELECT name, value FROM counters WHERE name LIKE @prefix").With("prefix", prefix + "%");
        var counters = new Dictionary<string, long>(StringComparer.Ordinal);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var name = reader.GetString(0);
            if (name.StartsWith(prefix, StringComparison.Ordinal)) // LIKE's '_' in a prefix matches any character
            {
                counters[name] = reader.GetInt64(1);
            }
        }

        return counters;
    }
}
