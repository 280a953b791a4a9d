using Google.Protobuf.WellKnownTypes;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The feed_events table through its repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class FeedRepositoryTests
{
    private static FeedEvent Event(long sequence, string region) => new()
    {
        Sequence = sequence,
        Kind = FeedEventKind.DeviceOnline,
        RegionCode = region,
        Reason = "heartbeat",
        OccurredAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero).AddSeconds(sequence)),
    };

    /// <summary>Events 1-5 in regions 330102, 330103, 330102, 330201, 330102, committed at 100, 200 ... 500 ms.</summary>
    private static readonly FeedEvent[] Five = [Event(1, "330102"), Event(2, "330103"), Event(3, "330102"), Event(4, "330201"), Event(5, "330102")];

    private static Task AppendFiveAsync(StoreUnderTest store) => store.WriteAsync(tx =>
    {
        foreach (var e in Five)
        {
            FeedRepository.Append(tx, e, e.Sequence * 100);
        }
    });

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(200)]
    public async Task A_batch_of_any_size_is_written_whole_in_sequence_order_through_multi_row_inserts(int count)
    {
        await using var store = await StoreUnderTest.OpenAsync();
        var events = Enumerable.Range(1, count).Select(i => Event(i, i % 3 == 0 ? "330103" : "330102")).ToArray();
        await store.WriteAsync(tx => FeedRepository.AppendAll(tx, events, 700));

        var read = new List<FeedEvent>();
        Assert.Equal(count, store.Read(c => FeedRepository.ReadAfter(c, 0, 1_000, "", read)));
        Assert.Equal(events, read); // every event once, in order, field for field
        Assert.Equal(count, store.Read(FeedRepository.LastSequence));
        Assert.Equal(count == 0 ? null : 700L, store.Read(c => FeedRepository.CommittedAtOfNext(c, 0)));
    }

    [Fact]
    public async Task Events_read_back_in_sequence_order_and_a_region_filter_still_reports_how_far_it_scanned()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        Assert.Equal(0, store.Read(FeedRepository.LastSequence)); // an empty feed
        await AppendFiveAsync(store);

        var all = new List<FeedEvent>();
        Assert.Equal(5, store.Read(c => FeedRepository.ReadAfter(c, 0, 100, "", all)));
        Assert.Equal(Five, all); // the protobuf bytes round-trip field for field

        var page = new List<FeedEvent>();
        Assert.Equal(4, store.Read(c => FeedRepository.ReadAfter(c, 1, 3, "3301", page))); // 2, 3, 4 scanned; 4 (330201) filtered out
        Assert.Equal([2L, 3L], page.Select(e => e.Sequence));

        var none = new List<FeedEvent>();
        Assert.Equal(5, store.Read(c => FeedRepository.ReadAfter(c, 5, 100, "", none))); // caught up: returns where it started
        Assert.Empty(none);

        Assert.Equal(5, store.Read(FeedRepository.LastSequence));
        Assert.Equal(5, await store.WriteAsync(tx => FeedRepository.LastSequence(tx)));
    }

    [Fact]
    public async Task The_commit_time_of_the_next_event_is_that_of_the_first_after_the_sequence_and_null_past_the_end()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        Assert.Null(store.Read(c => FeedRepository.CommittedAtOfNext(c, 0)));
        await AppendFiveAsync(store);
        Assert.Equal(100, store.Read(c => FeedRepository.CommittedAtOfNext(c, 0)));
        Assert.Equal(300, store.Read(c => FeedRepository.CommittedAtOfNext(c, 2)));
        Assert.Null(store.Read(c => FeedRepository.CommittedAtOfNext(c, 5)));
    }

    /// <summary>
    /// A retention pass reads the oldest max-rows events and stops there: when they are not old enough, nothing is
    /// prunable, even if a later event is (a replica whose clock ran behind). It used to search the whole feed for old
    /// events, reading every row of a young feed on every pass.
    /// </summary>
    [Fact]
    public async Task Retention_looks_only_at_the_oldest_max_rows_events()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            long[] committed = [900, 100, 100, 100, 100];
            foreach (var e in Five)
            {
                FeedRepository.Append(tx, e, committed[e.Sequence - 1]);
            }
        });

        await store.WriteAsync(tx =>
        {
            Assert.Equal(0, FeedRepository.PrunableThrough(tx, long.MaxValue, 300, 1));   // the oldest event is too new
            Assert.Equal(2, FeedRepository.PrunableThrough(tx, long.MaxValue, 300, 2));   // the second is old
            Assert.Equal(4, FeedRepository.PrunableThrough(tx, long.MaxValue, 300, 100)); // never the last one
        });
    }

    [Fact]
    public async Task Retention_takes_only_acknowledged_old_events_never_the_last_one_and_at_most_max_rows()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await AppendFiveAsync(store);
        await store.WriteAsync(tx =>
        {
            Assert.Equal(4, FeedRepository.PrunableThrough(tx, long.MaxValue, 10_000, 100)); // all old and acknowledged: all but the last
            Assert.Equal(2, FeedRepository.PrunableThrough(tx, 2, 10_000, 100));             // not past the lowest cursor
            Assert.Equal(2, FeedRepository.PrunableThrough(tx, long.MaxValue, 300, 100));    // committed strictly before the cutoff
            Assert.Equal(3, FeedRepository.PrunableThrough(tx, long.MaxValue, 10_000, 3));   // the oldest max rows
            Assert.Equal(0, FeedRepository.PrunableThrough(tx, long.MaxValue, 100, 100));    // nothing old enough
        });

        Assert.Equal(2, await store.WriteAsync(tx => FeedRepository.DeleteThrough(tx, 2)));
        var left = new List<FeedEvent>();
        store.Read(c => FeedRepository.ReadAfter(c, 0, 100, "", left));
        Assert.Equal([3L, 4L, 5L], left.Select(e => e.Sequence));
        Assert.Equal(5, store.Read(FeedRepository.LastSequence));
    }

    [Fact]
    public async Task A_rolled_back_append_leaves_no_event()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            FeedRepository.Append(tx, Event(1, "330102"), 100);
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Equal(0, store.Read(FeedRepository.LastSequence));
        Assert.Null(store.Read(c => FeedRepository.CommittedAtOfNext(c, 0)));
    }
}
