using System.Text;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Alarms;

/// <summary>One gateway with vendor-a and its alarm device, shared by the rows of a theory (they run one after another and assert deltas).</summary>
public sealed class VendorGatewayFixture : IAsyncLifetime
{
    public const string VendorId = "vendor-a";

    public GatewayHost Host { get; private set; } = null!;

    public string VendorKey { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Host = await GatewayHost.StartAsync();
        VendorKey = await Host.CreateKeyAsync(Role.Vendor, VendorId);
        await new DeviceRegistry.DeviceRegistryClient(Host.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), Host.Auth(VendorKey));
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>
/// Payloads a careless or hostile vendor sends: bytes that are not UTF-8, JSON escapes that are not Unicode, control
/// characters, deep nesting, huge numbers, duplicate members, times outside the window. Each must end as a dead letter
/// with its specific reason and detail, acknowledged, counted and logged, on a connection that stays up.
/// </summary>
public sealed class HostileAlarmTests(VendorGatewayFixture fixture) : IClassFixture<VendorGatewayFixture>
{
    private const string Marker = "§";

    /// <summary>A valid alarm with a position; pass field texts as they appear between the quotes (JSON escapes allowed).</summary>
    internal static string AlarmText(string eventId, string occurredAt = "2026-11-22T16:00:00+08:00", string description = "test", string datum = "WGS84",
        string priority = "2", string lon = "114.603", string extra = "") =>
        $$$"""{"eventId":"{{{eventId}}}","occurredAt":"{{{occurredAt}}}","priority":{{{priority}}},"method":5,"type":6,"description":"{{{description}}}",{{{extra}}}"position":{"lon":{{{lon}}},"lat":37.606,"datum":"{{{datum}}}"}}""";

