using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Delivery;

/// <summary>
/// MQTT sessions across broken connections (clean start off): a publisher whose TCP connection is reset mid-burst
/// resends what was not acknowledged, and the gateway keeps exactly one copy of each alarm; a vendor's dead-letter
/// subscription outlives its connection and gets what was published while it was away. Connections are broken with
/// <see cref="TcpProxy"/> (RST, as when a NAT or a cable drops them).
/// </summary>
public sealed class MqttSessionTests : IAsyncLifetime
{
    private const string VendorId = "vendor-session";
    // Long enough that both drops (at 400 and 1,200 accepted) fall inside it: once PostgreSQL's intake became as fast
    // as SQLite's, a 2,000-alarm burst was all acknowledged before the test saw 400 accepted.
    private const int BurstCount = 5_000;
    private const uint SessionExpirySeconds = 3600;
    /// <summary>
    /// How long the burst may take. After a reset MQTT.js resends its stored messages one at a time, each after the
    /// previous one's PUBACK, so the resends go at one alarm per commit: about 1 ms on SQLite, 10–20 ms on PostgreSQL
    /// (several round trips), where thousands resent take most of a minute on a loaded machine.
    /// </summary>
    private static readonly TimeSpan BurstDeadline = TimeSpan.FromSeconds(150);

    private static readonly TimeSpan NodeTimeout = BurstDeadline + TimeSpan.FromSeconds(20);

    private GatewayHost _host = null!;
    private string _vendorKey = null!;
    private string _centreKey = null!;

    private AlarmStats Stats => _host.Services.GetRequiredService<AlarmStats>();

