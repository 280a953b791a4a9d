using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage.Postgres;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The intake counts read in one statement, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class IntakeCountRepositoryTests
{
    [Fact]
    public async Task Alarms_dead_letters_by_reason_and_the_named_and_prefixed_counters_come_with_the_statements_snapshot()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        var empty = store.Read(c => IntakeCountRepository.Read(c, ["alarms.duplicates"], "dead_letters.pruned:"));
        Assert.Equal((0L, 0, 0), (empty.Alarms, empty.DeadLettersByReason.Count, empty.Counters.Count));

        var t0 = new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);
        await store.WriteAsync(tx =>
        {
            for (var i = 0; i < 3; i++)
            {
                AlarmRepository.Insert(tx, new AlarmRecord("hik", $"e-{i}", "13013300001340000001", t0, t0, 1, 2, 0, "", default, true,
                    Geo.Regions.RegionCodes.None, [], [], "inc_a"), t0.ToUnixTimeMilliseconds());
            }

            DeadLetterRepository.Insert(tx, "hik", DeadLetterReasons.Malformed, 1, [1]);
            DeadLetterRepository.Insert(tx, "hik", DeadLetterReasons.Malformed, 2, [2]);
            DeadLetterRepository.Insert(tx, "dahua", DeadLetterReasons.UnknownDevice, 3, [3]);
            CounterRepository.Add(tx, "alarms.duplicates", 7);
            CounterRepository.Add(tx, "alarms.pruned", 11); // neither named nor prefixed: not read
            CounterRepository.Add(tx, "dead_letters.pruned:malformed", 5);
            CounterRepository.Add(tx, "dead_letters_pruned:x", 1); // '_' is LIKE's any character: filtered out
        });

        var read = store.Read(c => IntakeCountRepository.Read(c, ["alarms.duplicates"], "dead_letters.pruned:"));
        Assert.Equal(3, read.Alarms);
        Assert.Equal(new Dictionary<string, long> { [DeadLetterReasons.Malformed] = 2, [DeadLetterReasons.UnknownDevice] = 1 }, read.DeadLettersByReason);
        Assert.Equal(new Dictionary<string, long> { ["alarms.duplicates"] = 7, ["dead_letters.pruned:malformed"] = 5 }, read.Counters);
        if (store.IsPostgres)
        {
            Assert.NotNull(PgSnapshot.Parse(read.Snapshot)); // what a rebuild keeps to tell the announcements it holds
        }
        else
        {
            Assert.Null(read.Snapshot);
        }
    }
}
