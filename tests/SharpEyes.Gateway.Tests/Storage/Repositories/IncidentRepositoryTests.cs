using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;
using RegionCodes = SharpEyes.Geo.Regions.RegionCodes;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The incidents table through its repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class IncidentRepositoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);

    private static IncidentRecord Incident(string id, string key, string grid, int openedSeconds, int updatedSeconds) => new(
        id, IncidentState.Open, key, "va-intrusion", 2, new RegionCodes(grid, "", "", grid[..6]), new GeoPosition(114.61, 37.61),
        [new KeySiteNearby("KS-1", "高邑县第一中学", "school", 5, 0)], ["13013300001320000007"], 1, null,
        T0.AddSeconds(openedSeconds), T0.AddSeconds(updatedSeconds));

    private static long Ms(int seconds) => T0.AddSeconds(seconds).ToUnixTimeMilliseconds();

    [Fact]
    public async Task An_upsert_replaces_state_data_and_acknowledgement_and_open_reads_follow_it()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        var open = Incident("inc_1", "3301020010010001|va-intrusion", "3301020010010001", 0, 10);
        await store.WriteAsync(tx => IncidentRepository.Upsert(tx, open, "3301020010010001"));
        Assert.Equal(open, store.Read(c => IncidentRepository.Get(c, "inc_1")));
        Assert.Equal([new IncidentRow(open, Ms(10))], store.Read(IncidentRepository.LoadOpen));
        Assert.Equal(1, store.Read(IncidentRepository.CountOpen));

        var acknowledged = open with
        {
            AlarmCount = 2,
            UpdatedAt = T0.AddSeconds(20),
            Acknowledgement = new Acknowledgement(T0.AddSeconds(25), "key-op", Role.Operator, "on it"),
        };
        await store.WriteAsync(tx =>
        {
            IncidentRepository.Upsert(tx, acknowledged, "3301020010010001");
            Assert.Equal(new IncidentRow(acknowledged, Ms(20)), IncidentRepository.FindOpen(tx, "inc_1")); // the transaction sees its own write
        });
        Assert.Equal(acknowledged, store.Read(c => IncidentRepository.Get(c, "inc_1")));

        var closed = acknowledged with { State = IncidentState.Closed, ClosedAt = T0.AddSeconds(30), CloseReason = "quiet-period" };
        await store.WriteAsync(tx =>
        {
            IncidentRepository.Upsert(tx, closed, "3301020010010001");
            Assert.Null(IncidentRepository.FindOpen(tx, "inc_1"));
            Assert.Equal("3301020010010001|va-intrusion", IncidentRepository.CorrelationKeyOf(tx, "inc_1")); // closed ones too
            Assert.Null(IncidentRepository.CorrelationKeyOf(tx, "inc_unknown"));
        });
        Assert.Equal(closed, store.Read(c => IncidentRepository.Get(c, "inc_1")));
        Assert.Empty(store.Read(IncidentRepository.LoadOpen));
        Assert.Equal(0, store.Read(IncidentRepository.CountOpen));
        Assert.Null(store.Read(c => IncidentRepository.Get(c, "inc_unknown")));
    }

    [Fact]
    public async Task A_keys_open_incidents_read_least_recently_updated_first_and_opened_since_includes_its_boundary()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        const string key = "3301020010010001|va-intrusion";
        var newer = Incident("inc_a", key, "3301020010010001", 5, 50);
        var older = Incident("inc_b", key, "3301020010010001", 0, 40);
        var otherKey = Incident("inc_c", "3301020010010002|va-intrusion", "3301020010010002", 10, 10);
        var closed = Incident("inc_d", key, "3301020010010001", 0, 1) with { State = IncidentState.Closed };
        await store.WriteAsync(tx =>
        {
            foreach (var incident in new[] { newer, older, otherKey, closed })
            {
                IncidentRepository.Upsert(tx, incident, incident.Region.GridCode);
            }
        });

        var byKey = await store.WriteAsync(tx => IncidentRepository.LoadOpenByKeys(tx, [key]));
        Assert.Equal(["inc_b", "inc_a"], byKey.Select(r => r.Incident.IncidentId));
        Assert.Equal([Ms(40), Ms(50)], byKey.Select(r => r.UpdatedAtMs));
        var byKeys = await store.WriteAsync(tx => IncidentRepository.LoadOpenByKeys(tx, ["no-such-key", otherKey.CorrelationKey, key]));
        Assert.Equal(["inc_c", "inc_b", "inc_a"], byKeys.Select(r => r.Incident.IncidentId)); // every key's, least recently updated first

        var since = store.Read(c => IncidentRepository.OpenedSince(c, Ms(5)));
        Assert.Equal(["inc_a", "inc_c"], since.Select(i => i.IncidentId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Open_incidents_of_many_keys_are_read_in_statements_of_up_to_64_keys_each_key_once()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        // 150 keys (two statements of 64 and one of 32, the last key repeated 10 times), one open incident each, and a
        // closed one of key 0; asked for 149 of them (not key 7) and a key without incidents.
        var incidents = Enumerable.Range(0, 150).Select(i => Incident($"inc_{i:D3}", $"k{i:D3}", "3301020010010001", 0, 1000 - i)).ToList();
        var closed = Incident("inc_closed", "k000", "3301020010010001", 0, 1) with { State = IncidentState.Closed };
        await store.WriteAsync(tx => IncidentRepository.UpsertAll(tx, [.. incidents.Append(closed).Select(i => (i, "3301020010010001"))]));

        var keys = incidents.Select(i => i.CorrelationKey).Where(k => k != "k007").Append("k-none").ToList();
        var read = await store.WriteAsync(tx => IncidentRepository.LoadOpenByKeys(tx, keys));

        Assert.Equal(incidents.Where(i => i.CorrelationKey != "k007").Select(i => i.IncidentId).Reverse(), read.Select(r => r.Incident.IncidentId));
        Assert.Equal(150, store.Read(IncidentRepository.CountOpen)); // UpsertAll stored every row, in statements of 64, 64, 16, 4, 2 and 1 rows
        Assert.Equal(IncidentState.Closed, store.Read(c => IncidentRepository.Get(c, "inc_closed"))!.State);
    }

    [Fact]
    public async Task Pages_go_by_id_filter_by_state_and_take_the_region_prefix_literally()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            IncidentRepository.Upsert(tx, Incident("inc_3", "k3", "3301020010010001", 0, 0), "3301020010010001");
            IncidentRepository.Upsert(tx, Incident("inc_1", "k1", "3301020010010002", 0, 0), "3301020010010002");
            IncidentRepository.Upsert(tx, Incident("inc_2", "k2", "3302010010010001", 0, 0), "3302010010010001");
            var closed = Incident("inc_4", "k4", "3301020010010003", 0, 0) with { State = IncidentState.Closed };
            IncidentRepository.Upsert(tx, closed, "3301020010010003");
            IncidentRepository.Upsert(tx, Incident("inc_5", "k5", "330_020000000000", 0, 0), "330_020000000000");
        });

        List<string> Ids(string after, IncidentState state, string prefix, int limit) =>
            store.Read(c => IncidentRepository.Page(c, after, state, prefix, limit)).Select(i => i.IncidentId).ToList();

        Assert.Equal(["inc_1", "inc_2"], Ids("", IncidentState.Unspecified, "", 2));
        Assert.Equal(["inc_3", "inc_4", "inc_5"], Ids("inc_2", IncidentState.Unspecified, "", 10));
        Assert.Equal(["inc_1", "inc_2", "inc_3", "inc_5"], Ids("", IncidentState.Open, "", 10));
        Assert.Equal(["inc_4"], Ids("", IncidentState.Closed, "", 10));
        Assert.Equal(["inc_1", "inc_3", "inc_4"], Ids("", IncidentState.Unspecified, "330102", 10));
        Assert.Equal(["inc_5"], Ids("", IncidentState.Unspecified, "330_02", 10)); // as a wildcard, _ would match 330102 too
        Assert.Empty(Ids("", IncidentState.Unspecified, "33%", 10)); // as a wildcard, % would match everything
        Assert.Empty(Ids("", IncidentState.Unspecified, "3303", 10));
    }

    [Fact]
    public async Task A_rolled_back_upsert_leaves_no_incident()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            IncidentRepository.Upsert(tx, Incident("inc_1", "k1", "3301020010010001", 0, 0), "3301020010010001");
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Null(store.Read(c => IncidentRepository.Get(c, "inc_1")));
        Assert.Equal(0, store.Read(IncidentRepository.CountOpen));
    }
}