    private static string DeadLetterTopic => DeadLetterSink.TopicPrefix + VendorId;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync(); // the demo geography: device ids must be in a county the gateway serves
        _vendorKey = await _host.CreateKeyAsync(Role.Vendor, VendorId);
        _centreKey = await _host.CreateKeyAsync(Role.Centre);
        var registry = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
        for (var i = 1; i <= 4; i++)
        {
            await registry.RegisterDeviceAsync(TestDevices.Alarm(i, lon: TestDevices.SeatLon + (i * 0.002), lat: TestDevices.SeatLat - (i * 0.0015)), _host.Auth(_vendorKey));
        }
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Publisher_disconnected_mid_burst_resends_what_was_not_acknowledged_and_every_alarm_is_kept_exactly_once()
    {
        var node = InteropPaths.RequireNode();
        await using var proxy = new TcpProxy(_host.MqttPort);
        await using var feed = new FeedReader(_host, _centreKey);
        var devices = string.Join(',', Enumerable.Range(1, 4).Select(TestDevices.AlarmId));
        var stats = Stats;

        await using var publisher = ExternalTool.Start(node,
            [Path.Combine(InteropPaths.NodeInteropDirectory, "burst-publisher.mjs"), proxy.Port.ToString(CultureInfo.InvariantCulture),
             VendorId, _vendorKey, "burst-publisher-1", devices, BurstCount.ToString(CultureInfo.InvariantCulture),
             ((int)BurstDeadline.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)],
            InteropPaths.NodeDirectory);

        // Two resets, each while the connection carries the burst: the first while thousands are in flight, the
        // second on the reconnected session, while MQTT.js is resending.
        await WaitForAcceptedAsync(stats, 400, publisher, proxy, connections: 1);
        Assert.Equal(1, proxy.DropAll());
        await WaitForAcceptedAsync(stats, 1_200, publisher, proxy, connections: 2);
        Assert.Equal(1, proxy.DropAll());
        var lastDrop = DateTimeOffset.UtcNow;
        var run = await publisher.WaitForExitAsync(NodeTimeout);

        Assert.True(run.ExitCode == 0, $"burst-publisher.mjs did not get every PUBACK: {run}");
        var summary = JsonDocument.Parse(run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last()).RootElement;
        var acked = summary.GetProperty("acked").GetInt32();
        var resent = summary.GetProperty("resent").GetInt32();
        var reconnects = summary.GetProperty("reconnects").GetInt32();
        Assert.Equal(BurstCount, acked);
        Assert.Equal(0, summary.GetProperty("errors").GetInt32());
        Assert.True(reconnects >= 2, $"MQTT.js reconnected {reconnects} times after 2 resets: {run}");
        Assert.Equal(2, proxy.Drops);
        // The broker kept the session (MQTT 5, session expiry one hour) across both resets.
        Assert.Equal(summary.GetProperty("connacks").GetInt32() - 1, summary.GetProperty("sessionsResumed").GetInt32());
        // The resends happened: the first reset came with most of the burst unacknowledged.
        Assert.True(resent > 0, $"MQTT.js resent nothing after the resets: {run}");
        Assert.Equal(resent, summary.GetProperty("ackedAfterResend").GetInt32());

        // Every PUBACK came after the commit: the counters are final now. Each alarm accepted once; the copies the
        // gateway had already committed when the connection died came back as resends and were counted as duplicates.
        var accepted = stats.Accepted;
        var duplicates = stats.Duplicates;
        Assert.Equal(BurstCount, accepted);
        // At most one duplicate per extra copy written: an alarm resent after both resets is one resent event id
        // but may come back twice (a cold run saw 1,747 duplicates for 1,746 resent ids).
        var extraCopies = summary.GetProperty("sends").GetInt32() - BurstCount;
        Assert.InRange(duplicates, 0, extraCopies);
        Assert.Equal(0, stats.DeadLetters.Values.Sum());

        // The feed: every event id exactly once (an incident's event carries every alarm of its commit).
        await feed.WaitForAlarmsAsync(BurstCount, $"{BurstCount} alarms on incident events", TimeSpan.FromSeconds(30));
        var onFeed = feed.Alarms.Select(a => a.EventId).ToList();
        Assert.Equal(BurstCount, onFeed.Count);
        Assert.Equal(Enumerable.Range(0, BurstCount).Select(i => $"burst-{i:D5}"), onFeed.Order(StringComparer.Ordinal));

        var recovery = DateTimeOffset.FromUnixTimeMilliseconds(summary.GetProperty("allAckedAt").GetInt64()) - lastDrop;
        TestContext.Current.SendDiagnosticMessage($"burst: {run.Stdout.Trim()}; accepted {accepted}, duplicates {duplicates}, connections {proxy.Accepted}");
        FaultReport.Add("publisher disconnected mid-burst", string.Create(CultureInfo.InvariantCulture, $"2 TCP drops (RST) during a {BurstCount:N0}-alarm MQTT.js QoS 1 burst, clean start off"),
            BurstCount, accepted, duplicates, recovery < TimeSpan.Zero ? TimeSpan.Zero : recovery,
            $"MQTT.js resent {resent} unacknowledged ({duplicates} already committed, {resent - duplicates} first accepted on resend); {reconnects} reconnects");
    }

    [Fact]
    public async Task A_persistent_session_gets_its_QoS_1_dead_letters_redelivered_and_a_clean_start_gets_none_queued()
    {
        const string subscriberId = "vendor-session-dl";
        var received = new ConcurrentQueue<JsonElement>();
        Task OnMessage(MqttApplicationMessageReceivedEventArgs e)
        {
            Assert.Equal(DeadLetterTopic, e.ApplicationMessage.Topic);
            received.Enqueue(JsonDocument.Parse(e.ApplicationMessage.Payload.ToArray()).RootElement.Clone());
            return Task.CompletedTask;
        }

        using var subscriber = new MqttClientFactory().CreateMqttClient();
        subscriber.ApplicationMessageReceivedAsync += OnMessage;
        var first = await subscriber.ConnectAsync(SessionOptions(_host.MqttPort, subscriberId, cleanStart: false));
        Assert.False(first.IsSessionPresent);
        var sub = await subscriber.SubscribeAsync(DeadLetterTopic, MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, sub.Items.Single().ResultCode);
        await subscriber.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build());

