using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The counters table through its repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class CounterRepositoryTests
{
    [Fact]
    public async Task Counters_add_up_across_commits_and_a_raise_never_lowers()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        Assert.Equal(0, store.Read(c => CounterRepository.Read(c, "alarms.pruned"))); // never written reads as 0

        await store.WriteAsync(tx => CounterRepository.Add(tx, "alarms.pruned", 5));
        await store.WriteAsync(tx =>
        {
            CounterRepository.Add(tx, "alarms.pruned", 7);
            Assert.Equal(12, CounterRepository.Read(tx, "alarms.pruned")); // the transaction sees its own write
        });
        Assert.Equal(12, store.Read(c => CounterRepository.Read(c, "alarms.pruned")));

        await store.WriteAsync(tx => CounterRepository.RaiseTo(tx, "feed.pruned_through", 40));
        await store.WriteAsync(tx => CounterRepository.RaiseTo(tx, "feed.pruned_through", 30));
        Assert.Equal(40, store.Read(c => CounterRepository.Read(c, "feed.pruned_through")));
    }

    [Fact]
    public async Task A_prefix_reads_only_the_counters_that_start_with_it()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            CounterRepository.Add(tx, "dead_letters.pruned:malformed", 3);
            CounterRepository.Add(tx, "dead_letters.pruned:invalid-field", 4);
            CounterRepository.Add(tx, "dead_lettersXpruned:other", 9); // '_' is LIKE's wildcard: must not match
            CounterRepository.Add(tx, "alarms.pruned", 1);
        });

        var read = store.Read(c => CounterRepository.ReadPrefixed(c, "dead_letters.pruned:"));
        Assert.Equal(new Dictionary<string, long>
        {
            ["dead_letters.pruned:malformed"] = 3,
            ["dead_letters.pruned:invalid-field"] = 4,
        }, read);
    }

    [Fact]
    public async Task A_rolled_back_transaction_leaves_no_count()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            CounterRepository.Add(tx, "audit.pruned", 2);
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Equal(0, store.Read(c => CounterRepository.Read(c, "audit.pruned")));
    }
}
