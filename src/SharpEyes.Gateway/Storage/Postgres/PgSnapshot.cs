using System.Globalization;

namespace SharpEyes.Gateway.Storage.Postgres;

/// <summary>
/// A PostgreSQL snapshot as <c>pg_current_snapshot()::text</c> writes it, <c>xmin:xmax:xip,...</c>: which transactions'
/// work a statement read under it saw. A transaction id below <c>xmin</c> had ended (an announcement comes only from a
/// committed one), one at or above <c>xmax</c> had not started, and between them those listed in <c>xip</c> were still
/// running (https://www.postgresql.org/docs/current/functions-info.html, pg_snapshot).
/// </summary>
public sealed class PgSnapshot
{
    private readonly ulong _xmin;
    private readonly ulong _xmax;
    private readonly HashSet<ulong> _running;

    private PgSnapshot(ulong xmin, ulong xmax, HashSet<ulong> running) => (_xmin, _xmax, _running) = (xmin, xmax, running);

    /// <summary>The snapshot <paramref name="text"/> writes; null when it is not one (SQLite reads have none).</summary>
    public static PgSnapshot? Parse(string? text)
    {
        var parts = text?.Split(':');
        if (parts is not [var min, var max, var list] || !Number(min, out var xmin) || !Number(max, out var xmax))
        {
            return null;
        }

        var running = new HashSet<ulong>();
        foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!Number(item, out var xid))
            {
                return null;
            }

            running.Add(xid);
        }

        return new PgSnapshot(xmin, xmax, running);

        static bool Number(string s, out ulong value) => ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>Whether a statement under this snapshot saw the work of committed transaction <paramref name="xid"/>.</summary>
    public bool Sees(ulong xid) => xid < _xmin || (xid < _xmax && !_running.Contains(xid));

    public override string ToString() => $"{_xmin}:{_xmax}:{string.Join(',', _running.Order())}";
}