        // While it is away, three bad alarms from the same vendor (another connection) are dead-lettered.
        using var publisher = new MqttClientFactory().CreateMqttClient();
        await publisher.ConnectAsync(SessionOptions(_host.MqttPort, "vendor-session-pub", cleanStart: true));
        Assert.Equal("malformed", (await publisher.PublishAsync(Message(TestDevices.AlarmId(1), "{not json"))).ReasonString);
        Assert.Equal("unknown-device", (await publisher.PublishAsync(Message("13012700001340888881", TestDevices.AlarmJson("evt-unknown")))).ReasonString);
        Assert.Equal("invalid-field", (await publisher.PublishAsync(Message(TestDevices.AlarmId(2), TestDevices.AlarmJson("evt-priority", priority: 9)))).ReasonString);
        Assert.Empty(received);

        // Back with the same client id and clean start off, without subscribing again: the session kept the
        // subscription and queued the three dead letters (each PUBACK above came after its dead letter was published).
        var resumed = await subscriber.ConnectAsync(SessionOptions(_host.MqttPort, subscriberId, cleanStart: false));
        Assert.True(resumed.IsSessionPresent, "the broker did not keep the session");
        await Eventually.TrueAsync(() => received.Count >= 3, "the 3 dead letters queued for the offline session", TimeSpan.FromSeconds(10));
        var letters = received.ToList();
        Assert.Equal(["malformed", "unknown-device", "invalid-field"], letters.Select(l => l.GetProperty("reason").GetString()));
        Assert.All(letters, l => Assert.Equal(VendorId, l.GetProperty("vendorId").GetString()));
        Assert.Equal(
            ["sharpeyes/v1/alarms/" + TestDevices.AlarmId(1), "sharpeyes/v1/alarms/13012700001340888881", "sharpeyes/v1/alarms/" + TestDevices.AlarmId(2)],
            letters.Select(l => l.GetProperty("topic").GetString()));
        await subscriber.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build());

        // The contrast: a dead letter while it is away, then back with clean start on. The session (with whatever it
        // queued) is gone: after subscribing again, only the dead letter published after that arrives.
        received.Clear();
        Assert.Equal("unknown-device", (await publisher.PublishAsync(Message("13012700001340888882", TestDevices.AlarmJson("evt-away")))).ReasonString);
        var clean = await subscriber.ConnectAsync(SessionOptions(_host.MqttPort, subscriberId, cleanStart: true));
        Assert.False(clean.IsSessionPresent);
        sub = await subscriber.SubscribeAsync(DeadLetterTopic, MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, sub.Items.Single().ResultCode);
        Assert.Equal("unknown-device", (await publisher.PublishAsync(Message("13012700001340888883", TestDevices.AlarmJson("evt-marker")))).ReasonString);
        // Delivery is in order: had the clean session inherited the queued letter, it would arrive before the marker.
        await Eventually.TrueAsync(() => !received.IsEmpty, "the dead letter published after the clean start", TimeSpan.FromSeconds(10));
        var only = Assert.Single(received);
        Assert.Equal("sharpeyes/v1/alarms/13012700001340888883", only.GetProperty("topic").GetString());
    }

    [Fact]
    public async Task A_publisher_reconnecting_with_its_session_resends_an_unacknowledged_alarm_and_it_is_kept_exactly_once()
    {
        await using var proxy = new TcpProxy(_host.MqttPort);
        await using var feed = new FeedReader(_host, _centreKey);
        var stats = Stats;
        const string clientId = "vendor-session-resend";
        using var client = new MqttClientFactory().CreateMqttClient();
        var connected = await client.ConnectAsync(SessionOptions(proxy.Port, clientId, cleanStart: false));
        Assert.False(connected.IsSessionPresent);

        // The PUBACK is lost on the way back: the gateway commits the alarm and answers, the proxy throws the answer
        // away, then resets the connection. The publisher never learns that the alarm was stored.
        proxy.DiscardFromTarget = true;
        var publish = client.PublishAsync(Message(TestDevices.AlarmId(1), TestDevices.AlarmJson("evt-resend")));
        await Eventually.TrueAsync(() => stats.Accepted == 1, "the alarm committed");
        Assert.False(publish.IsCompleted, "the PUBACK reached the publisher through a discarding proxy");
        Assert.Equal(1, proxy.DropAll());
        await Assert.ThrowsAnyAsync<Exception>(() => publish.WaitAsync(TimeSpan.FromSeconds(10)));
        proxy.DiscardFromTarget = false;

        // It reconnects with its session (a new connection under the same client id; MQTTnet's client does not keep
        // unacknowledged publishes across connections, so the resend is the test's, as a vendor's own store would
        // do it) and resends the unacknowledged alarm (QoS 1, DUP set, as MQTT requires).
        using var reconnected = new MqttClientFactory().CreateMqttClient();
        var resumed = await reconnected.ConnectAsync(SessionOptions(proxy.Port, clientId, cleanStart: false));
        Assert.True(resumed.IsSessionPresent, "the broker did not keep the publisher's session");
        var resend = Message(TestDevices.AlarmId(1), TestDevices.AlarmJson("evt-resend"));
        resend.Dup = true;
        var ack = await reconnected.PublishAsync(resend);

        Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode);
        Assert.Equal(1, stats.Accepted);
        Assert.Equal(1, stats.Duplicates);
        Assert.Equal(2, proxy.Accepted);

        // On the feed once: a later alarm's event marks the point by which a second copy would have shown up.
        Assert.Equal(MqttClientPublishReasonCode.Success, (await reconnected.PublishAsync(Message(TestDevices.AlarmId(2), TestDevices.AlarmJson("evt-after")))).ReasonCode);
        await feed.WaitForAsync(e => e.Incident?.Alarms.Any(a => a.EventId == "evt-after") == true, "the later alarm on the feed");
        var carrying = feed.Events.Where(e => e.Incident?.Alarms.Any(a => a.EventId == "evt-resend") == true).ToList();
        var single = Assert.Single(carrying);
        Assert.Equal(FeedEventKind.IncidentOpened, single.Kind);
        Assert.Equal(2, stats.Accepted);
    }

    private MqttClientOptions SessionOptions(int port, string clientId, bool cleanStart) => new MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", port)
        .WithClientId(clientId)
        .WithCredentials(VendorId, _vendorKey)
        .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
        .WithCleanStart(cleanStart)
        .WithSessionExpiryInterval(SessionExpirySeconds)
        .WithTimeout(TimeSpan.FromSeconds(10))
        .Build();

    private static MqttApplicationMessage Message(string deviceId, string payload) => new MqttApplicationMessageBuilder()
        .WithTopic("sharpeyes/v1/alarms/" + deviceId)
        .WithPayload(payload)
        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
        .Build();

    /// <summary>Polls the accepted count closely (a burst moves fast) until it reaches <paramref name="count"/> with <paramref name="connections"/> forwarded, the last one open.</summary>
    private static async Task WaitForAcceptedAsync(AlarmStats stats, long count, ExternalTool publisher, TcpProxy proxy, int connections)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (stats.Accepted < count || proxy.Accepted < connections || proxy.Open == 0)
        {
            if (publisher.HasExited)
            {
                var run = await publisher.WaitForExitAsync(TimeSpan.FromSeconds(5));
                Assert.Fail($"burst-publisher.mjs ended before {count} alarms were accepted ({stats.Accepted}): {run}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {count} accepted alarms on connection {connections} (accepted {stats.Accepted}, connections {proxy.Accepted}, open {proxy.Open})");
            }

            await Task.Delay(1);
        }
    }
}
