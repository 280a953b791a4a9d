using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Feeds;

/// <summary>
/// The centre's feed: strict sequences, resume after a reconnect and after a gateway restart, region filtering.
/// Each test reads from the sequence the gateway had reached after start (the demo's coverage gaps come before).
/// </summary>
public sealed class FeedTests
{
    [Fact]
    public async Task A_reconnecting_centre_resumes_exactly_after_the_last_sequence_it_saw()
    {
        await using var host = await GatewayHost.StartAsync();
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        var centre = await host.CreateKeyAsync(Role.Centre);
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        var start = host.LastSequence;
        for (var i = 0; i < 20; i++)
        {
            await registry.RegisterDeviceAsync(TestDevices.Camera(i), host.Auth(vendor));
        }

        List<FeedEvent> all;
        await using (var first = new FeedReader(host, centre, afterSequence: start))
        {
            await first.WaitForCountAsync(_ => true, 20, "20 events");
            all = [.. first.Events];
        }

        var cut = all[11].Sequence;
        await using var resumed = new FeedReader(host, centre, afterSequence: cut);
        await resumed.WaitForCountAsync(_ => true, 8, "the 8 events after the cut");
        for (var i = 20; i < 25; i++)
        {
            await registry.RegisterDeviceAsync(TestDevices.Camera(i), host.Auth(vendor));
        }

        await resumed.WaitForCountAsync(_ => true, 13, "8 stored and 5 live events");
        Assert.Equal(all.Skip(12).Select(e => e.Sequence), resumed.Events.Take(8).Select(e => e.Sequence));
        var sequences = resumed.Events.Select(e => e.Sequence).ToList();
        Assert.Equal(Enumerable.Range((int)cut + 1, 13).Select(i => (long)i), sequences);
    }

    [Fact]
    public async Task A_centre_further_behind_than_the_ring_reads_the_store_in_order_and_is_counted()
    {
        const int ring = 256;
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: [$"--SharpEyes:Limits:FeedRingEvents={ring}", GatewayHost.NoVendorRateLimit]);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        var centre = await host.CreateKeyAsync(Role.Centre);
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        Assert.Equal(ring, host.Services.GetRequiredService<SharpEyes.Gateway.Feeds.FeedHub>().Capacity);
        var start = host.LastSequence;
        using (var call = registry.RegisterDevices(host.Auth(vendor)))
        {
            for (var i = 0; i < 3 * ring; i++)
            {
                await call.RequestStream.WriteAsync(TestDevices.Camera(i), TestContext.Current.CancellationToken);
            }

            await call.RequestStream.CompleteAsync();
            Assert.Equal(3 * ring, (await call).Accepted);
        }

        var before = (await MetricsScrape.ReadAsync(host.HttpPort))["sharpeyes_feed_store_reads_total"];
        await using var reader = new FeedReader(host, centre, afterSequence: start);
        await reader.WaitForCountAsync(e => e.Kind == FeedEventKind.DeviceRegistered, 3 * ring, "every registration, most of them from the store");
        var stored = (await MetricsScrape.ReadAsync(host.HttpPort))["sharpeyes_feed_store_reads_total"];

        Assert.Equal(Enumerable.Range(1, (int)(host.LastSequence - start)).Select(i => start + i), reader.Events.Select(e => e.Sequence));
        Assert.True(stored > before, $"store reads {before} -> {stored}");

        // Caught up: what commits now is read from the ring.
        await registry.RegisterDeviceAsync(TestDevices.Camera(3 * ring), host.Auth(vendor));
        await reader.WaitForCountAsync(e => e.Kind == FeedEventKind.DeviceRegistered, (3 * ring) + 1, "the live registration");
        Assert.Equal(stored, (await MetricsScrape.ReadAsync(host.HttpPort))["sharpeyes_feed_store_reads_total"]);
    }

    [Fact]
    public async Task A_centre_resuming_after_a_sequence_this_gateway_never_issued_is_told_instead_of_missing_events()
    {
        // As after a restore from an older backup: the centre saw sequences the restored store will number again.
        await using var host = await GatewayHost.StartAsync();
        var centre = await host.CreateKeyAsync(Role.Centre);
        var last = host.LastSequence;

        var error = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () =>
        {
            using var call = new V1.Feeds.FeedsClient(host.Channel).Subscribe(new SubscribeRequest { AfterSequence = last + 33 }, host.Auth(centre));
            await call.ResponseStream.MoveNext(TestContext.Current.CancellationToken);
        });

        Assert.Equal(Grpc.Core.StatusCode.OutOfRange, error.StatusCode);
        Assert.Equal($"after_sequence: {last + 33} is ahead of this gateway's feed, which ends at {last} (was its store restored from a backup?); resume from {last} or lower", error.Status.Detail);
        // Resuming from the last sequence itself is the normal case: it waits for the next event.
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        await using var reader = new FeedReader(host, centre, afterSequence: last);
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(TestDevices.Camera(1), host.Auth(vendor));
        Assert.Equal(last + 1, (await reader.WaitForAsync(_ => true, "the next event")).Sequence);
    }

    [Fact]
    public async Task Events_and_sequences_survive_a_restart_and_sequences_are_never_reused()
    {
        var host = await GatewayHost.StartAsync();
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        var centre = await host.CreateKeyAsync(Role.Centre);
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        var start = host.LastSequence;
        for (var i = 0; i < 10; i++)
        {
            await registry.RegisterDeviceAsync(TestDevices.Camera(i), host.Auth(vendor));
        }

        host = await host.RestartAsync();
        try
        {
            registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
            await registry.RegisterDeviceAsync(TestDevices.Camera(99), host.Auth(vendor));

            await using var feed = new FeedReader(host, centre, afterSequence: start + 5);
            await feed.WaitForCountAsync(_ => true, 6, "5 stored before the restart and 1 after");
            Assert.Equal(Enumerable.Range(6, 6).Select(i => start + i), feed.Events.Select(e => e.Sequence));
            Assert.Equal(TestDevices.CameraId(99), feed.Events[^1].Device.DeviceId);
            Assert.All(feed.Events.Take(5), e => Assert.Equal(FeedEventKind.DeviceRegistered, e.Kind));
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_region_prefix_narrows_the_feed_to_one_township()
    {
        await using var host = await GatewayHost.StartAsync();
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        var centre = await host.CreateKeyAsync(Role.Centre);
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        var seat = await registry.RegisterDeviceAsync(TestDevices.Camera(1), host.Auth(vendor));
        var far = await registry.RegisterDeviceAsync(TestDevices.Camera(2, lon: 114.66, lat: 37.58), host.Auth(vendor));
        var township = seat.Device.Region.TownshipCode;
        Assert.NotEqual(township, far.Device.Region.TownshipCode);

        var start = host.LastSequence - 2; // the two registrations above
        await using var filtered = new FeedReader(host, centre, regionPrefix: township, afterSequence: start);
        await using var everything = new FeedReader(host, centre, afterSequence: start);
        await registry.RegisterDeviceAsync(TestDevices.Camera(3), host.Auth(vendor));
        await everything.WaitForCountAsync(_ => true, 3, "all three");
        await filtered.WaitForCountAsync(_ => true, 2, "the two in the township");

        Assert.Equal([TestDevices.CameraId(1), TestDevices.CameraId(3)], filtered.Events.Select(e => e.Device.DeviceId));
        Assert.All(filtered.Events, e => Assert.StartsWith(township, e.RegionCode, StringComparison.Ordinal));
    }
}
