using System.Text.Json;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Interop;

/// <summary>
/// The Eclipse Mosquitto command-line clients (Debian package mosquitto-clients) against the embedded broker, over
/// MQTT 3.1.1 and MQTT 5: alarms reach the feed, bad messages reach the vendor's dead-letter topic with their reason,
/// and a wrong password is refused.
/// </summary>
public sealed class MosquittoClientTests : IAsyncLifetime
{
    private const string VendorId = "vendor-mosq";
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(15);

    private GatewayHost _host = null!;
    private string _vendorKey = null!;
    private string _centreKey = null!;

    public static TheoryData<string> Versions => ["mqttv311", "mqttv5"];

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync();
        _vendorKey = await _host.CreateKeyAsync(Role.Vendor, VendorId);
        _centreKey = await _host.CreateKeyAsync(Role.Centre);
        await new DeviceRegistry.DeviceRegistryClient(_host.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_vendorKey));
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task An_alarm_published_with_mosquitto_pub_is_acknowledged_and_reaches_the_feed(string version)
    {
        var pub = Require("mosquitto_pub");
        await using var feed = new FeedReader(_host, _centreKey);
        var eventId = "mosq-" + version;

        var run = await ExternalTool.RunAsync(pub, PublishArgs(version, TestDevices.AlarmId(1), TestDevices.AlarmJson(eventId, priority: 1)), ToolTimeout);

        Assert.True(run.ExitCode == 0, $"mosquitto_pub: {run}");
        Assert.DoesNotContain("failed", run.Stderr, StringComparison.OrdinalIgnoreCase);
        // QoS 1 and a clean exit: mosquitto_pub had its PUBACK, and a PUBACK means the alarm is durable.
        var stats = await new Admin.AdminClient(_host.Channel).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth);
        Assert.Equal(1, stats.AlarmsAccepted);
        var opened = await feed.WaitForAsync(e => e.Incident?.Alarms.Any(a => a.EventId == eventId) == true, $"the incident carrying {eventId}");
        Assert.Equal(FeedEventKind.IncidentOpened, opened.Kind);
        var alarm = opened.Incident.Alarms.Single();
        Assert.Equal(VendorId, alarm.VendorId);
        Assert.Equal(TestDevices.AlarmId(1), alarm.DeviceId);
        Assert.Equal(1, alarm.Priority);
    }

    public static TheoryData<string, string, string> DeadLetterCases => new()
    {
        // case, publisher protocol, expected reason
        { "malformed", "mqttv311", "malformed" },
        { "malformed", "mqttv5", "malformed" },
        { "unknown-device", "mqttv311", "unknown-device" },
        { "unknown-device", "mqttv5", "unknown-device" },
    };

    [Theory]
    [MemberData(nameof(DeadLetterCases))]
    public async Task A_bad_message_from_mosquitto_pub_reaches_a_mosquitto_sub_on_the_dead_letter_topic_with_its_reason(string @case, string version, string reason)
    {
        var pub = Require("mosquitto_pub");
        var subTool = Require("mosquitto_sub");
        var (deviceId, payload) = @case == "malformed"
            ? (TestDevices.AlarmId(1), "{\"eventId\": \"mosq-bad\", ")
            : ("13012700001340777777", TestDevices.AlarmJson("mosq-nobody"));
        var deadLetterTopic = DeadLetterSink.TopicPrefix + VendorId;

        // -C 1: exit after the first message; -W 10: give up after 10 s. mosquitto_sub's stdout is block-buffered when it is
        // a pipe, so it cannot tell us when its SUBACK came: publish, and publish again until it has its message (bounded).
        await using var sub = ExternalTool.Start(subTool,
            [.. Connection(version, "sub"), "-q", "1", "-t", deadLetterTopic, "-C", "1", "-W", "10", "-v"]);
        var publishes = new List<ToolResult>();
        var deadline = DateTime.UtcNow + ToolTimeout;
        while (!sub.HasExited)
        {
            Assert.True(DateTime.UtcNow < deadline, $"mosquitto_sub got no dead letter after {publishes.Count} publishes: {string.Join('\n', publishes)}");
            publishes.Add(await ExternalTool.RunAsync(pub, PublishArgs(version, deviceId, payload), ToolTimeout));
            await sub.WaitForExitOrAsync(TimeSpan.FromMilliseconds(300 * publishes.Count));
        }

        var received = await sub.WaitForExitAsync(ToolTimeout);

        // The publisher is acknowledged either way; MQTT 5 publishers also learn, on the PUBACK, that it was refused and why.
        foreach (var publish in publishes)
        {
            Assert.True(publish.ExitCode == 0, $"mosquitto_pub: {publish}");
            if (version == "mqttv5")
            {
                Assert.Contains("Publish 1 failed", publish.Stderr, StringComparison.Ordinal);
                Assert.Contains(reason, publish.Stderr, StringComparison.Ordinal);
            }
        }

        Assert.True(received.ExitCode == 0, $"mosquitto_sub: {received}");
        // -v prints "topic payload".
        var line = Assert.Single(sub.StdoutLines, l => l.StartsWith(deadLetterTopic + " ", StringComparison.Ordinal));
        var body = line[(deadLetterTopic.Length + 1)..];
        using var letter = JsonDocument.Parse(body);
        var root = letter.RootElement;
        Assert.Equal(reason, root.GetProperty("reason").GetString());
        Assert.Equal(VendorId, root.GetProperty("vendorId").GetString());
        Assert.Equal(AlarmIntake.TopicPrefix + deviceId, root.GetProperty("topic").GetString());
        Assert.Equal(payload, System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(root.GetProperty("payloadBase64").GetString()!)));
        Assert.False(string.IsNullOrEmpty(root.GetProperty("detail").GetString()));
        var stats = await new Admin.AdminClient(_host.Channel).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth);
        Assert.Equal(publishes.Count, stats.DeadLettersByReason[reason]);
        Assert.Equal(0, stats.AlarmsAccepted);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Mosquitto_pub_with_a_wrong_password_is_refused_and_exits_non_zero(string version)
    {
        var pub = Require("mosquitto_pub");

        var wrongKey = await ExternalTool.RunAsync(pub,
            [.. Connection(version, "pub", password: _vendorKey + "x"), "-q", "1", "-t", AlarmIntake.TopicPrefix + TestDevices.AlarmId(1), "-m", TestDevices.AlarmJson("mosq-denied")],
            ToolTimeout);
        // The right key under another vendor's name is refused the same way.
        var wrongName = await ExternalTool.RunAsync(pub,
            [.. Connection(version, "pub", userName: "vendor-other"), "-q", "1", "-t", AlarmIntake.TopicPrefix + TestDevices.AlarmId(1), "-m", TestDevices.AlarmJson("mosq-denied-2")],
            ToolTimeout);

        foreach (var run in new[] { wrongKey, wrongName })
        {
            Assert.True(run.ExitCode != 0, $"mosquitto_pub was not refused: {run}");
            Assert.Contains("bad user name or password", run.Stderr, StringComparison.OrdinalIgnoreCase);
        }

        var stats = await new Admin.AdminClient(_host.Channel).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth);
        Assert.Equal(0, stats.AlarmsReceived);
    }

    /// <summary>
    /// mosquitto_pub and mosquitto_sub send an empty client id unless given -i, with a clean session, for MQTT 3.1.1 as well
    /// as 5. Under MQTT 5 the server assigns one (§3.1.3.1, Assigned Client Identifier in the CONNACK): MqttBroker sets
    /// ValidatingConnectionEventArgs.AssignedClientIdentifier, which MQTTnet uses only when the handler sets it.
    /// </summary>
    [Fact]
    public async Task Mosquitto_pub_over_MQTT_5_with_its_default_empty_client_id_gets_one_assigned()
    {
        var pub = Require("mosquitto_pub");
        await using var feed = new FeedReader(_host, _centreKey);
        const string EventId = "mosq-noid-mqttv5";

        var run = await ExternalTool.RunAsync(pub, [.. WithoutClientId("mqttv5"), "-q", "1", "-t", AlarmIntake.TopicPrefix + TestDevices.AlarmId(1), "-m", TestDevices.AlarmJson(EventId)],
            ToolTimeout);

        Assert.True(run.ExitCode == 0, $"mosquitto_pub -V mqttv5 without -i: {run}");
        await feed.WaitForAsync(e => e.Incident?.Alarms.Any(a => a.EventId == EventId) == true, $"the incident carrying {EventId}");
    }

    /// <summary>
    /// MQTT 3.1.1 lets a server refuse an empty client id (§3.1.3-8, CONNACK 0x02), and MQTTnet always does for 3.1.1
    /// (it applies an assigned id only under MQTT 5): 3.1.1 vendors must pass a client id (mosquitto_pub -i). The refusal
    /// must at least be clean and immediate, so the vendor sees why.
    /// </summary>
    [Fact]
    public async Task Mosquitto_pub_over_MQTT_311_without_a_client_id_is_refused_cleanly_with_identifier_rejected()
    {
        var pub = Require("mosquitto_pub");

        var run = await ExternalTool.RunAsync(pub, [.. WithoutClientId("mqttv311"), "-q", "1", "-t", AlarmIntake.TopicPrefix + TestDevices.AlarmId(1), "-m", TestDevices.AlarmJson("mosq-noid-311")],
            ToolTimeout);

        Assert.True(run.ExitCode == 2, $"expected CONNACK 2 (identifier rejected): {run}");
        Assert.Contains("identifier rejected", run.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    private static string Require(string tool)
    {
        var path = InteropPaths.FindOnPath(tool);
        if (path is null)
        {
            InteropPaths.SkipUnlessCi($"{tool} is not on PATH; install the Debian package mosquitto-clients to run the Mosquitto interop tests.");
        }

        return path;
    }

    private string[] Connection(string version, string role, string? userName = null, string? password = null) =>
    [
        "-h", "127.0.0.1", "-p", _host.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-V", version,
        "-i", $"mosq-{role}-{Guid.NewGuid():N}"[..23], "-u", userName ?? VendorId, "-P", password ?? _vendorKey,
    ];

    private string[] WithoutClientId(string version) =>
    [
        "-h", "127.0.0.1", "-p", _host.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-V", version, "-u", VendorId, "-P", _vendorKey,
    ];

    private string[] PublishArgs(string version, string deviceId, string payload) =>
        [.. Connection(version, "pub"), "-q", "1", "-t", AlarmIntake.TopicPrefix + deviceId, "-m", payload];
}