    public static TheoryData<string, byte[], string, string> HostilePayloads()
    {
        var rows = new TheoryData<string, byte[], string, string>();

        // Bytes that are not UTF-8, wherever they are: the detail names the offset of the first bad sequence.
        void NotUtf8(string @case, string template, params byte[] bad)
        {
            var at = template.IndexOf(Marker, StringComparison.Ordinal);
            var prefix = Encoding.UTF8.GetBytes(template[..at]);
            byte[] payload = [.. prefix, .. bad, .. Encoding.UTF8.GetBytes(template[(at + 1)..])];
            rows.Add(@case, payload, "malformed", $"not valid UTF-8: invalid byte sequence at byte {prefix.Length}");
        }

        NotUtf8("0xFF in eventId", AlarmText("utf8-ff-" + Marker), 0xFF);
        NotUtf8("0xFE in a member name", AlarmText("utf8-key", extra: "\"x" + Marker + "\":1,"), 0xFE);
        NotUtf8("lone continuation byte in description", AlarmText("utf8-cont", description: "a" + Marker), 0x80);
        NotUtf8("truncated 3-byte sequence in description", AlarmText("utf8-trunc", description: "周" + Marker), 0xE6, 0x97);
        NotUtf8("overlong NUL (C0 80) in eventId", AlarmText("utf8-overlong-" + Marker), 0xC0, 0x80);
        NotUtf8("overlong slash (E0 80 AF) in description", AlarmText("utf8-overlong3", description: Marker), 0xE0, 0x80, 0xAF);
        NotUtf8("UTF-8 encoded surrogate (ED A0 80) in description", AlarmText("utf8-cesu", description: Marker), 0xED, 0xA0, 0x80);
        NotUtf8("code point above U+10FFFF in datum", AlarmText("utf8-big", datum: "WGS84" + Marker), 0xF4, 0x90, 0x80, 0x80);
        NotUtf8("Latin-1 text in description", AlarmText("utf8-latin1", description: "caf" + Marker), 0xE9);

        // JSON escapes that decode to an unpaired UTF-16 surrogate: in each string field, as low and as high half.
        void Text(string @case, string json, string reason, string detail) => rows.Add(@case, Encoding.UTF8.GetBytes(json), reason, detail);
        const string Lone = "holds an unpaired UTF-16 surrogate escape";
        Text("lone low surrogate in eventId", AlarmText("""lone-\udc00"""), "malformed", $"\"eventId\" {Lone}");
        Text("lone high surrogate in eventId", AlarmText("""lone-\ud800x"""), "malformed", $"\"eventId\" {Lone}");
        Text("lone low surrogate in occurredAt", AlarmText("lone-t1", occurredAt: """2026-11-22T16:00:00+08:00\udc00"""), "malformed", $"\"occurredAt\" {Lone}");
        Text("lone high surrogate in occurredAt", AlarmText("lone-t2", occurredAt: """\ud8002026-11-22T16:00:00+08:00"""), "malformed", $"\"occurredAt\" {Lone}");
        Text("lone low surrogate in description", AlarmText("lone-d1", description: """\udc00"""), "malformed", $"\"description\" {Lone}");
        Text("lone high surrogate at the end of description", AlarmText("lone-d2", description: """alarm \udbff"""), "malformed", $"\"description\" {Lone}");
        Text("reversed surrogate pair in description", AlarmText("lone-d3", description: """\ude00\ud83d"""), "malformed", $"\"description\" {Lone}");
        Text("lone low surrogate in datum", AlarmText("lone-g1", datum: """\udfff"""), "malformed", $"\"datum\" {Lone}");
        Text("lone high surrogate in datum", AlarmText("lone-g2", datum: """WGS84\ud800"""), "malformed", $"\"datum\" {Lone}");
        Text("lone surrogate in a member name", AlarmText("lone-k", extra: "\"\\udc00\":1,"), "malformed", $"a member name {Lone}");
        Text("lone surrogate in a member the gateway ignores", AlarmText("lone-x", extra: "\"vendorNote\":\"\\ud800\","), "malformed", $"\"vendorNote\" {Lone}");

        // NUL and other controls: raw ones are not JSON; escaped ones are refused where the field allows no controls.
        NotJson("raw NUL in eventId", AlarmText("nul-\0"), "'0x00' is invalid within a JSON string");
        NotJson("raw ESC in description", AlarmText("esc", description: "\u001b[31m"), "'0x1B' is invalid within a JSON string");
        Text("escaped NUL in eventId", AlarmText("""nul-\u0000"""), "invalid-field", "eventId: must be 1-128 printable characters");
        Text("escaped ESC in description", AlarmText("esc-d", description: """red \u001b[31m"""), "invalid-field", "description: control character U+001B at index 4");
        Text("escaped NUL in description", AlarmText("nul-d", description: """a\u0000b"""), "invalid-field", "description: control character U+0000 at index 1");
        Text("escaped NUL in datum", AlarmText("nul-g", datum: """WGS84\u0000"""), "invalid-field", "position.datum: unknown datum 'WGS84\\u0000'");

        // Shapes and sizes.
        NotJson("nesting deeper than 8", AlarmText("deep", extra: "\"x\":" + new string('[', 64) + new string(']', 64) + ","), "maximum configured depth of 8");
        NotJson("empty payload", "", "not valid JSON");
        NotJson("byte order mark before the object", "\uFEFF" + AlarmText("bom"), "'0xEF' is an invalid start of a value");
        Text("JSON null", "null", "malformed", "payload must be a JSON object, got Null");
        Text("priority 1e400", AlarmText("num-1", priority: "1e400"), "invalid-field", "priority: must be an integer");
        Text("priority with 400 digits", AlarmText("num-2", priority: "1" + new string('0', 400)), "invalid-field", "priority: must be an integer");
        Text("lon 1e400 (infinite as a double)", AlarmText("num-3", lon: "1e400"), "invalid-field", "position.lon: must be in [-180, 180]");
        Text("lon -1e400", AlarmText("num-4", lon: "-1e400"), "invalid-field", "position.lon: must be in [-180, 180]");
        Text("priority as a string", AlarmText("num-5", priority: "\"2\""), "invalid-field", "priority: must be an integer");

        // Duplicate members: different parsers keep the first or the last, so the gateway refuses to guess.
        NotJson("eventId twice", AlarmText("dup-1", extra: "\"eventId\":\"dup-2\","), "Duplicate property 'eventId'");
        NotJson("eventId twice, once escaped", AlarmText("dup-3", extra: "\"\\u0065ventId\":\"dup-4\","), "Duplicate property 'eventId'");
        NotJson("lon twice in position", AlarmText("dup-5", lon: "114.603,\"lon\":114.604"), "Duplicate property 'lon'");

        // Times: not before the duplicate window (90 days), not more than a day ahead (the host's clock is 2026-11-22T08:00Z).
        Text("occurredAt in 1900", AlarmText("t-1900", occurredAt: "1900-01-01T00:00:00Z"), "invalid-field", "occurredAt: 1900-01-01T00:00:00Z is older than 90 days");
        Text("occurredAt 91 days ago", AlarmText("t-91d", occurredAt: "2026-08-23T08:00:00Z"), "invalid-field", "occurredAt: 2026-08-23T08:00:00Z is older than 90 days");
        Text("occurredAt in year 1", AlarmText("t-0001", occurredAt: "0001-01-01T00:00:00Z"), "invalid-field", "occurredAt: 0001-01-01T00:00:00Z is older than 90 days");
        Text("occurredAt in 2100", AlarmText("t-2100", occurredAt: "2100-01-01T00:00:00+08:00"), "invalid-field", "occurredAt: is more than a day in the future");
        Text("occurredAt past the end of the calendar", AlarmText("t-9999", occurredAt: "9999-12-31T23:59:59-14:00"), "invalid-field", "occurredAt: must be an RFC 3339 time");
        return rows;

        void NotJson(string @case, string json, string detail) => rows.Add(@case, Encoding.UTF8.GetBytes(json), "malformed", detail);
    }

