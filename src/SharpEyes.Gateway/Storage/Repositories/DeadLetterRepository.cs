using System.Data.Common;
using System.Text;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The <c>dead_letters</c> table: every refused message, by vendor and reason, stored as the JSON body published on the
/// vendor's dead-letter topic (UTF-8 text). The only code that names the table.
/// </summary>
public static class DeadLetterRepository
{
    /// <summary>
    /// Stores one dead letter refused for <paramref name="reason"/> at <paramref name="receivedAtMs"/> (Unix ms);
    /// <paramref name="body"/> is its UTF-8 JSON. Returns its id.
    /// </summary>
    public static long Insert(JournalTransaction tx, string vendorId, string reason, long receivedAtMs, byte[] body) =>
        tx.Scalar("INSERT INTO dead_letters(vendor_id, reason, received_at, data) VALUES(@p0,@p1,@p2,@p3) RETURNING id",
            vendorId, reason, receivedAtMs, Encoding.UTF8.GetString(body));

    /// <summary>Dead letter <paramref name="id"/>: its vendor, reason and UTF-8 JSON body; null when there is none (pruned).</summary>
    public static DeadLetterRow? Find(JournalTransaction tx, long id)
    {
        using var reader = tx.Bound("SELECT vendor_id, reason, data FROM dead_letters WHERE id = @p0", id).ExecuteReader();
        return reader.Read() ? new DeadLetterRow(reader.GetString(0), reader.GetString(1), Encoding.UTF8.GetBytes(reader.GetString(2))) : null;
    }

    /// <summary>Per reason, how many dead letters were received before <paramref name="cutoffMs"/> (Unix ms), capped at <paramref name="cap"/>.</summary>
    public static List<(string Reason, int Count)> CountOlderThanByReason(JournalTransaction tx, long cutoffMs, int cap)
    {
        using var reader = tx.Bound("SELECT reason, CASE WHEN COUNT(*) < @p1 THEN COUNT(*) ELSE @p1 END FROM dead_letters WHERE received_at < @p0 GROUP BY reason", cutoffMs, cap).ExecuteReader();
        var counts = new List<(string, int)>();
        while (reader.Read())
        {
            counts.Add((reader.GetString(0), reader.GetInt32Value(1)));
        }

        return counts;
    }

    /// <summary>Deletes up to <paramref name="maxRows"/> dead letters of <paramref name="reason"/> received before <paramref name="cutoffMs"/> (Unix ms); returns how many.</summary>
    public static int DeleteOlderThan(JournalTransaction tx, string reason, long cutoffMs, int maxRows) =>
        tx.Execute("DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE reason = @p0 AND received_at < @p1 LIMIT @p2)", reason, cutoffMs, maxRows);
}

/// <summary>A stored dead letter: the vendor it belongs to, why the message was refused, and its JSON body (UTF-8).</summary>
public sealed record DeadLetterRow(string VendorId, string Reason, byte[] Body);
