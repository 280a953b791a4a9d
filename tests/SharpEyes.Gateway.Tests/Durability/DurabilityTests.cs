using System.Collections.Concurrent;
using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Durability;

/// <summary>
/// "A PUBACK means durable": alarms acknowledged before the gateway process dies (SIGKILL) or stops (SIGTERM)
/// are all there after a restart, and all reach the feed exactly once.
/// </summary>
public sealed class DurabilityTests
{
    private const string AdminKey = "durability-test-admin-key-0123456789";
    private const int Devices = 8;

    [Fact]
    public async Task Every_alarm_acknowledged_before_a_SIGKILL_is_persisted_and_reaches_the_feed_after_restart()
    {
        var dataDir = GatewayHost.NewDataDir();
        var acked = new ConcurrentDictionary<string, bool>();
        string vendorKey, centreKey;
        await using (var gateway = await GatewayProcess.StartAsync(dataDir, AdminKey, "--demo"))
        {
            (vendorKey, centreKey) = await SetUpAsync(gateway);
            using var stop = new CancellationTokenSource();
            var publishers = Enumerable.Range(0, 4).Select(c => PublishUntilStoppedAsync(gateway.MqttPort, vendorKey, c, acked, stop.Token)).ToList();

            await Eventually.TrueAsync(() => acked.Count >= 1500, "1500 acknowledged alarms", TimeSpan.FromSeconds(60));
            await gateway.KillAsync();
            await stop.CancelAsync();
            await Task.WhenAll(publishers);
        }

        await using var restarted = await GatewayProcess.StartAsync(dataDir, AdminKey);
        await AssertAllOnFeedAsync(restarted, centreKey, acked.Keys.ToHashSet());
    }

    [Fact]
    public async Task SIGTERM_during_intake_stops_cleanly_without_losing_an_acknowledged_alarm()
    {
        var dataDir = GatewayHost.NewDataDir();
        var acked = new ConcurrentDictionary<string, bool>();
        string vendorKey, centreKey;
        int exitCode;
        string output;
        await using (var gateway = await GatewayProcess.StartAsync(dataDir, AdminKey, "--demo"))
        {
            (vendorKey, centreKey) = await SetUpAsync(gateway);
            using var stop = new CancellationTokenSource();
            var publishers = Enumerable.Range(0, 4).Select(c => PublishUntilStoppedAsync(gateway.MqttPort, vendorKey, c, acked, stop.Token)).ToList();

            await Eventually.TrueAsync(() => acked.Count >= 1000, "1000 acknowledged alarms", TimeSpan.FromSeconds(60));
            exitCode = await gateway.TerminateAsync(TimeSpan.FromSeconds(30));
            await stop.CancelAsync();
            await Task.WhenAll(publishers);
            output = gateway.Output;
        }

        Assert.Equal(0, exitCode);
        Assert.Contains("every accepted change is committed", output, StringComparison.Ordinal);
        await using var restarted = await GatewayProcess.StartAsync(dataDir, AdminKey);
        await AssertAllOnFeedAsync(restarted, centreKey, acked.Keys.ToHashSet());
    }

    private static async Task<(string Vendor, string Centre)> SetUpAsync(GatewayProcess gateway)
    {
        var vendor = await gateway.AddVendorWithAlarmDevicesAsync(AdminKey, "vendor-d", Devices);
        var admin = new Admin.AdminClient(gateway.Channel);
        var centre = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Centre }, GatewayProcess.Auth(AdminKey))).ApiKey;
        return (vendor, centre);
    }

    /// <summary>Publishes QoS 1 alarms with up to 32 in flight, recording each one whose PUBACK arrived, until the connection dies or time is up.</summary>
    private static async Task PublishUntilStoppedAsync(int port, string vendorKey, int connection, ConcurrentDictionary<string, bool> acked, CancellationToken stop)
    {
        using var client = await AlarmPublisher.ConnectAsync(port, "vendor-d", vendorKey, $"durability-{connection}");
        var deadline = DateTime.UtcNow.AddSeconds(90);
        var devices = Enumerable.Range(0, Devices).Select(TestDevices.AlarmId).ToList();
        await AlarmPublisher.PublishAsync(client, devices, Enumerable.Range(0, 200_000).TakeWhile(_ => DateTime.UtcNow < deadline).Select(n => $"c{connection}-{n}"), acked, stop, DateTimeOffset.UtcNow);
    }

    /// <summary>Every acknowledged alarm is on the gateway's feed exactly once, with strictly increasing sequences, and nothing else was accepted.</summary>
    internal static async Task AssertAllOnFeedAsync(GatewayProcess gateway, string centreKey, HashSet<string> acked, string adminKey = AdminKey)
    {
        var onFeed = new Dictionary<string, int>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = new V1.Feeds.FeedsClient(gateway.Channel).Subscribe(new SubscribeRequest(), GatewayProcess.Auth(centreKey), cancellationToken: cts.Token);
        var lastSequence = 0L;
        var stats = await new Admin.AdminClient(gateway.Channel).GetStatsAsync(new GetStatsRequest(), GatewayProcess.Auth(adminKey));
        try
        {
            await foreach (var e in call.ResponseStream.ReadAllAsync(cts.Token))
            {
                Assert.True(e.Sequence > lastSequence, "sequences strictly increase");
                lastSequence = e.Sequence;
                if (e.Incident is { Alarms.Count: > 0 } incident && e.Kind != FeedEventKind.IncidentClosed)
                {
                    foreach (var alarm in incident.Alarms) // an incident's event carries every alarm of its commit
                    {
                        onFeed[alarm.EventId] = onFeed.GetValueOrDefault(alarm.EventId) + 1;
                    }
                }

                if (e.Sequence >= stats.LastSequence)
                {
                    break;
                }
            }
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled)
        {
        }

        var missing = acked.Where(id => !onFeed.ContainsKey(id)).ToList();
        Assert.True(acked.Count > 0);
        Assert.True(missing.Count == 0, $"{missing.Count} of {acked.Count} acknowledged alarms missing from the feed, e.g. {string.Join(", ", missing.Take(5))}");
        Assert.All(onFeed, kv => Assert.Equal(1, kv.Value));
        Assert.Equal(onFeed.Count, stats.AlarmsAccepted);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"acknowledged before the stop: {acked.Count}; on the feed after restart: {onFeed.Count} (each once); accepted: {stats.AlarmsAccepted}");
    }
}
