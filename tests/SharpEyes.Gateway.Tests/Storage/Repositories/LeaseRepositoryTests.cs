using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>
/// The outbox_leases table through its repository. Taking a lease compares expiry in the database server's clock, so
/// it runs on PostgreSQL only (a SQLite store's one process holds every lease without a row); reading and releasing
/// are checked on both engines.
/// </summary>
public sealed class LeaseRepositoryTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>A store of the run's engine when it is PostgreSQL; on SQLite the test is skipped (no lease is taken there).</summary>
    /// <summary>Leases are taken in the store only on PostgreSQL (SQLite has one process): these run on it in both passes.</summary>
    internal static Task<StoreUnderTest> OpenWhereLeasesAreTakenAsync() => StoreUnderTest.OpenAsync(postgres: true);

    [Fact]
    public async Task With_no_lease_row_nobody_holds_it_and_a_release_changes_nothing()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await using var connection = store.Store.OpenRead();
        Assert.Null(await LeaseRepository.HolderAndCursorAsync(connection, "centre", None));
        Assert.Equal(0, await LeaseRepository.ReleaseAsync(connection, "centre", "replica-a"));
    }

    [Fact]
    public async Task One_replica_holds_a_lease_until_it_expires_or_is_released_and_the_next_taker_learns_who_held_it()
    {
        await using var store = await OpenWhereLeasesAreTakenAsync();

        await using var connection = store.Store.OpenRead();
        Assert.Equal(new LeaseTaken(null), await LeaseRepository.TakeAsync(connection, "centre", "replica-a", 60_000, None)); // a new row
        Assert.Null(await LeaseRepository.TakeAsync(connection, "centre", "replica-b", 60_000, None)); // held and not expired
        Assert.Equal(new LeaseTaken("replica-a"), await LeaseRepository.TakeAsync(connection, "centre", "replica-a", 60_000, None)); // a renewal

        // The standby's look: the holder and the endpoint's cursor beside it.
        Assert.Equal(new LeaseHolderRow("replica-a", 0), await LeaseRepository.HolderAndCursorAsync(connection, "centre", None));
        await store.WriteAsync(tx => OutboxCursorRepository.Save(tx, "centre", 42, "replica-a"));
        Assert.Equal(new LeaseHolderRow("replica-a", 42), await LeaseRepository.HolderAndCursorAsync(connection, "centre", None));

        // Only the holder releases; then the other takes it over at once.
        Assert.Equal(0, await LeaseRepository.ReleaseAsync(connection, "centre", "replica-b"));
        Assert.Null(await LeaseRepository.TakeAsync(connection, "centre", "replica-b", 60_000, None));
        Assert.Equal(1, await LeaseRepository.ReleaseAsync(connection, "centre", "replica-a"));
        Assert.Equal(new LeaseTaken("replica-a"), await LeaseRepository.TakeAsync(connection, "centre", "replica-b", 60_000, None));

        // Leases are per name: a leader duty is independent of the endpoint of the same store.
        Assert.Equal(new LeaseTaken(null), await LeaseRepository.TakeAsync(connection, "leader:streams", "replica-a", 60_000, None));
        Assert.Equal(new LeaseHolderRow("replica-a", 0), await LeaseRepository.HolderAndCursorAsync(connection, "leader:streams", None));
    }

    [Fact]
    public async Task An_expired_lease_is_taken_over_without_a_release()
    {
        await using var store = await OpenWhereLeasesAreTakenAsync();

        await using var connection = store.Store.OpenRead();
        Assert.NotNull(await LeaseRepository.TakeAsync(connection, "centre", "replica-a", -1, None)); // expired as soon as taken
        Assert.Equal(new LeaseTaken("replica-a"), await LeaseRepository.TakeAsync(connection, "centre", "replica-b", 60_000, None));
        Assert.Equal("replica-b", (await LeaseRepository.HolderAndCursorAsync(connection, "centre", None))!.Holder);
    }
}