    [Theory]
    [MemberData(nameof(HostilePayloads))]
    public async Task A_hostile_payload_is_dead_lettered_with_its_reason_acknowledged_counted_logged_and_the_connection_keeps_publishing(
        string @case, byte[] payload, string reason, string detail)
    {
        var host = fixture.Host;
        var client = await host.ConnectMqttAsync(VendorGatewayFixture.VendorId, fixture.VendorKey);
        var disconnects = DisconnectCounter.Watch(client);
        var letters = await DeadLetterListener.SubscribeAsync(client, VendorGatewayFixture.VendorId);
        var before = await host.GetStatsAsync();
        var metricKey = $"sharpeyes_alarms_dead_lettered_total{{reason=\"{reason}\"}}";
        var metricBefore = (await MetricsScrape.ReadAsync(host.HttpPort)).GetValueOrDefault(metricKey);
        var logLine = $"Dead-lettered a message from vendor {VendorGatewayFixture.VendorId}: {reason}";
        var logsBefore = host.Logs.Lines.Count;
        host.Time.Advance(TimeSpan.FromSeconds(11)); // dead letters are logged once per vendor, reason and 10 s: make this one's line due

        var ack = await client.PublishAsync(Message(payload));

        // The PUBACK (MQTT 5: 0x99 payload format invalid, the reason as reason string).
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, ack.ReasonCode);
        Assert.Equal(reason, ack.ReasonString);
        // The dead letter on the vendor's topic, with the specific detail and the payload as sent.
        var letter = await letters.WaitForAsync(payload, "the dead letter of " + @case);
        Assert.Equal(reason, letter.Reason);
        Assert.Contains(detail, letter.Detail, StringComparison.Ordinal);
        Assert.Equal("sharpeyes/v1/alarms/" + TestDevices.AlarmId(1), letter.Topic);
        Assert.False(letter.PayloadTruncated);
        // The counters (admin stats and /metrics) and one log line, with the client's text escaped.
        var after = await host.GetStatsAsync();
        Assert.Equal(before.DeadLettersByReason.GetValueOrDefault(reason) + 1, after.DeadLettersByReason[reason]);
        Assert.Equal(before.AlarmsReceived + 1, after.AlarmsReceived);
        Assert.Equal(before.AlarmsAccepted, after.AlarmsAccepted);
        Assert.Equal(metricBefore + 1, (await MetricsScrape.ReadAsync(host.HttpPort))[metricKey]);
        var logged = Assert.Single(host.Logs.Lines.Skip(logsBefore), l => l.Contains(logLine, StringComparison.Ordinal));
        Assert.True(IsPlainText(logged), "unescaped client text in: " + logged);

