using System.Text;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The alarms table through its repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class AlarmRepositoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);

    private static AlarmRecord Alarm(string vendor, string eventId, string incidentId, string description = "") => new(
        vendor, eventId, "33010200001320000001", T0, T0.AddSeconds(1), 2, 5, 6, description, new GeoPosition(114.61, 37.61), false,
        new RegionCodes("1301330010010001", "130133001001", "130133001", "130133"),
        [new KeySiteNearby("KS-1", "高邑县第一中学", "school", 5, 12.5)], ["13013300001320000007"], incidentId);

    [Fact]
    public async Task A_vendors_event_id_is_stored_once_and_an_incidents_alarms_read_back_oldest_first()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        var first = Alarm("hik", "e-1", "inc_a", "first");
        var later = Alarm("hik", "e-2", "inc_a");
        var otherVendor = Alarm("dahua", "e-1", "inc_b"); // the same event id from another vendor is another alarm
        await store.WriteAsync(tx =>
        {
            Assert.True(AlarmRepository.Insert(tx, later, 2_000));
            Assert.True(AlarmRepository.Insert(tx, first, 1_000));
            Assert.True(AlarmRepository.Insert(tx, otherVendor, 1_500));
        });
        Assert.False(await store.WriteAsync(tx => AlarmRepository.Insert(tx, Alarm("hik", "e-1", "inc_c", "resent"), 3_000)));

        Assert.Equal(3, store.Read(c => IntakeCountRepository.Read(c, [], "none:").Alarms));
        Assert.Equal([first, later], store.Read(c => AlarmRepository.LoadByIncident(c, "inc_a"))); // the resend replaced nothing
        Assert.Equal([otherVendor], store.Read(c => AlarmRepository.LoadByIncident(c, "inc_b")));
        Assert.Empty(store.Read(c => AlarmRepository.LoadByIncident(c, "inc_c")));
    }

    [Fact]
    public async Task Many_alarm_keys_are_looked_up_and_stored_in_statements_of_up_to_64_and_a_stored_key_is_not_stored_again()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx => AlarmRepository.Insert(tx, Alarm("hik", "e-007", "inc_a"), 500));

        // 100 keys (statements of 64 and 64, the last key repeated 28 times); e-007 stored already, "dahua" never.
        var keys = Enumerable.Range(0, 100).Select(i => new AlarmKey("hik", $"e-{i:D3}")).Append(new AlarmKey("dahua", "e-007")).ToList();
        var stored = await store.WriteAsync(tx => AlarmRepository.ExistingKeys(tx, keys));
        Assert.Equal([new AlarmKey("hik", "e-007")], stored);

        // 70 new rows in statements of 64, 4 and 2, and one already stored: 70 stored, the caller's conflict to handle.
        var rows = Enumerable.Range(0, 71).Select(i => new AlarmInsert(Alarm("hik", $"e-{i:D3}", "inc_b", $"row {i}"), 1_000 + i)).ToList();
        Assert.Equal(70, await store.WriteAsync(tx => AlarmRepository.InsertAll(tx, rows)));
        Assert.Equal(71, store.Read(c => IntakeCountRepository.Read(c, [], "none:").Alarms));
        Assert.Equal([Alarm("hik", "e-007", "inc_a")], store.Read(c => AlarmRepository.LoadByIncident(c, "inc_a"))); // the stored one kept
        Assert.Equal(rows.Where(r => r.EventId != "e-007").Select(r => r.EventId), store.Read(c => AlarmRepository.LoadByIncident(c, "inc_b")).Select(a => a.EventId));
        Assert.Equal(Enumerable.Range(0, 71).Select(i => new AlarmKey("hik", $"e-{i:D3}")).ToHashSet(), await store.WriteAsync(tx => AlarmRepository.ExistingKeys(tx, keys)));
    }

    [Fact]
    public async Task Retention_deletes_only_alarms_received_before_the_cutoff_and_at_most_max_rows()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            for (var i = 1; i <= 5; i++)
            {
                AlarmRepository.Insert(tx, Alarm("hik", "e-" + i, "inc_a"), i * 1_000);
            }
        });

        Assert.Equal(2, await store.WriteAsync(tx => AlarmRepository.DeleteOlderThan(tx, 4_000, 2)));   // 3 are older: capped at 2
        Assert.Equal(1, await store.WriteAsync(tx => AlarmRepository.DeleteOlderThan(tx, 4_000, 100))); // received at 4,000 is not older
        Assert.Equal(["e-4", "e-5"], store.Read(c => AlarmRepository.LoadByIncident(c, "inc_a")).Select(a => a.EventId));
        Assert.Equal(0, await store.WriteAsync(tx => AlarmRepository.DeleteOlderThan(tx, 4_000, 100)));
    }

    [Fact]
    public async Task A_rolled_back_insert_leaves_no_alarm()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            AlarmRepository.Insert(tx, Alarm("hik", "e-1", "inc_a"), 1_000);
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Equal(0, store.Read(c => IntakeCountRepository.Read(c, [], "none:").Alarms));
        Assert.True(await store.WriteAsync(tx => AlarmRepository.Insert(tx, Alarm("hik", "e-1", "inc_a"), 1_000))); // not a duplicate
    }

    /// <summary>
    /// The intake counters at start are stored rows plus what retention deleted, read from three repositories. Pruned dead
    /// letters count under their own reason (the UNION this replaced cut one character too many off the counter's name).
    /// </summary>
    [Fact]
    public async Task Intake_stats_load_stored_rows_plus_the_pruned_counters_under_each_reason()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        var body = Encoding.UTF8.GetBytes("{}");
        await store.WriteAsync(tx =>
        {
            AlarmRepository.Insert(tx, Alarm("hik", "e-1", "inc_a"), 1_000);
            AlarmRepository.Insert(tx, Alarm("hik", "e-2", "inc_a"), 1_000);
            CounterRepository.Add(tx, "alarms.pruned", 10);
            CounterRepository.Add(tx, "alarms.duplicates", 4);
            DeadLetterRepository.Insert(tx, "hik", DeadLetterReasons.Malformed, 1_000, body);
            DeadLetterRepository.Insert(tx, "hik", DeadLetterReasons.UnknownDevice, 1_000, body);
            CounterRepository.Add(tx, "dead_letters.pruned:" + DeadLetterReasons.Malformed, 7);
        });

        var stats = new AlarmStats();
        store.Read(c =>
        {
            stats.Load(c);
            return true;
        });
        Assert.Equal(12, stats.Accepted);
        Assert.Equal(4, stats.Duplicates);
        Assert.Equal(8, stats.DeadLetters[DeadLetterReasons.Malformed]);
        Assert.Equal(1, stats.DeadLetters[DeadLetterReasons.UnknownDevice]);
        Assert.Equal(0, stats.DeadLetters[DeadLetterReasons.Oversized]); // every known reason is listed
        Assert.Equal(DeadLetterReasons.All.Count, stats.DeadLetters.Count); // nothing under a mangled name
        Assert.Equal(25, stats.Received);
    }
}
