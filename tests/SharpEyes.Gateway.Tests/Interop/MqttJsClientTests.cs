using System.Text.Json;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Interop;

/// <summary>
/// MQTT.js (the Node mqtt package) publishing a burst of alarms over MQTT 3.1.1 and MQTT 5 at once, plus duplicates and
/// a foreign device's alarm (tests/node/interop/mqtt-vendor.mjs). Every PUBACK must mean a durable, counted alarm that
/// reaches the feed exactly once. And a persistent MQTT.js publisher whose bad alarms must neither cost it its
/// connection nor hold back the valid alarm behind them (tests/node/interop/mqtt-bad-alarm.mjs).
/// </summary>
public sealed class MqttJsClientTests : IAsyncLifetime
{
    private const string VendorId = "vendor-mqttjs";
    private const int AlarmCount = 200;
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(25);

    private GatewayHost _host = null!;
    private string _vendorKey = null!;
    private string _centreKey = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync();
        _vendorKey = await _host.CreateKeyAsync(Role.Vendor, VendorId);
        _centreKey = await _host.CreateKeyAsync(Role.Centre);
        var otherKey = await _host.CreateKeyAsync(Role.Vendor, "vendor-other");
        var registry = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
        for (var i = 1; i <= 4; i++)
        {
            // Spread over a few hundred metres: several grids, several incidents.
            await registry.RegisterDeviceAsync(TestDevices.Alarm(i, lon: TestDevices.SeatLon + (i * 0.002), lat: TestDevices.SeatLat - (i * 0.0015)), _host.Auth(_vendorKey));
        }

