using SharpEyes.Gateway.Audit;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The audit_entries and audit_targets tables through their repository, on the run's engine.</summary>
public sealed class AuditRepositoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);

    private static AuditRecord Entry(int minute, string action, string outcome = AuditRecord.Ok, string? keyId = "k1", params string[] targets) =>
        new(T0.AddMinutes(minute), keyId, Role.Admin, keyId is null ? null : "vendor-x", "127.0.0.1:5000", null, action, targets,
            $"summary {minute}", outcome, outcome == AuditRecord.Ok ? "" : "refused", 1);

    [Fact]
    public async Task An_entry_round_trips_with_its_nulls_and_targets()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        var full = new AuditRecord(T0, "k1", Role.Vendor, "vendor-x", "[::1]:443", "CN=client", "Devices.Register", ["cam-1", "cam-2"],
            "registered 2", "OK", "", 1);
        var bare = new AuditRecord(T0.AddSeconds(1), null, Role.Unspecified, null, "", null, "Admin.QueryAudit", [], "folded", "PERMISSION_DENIED", "no", 17);
        var ids = await store.WriteAsync(tx => (AuditRepository.Append(tx, full), AuditRepository.Append(tx, bare)));
        Assert.True(ids.Item2 > ids.Item1);

        var read = store.Read(c => AuditRepository.Query(c, new AuditQuery()));
        Assert.Equal(2, read.Count);
        Assert.Equal(ids.Item2, read[0].Id); // newest first
        Assert.Equal(bare, read[0].Entry with { Targets = bare.Targets });
        Assert.Empty(read[0].Entry.Targets);
        Assert.Equal(full, read[1].Entry with { Targets = full.Targets });
        Assert.Equal(["cam-1", "cam-2"], read[1].Entry.Targets);
    }

    [Fact]
    public async Task Queries_filter_by_each_field_and_page_newest_first()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            AuditRepository.Append(tx, Entry(0, "Admin.CreateApiKey", targets: ["key-9"]));
            AuditRepository.Append(tx, Entry(1, "Devices.Register", targets: ["cam-1", "cam-1", "cam-2"])); // a repeated target is stored once
            AuditRepository.Append(tx, Entry(2, "Devices.Deregister", "PERMISSION_DENIED", keyId: null, targets: ["cam-1"]));
            AuditRepository.Append(tx, Entry(3, "Admin.RevokeApiKey", "NOT_FOUND", keyId: "k2"));
        });

        List<string> Actions(AuditQuery query) => [.. store.Read(c => AuditRepository.Query(c, query)).Select(r => r.Entry.Action)];
        Assert.Equal(["Devices.Deregister", "Devices.Register"], Actions(new AuditQuery(Target: "cam-1")));
        Assert.Equal(["Devices.Deregister", "Devices.Register"], Actions(new AuditQuery(Action: "Devices.")));
        Assert.Equal(["Admin.RevokeApiKey", "Devices.Deregister"], Actions(new AuditQuery(Outcome: "refused")));
        Assert.Equal(["Admin.RevokeApiKey"], Actions(new AuditQuery(Outcome: "NOT_FOUND")));
        Assert.Equal(["Admin.RevokeApiKey"], Actions(new AuditQuery(KeyId: "k2")));
        Assert.Equal(["Admin.RevokeApiKey", "Devices.Register", "Admin.CreateApiKey"], Actions(new AuditQuery(VendorId: "vendor-x")));
        Assert.Equal(["Devices.Deregister", "Devices.Register"], Actions(new AuditQuery(Since: T0.AddMinutes(1), Until: T0.AddMinutes(3)))); // since inclusive, until exclusive
        Assert.Equal(4, Actions(new AuditQuery(KeyId: "", Target: "")).Count); // empty filters select everything

        var first = store.Read(c => AuditRepository.Query(c, new AuditQuery(Limit: 3)));
        Assert.Equal(["Admin.RevokeApiKey", "Devices.Deregister", "Devices.Register"], first.Select(r => r.Entry.Action));
        Assert.Equal(["Admin.CreateApiKey"], Actions(new AuditQuery(BeforeId: first[^1].Id, Limit: 3)));
    }

    [Fact]
    public async Task Pruning_deletes_the_oldest_entries_before_the_cutoff_with_their_targets_at_most_max_a_pass()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            for (var minute = 0; minute < 5; minute++)
            {
                AuditRepository.Append(tx, Entry(minute, "Devices.Register", targets: [$"cam-{minute}"]));
            }
        });

        Assert.Equal(2, await store.WriteAsync(tx => AuditRepository.DeleteOlderThan(tx, T0.AddMinutes(3).ToUnixTimeMilliseconds(), 2)));
        Assert.Equal(1, await store.WriteAsync(tx => AuditRepository.DeleteOlderThan(tx, T0.AddMinutes(3).ToUnixTimeMilliseconds(), 2))); // minute 3 is not before the cutoff
        Assert.Equal(0, await store.WriteAsync(tx => AuditRepository.DeleteOlderThan(tx, T0.AddMinutes(3).ToUnixTimeMilliseconds(), 2)));

        var left = store.Read(c => AuditRepository.Query(c, new AuditQuery()));
        Assert.Equal([T0.AddMinutes(4), T0.AddMinutes(3)], left.Select(r => r.Entry.At));
        Assert.Empty(store.Read(c => AuditRepository.Query(c, new AuditQuery(Target: "cam-0"))));
        Assert.Single(store.Read(c => AuditRepository.Query(c, new AuditQuery(Target: "cam-3"))));
    }

    [Fact]
    public async Task A_rolled_back_append_leaves_no_entry_and_no_target()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            AuditRepository.Append(tx, Entry(0, "Devices.Register", targets: ["cam-1"]));
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Empty(store.Read(c => AuditRepository.Query(c, new AuditQuery())));
        Assert.Empty(store.Read(c => AuditRepository.Query(c, new AuditQuery(Target: "cam-1"))));
    }
}
