using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Feeds;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Outbox;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Http;

/// <summary>
/// <c>GET /api/events</c> on a real gateway, read as an EventSource would (<see cref="EventStreamReader"/>): feed
/// events with their sequence as id and kind as name, the same events Feeds.Subscribe gives; resuming from
/// Last-Event-ID across a restart without loss or duplicates; heartbeats on the gateway's clock; a revoked key; region
/// filters; positions outside the feed; the limit on open streams, a client that leaves and one that stops reading.
/// </summary>
public sealed class EventStreamTests
{
    [Fact]
    public async Task Live_events_arrive_with_their_sequence_as_id_their_kind_as_name_and_the_event_as_protobuf_JSON()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        var centre = await host.CreateKeyAsync(Role.Centre);
        using var browser = new SessionClient(host);
        await browser.SignInOrFailAsync(await host.CreateKeyAsync(Role.Operator));
        var start = host.LastSequence;
        await using var stream = await EventStreamReader.OpenAsync(browser.Http, "/api/events");
        await using var feed = new FeedReader(host, centre, afterSequence: start);

        Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", stream.Response.Headers.CacheControl?.ToString());
        var ready = await stream.WaitForAsync(m => m.Event == "ready", "the ready event");
        Assert.Equal(start.ToString(System.Globalization.CultureInfo.InvariantCulture), ready.Id); // no position given: from now
        using (var data = JsonDocument.Parse(ready.Data))
        {
            Assert.Equal(start, data.RootElement.GetProperty("after").GetInt64());
            Assert.Equal(10, data.RootElement.GetProperty("heartbeatSeconds").GetInt32());
        }

        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        for (var i = 0; i < 5; i++)
        {
            await registry.RegisterDeviceAsync(TestDevices.Alarm(i), host.Auth(vendor));
        }

