using System.Data.Common;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The <c>coverage_gaps</c> table: the gaps open now, one row per gap id holding the gap as it was opened (the
/// contract's <see cref="CoverageGap"/> as protobuf: <see cref="CoverageGapWire"/>). A row exists exactly while its gap
/// is open, so with several replicas on one store the insert or delete that changes a row is the one that announces the
/// gap. The only code that names the table.
/// </summary>
public static class CoverageGapRepository
{
    /// <summary>Every open gap.</summary>
    public static List<CoverageGapRecord> LoadAll(DbConnection connection)
    {
        var gaps = new List<CoverageGapRecord>();
        using var command = connection.Sql("SELECT data FROM coverage_gaps");
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            gaps.Add(CoverageGap.Parser.ParseFrom((byte[])reader[0]).ToDomain());
        }

        return gaps;
    }

    /// <summary>The open gap <paramref name="gapId"/> as stored, or null when it is not open.</summary>
    public static CoverageGapRecord? Find(JournalTransaction tx, string gapId) =>
        tx.Bound("SELECT data FROM coverage_gaps WHERE gap_id = @p0", gapId).ExecuteScalar() is byte[] data ? CoverageGap.Parser.ParseFrom(data).ToDomain() : null;

    /// <summary>Stores <paramref name="gap"/> as open under its id; false (and nothing changed) when that gap is open already.</summary>
    public static bool Open(JournalTransaction tx, CoverageGapRecord gap) =>
        tx.Execute("INSERT INTO coverage_gaps(gap_id, data) VALUES(@p0, @p1) ON CONFLICT(gap_id) DO NOTHING", gap.GapId, gap.ToWire().ToByteArray()) > 0;

    /// <summary>Deletes the open gap <paramref name="gapId"/>; false when it was not open.</summary>
    public static bool Close(JournalTransaction tx, string gapId) =>
        tx.Execute("DELETE FROM coverage_gaps WHERE gap_id = @p0", gapId) > 0;
}
