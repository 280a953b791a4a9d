using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Delivery;

/// <summary>
/// The data directory full or read-only. A full disk: alarms are not acknowledged (the publisher keeps them and
/// retries), health says why, and the gateway recovers by itself when space returns. A read-only directory at start:
/// the gateway refuses to start with a message naming the path. (A disk turning read-only under the running gateway
/// cannot be staged here: Linux refuses to remount a file system read-only while files on it are open for writing.
/// It fails the same commit path as a full disk.)
/// </summary>
[Trait(TestStores.Trait, TestStores.SqliteOnly)] // a full or read-only data directory under the SQLite file
public sealed class StoreFaultTests
{
    private const string VendorId = "vendor-full";

    [Fact]
    public async Task A_full_data_directory_refuses_alarms_unacknowledged_and_the_gateway_recovers_by_itself_when_space_returns()
    {
        using var disk = TmpfsMount.Create(24);
        await using var host = await GatewayHost.StartAsync(demo: false, dataDir: disk.Path);
        var vendorKey = await host.CreateKeyAsync(Role.Vendor, VendorId);
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        await registry.RegisterDeviceAsync(TestDevices.Alarm(1), host.Auth(vendorKey));
        var stats = host.Services.GetRequiredService<AlarmStats>();
        var publisher = new RetryingPublisher(host.MqttPort, vendorKey);
        var acked = new List<string>();
        for (var n = 0; n < 20; n++)
        {
            Assert.True(await publisher.TryPublishAsync($"ok-{n}", TimeSpan.FromSeconds(10)));
            acked.Add($"ok-{n}");
        }

        var filler = disk.Fill();
        // Publish until the store refuses (free pages in the WAL may take a few more first).
        string? refused = null;
        for (var n = 0; n < 5000 && refused is null; n++)
        {
            if (await publisher.TryPublishAsync($"full-{n}", TimeSpan.FromSeconds(5)))
            {
                acked.Add($"full-{n}");
            }
            else
            {
                refused = $"full-{n}";
            }
        }

        Assert.NotNull(refused);
        Assert.Equal(acked.Count, stats.Accepted); // the refused alarm was not stored, and not acknowledged
        var (status, health) = await MetricsScrape.HealthAsync(host.HttpPort);
        Assert.Equal(503, status);
        Assert.Contains("store: Unhealthy", health, StringComparison.Ordinal);
        Assert.Contains("full", health, StringComparison.Ordinal);
        Assert.Contains(disk.Path, health, StringComparison.Ordinal);
        Assert.Equal(0, (await MetricsScrape.ReadAsync(host.HttpPort))["sharpeyes_store_writable"]);
        Assert.Contains("could not be stored; it was not acknowledged", host.Logs.All, StringComparison.Ordinal);

        // Space returns; the publisher keeps retrying the refused alarm, as an MQTT publisher does.
        File.Delete(filler);
        var back = Stopwatch.StartNew();
        await Eventually.TrueAsync(() => publisher.TryPublishAsync(refused, TimeSpan.FromSeconds(2)), "the refused alarm acknowledged after space returned", TimeSpan.FromSeconds(60));
        var recovery = back.Elapsed;
        acked.Add(refused);

        (status, health) = await MetricsScrape.HealthAsync(host.HttpPort);
        Assert.Equal(200, status);
        Assert.Contains("store: Healthy", health, StringComparison.Ordinal);
        Assert.Equal(acked.Count, stats.Accepted); // counted once
        await using var feed = new FeedReader(host, await host.CreateKeyAsync(Role.Centre));
        await feed.WaitForAsync(e => e.Incident?.Alarms.Any(a => a.EventId == refused) == true, "the refused alarm on the feed");
        var onFeed = feed.Events.Where(e => e.Incident is not null).SelectMany(e => e.Incident.Alarms).Select(a => a.EventId).ToHashSet();
        Assert.Subset(onFeed, acked.ToHashSet());
        FaultReport.Add("data directory full", $"tmpfs data directory filled to ENOSPC after {acked.Count - 1} alarms; publisher retried the refused alarm",
            acked.Count, stats.Accepted, stats.Duplicates, recovery, $"refused alarm not acknowledged, /healthz 503 until a commit succeeded; {publisher.Reconnects} reconnects");
        await publisher.DisposeAsync();
    }

    [Fact]
    public async Task A_read_only_data_directory_stops_the_start_with_a_message_naming_it()
    {
        using var disk = TmpfsMount.Create(4);
        disk.MakeReadOnly();
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => GatewayProcess.StartAsync(disk.Path, "readonly-admin-key-0123456789abcdef"));
        Assert.Contains("Cannot write the store " + Path.Combine(disk.Path, "sharpeyes.db"), failure.Message, StringComparison.Ordinal);
        Assert.Contains("must be writable", failure.Message, StringComparison.Ordinal);
        FaultReport.Add("data directory read-only at start", "tmpfs remounted read-only before start", 0, 0, 0, TimeSpan.Zero, "exits at once with the path and the reason");
    }

    /// <summary>Publishes one alarm at a time, reconnecting when the gateway dropped the connection (as it does for an alarm it could not store).</summary>
    private sealed class RetryingPublisher(int port, string vendorKey) : IAsyncDisposable
    {
        private IMqttClient? _client;

        public int Reconnects { get; private set; }

        public async Task<bool> TryPublishAsync(string eventId, TimeSpan timeout)
        {
            try
            {
                if (_client is not { IsConnected: true })
                {
                    _client?.Dispose();
                    _client = await AlarmPublisher.ConnectAsync(port, VendorId, vendorKey, "full-publisher");
                    Reconnects++;
                }

                using var cts = new CancellationTokenSource(timeout);
                var result = await _client.PublishAsync(AlarmPublisher.Alarm(TestDevices.AlarmId(1), eventId), cts.Token);
                return result.ReasonCode == MqttClientPublishReasonCode.Success;
            }
            catch (Exception e) when (e is OperationCanceledException or MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException)
            {
                return false;
            }
        }

        public ValueTask DisposeAsync()
        {
            _client?.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