        await stream.WaitForCountAsync(m => m.Id is not null && m.Event != "ready", 5, "five feed events");
        await feed.WaitForCountAsync(_ => true, 5, "the same five over gRPC");
        var events = stream.FeedEvents;
        Assert.Equal(feed.Events.Select(e => e.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture)), events.Select(m => m.Id));
        Assert.All(events, m => Assert.Equal("FEED_EVENT_KIND_DEVICE_REGISTERED", m.Event));
        Assert.Equal(feed.Events, events.Select(m => JsonParser.Default.Parse<FeedEvent>(m.Data)));
    }

    [Fact]
    public async Task A_reconnect_with_Last_Event_ID_resumes_exactly_across_a_gateway_restart()
    {
        var host = await GatewayHost.StartAsync(demo: false);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        using var browser = new SessionClient(host);
        await browser.SignInOrFailAsync(await host.CreateKeyAsync(Role.Operator));
        var start = host.LastSequence;
        var received = new List<long>();

        var first = await EventStreamReader.OpenAsync(browser.Http, $"/api/events?after={start}");
        await RegisterAsync(host, vendor, 0, 20);
        await first.WaitForCountAsync(m => m.Event.StartsWith("FEED_", StringComparison.Ordinal), 10, "some of the first events");

        // The gateway stops while events are still being sent: the stream ends saying so.
        host = await host.RestartAsync();
        await using var _ = host;
        await first.WaitForEndAsync("the stream's end");
        var end = Assert.Single(first.Messages, m => m.Event == "end");
        Assert.Equal(14, JsonDocument.Parse(end.Data).RootElement.GetProperty("code").GetInt32());
        received.AddRange(first.FeedEvents.Select(m => long.Parse(m.Id!, System.Globalization.CultureInfo.InvariantCulture)));
        var lastSeen = first.LastEventId!;
        await first.DisposeAsync();

        // More events while the page is away, then it reconnects with the same cookie and its Last-Event-ID.
        vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-b");
        await RegisterAsync(host, vendor, 100, 20);
        browser.Use(host);
        await using var second = await EventStreamReader.OpenAsync(browser.Http, $"/api/events?after={start}", lastEventId: lastSeen);
        Assert.Equal(HttpStatusCode.OK, second.Response.StatusCode);
        var stop = host.LastSequence;
        await second.WaitForAsync(m => m.Id == stop.ToString(System.Globalization.CultureInfo.InvariantCulture), "the last event");
        Assert.Equal(lastSeen, second.Messages[0].Id); // ready: where it resumes
        received.AddRange(second.FeedEvents.Select(m => long.Parse(m.Id!, System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(Enumerable.Range(1, (int)(stop - start)).Select(i => start + i), received);
    }

    [Fact]
    public async Task A_silent_stream_sends_heartbeats_on_the_gateways_clock_and_a_revoked_key_ends_it_at_once()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: "--SharpEyes:Sessions:EventHeartbeat=00:00:05");
        var key = await host.CreateKeyAsync(Role.Planner);
        using var browser = new SessionClient(host);
        await browser.SignInOrFailAsync(key);
        await using var stream = await EventStreamReader.OpenAsync(browser.Http, "/api/events");
        await stream.WaitForAsync(m => m.Event == "ready", "the ready event");

        await Eventually.TrueAsync(() =>
        {
            host.Time.Advance(TimeSpan.FromSeconds(1));
            return stream.Messages.Any(m => m.Event == "heartbeat");
        }, "a heartbeat");
        var heartbeat = stream.Messages.First(m => m.Event == "heartbeat");
        Assert.Null(heartbeat.Id); // it does not move Last-Event-ID
        Assert.Equal(host.LastSequence, JsonDocument.Parse(heartbeat.Data).RootElement.GetProperty("lastSequence").GetInt64());
        Assert.False(stream.Ended);

        // Revoked: the stream ends at once, with the gateway's clock standing still (no heartbeat needed).
        await new Admin.AdminClient(host.Channel).RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = key.Split('_')[1] }, host.AdminAuth);
        await Eventually.TrueAsync(() => stream.Ended, "the stream's end", TimeSpan.FromSeconds(5));
        var end = JsonDocument.Parse(Assert.Single(stream.Messages, m => m.Event == "end").Data).RootElement;
        Assert.Equal(16, end.GetProperty("code").GetInt32());
        Assert.Equal("the session has ended: its API key was revoked; sign in again", end.GetProperty("message").GetString());
        Assert.False(end.GetProperty("reconnect").GetBoolean());
        await Eventually.TrueAsync(() => host.Services.GetRequiredService<EventStreamEndpoint>().Open == 0, "its place freed");
    }

    [Fact]
    public async Task A_region_prefix_keeps_the_events_of_that_region_and_a_Bearer_key_streams_too()
    {
        await using var host = await GatewayHost.StartAsync();
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };
        await using var town = await EventStreamReader.OpenAsync(http, $"/api/events?region=130127104&after={host.LastSequence}", bearer: await host.CreateKeyAsync(Role.Operator));
        await using var all = await EventStreamReader.OpenAsync(http, $"/api/events?after={host.LastSequence}", bearer: host.AdminKey);

        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        await registry.RegisterDeviceAsync(TestDevices.Alarm(1), host.Auth(vendor)); // in 130127103
        await registry.RegisterDeviceAsync(TestDevices.Alarm(2, lon: 114.57515, lat: 37.59285), host.Auth(vendor)); // 中韩镇, 130127104

        await all.WaitForCountAsync(m => m.Event == "FEED_EVENT_KIND_DEVICE_REGISTERED", 2, "both registrations");
        var only = await town.WaitForAsync(m => m.Event == "FEED_EVENT_KIND_DEVICE_REGISTERED", "the registration in 130127104");
        Assert.Equal(TestDevices.AlarmId(2), JsonParser.Default.Parse<FeedEvent>(only.Data).Device.DeviceId);
        Assert.Equal(all.FeedEvents[1].Id, only.Id);
        Assert.Single(town.FeedEvents);
    }

    [Theory]
    [InlineData("?after=abc", null, 400, 3, "after: 'abc' is not a feed sequence (a whole number; 0 for everything still kept)")]
    [InlineData("?after=-1", null, 400, 3, "after: '-1' is not a feed sequence (a whole number; 0 for everything still kept)")]
    [InlineData("", "x", 400, 3, "Last-Event-ID: 'x' is not a feed sequence (a whole number; 0 for everything still kept)")]
    [InlineData("?after=999999", null, 416, 11, "after: 999999 is ahead of this gateway's feed, which ends at {last} (was its store restored from a backup?); resume from {last} or lower; or reconnect without it to follow from now")]
    [InlineData("?after=1", "999999", 416, 11, "Last-Event-ID: 999999 is ahead of this gateway's feed, which ends at {last} (was its store restored from a backup?); resume from {last} or lower; or reconnect without it to follow from now")]
    public async Task A_position_that_is_no_sequence_or_ahead_of_the_feed_is_refused_before_the_stream_starts(string query, string? lastEventId, int status, int code, string message)
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };

        await using var stream = await EventStreamReader.OpenAsync(http, "/api/events" + query, lastEventId, bearer: host.AdminKey);

        Assert.Equal(status, (int)stream.Response.StatusCode);
        Assert.Equal((code, message.Replace("{last}", host.LastSequence.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)),
            await SessionClient.ReadErrorAsync(stream.Response));
    }

    [Fact]
    public async Task A_position_retention_deleted_is_410_and_0_starts_at_the_oldest_kept()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: ["--feed-retention", "7.00:00:00", "--SharpEyes:Outbox:PruneInterval=40.00:00:00"]);
        await RegisterAsync(host, await host.CreateKeyAsync(Role.Vendor, "vendor-a"), 0, 5);
        host.Time.Advance(TimeSpan.FromDays(8));
        await host.Services.GetRequiredService<RetentionPruner>().PruneAsync();
        var pruned = host.Services.GetRequiredService<FeedLog>().PrunedThrough;
        Assert.True(pruned > 1, $"retention deleted events (through {pruned})");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };

        await using var gone = await EventStreamReader.OpenAsync(http, "/api/events", lastEventId: "1", bearer: host.AdminKey);
        await using var oldest = await EventStreamReader.OpenAsync(http, "/api/events?after=0", bearer: host.AdminKey);

        Assert.Equal(HttpStatusCode.Gone, gone.Response.StatusCode);
        Assert.Equal((11, $"Last-Event-ID: events up to {pruned} were deleted by retention; resume from {pruned} or 0 (everything still kept); or reconnect without it to follow from now"),
            await SessionClient.ReadErrorAsync(gone.Response));
        var first = await oldest.WaitForAsync(m => m.Event.StartsWith("FEED_", StringComparison.Ordinal), "the oldest kept event");
        Assert.Equal((pruned + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), first.Id);
    }

    [Fact]
    public async Task One_stream_over_the_limit_is_429_and_a_client_that_leaves_frees_its_place()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: "--SharpEyes:Limits:EventStreams=2");
        var streams = host.Services.GetRequiredService<EventStreamEndpoint>();
        using var browser = new SessionClient(host);
        await browser.SignInOrFailAsync(await host.CreateKeyAsync(Role.Operator));

        var first = await EventStreamReader.OpenAsync(browser.Http, "/api/events");
        await using var second = await EventStreamReader.OpenAsync(browser.Http, "/api/events");
        await using (var third = await EventStreamReader.OpenAsync(browser.Http, "/api/events"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, third.Response.StatusCode);
            Assert.Equal((8, "too many event streams: 2 are open, the limit (Limits:EventStreams); close one or retry later"), await SessionClient.ReadErrorAsync(third.Response));
        }

        Assert.Equal(1, host.Services.GetRequiredService<ClientRefusals>()[EventStreamEndpoint.TooManyKind]);
        Assert.Equal(2, streams.Open);

        // The client goes away (its connection closes): the gateway notices and frees the place.
        await first.DisposeAsync();
        await Eventually.TrueAsync(() => streams.Open == 1, "the closed stream's place freed");
        await using var again = await EventStreamReader.OpenAsync(browser.Http, "/api/events");
        Assert.Equal(HttpStatusCode.OK, again.Response.StatusCode);
    }

    [Fact]
    public async Task A_stream_that_stops_reading_is_ended_with_where_to_resume_and_resumes_without_gaps_or_duplicates()
    {
        const int behind = 16;
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: [$"--SharpEyes:Limits:FeedSubscriberBuffer={behind}", GatewayHost.NoVendorRateLimit]);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        var refusals = host.Services.GetRequiredService<ClientRefusals>();
        var start = host.LastSequence;

        // A client with a small receive window that reads nothing until told to.
        using var slow = SlowClient(host);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/events?after={start}");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", host.AdminKey);
        using var response = await slow.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var registering = RegisterAsync(host, vendor, 0, 3_000);
        await Eventually.TrueAsync(() => refusals[EventStreamEndpoint.BehindKind] == 1, "the stream that does not read is ended", TimeSpan.FromSeconds(60));

        // Now it reads: what was sent before the end, in order, then the end saying where to resume.
        var reader = await EventStreamReader.FromResponseAsync(response);
        await reader.WaitForEndAsync("the end of the slow stream", TimeSpan.FromSeconds(30));
        await registering;
        var end = Assert.Single(reader.Messages, m => m.Event == "end");
        var sent = reader.FeedEvents.Select(m => long.Parse(m.Id!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var resumeAfter = sent[^1];
        var endData = JsonDocument.Parse(end.Data).RootElement;
        Assert.Equal(8, endData.GetProperty("code").GetInt32());
        Assert.True(endData.GetProperty("reconnect").GetBoolean());
        Assert.StartsWith($"fell more than {behind} events behind the feed", endData.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.EndsWith($"; reconnect with Last-Event-ID: {resumeAfter} (EventSource does)", endData.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(1, sent.Count).Select(i => start + i), sent);
        TestContext.Current.TestOutputHelper?.WriteLine($"the slow stream was sent {sent.Count} of {host.LastSequence - start} events before it was ended");

        // Reconnecting from there gives every later event once.
        await using var resumed = await EventStreamReader.OpenAsync(slow, "/api/events", lastEventId: reader.LastEventId, bearer: host.AdminKey);
        var last = host.LastSequence;
        await resumed.WaitForAsync(m => m.Id == last.ToString(System.Globalization.CultureInfo.InvariantCulture), "every later event");
        Assert.Equal(Enumerable.Range(1, (int)(last - resumeAfter)).Select(i => resumeAfter + i),
            resumed.FeedEvents.Select(m => long.Parse(m.Id!, System.Globalization.CultureInfo.InvariantCulture)));
        await reader.DisposeAsync();
    }

    /// <summary>
    /// A client that reads nothing: once it is behind, the gateway frees its place within the drain timeout (gateway
    /// clock) one of two ways, both checked: its stuck write never completes and the connection is closed (the reset,
    /// logged), or the kernel lets a little more through, the write completes and the stream ends with <c>event: end</c>.
    /// </summary>
    [Fact]
    public async Task A_stream_that_falls_behind_and_reads_nothing_is_ended_and_its_place_freed_within_the_drain_timeout()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: ["--SharpEyes:Limits:FeedSubscriberBuffer=16", GatewayHost.NoVendorRateLimit]);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        var streams = host.Services.GetRequiredService<EventStreamEndpoint>();
        using var stuck = SlowClient(host);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/events?after={host.LastSequence}");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", host.AdminKey);
        using var response = await stuck.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(1, streams.Open);

        var registering = RegisterAsync(host, vendor, 0, 3_000);
        await Eventually.TrueAsync(() => host.Services.GetRequiredService<ClientRefusals>()[EventStreamEndpoint.BehindKind] == 1, "the stream is ended", TimeSpan.FromSeconds(60));
        var advanced = TimeSpan.Zero;
        await Eventually.TrueAsync(() =>
        {
            host.Time.Advance(TimeSpan.FromSeconds(5));
            advanced += TimeSpan.FromSeconds(5);
            return streams.Open == 0;
        }, "the stream closed and its place freed");
        await registering;
        Assert.InRange(advanced, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(35)); // the drain timeout is 30 s

        await using var reader = await EventStreamReader.FromResponseAsync(response);
        await reader.WaitForEndAsync("what the client can still read", TimeSpan.FromSeconds(30));
        var reset = host.Logs.All.Contains("Reset an event stream that fell behind and read nothing for 00:00:30", StringComparison.Ordinal);
        TestContext.Current.TestOutputHelper?.WriteLine(reset ? "the connection was closed after the drain timeout" : "the stuck write completed: the stream ended with event: end");
        if (reset)
        {
            Assert.DoesNotContain(reader.Messages, m => m.Event == "end");
        }
        else
        {
            Assert.Equal(8, JsonDocument.Parse(Assert.Single(reader.Messages, m => m.Event == "end").Data).RootElement.GetProperty("code").GetInt32());
        }
    }

    private static HttpClient SlowClient(GatewayHost host) =>
        new(new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = SlowSocket();
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        }) { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };

    /// <summary>
    /// A client socket that lets little wait for it: a small receive window, and a small segment size announced in its
    /// SYN. Over loopback (MSS 64 KiB) Linux sizes the sending side's buffer from the segment size at some megabytes,
    /// which would hold thousands of events before a write waits; real networks (MSS ~1460) hold far less.
    /// </summary>
    private static Socket SlowSocket()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        socket.SetRawSocketOption(6 /* IPPROTO_TCP */, 2 /* TCP_MAXSEG */, BitConverter.GetBytes(536));
        return socket;
    }

    /// <summary>Registers alarm devices first..first+count-1, one per call, four calls at a time.</summary>
    private static async Task RegisterAsync(GatewayHost host, string vendorKey, int first, int count)
    {
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        await Parallel.ForAsync(first, first + count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
            await registry.RegisterDeviceAsync(TestDevices.Alarm(i), host.Auth(vendorKey), cancellationToken: ct));
    }
}
