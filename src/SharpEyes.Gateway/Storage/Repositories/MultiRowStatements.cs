using System.Data.Common;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// Statements with a list of parameter rows, <c>(...), (...)</c>, for many rows in few round trips: on PostgreSQL each
/// statement is one, and a batch of alarms writes hundreds of rows. A write (<see cref="Execute"/>,
/// <c>INSERT ... VALUES</c>) goes in chunks of <see cref="MaxRows"/> (the engine's
/// <see cref="StoreEngine.MaxRowsPerStatement"/>, if fewer), a smaller remainder in halving chunks (32, 16, ... 1); a
/// lookup (<see cref="Query"/>, <c>... IN (...)</c>) pads its last chunk to the next power of two by repeating its
/// last row. Either way there are only seven statement texts per use, and each stays prepared on the writer. Hand-written: neither ADO.NET nor Microsoft.Data.Sqlite has a portable bulk
/// statement (Npgsql's binary COPY has no ON CONFLICT, and SQLite has no COPY at all).
/// </summary>
internal sealed class MultiRowStatements
{
    /// <summary>Rows per statement at most.</summary>
    public const int MaxRows = 64;

    private readonly string[] _statements;
    private readonly int _columns;

    /// <param name="head">The statement up to the rows: through VALUES and a space, or through an IN list's opening parenthesis.</param>
    /// <param name="columns">Parameters per row.</param>
    /// <param name="tail">What follows the rows (an ON CONFLICT clause, an IN list's closing parenthesis), or empty.</param>
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
            while (size > count - at || size > tx.MaxRowsPerStatement)
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
    /// Runs the lookup for <paramref name="count"/> rows (repeating a row changes nothing in an <c>IN</c> list);
    /// <paramref name="fill"/> writes row <c>index</c>'s parameters, <paramref name="read"/> reads each statement's result.
    /// </summary>
    public void Query(JournalTransaction tx, int count, Action<int, Span<object?>> fill, Action<DbDataReader> read)
    {
        foreach (var (step, items) in PaddedChunks(count))
        {
            var values = new object?[items.Length * _columns];
            for (var i = 0; i < items.Length; i++)
            {
                fill(items[i], values.AsSpan(i * _columns, _columns));
            }

            using var reader = tx.Bound(_statements[step], values).ExecuteReader();
            read(reader);
        }
    }

    /// <summary>
    /// Splits <paramref name="count"/> rows into lists of up to <see cref="MaxRows"/>, each padded to the next power of two
    /// by repeating its last row: per list, log2 of its size and the indexes of its rows.
    /// </summary>
    private static IEnumerable<(int Step, int[] Items)> PaddedChunks(int count)
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
