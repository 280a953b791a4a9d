using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The outbox_cursors table through its repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class OutboxCursorRepositoryTests
{
    [Fact]
    public async Task A_cursor_is_stored_moves_forward_and_with_no_lease_holder_moves_back()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        Assert.Equal(0, store.Read(c => OutboxCursorRepository.Read(c, "centre"))); // no cursor reads as 0
        Assert.Empty(store.Read(OutboxCursorRepository.LoadAll));

        Assert.Equal(1, await store.WriteAsync(tx => OutboxCursorRepository.Save(tx, "centre", 10, "replica-a")));
        Assert.Equal(1, await store.WriteAsync(tx => OutboxCursorRepository.Save(tx, "other", 3, "replica-a")));
        Assert.Equal(1, await store.WriteAsync(tx => OutboxCursorRepository.Save(tx, "centre", 25, "replica-a")));
        Assert.Equal(25, store.Read(c => OutboxCursorRepository.Read(c, "centre")));

        // The endpoint lost events: with no lease row (SQLite, or nobody took it) any replica may move it back.
        Assert.Equal(1, await store.WriteAsync(tx => OutboxCursorRepository.Save(tx, "centre", 7, "replica-b")));
        Assert.Equal(new Dictionary<string, long> { ["centre"] = 7, ["other"] = 3 }, store.Read(OutboxCursorRepository.LoadAll));
    }

    [Fact]
    public async Task Only_the_lease_holder_moves_a_cursor_back_while_anyone_moves_it_forward()
    {
        await using var store = await LeaseRepositoryTests.OpenWhereLeasesAreTakenAsync();

        await using (var connection = store.Store.OpenRead())
        {
            Assert.NotNull(await LeaseRepository.TakeAsync(connection, "centre", "replica-a", 60_000, CancellationToken.None));
        }

        await store.WriteAsync(tx => OutboxCursorRepository.Save(tx, "centre", 20, "replica-a"));
        Assert.Equal(0, await store.WriteAsync(tx => OutboxCursorRepository.Save(tx, "centre", 5, "replica-b"))); // late writer, not the holder
        Assert.Equal(20, store.Read(c => OutboxCursorRepository.Read(c, "centre")));
        Assert.Equal(1, await store.WriteAsync(tx => OutboxCursorRepository.Save(tx, "centre", 30, "replica-b"))); // the endpoint's own word
        Assert.Equal(1, await store.WriteAsync(tx => OutboxCursorRepository.Save(tx, "centre", 12, "replica-a"))); // the holder may
        Assert.Equal(12, store.Read(c => OutboxCursorRepository.Read(c, "centre")));
    }

    [Fact]
    public async Task A_rolled_back_save_leaves_no_cursor()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            OutboxCursorRepository.Save(tx, "centre", 9, "replica-a");
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Equal(0, store.Read(c => OutboxCursorRepository.Read(c, "centre")));
    }
}
