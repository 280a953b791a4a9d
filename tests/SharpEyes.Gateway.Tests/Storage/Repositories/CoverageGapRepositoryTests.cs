using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The coverage_gaps table through its repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class CoverageGapRepositoryTests
{
    private static CoverageGapRecord Gap(string code, double fraction) => new(
        "grid:" + code, CoverageGapKind.Grid, code, "西格", "", 0, code, true, fraction, 0.03, 1, 2, 0,
        [new GapCause("13012700001320000001", CoverageChange.CameraOffline)], new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task A_gap_opens_once_and_the_first_stored_state_wins()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        var first = Gap("1301271002010001", 0.01);
        Assert.True(await store.WriteAsync(tx => CoverageGapRepository.Open(tx, first)));

        // Another replica's attempt at the same gap changes nothing and says so.
        var second = Gap("1301271002010001", 0.02);
        await store.WriteAsync(tx =>
        {
            Assert.False(CoverageGapRepository.Open(tx, second));
            Assert.Equal(first, CoverageGapRepository.Find(tx, first.GapId));
            Assert.Null(CoverageGapRepository.Find(tx, "grid:elsewhere"));
        });

        Assert.Equal([first], store.Read(c => CoverageGapRepository.LoadAll(c)));
    }

    [Fact]
    public async Task A_gap_closes_once_and_only_its_own_row_goes()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        var west = Gap("1301271002010001", 0.01);
        var east = Gap("1301271002010002", 0);
        await store.WriteAsync(tx =>
        {
            CoverageGapRepository.Open(tx, west);
            CoverageGapRepository.Open(tx, east);
        });

        Assert.True(await store.WriteAsync(tx => CoverageGapRepository.Close(tx, west.GapId)));
        Assert.False(await store.WriteAsync(tx => CoverageGapRepository.Close(tx, west.GapId))); // closed already
        Assert.Equal([east], store.Read(c => CoverageGapRepository.LoadAll(c)));

        // Closed, it may open again.
        Assert.True(await store.WriteAsync(tx => CoverageGapRepository.Open(tx, west)));
        Assert.Equal(2, store.Read(c => CoverageGapRepository.LoadAll(c)).Count);
    }

    [Fact]
    public async Task A_rolled_back_opening_leaves_no_gap()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            CoverageGapRepository.Open(tx, Gap("1301271002010001", 0.01));
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Empty(store.Read(c => CoverageGapRepository.LoadAll(c)));
    }
}
