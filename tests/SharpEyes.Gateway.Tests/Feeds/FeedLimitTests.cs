using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Feeds;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Feeds;

/// <summary>
/// Feeds.Subscribe under careless centres: a bounded number of streams (Limits:FeedSubscribers), and a stream whose
/// client stops reading ended once it is more than Limits:FeedSubscriberBuffer live events behind, with the sequence to
/// resubscribe after; resubscribing from it gives every later event exactly once. Other subscribers and intake go on.
/// Devices are registered one per call, a few calls at a time, so that commits hold fewer events than the limit and a
/// reader that keeps up is never ended; the client that stops reading has its own connection, as another centre would.
/// </summary>
public sealed class FeedLimitTests
{
    private const int Behind = 16;

    /// <summary>
    /// Enough DEVICE_REGISTERED events (a few hundred bytes each) to fill what the transport holds for a stream whose
    /// client does not read (HTTP/2 windows and Kestrel's response buffer, ~200 KB) a few times over.
    /// </summary>
    private const int Devices = 2_500;

    private const int ConcurrentCalls = 4;

    [Fact]
    public async Task One_stream_more_than_the_limit_is_refused_naming_the_setting_and_counted()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: "--SharpEyes:Limits:FeedSubscribers=2");
        var centre = await host.CreateKeyAsync(Role.Centre);
        var hub = host.Services.GetRequiredService<FeedHub>();
        var feeds = new V1.Feeds.FeedsClient(host.Channel);

        await using (var first = new FeedReader(host, centre))
        await using (var second = new FeedReader(host, centre))
        {
            await Eventually.TrueAsync(() => hub.Subscribers == 2, "two open streams");
            using var third = feeds.Subscribe(new SubscribeRequest(), host.Auth(centre));
            var refused = await Assert.ThrowsAsync<RpcException>(() => third.ResponseStream.MoveNext(TestContext.Current.CancellationToken));

            Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
            Assert.Equal("too many feed subscribers: 2 streams are open, the limit (Limits:FeedSubscribers); close one or retry later", refused.Status.Detail);
            Assert.Equal(1, host.Services.GetRequiredService<ClientRefusals>()[FeedsService.TooManyKind]);
            var metrics = await MetricsScrape.ReadAsync(host.HttpPort);
            Assert.Equal(2, metrics["sharpeyes_feed_subscribers"]);
            Assert.Equal(1, metrics["sharpeyes_refusals_total{kind=\"feed-subscribers\"}"]);
        }

        // Closed streams free their places.
        await Eventually.TrueAsync(() => hub.Subscribers == 0, "the streams closed");
        await using var again = new FeedReader(host, centre);
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), host.Auth(await host.CreateKeyAsync(Role.Vendor, "vendor-a")));
        await again.WaitForAsync(e => e.Kind == FeedEventKind.DeviceRegistered, "the registration");
    }

    [Fact]
    public async Task A_stream_that_stops_reading_is_ended_naming_its_sequence_and_resumes_from_it_without_gaps_or_duplicates()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: [$"--SharpEyes:Limits:FeedSubscriberBuffer={Behind}", GatewayHost.NoVendorRateLimit]);
        var centre = await host.CreateKeyAsync(Role.Centre);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        var refusals = host.Services.GetRequiredService<ClientRefusals>();
        var start = host.LastSequence;
        await using var fast = new FeedReader(host, centre, afterSequence: start);
        using var slowChannel = GrpcChannel.ForAddress($"http://127.0.0.1:{host.GrpcPort}");
        using var slow = new V1.Feeds.FeedsClient(slowChannel).Subscribe(new SubscribeRequest { AfterSequence = start }, host.Auth(centre));
        await Eventually.TrueAsync(() => host.Services.GetRequiredService<FeedHub>().Subscribers == 2, "both streams open");

        var accepted = await RegisterAlarmDevicesAsync(host, vendor, Devices);
        var end = host.LastSequence;
        await Eventually.TrueAsync(() => refusals[FeedsService.BehindKind] == 1, "the stream that does not read is ended");

        // The slow client now reads: what was sent before the end, in order, then the status naming where it stopped.
        var received = new List<long>();
        var ended = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await slow.ResponseStream.MoveNext(TestContext.Current.CancellationToken))
            {
                received.Add(slow.ResponseStream.Current.Sequence);
            }
        });
        Assert.Equal(StatusCode.ResourceExhausted, ended.StatusCode);
        var resumeAfter = received[^1];
        TestContext.Current.TestOutputHelper?.WriteLine($"the slow stream was sent {received.Count} of {end - start} events before it was ended");
        Assert.Equal(
            $"fell more than {Behind} events behind the feed: they were committed while it took no data (Limits:FeedSubscriberBuffer); "
            + $"sent through sequence {resumeAfter}, committed through {ParseCommitted(ended.Status.Detail)}; resubscribe with after_sequence={resumeAfter}",
            ended.Status.Detail);
        Assert.Equal(Sequences(start, resumeAfter), received);
        // What a stream that takes nothing is sent is bounded by the transport's buffers, not by what commits.
        Assert.InRange(received.Count, 1, Devices / 2);
        Assert.True(resumeAfter < end, $"it was ended at {resumeAfter} of {end}");

        // Resubscribing from the sequence in the status gives every later event once; the fast reader had them all.
        await using var resumed = new FeedReader(host, centre, afterSequence: resumeAfter);
        await resumed.WaitForCountAsync(_ => true, (int)(end - resumeAfter), "the events after the resume point");
        await fast.WaitForCountAsync(_ => true, (int)(end - start), "every event, to the reader that keeps up");
        Assert.Equal(Sequences(resumeAfter, end), resumed.Events.Select(e => e.Sequence));
        Assert.Equal(Sequences(start, end), fast.Events.Select(e => e.Sequence));
        Assert.Equal(Devices, accepted);
        Assert.Equal(1, refusals[FeedsService.BehindKind]);
    }

    [Fact]
    public async Task A_stream_that_falls_behind_and_reads_nothing_is_reset_after_the_drain_timeout()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: [$"--SharpEyes:Limits:FeedSubscriberBuffer={Behind}", GatewayHost.NoVendorRateLimit]);
        var centre = await host.CreateKeyAsync(Role.Centre);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        var hub = host.Services.GetRequiredService<FeedHub>();
        using var stuckChannel = GrpcChannel.ForAddress($"http://127.0.0.1:{host.GrpcPort}");
        using var stuck = new V1.Feeds.FeedsClient(stuckChannel).Subscribe(new SubscribeRequest { AfterSequence = host.LastSequence }, host.Auth(centre));
        await Eventually.TrueAsync(() => hub.Subscribers == 1, "the stream is open");

        await RegisterAlarmDevicesAsync(host, vendor, Devices);
        await Eventually.TrueAsync(() => host.Services.GetRequiredService<ClientRefusals>()[FeedsService.BehindKind] == 1, "the stream is ended");
        Assert.Equal(1, hub.Subscribers); // still waiting for the client to read what was sent
        await Eventually.TrueAsync(() =>
        {
            host.Time.Advance(TimeSpan.FromSeconds(5)); // the drain timeout is 30 s
            return hub.Subscribers == 0;
        }, "the stream is reset and its place freed");

        var reset = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await stuck.ResponseStream.MoveNext(TestContext.Current.CancellationToken))
            {
            }
        });
        Assert.Equal(StatusCode.ResourceExhausted, reset.StatusCode);
    }

    /// <summary>Registers alarm devices 0..count-1, one per call, <see cref="ConcurrentCalls"/> calls at a time; how many were created.</summary>
    private static async Task<int> RegisterAlarmDevicesAsync(GatewayHost host, string vendorKey, int count)
    {
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        var created = 0;
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = ConcurrentCalls }, async (i, ct) =>
        {
            if ((await registry.RegisterDeviceAsync(TestDevices.Alarm(i), host.Auth(vendorKey), cancellationToken: ct)).Created)
            {
                Interlocked.Increment(ref created);
            }
        });
        return created;
    }

    private static IEnumerable<long> Sequences(long after, long through) => Enumerable.Range(1, (int)(through - after)).Select(i => after + i);

    private static string ParseCommitted(string detail)
    {
        const string marker = "committed through ";
        var at = detail.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        return detail[at..detail.IndexOf(';', at)];
    }

    [Fact]
    public async Task Stopping_the_gateway_ends_open_streams_as_unavailable_instead_of_waiting_for_them()
    {
        var host = await GatewayHost.StartAsync(demo: false);
        var centre = await host.CreateKeyAsync(Role.Centre);
        var hub = host.Services.GetRequiredService<FeedHub>();
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{host.GrpcPort}");
        using var call = new V1.Feeds.FeedsClient(channel).Subscribe(new SubscribeRequest { AfterSequence = host.LastSequence }, host.Auth(centre));
        await Eventually.TrueAsync(() => hub.Subscribers == 1, "the stream is open");

        // SIGTERM's path: the host stops. Before, Kestrel waited its whole shutdown timeout (30 s) for the stream.
        var stopping = host.DisposeAsync().AsTask();
        var ended = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(TestContext.Current.CancellationToken));
        Assert.Equal(StatusCode.Unavailable, ended.StatusCode);
        Assert.Equal(FeedsService.StoppingMessage, ended.Status.Detail);
        await stopping.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken); // well inside the 30 s it used to take
        Assert.Equal(0, hub.Subscribers);
    }
}
