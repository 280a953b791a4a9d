using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Delivery;

/// <summary>
/// The outbox's MQTT endpoint against a real external broker (mosquitto, out of process) and the real gateway
/// executable (real time: the outbox's retry delays and the reconnect loop run on the system clock).
/// </summary>
public sealed class MqttEndpointTests
{
    private const string AdminKey = "mqtt-endpoint-test-admin-key-0123456789";
    private const string VendorId = "vendor-mqtt-endpoint";
    private const string FeedTopic = "sharpeyes/v1/feed";
    private const int Devices = 8;
    private const int AlarmsPerPhase = 300;

    /// <summary>
    /// mosquitto (persistence on, so the subscriber's session and its queue survive the restart: what it misses can
    /// only be what the gateway failed to get acknowledged) is stopped with SIGTERM while alarms keep arriving, and
    /// started again on the same port. The gateway must keep acknowledging alarms, report the outage, reconnect by
    /// itself and redeliver everything the broker had not acknowledged: the subscriber ends up with every feed
    /// sequence, first arrivals in order.
    /// </summary>
    [Fact]
    public async Task The_gateways_MQTT_endpoint_survives_a_broker_restart()
    {
        await using var broker = await MosquittoServer.StartAsync();
        // Subscribed before the gateway starts, so the broker queues every event for it from sequence 1 on.
        await using var subscriber = await FeedSubscriber.StartAsync(broker.Port, "sharpeyes-test-feed-subscriber");
        await using var gateway = await GatewayProcess.StartAsync(GatewayHost.NewDataDir(), AdminKey,
            "--demo", "--demo-cameras", "false", "--stream-checks", "false",
            "--centre-url", $"mqtt://127.0.0.1:{broker.Port}",
            "--SharpEyes:Outbox:Endpoints:0:RetryBaseDelay=00:00:00.200",
            "--SharpEyes:Outbox:Endpoints:0:RetryMaxDelay=00:00:02",
            "--SharpEyes:Outbox:Endpoints:0:BreakDuration=00:00:02");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{gateway.HttpPort}"), Timeout = TimeSpan.FromSeconds(10) };
        string Diagnostics() => $"\n--- subscriber ---\n{subscriber.Describe()}\n--- mosquitto ---\n{Tail(broker.Log, 30)}\n--- gateway ---\n{Tail(gateway.Output, 40)}";

        var vendorKey = await SetUpAsync(gateway);
        using var vendor = await AlarmPublisher.ConnectAsync(gateway.MqttPort, VendorId, vendorKey, "mqtt-endpoint-vendor");
        var devices = Enumerable.Range(0, Devices).Select(TestDevices.AlarmId).ToList();
        var acked = new ConcurrentDictionary<string, bool>();

        // 1. Broker up: everything reaches the subscriber.
        await AlarmPublisher.PublishAsync(vendor, devices, Enumerable.Range(0, AlarmsPerPhase).Select(n => $"before-{n}"), acked, occurredAt: DateTimeOffset.UtcNow);
        Assert.Equal(AlarmsPerPhase, acked.Count);
        // Every PUBACK came after its commit, so the feed's last sequence now covers every alarm of the phase (an
        // incident's event carries all its alarms of one commit: fewer events than alarms).
        var committed = (long)await ValueAsync(http, "sharpeyes_feed_last_sequence");
        var firstLast = await WaitUntilDeliveredAsync(http, subscriber, committed, TimeSpan.FromSeconds(60), Diagnostics);
        Assert.Equal(1, await ValueAsync(http, """sharpeyes_outbox_connected{endpoint="centre"}"""));

        // 2. Broker down: intake goes on (every alarm is acknowledged), the outbox backs up and says so.
        await broker.StopAsync();
        var outage = Stopwatch.StartNew();
        Assert.False(broker.IsRunning);
        await AlarmPublisher.PublishAsync(vendor, devices, Enumerable.Range(0, AlarmsPerPhase).Select(n => $"during-{n}"), acked, occurredAt: DateTimeOffset.UtcNow);
        Assert.False(broker.IsRunning);
        Assert.Equal(2 * AlarmsPerPhase, acked.Count);
        Dictionary<string, double> down;
        try
        {
            down = await Eventually.WaitAsync(async () =>
            {
                var m = await ScrapeAsync(http);
                return m.GetValueOrDefault("""sharpeyes_outbox_connected{endpoint="centre"}""", -1) == 0
                    && m.GetValueOrDefault("""sharpeyes_outbox_depth{endpoint="centre"}""") > 0 ? m : null;
            }, "sharpeyes_outbox_connected 0 and sharpeyes_outbox_depth > 0 while the broker is down", TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(e.Message + Diagnostics(), e);
        }

        var depthDuringOutage = (long)down["""sharpeyes_outbox_depth{endpoint="centre"}"""];
        var lastDuringOutage = (long)down["sharpeyes_feed_last_sequence"];
        Assert.True(lastDuringOutage > firstLast, $"the feed went on during the outage: {firstLast} → {lastDuringOutage}");
        var health = await Eventually.WaitAsync(async () =>
        {
            var text = await http.GetStringAsync("/healthz");
            return text.Contains("outbox: Degraded", StringComparison.Ordinal) ? text : null;
        }, "/healthz to report the outbox Degraded", TimeSpan.FromSeconds(20));
        Assert.Contains("status: Degraded", health, StringComparison.Ordinal);
        Assert.Contains("centre is failing", health, StringComparison.Ordinal);
        var outageLength = outage.Elapsed;

        // 3. Broker back on the same port: the gateway reconnects by itself and redelivers; so does the subscriber.
        var restartedAt = Stopwatch.GetTimestamp();
        await broker.StartAgainAsync();
        try
        {
            await Eventually.TrueAsync(async () => await ValueAsync(http, """sharpeyes_outbox_connected{endpoint="centre"}""") == 1,
                "the gateway to reconnect to the restarted broker", TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(e.Message + Diagnostics(), e);
        }

        var gatewayReconnect = Stopwatch.GetElapsedTime(restartedAt);
        var last = await WaitUntilDeliveredAsync(http, subscriber, lastDuringOutage, TimeSpan.FromSeconds(60), Diagnostics);
        var recovery = Stopwatch.GetElapsedTime(restartedAt);
        await Eventually.TrueAsync(async () => await ValueAsync(http, """sharpeyes_outbox_depth{endpoint="centre"}""") == 0,
            "the outbox to drain (depth 0)", TimeSpan.FromSeconds(30));

        var received = subscriber.Snapshot();
        var reconnect = Assert.Single(received.Connects.Skip(1)); // the first connect was before the gateway started
        Assert.True(reconnect.SessionPresent, "mosquitto kept the subscriber's session across the restart (persistence): without it this test proves nothing" + Diagnostics());
        var subscriberReconnect = Stopwatch.GetElapsedTime(restartedAt, reconnect.At);

        Assert.Empty(received.Problems);
        var distinct = received.FirstArrivals.Count(s => s <= last);
        var missing = Enumerable.Range(1, (int)last).Where(s => !received.Seen.Contains(s)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {last} sequences never arrived, e.g. {string.Join(", ", missing.Take(10))}" + Diagnostics());
        Assert.Equal(last, distinct);
        for (var i = 1; i < received.FirstArrivals.Count; i++)
        {
            Assert.True(received.FirstArrivals[i] > received.FirstArrivals[i - 1],
                $"first arrivals out of order at #{i}: {received.FirstArrivals[i - 1]} then {received.FirstArrivals[i]}");
        }

        var source = Assert.Single(received.Sources);
        Assert.False(string.IsNullOrEmpty(source));
        var lostAlarms = acked.Keys.Where(id => !received.AlarmIds.Contains(id)).ToList();
        Assert.True(lostAlarms.Count == 0, $"{lostAlarms.Count} acknowledged alarms are in no event the subscriber got, e.g. {string.Join(", ", lostAlarms.Take(5))}");

        var notes = string.Create(CultureInfo.InvariantCulture,
            $"broker down {outageLength.TotalSeconds:0.0} s (outbox depth {depthDuringOutage}, health Degraded); gateway reconnected after {gatewayReconnect.TotalSeconds:0.00} s, subscriber after {subscriberReconnect.TotalSeconds:0.00} s (session kept); {2 * AlarmsPerPhase} alarms acknowledged, all on the topic");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"events {last}, arrived {distinct}, duplicates {received.Duplicates}, recovery {recovery.TotalSeconds:0.00} s; {notes}");
        FaultReport.Add("external MQTT broker restart", "mosquitto SIGTERM, 300 alarms, restart on the same port",
            last, distinct, received.Duplicates, recovery, notes);
    }

    /// <summary>The validator refuses a wildcard in the MQTT endpoint's topic before anything starts, naming the option.</summary>
    [Fact]
    public async Task A_wildcard_in_the_MQTT_endpoints_topic_stops_the_gateway_at_start_naming_the_option()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => GatewayProcess.StartAsync(GatewayHost.NewDataDir(), AdminKey,
            "--centre-url", "mqtt://127.0.0.1:1", "--SharpEyes:Outbox:Endpoints:0:Topic=a/#"));
        Assert.Contains("gateway exited at start", error.Message, StringComparison.Ordinal);
        Assert.Contains("sharpeyes: invalid configuration: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("Outbox:Endpoints 'centre': Topic must be a non-empty topic name without wildcards", error.Message, StringComparison.Ordinal);
    }

    private static Task<string> SetUpAsync(GatewayProcess gateway) => gateway.AddVendorWithAlarmDevicesAsync(AdminKey, VendorId, Devices);

    /// <summary>Waits until the subscriber holds every sequence 1..L, L the feed's last (at least <paramref name="atLeast"/>); returns L.</summary>
    private static async Task<long> WaitUntilDeliveredAsync(HttpClient http, FeedSubscriber subscriber, long atLeast, TimeSpan timeout, Func<string> diagnostics)
    {
        try
        {
            var last = await Eventually.WaitAsync(async () =>
            {
                var l = (long)await ValueAsync(http, "sharpeyes_feed_last_sequence");
                return l >= atLeast && subscriber.HoldsAllThrough(l) ? (object)l : null;
            }, $"the subscriber to hold every feed sequence (at least {atLeast})", timeout);
            return (long)last;
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(e.Message + diagnostics(), e);
        }
    }

    private static async Task<double> ValueAsync(HttpClient http, string series) =>
        (await ScrapeAsync(http)).TryGetValue(series, out var v) ? v : throw new InvalidOperationException($"/metrics has no {series}");

    private static async Task<Dictionary<string, double>> ScrapeAsync(HttpClient http) => MetricsScrape.Parse(await http.GetStringAsync("/metrics"));

    private static string Tail(string text, int lines) => string.Join('\n', text.Split('\n').TakeLast(lines));

    /// <summary>What the subscriber has seen, copied under its lock.</summary>
    private sealed record Received(
        IReadOnlyList<long> FirstArrivals, IReadOnlySet<long> Seen, long Duplicates, IReadOnlySet<string> Sources, IReadOnlySet<string> AlarmIds,
        IReadOnlyList<string> Problems, IReadOnlyList<(long At, bool SessionPresent)> Connects);

    /// <summary>
    /// The centre's side: an MQTT 5 client with a persistent session (clean start off, one hour of session expiry)
    /// and a QoS 1 subscription to the whole feed. It records each message's (source, sequence) user properties,
    /// checks them against the JSON payload, and counts redelivered copies. A supervising loop reconnects it (same
    /// session) when the broker goes away, every 100 ms, until it is disposed or five minutes have passed.
    /// </summary>
    private sealed class FeedSubscriber : IAsyncDisposable
    {
        private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));
        private readonly IMqttClient _client;
        private readonly MqttClientOptions _options;
        private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(5));
        private readonly Lock _gate = new();
        private readonly List<long> _firstArrivals = [];
        private readonly HashSet<long> _seen = [];
        private readonly HashSet<string> _sources = [];
        private readonly HashSet<string> _alarmIds = [];
        private readonly List<string> _problems = [];
        private readonly List<(long At, bool SessionPresent)> _connects = [];
        private long _duplicates;
        private Task _loop = Task.CompletedTask;

        private FeedSubscriber(int port, string clientId)
        {
            _client = new MqttClientFactory().CreateMqttClient();
            _options = new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", port)
                .WithClientId(clientId)
                .WithProtocolVersion(MqttProtocolVersion.V500)
                .WithCleanStart(false)
                .WithSessionExpiryInterval(3600)
                .WithKeepAlivePeriod(TimeSpan.FromSeconds(5))
                .WithTimeout(TimeSpan.FromSeconds(5))
                .Build();
            _client.ApplicationMessageReceivedAsync += e =>
            {
                Record(e.ApplicationMessage);
                return Task.CompletedTask;
            };
        }

        public static async Task<FeedSubscriber> StartAsync(int port, string clientId)
        {
            var subscriber = new FeedSubscriber(port, clientId);
            var result = await subscriber._client.ConnectAsync(subscriber._options);
            Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
            subscriber._connects.Add((Stopwatch.GetTimestamp(), result.IsSessionPresent));
            await subscriber.SubscribeAsync();
            subscriber._loop = Task.Run(subscriber.SuperviseAsync);
            return subscriber;
        }

        public bool HoldsAllThrough(long last)
        {
            lock (_gate)
            {
                return _seen.Count(s => s <= last) == last;
            }
        }

        public Received Snapshot()
        {
            lock (_gate)
            {
                return new Received([.. _firstArrivals], new HashSet<long>(_seen), _duplicates, new HashSet<string>(_sources),
                    new HashSet<string>(_alarmIds), [.. _problems], [.. _connects]);
            }
        }

        public string Describe()
        {
            lock (_gate)
            {
                var gaps = _seen.Count == 0 ? "" : string.Join(", ", Enumerable.Range(1, (int)_seen.Max()).Where(s => !_seen.Contains(s)).Take(10));
                return $"connected {_client.IsConnected}, connects {_connects.Count} (session present: {string.Join(",", _connects.Select(c => c.SessionPresent))}), " +
                    $"distinct {_seen.Count}, max {(_seen.Count == 0 ? 0 : _seen.Max())}, duplicates {_duplicates}, first gaps [{gaps}], problems {_problems.Count}";
            }
        }

        private async Task SubscribeAsync()
        {
            var result = await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(f => f.WithTopic(FeedTopic + "/#").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
                .Build(), _stop.Token);
            Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, Assert.Single(result.Items).ResultCode);
        }

        /// <summary>Reconnects from a loop (never from the Disconnected event), with the same session.</summary>
        private async Task SuperviseAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                if (!_client.IsConnected)
                {
                    try
                    {
                        var result = await _client.ConnectAsync(_options, _stop.Token);
                        lock (_gate)
                        {
                            _connects.Add((Stopwatch.GetTimestamp(), result.IsSessionPresent));
                        }

                        if (!result.IsSessionPresent)
                        {
                            await SubscribeAsync(); // the broker forgot the session; the test reports it
                        }
                    }
                    catch (Exception)
                    {
                        // The broker is down (or stopping): try again shortly.
                    }
                }

                try
                {
                    await Task.Delay(100, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        private void Record(MqttApplicationMessage message)
        {
            string? Property(string name) => message.UserProperties?.FirstOrDefault(p => p.Name == name)?.ReadValueAsString();
            var source = Property("source");
            var kind = Property("kind");
            lock (_gate)
            {
                if (source is null || !long.TryParse(Property("sequence"), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) || sequence <= 0)
                {
                    _problems.Add($"{message.Topic}: missing or bad source/sequence user properties");
                    return;
                }

                FeedEvent feedEvent;
                try
                {
                    feedEvent = Parser.Parse<FeedEvent>(message.ConvertPayloadToString());
                }
                catch (InvalidProtocolBufferException e)
                {
                    _problems.Add($"sequence {sequence}: the payload is not a FeedEvent in protobuf JSON: {e.Message}");
                    return;
                }

                var region = feedEvent.RegionCode.Length > 0 ? feedEvent.RegionCode : "none";
                if (feedEvent.Sequence != sequence || kind != feedEvent.Kind.ToString() || message.Topic != $"{FeedTopic}/{region}")
                {
                    _problems.Add($"sequence {sequence} (kind {kind}, topic {message.Topic}) carries event {feedEvent.Sequence} ({feedEvent.Kind}, region {region})");
                }

                _sources.Add(source);
                if (!_seen.Add(sequence))
                {
                    _duplicates++;
                    return;
                }

                _firstArrivals.Add(sequence);
                if (feedEvent.Incident is { Alarms.Count: > 0 } incident && feedEvent.Kind != FeedEventKind.IncidentClosed)
                {
                    _alarmIds.UnionWith(incident.Alarms.Select(a => a.EventId));
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop.WaitAsync(TimeSpan.FromSeconds(10));
            if (_client.IsConnected)
            {
                try
                {
                    // Ends the session on the broker too (expiry 0), so nothing is left behind.
                    await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval(0).Build())
                        .WaitAsync(TimeSpan.FromSeconds(5));
                }
                catch (Exception)
                {
                    // The broker may already be gone.
                }
            }

            _client.Dispose();
            _stop.Dispose();
        }
    }
}