        // The same connection is still up and a valid alarm behind the bad one is accepted.
        var good = await client.PublishAsync(AlarmPublisher.Alarm(TestDevices.AlarmId(1), "after-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(MqttClientPublishReasonCode.Success, good.ReasonCode);
        Assert.True(client.IsConnected);
        Assert.Equal(0, disconnects.Count);
        Assert.Equal(before.AlarmsAccepted + 1, (await host.GetStatsAsync()).AlarmsAccepted);
        // End the session: a vendor may hold only a few subscribing sessions (Limits:MqttMaxSubscriberSessionsPerVendor).
        await client.DisconnectAsync();
    }

    public static TheoryData<string, string> UnusualButValidText() => new()
    {
        { "Chinese description", AlarmText("ok-zh", description: "周界入侵 东门 3 号杆") },
        { "emoji as UTF-8 (4 bytes)", AlarmText("ok-emoji", description: "🚨 alarm") },
        { "emoji as an escaped surrogate pair", AlarmText("ok-pair", description: """\ud83d\udea8 alarm""") },
        { "tab, line feed and carriage return in description", AlarmText("ok-ws", description: """line 1\r\n\tline 2""") },
        { "escaped member name", AlarmText("ok-esc", extra: "\"\\u0078\":1,") },
        { "occurredAt 89 days ago", AlarmText("ok-89d", occurredAt: "2026-08-25T08:00:00Z") },
        { "occurredAt 23 hours ahead", AlarmText("ok-23h", occurredAt: "2026-11-23T07:00:00Z") },
        { "huge number in a member the gateway ignores", AlarmText("ok-big", extra: "\"x\":1e400,") },
    };

    [Theory]
    [MemberData(nameof(UnusualButValidText))]
    public async Task Unusual_but_valid_text_and_times_are_accepted(string @case, string json)
    {
        var client = await fixture.Host.ConnectMqttAsync(VendorGatewayFixture.VendorId, fixture.VendorKey);
        var before = await fixture.Host.GetStatsAsync();

        var ack = await client.PublishAsync(Message(Encoding.UTF8.GetBytes(json)));

        Assert.True(ack.ReasonCode == MqttClientPublishReasonCode.Success, $"{@case}: {ack.ReasonCode} {ack.ReasonString}");
        Assert.Equal(before.AlarmsAccepted + 1, (await fixture.Host.GetStatsAsync()).AlarmsAccepted);
    }

    internal static MqttApplicationMessage Message(byte[] payload) => new MqttApplicationMessageBuilder()
        .WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(1)).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();

    /// <summary>No control character and no unpaired surrogate (a captured line ends with a space where no exception followed).</summary>
    private static bool IsPlainText(string line)
    {
        for (var i = 0; i < line.Length; i++)
        {
            if (char.IsControl(line[i]) || (char.IsSurrogate(line[i]) && !char.IsSurrogatePair(line, i) && !(i > 0 && char.IsSurrogatePair(line, i - 1))))
            {
                return false;
            }
        }

        return true;
    }
}
