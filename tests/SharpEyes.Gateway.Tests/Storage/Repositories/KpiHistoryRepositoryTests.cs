using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The kpi_history table through its repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class KpiHistoryRepositoryTests
{
    private const string Grid = "1301271002010001";
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset At(int minutes) => s_t0.AddMinutes(minutes);

    [Fact]
    public async Task A_range_is_the_regions_snapshots_at_whole_seconds_inside_it_oldest_first()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            KpiHistoryRepository.Upsert(tx, Grid, At(30), [3]);
            KpiHistoryRepository.Upsert(tx, Grid, At(10), [1]);
            KpiHistoryRepository.Upsert(tx, Grid, At(20), [2]);
            KpiHistoryRepository.Upsert(tx, "", At(20), [9]); // another region
        });
        await store.WriteAsync(tx => KpiHistoryRepository.Upsert(tx, Grid, At(20).AddMilliseconds(400), [22])); // same second: replaces

        var all = store.Read(c => KpiHistoryRepository.Range(c, Grid, At(0), At(60)));
        Assert.Equal([(At(10), 1), (At(20), 22), (At(30), 3)], all.Select(r => (r.At, (int)Assert.Single(r.Kpis))));

        // Both ends inclusive; a fractional since rounds up and a fractional until down to whole seconds.
        Assert.Equal([At(10), At(20)], store.Read(c => KpiHistoryRepository.Range(c, Grid, At(10), At(20))).Select(r => r.At));
        Assert.Equal([At(20)], store.Read(c => KpiHistoryRepository.Range(c, Grid, At(10).AddMilliseconds(1), At(30).AddMilliseconds(-1))).Select(r => r.At));
        Assert.Empty(store.Read(c => KpiHistoryRepository.Range(c, "130127", At(0), At(60))));
    }

    [Fact]
    public async Task Pruning_deletes_strictly_before_the_cut_in_one_region_or_in_all()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            foreach (var region in new[] { Grid, "" })
            {
                foreach (var minutes in new[] { 0, 10, 20 })
                {
                    KpiHistoryRepository.Upsert(tx, region, At(minutes), [(byte)minutes]);
                }
            }
        });

        Assert.Equal(1, await store.WriteAsync(tx => KpiHistoryRepository.DeleteOlderThan(tx, Grid, At(10)))); // the row at the cut stays
        Assert.Equal(0, await store.WriteAsync(tx => KpiHistoryRepository.DeleteOlderThan(tx, Grid, At(10))));
        Assert.Equal([At(10), At(20)], store.Read(c => KpiHistoryRepository.Range(c, Grid, At(0), At(60))).Select(r => r.At));
        Assert.Equal(3, store.Read(c => KpiHistoryRepository.Range(c, "", At(0), At(60))).Count); // other regions untouched

        Assert.Equal(3, await store.WriteAsync(tx => KpiHistoryRepository.DeleteAllOlderThan(tx, At(20)))); // Grid's 10, ""'s 0 and 10
        Assert.Equal([At(20)], store.Read(c => KpiHistoryRepository.Range(c, Grid, At(0), At(60))).Select(r => r.At));
        Assert.Equal([At(20)], store.Read(c => KpiHistoryRepository.Range(c, "", At(0), At(60))).Select(r => r.At));
    }

    [Fact]
    public async Task The_latest_snapshot_is_per_region_and_null_before_the_first()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        Assert.Null(store.Read(c => KpiHistoryRepository.LatestAt(c, "")));
        await store.WriteAsync(tx =>
        {
            KpiHistoryRepository.Upsert(tx, "", At(10), [1]);
            KpiHistoryRepository.Upsert(tx, "", At(5), [1]);
            KpiHistoryRepository.Upsert(tx, Grid, At(30), [1]);
        });

        Assert.Equal(At(10), store.Read(c => KpiHistoryRepository.LatestAt(c, "")));
        Assert.Equal(At(30), store.Read(c => KpiHistoryRepository.LatestAt(c, Grid)));
        Assert.Null(store.Read(c => KpiHistoryRepository.LatestAt(c, "130127")));
    }

    [Fact]
    public async Task A_rolled_back_snapshot_leaves_no_row()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            KpiHistoryRepository.Upsert(tx, "", At(0), [1]);
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Null(store.Read(c => KpiHistoryRepository.LatestAt(c, "")));
    }
}
