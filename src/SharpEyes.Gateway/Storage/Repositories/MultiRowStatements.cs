namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// Multi-row statements (<c>INSERT ... VALUES (...), (...)</c>) for writing many rows in few round trips: on PostgreSQL
/// each statement is one, and a batch of alarms writes hundreds of rows. Rows go in chunks of <see cref="MaxRows"/>, and
/// a smaller remainder in halving chunks (32, 16, ... 1), so there are only seven statement texts per table and each
/// stays prepared on the writer. Hand-written: neither ADO.NET nor Microsoft.Data.Sqlite has a portable bulk
/// statement (Npgsql's binary COPY has no ON CONFLICT, and SQLite has no COPY at all).
/// </summary>
internal sealed class MultiRowStatements
{
    /// <summary>Rows per statement at most.</summary>
    public const int MaxRows = 64;

    private readonly string[] _statements;
    private readonly int _columns;

    /// <param name="head">The statement up to and including the word VALUES and a space after it.</param>
    /// <param name="columns">Parameters per row.</param>
    /// <param name="tail">What follows the rows (an ON CONFLICT clause), or empty.</param>
    public MultiRowStatements(string head, int columns, string tail = "")
    {
        _columns = columns;
        _statements = [.. Enumerable.Range(0, 7).Select(i => head + Rows(1 << i, columns) + tail)];
    }

    /// <summary>
    /// Executes the statements for <paramref name="count"/> rows in <paramref name="tx"/>; <paramref name="fill"/> writes row
    /// <c>index</c>'s parameters into the span (<c>columns</c> long). Answers the rows the statements changed.
    /// </summary>
    public int Execute(JournalTransaction tx, int count, Action<int, Span<object?>> fill)
    {
        var changed = 0;
        var at = 0;
        while (at < count)
        {
            var size = MaxRows;
            var step = 6;
            while (size > count - at)
            {
                size >>= 1;
                step--;
            }

            var values = new object?[size * _columns];
            for (var i = 0; i < size; i++)
            {
                fill(at + i, values.AsSpan(i * _columns, _columns));
            }

            changed += tx.Execute(_statements[step], values);
            at += size;
        }

        return changed;
    }

    /// <summary>
    /// Splits <paramref name="count"/> items into lists of up to <see cref="MaxRows"/> for <c>IN (...)</c> lookups, each
    /// padded to the next power of two by repeating its last item (so seven statement texts serve every size): per
    /// list, log2 of its size and the indexes of its items.
    /// </summary>
    public static IEnumerable<(int Step, int[] Items)> PaddedChunks(int count)
    {
        for (var at = 0; at < count; at += MaxRows)
        {
            var size = Math.Min(MaxRows, count - at);
            var step = 0;
            while ((1 << step) < size)
            {
                step++;
            }

            var items = new int[1 << step];
            for (var i = 0; i < items.Length; i++)
            {
                items[i] = at + Math.Min(i, size - 1);
            }

            yield return (step, items);
        }
    }

    private static string Rows(int rows, int columns) => string.Join(", ", Enumerable.Range(0, rows)
        .Select(r => "(" + string.Join(", ", Enumerable.Range(r * columns, columns).Select(p => "@p" + p.ToString(System.Globalization.CultureInfo.InvariantCulture))) + ")"));
}
