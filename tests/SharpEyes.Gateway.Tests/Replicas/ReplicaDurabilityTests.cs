using System.Collections.Concurrent;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// Two gateway processes on one PostgreSQL database take 50,000 QoS 1 alarms from publishers spread over both while one
/// of them is killed (SIGKILL) and restarted: every acknowledged alarm is on the feed exactly once, the sequence is
/// gap-free and increasing, and both replicas serve the same feed event for event.
/// </summary>
public sealed class ReplicaDurabilityTests(PostgresCluster cluster)
{
    private const string AdminKey = "replica-durability-admin-key-0123456789";
    private const int Devices = 8;
    private const int Publishers = 4; // even ones publish through replica A, odd ones through B
    private const int PerPublisher = 12_500;

    [Fact]
    public async Task Fifty_thousand_alarms_through_two_replicas_one_killed_and_restarted_are_each_on_both_feeds_once_without_a_gap()
    {
        var store = await cluster.CreateDatabaseAsync();
        string[] args = ["--store", store, "--SharpEyes:RateLimits:MqttVendor:PerSecond=0"];
        var dirB = GatewayHost.NewDataDir();
        await using var a = await GatewayProcess.StartAsync(GatewayHost.NewDataDir(), AdminKey, ["--demo", .. args]);
        var vendorKey = await a.AddVendorWithAlarmDevicesAsync(AdminKey, "vendor-r", Devices);
        var centreKey = (await new Admin.AdminClient(a.Channel).CreateApiKeyAsync(
            new CreateApiKeyRequest { Role = Role.Centre }, GatewayProcess.Auth(AdminKey))).ApiKey;
        var b = await GatewayProcess.StartAsync(dirB, AdminKey, args);
        var replicaB = new ReplicaFeedChecks.ReplicaPort(b.MqttPort);
        try
        {
            var acked = new ConcurrentDictionary<string, bool>();
            var publishers = Enumerable.Range(0, Publishers)
                .Select(p => ReplicaFeedChecks.PublishAllAsync(p % 2 == 0 ? new ReplicaFeedChecks.ReplicaPort(a.MqttPort) : replicaB, "vendor-r", vendorKey,
                    $"replica-pub-{p}", [.. Enumerable.Range(0, PerPublisher).Select(n => $"p{p}-{n}")], Devices, acked, TimeSpan.FromMinutes(4)))
                .ToList();

            // Kill B mid-stream, then bring it back on the same data directory and database; its publishers reconnect
            // to it and send again what it never acknowledged (QoS 1: a publisher retries until acknowledged).
            await Eventually.TrueAsync(() => acked.Count >= 15_000, "15,000 acknowledged alarms", TimeSpan.FromSeconds(120));
            replicaB.Down();
            await b.KillAsync();
            var killedAt = acked.Count;
            await b.DisposeAsync();
            b = await GatewayProcess.StartAsync(dirB, AdminKey, args);
            replicaB.Up(b.MqttPort);
            await Task.WhenAll(publishers).WaitAsync(TimeSpan.FromMinutes(5));
            Assert.Equal(Publishers * PerPublisher, acked.Count);

            var last = await ReplicaFeedChecks.AssertOneFeedWithEachAlarmOnceAsync(a, b, AdminKey, centreKey, [.. acked.Keys]);
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"acknowledged: {acked.Count} ({killedAt} when replica B was killed); on both feeds once each; feed events: {last}");
        }
        finally
        {
            await b.DisposeAsync();
        }
    }
}
