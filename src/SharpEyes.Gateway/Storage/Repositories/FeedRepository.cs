using System.Data.Common;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The <c>feed_events</c> table: the committed feed, one row per event by sequence number, the event itself stored as its
/// protobuf bytes. It is also the push outbox (endpoints read it after their cursor). The only code that names the table.
/// </summary>
public static class FeedRepository
{
    private static readonly MultiRowStatements Inserts = new("INSERT INTO feed_events(seq, kind, region_code, data, committed_at) VALUES ", 5);

    /// <summary>Writes <paramref name="feedEvent"/> (numbered already) as committed at <paramref name="committedAtMs"/> (Unix ms).</summary>
    public static void Append(JournalTransaction tx, FeedEvent feedEvent, long committedAtMs) => AppendAll(tx, [feedEvent], committedAtMs);

    /// <summary>
    /// Writes <paramref name="events"/> (numbered already) as committed at <paramref name="committedAtMs"/> (Unix ms), in
    /// multi-row INSERTs (<see cref="MultiRowStatements"/>): a batch of alarms brings two or three events each.
    /// </summary>
    public static void AppendAll(JournalTransaction tx, IReadOnlyList<FeedEvent> events, long committedAtMs)
    {
        using var data = PooledBlobs.Serialize(events.Count, i => events[i]);
        Inserts.Execute(tx, events.Count, (i, row) =>
        {
            var e = events[i];
            row[0] = e.Sequence;
            row[1] = (int)e.Kind;
            row[2] = e.RegionCode;
            row[3] = data[i];
            row[4] = committedAtMs;
        });
    }

    /// <summary>The highest sequence stored; 0 when the feed is empty.</summary>
    public static long LastSequence(DbConnection connection)
    {
        using var command = connection.Sql("SELECT COALESCE(MAX(seq), 0) FROM feed_events");
        return command.ScalarInt64();
    }

    /// <summary>The highest sequence stored as <paramref name="tx"/> sees it (other replicas' committed rows included); 0 when empty.</summary>
    public static long LastSequence(JournalTransaction tx) => tx.Scalar("SELECT COALESCE(MAX(seq), 0) FROM feed_events");

    /// <summary>
    /// Adds to <paramref name="into"/>, in sequence order, the events among the <paramref name="max"/> after
    /// <paramref name="after"/> whose region code starts with <paramref name="regionPrefix"/> (empty: all); returns the
    /// last sequence scanned, filtered out or not (<paramref name="after"/> when there is none).
    /// </summary>
    public static long ReadAfter(DbConnection connection, long after, int max, string regionPrefix, List<FeedEvent> into)
    {
        using var command = connection.Sql("SELECT seq, region_code, data FROM feed_events WHERE seq > @after ORDER BY seq LIMIT @n")
            .With("after", after).With("n", max);
        using var reader = command.ExecuteReader();
        var scannedTo = after;
        while (reader.Read())
        {
            scannedTo = reader.GetInt64(0);
            if (regionPrefix.Length == 0 || reader.GetString(1).StartsWith(regionPrefix, StringComparison.Ordinal))
            {
                into.Add(FeedEvent.Parser.ParseFrom((byte[])reader[2]));
            }
        }

        return scannedTo;
    }

    /// <summary>When the first event after <paramref name="sequence"/> was committed (Unix ms); null when there is none or its time was not recorded.</summary>
    public static long? CommittedAtOfNext(DbConnection connection, long sequence)
    {
        using var command = connection.Sql("SELECT committed_at FROM feed_events WHERE seq > @acked ORDER BY seq LIMIT 1");
        command.With("acked", sequence);
        return command.ExecuteScalar() is long committed ? committed : null;
    }

    /// <summary>
    /// The newest sequence retention may delete: at most <paramref name="acked"/>, committed before
    /// <paramref name="cutoffMs"/> (an unrecorded time counts as old), never the last event (the feed's last sequence must
    /// stay readable so sequences are not reused after a restart), within the oldest <paramref name="maxRows"/>; 0 when none.
    /// <para>
    /// It reads the oldest <paramref name="maxRows"/> events and no more (events are committed in sequence order, so the
    /// old ones come first). It used to look for the first <paramref name="maxRows"/> <i>old</i> events, which, while
    /// none was old, read the whole feed on every pass: 0.7–0.9 s for 2.4 million events, a 1.6 s stall of every alarm
    /// ten minutes into the soak, and growing with the retention (seven days at 2,000 alarms/s is a billion events).
    /// </para>
    /// </summary>
    public static long PrunableThrough(JournalTransaction tx, long acked, long cutoffMs, int maxRows) =>
        tx.Scalar("""
            SELECT COALESCE(MAX(seq), 0) FROM (SELECT seq, committed_at FROM feed_events
            WHERE seq <= @p0 AND seq < (SELECT MAX(seq) FROM feed_events)
            ORDER BY seq LIMIT @p2) AS oldest WHERE COALESCE(committed_at, 0) < @p1
            """, acked, cutoffMs, maxRows);

    /// <summary>Deletes every event up to <paramref name="through"/>; returns how many.</summary>
    public static int DeleteThrough(JournalTransaction tx, long through) =>
        tx.Execute("DELETE FROM feed_events WHERE seq <= @p0", through);
}