        await registry.RegisterDeviceAsync(TestDevices.Alarm(9), _host.Auth(otherKey));
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Two_hundred_MQTT_js_alarms_over_311_and_5_are_each_acknowledged_counted_once_and_on_the_feed()
    {
        var node = InteropPaths.RequireNode();
        await using var feed = new FeedReader(_host, _centreKey);
        var devices = string.Join(',', Enumerable.Range(1, 4).Select(TestDevices.AlarmId));

        var run = await ExternalTool.RunAsync(node,
            [Path.Combine(InteropPaths.NodeInteropDirectory, "mqtt-vendor.mjs"), _host.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
             VendorId, _vendorKey, TestDevices.AlarmId(9), devices],
            NodeTimeout, InteropPaths.NodeDirectory, new Dictionary<string, string> { ["ALARM_COUNT"] = AlarmCount.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        Assert.True(run.ExitCode == 0, $"mqtt-vendor.mjs failed: {run}");
        using var summary = JsonDocument.Parse(run.Stdout);
        var root = summary.RootElement;

        // Every alarm PUBACKed with success, half over each protocol version.
        var published = root.GetProperty("published").EnumerateArray().ToList();
        Assert.Equal(AlarmCount, published.Count);
        Assert.All(published, p => Assert.True(p.GetProperty("acked").GetBoolean() && p.GetProperty("reasonCode").GetInt32() == 0, p.ToString()));
        Assert.Equal(AlarmCount / 2, published.Count(p => p.GetProperty("protocol").GetString() == "mqttv311"));
        Assert.Equal(AlarmCount / 2, published.Count(p => p.GetProperty("protocol").GetString() == "mqttv5"));
        var eventIds = published.Select(p => p.GetProperty("eventId").GetString()!).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(AlarmCount, eventIds.Count);

        // Duplicates are acknowledged as successes (the vendor need not resend), not refused.
        var duplicates = root.GetProperty("duplicates").EnumerateArray().ToList();
        Assert.Equal(3, duplicates.Count);
        Assert.All(duplicates, d => Assert.True(d.GetProperty("acked").GetBoolean() && d.GetProperty("reasonCode").GetInt32() == 0, d.ToString()));

        // The foreign device's alarm: MQTT 5 PUBACK 0x87 Not authorized with reason string unknown-device (the answer for a
        // device nobody registered: a vendor cannot tell other vendors' device ids), and a dead letter.
        var foreign = root.GetProperty("foreign");
        Assert.Equal(0x87, foreign.GetProperty("reasonCode").GetInt32());
        Assert.Equal("unknown-device", foreign.GetProperty("reasonString").GetString());
        Assert.Equal([1], root.GetProperty("subscribeGranted").EnumerateArray().Select(g => g.GetInt32()));
        var letter = Assert.Single(root.GetProperty("deadLetters").EnumerateArray());
        Assert.Equal(DeadLetterTopic, letter.GetProperty("topic").GetString());
        Assert.Equal("unknown-device", letter.GetProperty("body").GetProperty("reason").GetString());
        Assert.Equal("sharpeyes/v1/alarms/" + TestDevices.AlarmId(9), letter.GetProperty("body").GetProperty("topic").GetString());

        // The counters: every PUBACK was after the commit, so they are exact the moment the script has ended.
        var stats = await new Admin.AdminClient(_host.Channel).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth);
        Assert.Equal(AlarmCount, stats.AlarmsAccepted);
        Assert.Equal(3, stats.AlarmsDuplicate);
        Assert.Equal(1, stats.DeadLettersByReason["unknown-device"]);
        Assert.Equal(1, stats.DeadLettersByReason.Values.Sum());
        Assert.Equal(AlarmCount + 3 + 1, stats.AlarmsReceived);

        // The feed: every accepted alarm on an incident event; every event id exactly once, no duplicate, no foreign alarm.
        await feed.WaitForAlarmsAsync(AlarmCount, $"{AlarmCount} alarms on incident events");
        var onFeed = feed.Alarms.ToList();
        Assert.Equal(AlarmCount, onFeed.Count);
        Assert.Equal(eventIds.Order(StringComparer.Ordinal), onFeed.Select(a => a.EventId).Order(StringComparer.Ordinal));
        Assert.All(onFeed, a => Assert.Equal(VendorId, a.VendorId));
        var byEvent = published.ToDictionary(p => p.GetProperty("eventId").GetString()!, p => p.GetProperty("deviceId").GetString()!, StringComparer.Ordinal);
        Assert.All(onFeed, a => Assert.Equal(byEvent[a.EventId], a.DeviceId));
        var sequences = feed.Events.Select(e => e.Sequence).ToList();
        Assert.Equal(sequences.Order(), sequences);
        Assert.Equal(sequences.Count, sequences.Distinct().Count());
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public async Task A_persistent_MQTT_js_publisher_keeps_its_connection_after_bad_alarms_and_the_valid_one_behind_them_is_acknowledged(int protocol)
    {
        var node = InteropPaths.RequireNode();
        var clientId = $"mqttjs-bad-{protocol}";

        var run = await ExternalTool.RunAsync(node,
            [Path.Combine(InteropPaths.NodeInteropDirectory, "mqtt-bad-alarm.mjs"), _host.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
             VendorId, _vendorKey, clientId, TestDevices.AlarmId(1), protocol.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            NodeTimeout, InteropPaths.NodeDirectory);
        Assert.True(run.ExitCode == 0, $"mqtt-bad-alarm.mjs failed: {run}");
        using var summary = JsonDocument.Parse(run.Stdout);
        var root = summary.RootElement;

        // One connection for the whole run: no close, no offline, no reconnect; each alarm written once.
        Assert.Equal(0, root.GetProperty("closes").GetInt32());
        Assert.Equal(0, root.GetProperty("offline").GetInt32());
        Assert.Equal(0, root.GetProperty("reconnects").GetInt32());
        Assert.Equal(1, root.GetProperty("connacks").GetInt32());
        Assert.All(root.GetProperty("sends").EnumerateObject(), s => Assert.Equal(1, s.Value.GetInt32()));
        // All three acknowledged: the bad ones refused (MQTT 5: 0x99 payload format invalid, reason malformed), the valid one accepted.
        var acks = root.GetProperty("acks");
        foreach (var bad in new[] { "invalid-utf8", "lone-surrogate" })
        {
            var ack = acks.GetProperty(bad);
            Assert.True(ack.GetProperty("acked").GetBoolean(), ack.ToString());
            Assert.Equal(protocol == 5 ? 0x99 : 0, ack.GetProperty("reasonCode").GetInt32());
            Assert.Equal(protocol == 5 ? "malformed" : "", ack.GetProperty("reasonString").GetString());
        }

        var valid = acks.GetProperty("valid");
        Assert.True(valid.GetProperty("acked").GetBoolean() && valid.GetProperty("reasonCode").GetInt32() == 0, valid.ToString());
        // Both bad alarms dead-lettered as malformed, with their specific details.
        var letters = root.GetProperty("deadLetters").EnumerateArray().ToList();
        Assert.Equal(2, letters.Count);
        Assert.All(letters, l => Assert.Equal("malformed", l.GetProperty("reason").GetString()));
        Assert.Contains(letters, l => l.GetProperty("detail").GetString()!.StartsWith("not valid UTF-8: invalid byte sequence at byte 16", StringComparison.Ordinal));
        Assert.Contains(letters, l => l.GetProperty("detail").GetString()!.Contains("\"eventId\" holds an unpaired UTF-16 surrogate escape", StringComparison.Ordinal));
        var stats = await _host.GetStatsAsync();
        Assert.Equal(2, stats.DeadLettersByReason["malformed"]);
        Assert.Equal(1, stats.AlarmsAccepted);
    }

    private static string DeadLetterTopic => "sharpeyes/v1/deadletter/" + VendorId;
}
