using System.Text;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The dead_letters table through its repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class DeadLetterRepositoryTests
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"reason":"malformed","detail":"不是 JSON"}""");

    /// <summary>Malformed at 1,000, 2,000, 3,000 and 4,000 ms; unknown-device at 1,000 and 5,000 ms.</summary>
    private static Task InsertSixAsync(StoreUnderTest store) => store.WriteAsync(tx =>
    {
        for (var i = 1; i <= 4; i++)
        {
            DeadLetterRepository.Insert(tx, "hik", DeadLetterReasons.Malformed, i * 1_000, Body);
        }

        DeadLetterRepository.Insert(tx, "dahua", DeadLetterReasons.UnknownDevice, 1_000, Body);
        DeadLetterRepository.Insert(tx, "dahua", DeadLetterReasons.UnknownDevice, 5_000, Body);
    });

    [Fact]
    public async Task Dead_letters_are_counted_per_reason()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        Assert.Empty(store.Read(c => IntakeCountRepository.Read(c, [], "none:").DeadLettersByReason));
        await InsertSixAsync(store);
        Assert.Equal(new Dictionary<string, long>
        {
            [DeadLetterReasons.Malformed] = 4,
            [DeadLetterReasons.UnknownDevice] = 2,
        }, store.Read(c => IntakeCountRepository.Read(c, [], "none:").DeadLettersByReason));
    }

    [Fact]
    public async Task Retention_counts_and_deletes_per_reason_only_letters_before_the_cutoff_within_the_cap()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await InsertSixAsync(store);
        await store.WriteAsync(tx =>
        {
            // Before 4,000: malformed 1,000-3,000 (3, capped at 2) and unknown-device 1,000 (1); 4,000 itself is not older.
            var counts = DeadLetterRepository.CountOlderThanByReason(tx, 4_000, 2).OrderBy(c => c.Reason, StringComparer.Ordinal).ToList();
            Assert.Equal([(DeadLetterReasons.Malformed, 2), (DeadLetterReasons.UnknownDevice, 1)], counts);

            Assert.Equal(2, DeadLetterRepository.DeleteOlderThan(tx, DeadLetterReasons.Malformed, 4_000, 2));
            Assert.Equal(1, DeadLetterRepository.DeleteOlderThan(tx, DeadLetterReasons.Malformed, 4_000, 100));
            Assert.Equal(0, DeadLetterRepository.DeleteOlderThan(tx, DeadLetterReasons.Malformed, 4_000, 100));
        });

        Assert.Equal(new Dictionary<string, long>
        {
            [DeadLetterReasons.Malformed] = 1,     // the one at 4,000
            [DeadLetterReasons.UnknownDevice] = 2, // another reason's letters are not touched
        }, store.Read(c => IntakeCountRepository.Read(c, [], "none:").DeadLettersByReason));
    }

    [Fact]
    public async Task An_insert_returns_the_id_by_which_another_replica_finds_the_letter_byte_for_byte()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        var (first, second) = await store.WriteAsync(tx => (
            DeadLetterRepository.Insert(tx, "hik", DeadLetterReasons.Malformed, 1_000, Body),
            DeadLetterRepository.Insert(tx, "dahua", DeadLetterReasons.UnknownDevice, 2_000, Encoding.UTF8.GetBytes("{}"))));
        Assert.True(second > first, $"ids {first}, {second}");

        var found = await store.WriteAsync(tx => (DeadLetterRepository.Find(tx, first), DeadLetterRepository.Find(tx, second), DeadLetterRepository.Find(tx, second + 1)));
        Assert.Equal(("hik", DeadLetterReasons.Malformed), (found.Item1!.VendorId, found.Item1.Reason));
        Assert.Equal(Body, found.Item1.Body); // the UTF-8 JSON as published, Chinese text included
        Assert.Equal(("dahua", DeadLetterReasons.UnknownDevice, "{}"), (found.Item2!.VendorId, found.Item2.Reason, Encoding.UTF8.GetString(found.Item2.Body)));
        Assert.Null(found.Item3); // none (or pruned)
    }

    [Fact]
    public async Task A_rolled_back_insert_leaves_no_dead_letter()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            DeadLetterRepository.Insert(tx, "hik", DeadLetterReasons.Malformed, 1_000, Body);
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Empty(store.Read(c => IntakeCountRepository.Read(c, [], "none:").DeadLettersByReason));
    }
}
