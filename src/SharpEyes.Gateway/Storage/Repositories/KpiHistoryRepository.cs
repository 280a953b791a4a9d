using System.Data.Common;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The <c>kpi_history</c> table: one row per region (code, "" for the whole gateway) and snapshot time (whole unix
/// seconds), holding the region's KPIs as Coverage/KpiSnapshots encodes them (an opaque blob here). The only code that
/// names the table.
/// </summary>
public static class KpiHistoryRepository
{
    /// <summary>Stores the snapshot of <paramref name="regionCode"/> at <paramref name="at"/> (whole seconds), replacing one taken at the same second.</summary>
    public static void Upsert(JournalTransaction tx, string regionCode, DateTimeOffset at, byte[] kpis) =>
        tx.Execute("INSERT INTO kpi_history(region_code, at, kpis) VALUES(@p0, @p1, @p2) ON CONFLICT(region_code, at) DO UPDATE SET kpis = excluded.kpis",
            regionCode, at.ToUnixTimeSeconds(), kpis);

    /// <summary>Deletes the snapshots of <paramref name="regionCode"/> taken before <paramref name="cut"/> (whole seconds); returns how many.</summary>
    public static int DeleteOlderThan(JournalTransaction tx, string regionCode, DateTimeOffset cut) =>
        tx.Execute("DELETE FROM kpi_history WHERE region_code = @p0 AND at < @p1", regionCode, cut.ToUnixTimeSeconds());

    /// <summary>Deletes every region's snapshots taken before <paramref name="cut"/> (whole seconds); returns how many.</summary>
    public static int DeleteAllOlderThan(JournalTransaction tx, DateTimeOffset cut) =>
        tx.Execute("DELETE FROM kpi_history WHERE at < @p0", cut.ToUnixTimeSeconds());

    /// <summary>When the latest snapshot of <paramref name="regionCode"/> was taken, or null when it has none.</summary>
    public static DateTimeOffset? LatestAt(DbConnection connection, string regionCode)
    {
        using var command = connection.Sql("SELECT MAX(at) FROM kpi_history WHERE region_code = @code").With("code", regionCode);
        return command.ExecuteScalar() is { } value and not DBNull
            ? DateTimeOffset.FromUnixTimeSeconds(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture))
            : null;
    }

    /// <summary>The snapshots of <paramref name="regionCode"/> taken at a whole second inside [<paramref name="since"/>, <paramref name="until"/>], oldest first.</summary>
    public static List<KpiHistoryRow> Range(DbConnection connection, string regionCode, DateTimeOffset since, DateTimeOffset until)
    {
        using var command = connection.Sql("SELECT at, kpis FROM kpi_history WHERE region_code = @code AND at >= @since AND at <= @until ORDER BY at");
        command.With("code", regionCode);
        command.With("since", (since.ToUnixTimeMilliseconds() + 999) / 1000);
        command.With("until", Math.Floor(until.ToUnixTimeMilliseconds() / 1000.0));
        var rows = new List<KpiHistoryRow>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rows.Add(new KpiHistoryRow(DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(0)), (byte[])reader.GetValue(1)));
        }

        return rows;
    }
}

/// <summary>One stored KPI snapshot of a region: when it was taken and its encoded KPIs.</summary>
public sealed record KpiHistoryRow(DateTimeOffset At, byte[] Kpis);
