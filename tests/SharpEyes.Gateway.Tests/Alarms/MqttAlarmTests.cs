using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Alarms;

/// <summary>Alarms through the embedded broker with MQTTnet clients: acceptance, mapping, duplicates, every dead-letter reason, ACLs.</summary>
public sealed class MqttAlarmTests : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private string _vendorA = null!;
    private string _vendorB = null!;
    private string _centre = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync();
        _vendorA = await _host.CreateKeyAsync(Role.Vendor, "vendor-a");
        _vendorB = await _host.CreateKeyAsync(Role.Vendor, "vendor-b");
        _centre = await _host.CreateKeyAsync(Role.Centre);
        var registry = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
        await registry.RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_vendorA));
        // A camera looking east from 30 m west of the alarm device: the alarm point is inside its wedge.
        await registry.RegisterDeviceAsync(TestDevices.Camera(1, lon: TestDevices.SeatLon - 0.00034, azimuth: 90, hfov: 60, range: 80), _host.Auth(_vendorA));
        // One looking west, away from it.
        await registry.RegisterDeviceAsync(TestDevices.Camera(2, lon: TestDevices.SeatLon - 0.00034, azimuth: 270, hfov: 60, range: 80), _host.Auth(_vendorA));
        await registry.RegisterDeviceAsync(TestDevices.Alarm(2), _host.Auth(_vendorB));
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private static MqttApplicationMessage Message(string topic, string payload) => new MqttApplicationMessageBuilder()
        .WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();

    private static string AlarmTopic(string deviceId) => "sharpeyes/v1/alarms/" + deviceId;

    [Fact]
    public async Task An_acknowledged_alarm_is_persisted_mapped_and_opens_an_incident_on_the_feed()
    {
        await using var feed = new FeedReader(_host, _centre);
        var client = await _host.ConnectMqttAsync("vendor-a", _vendorA);

        var ack = await client.PublishAsync(Message(AlarmTopic(TestDevices.AlarmId(1)), TestDevices.AlarmJson("evt-1", priority: 1)));

        Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode);
        var opened = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentOpened, "incident opened");
        var incident = opened.Incident;
        var alarm = Assert.Single(incident.Alarms);
        Assert.Equal("evt-1", alarm.EventId);
        Assert.Equal(1, incident.HighestPriority);
        Assert.Equal("va-intrusion", incident.TypeClass);
        Assert.Equal("130127", incident.Region.CountyCode);
        Assert.Equal(15, incident.Region.GridCode.Length);
        Assert.Equal(incident.Region.GridCode, opened.RegionCode);
        Assert.True(alarm.PositionFromDevice);
        Assert.Equal([TestDevices.CameraId(1)], alarm.CameraIds);
        Assert.Equal([TestDevices.CameraId(1)], incident.CameraIds);

        // Durable before the PUBACK: the incident (with its alarm) is readable the moment the ack arrived.
        var stored = await new V1.Incidents.IncidentsClient(_host.Channel).GetIncidentAsync(new GetIncidentRequest { IncidentId = incident.IncidentId }, _host.Auth(_centre));
        Assert.Equal("evt-1", Assert.Single(stored.Alarms).EventId);
    }

    [Fact]
    public async Task An_alarm_with_its_own_GCJ02_position_is_mapped_there_and_key_sites_nearby_are_attached()
    {
        var sites = await new V1.Geography.GeographyClient(_host.Channel).ListKeySitesAsync(new ListKeySitesRequest { IncludeGeometry = true }, _host.AdminAuth);
        var site = sites.Sites.First(s => s.Category == "school");
        using var json = JsonDocument.Parse(site.Geojson);
        var (lon, lat) = Centroid(json.RootElement);
        var (gLon, gLat) = Geo.Datums.DatumConverter.FromWgs84(lon, lat, Geo.Datums.Datum.Gcj02);
        await using var feed = new FeedReader(_host, _centre);
        var client = await _host.ConnectMqttAsync("vendor-a", _vendorA);

        var position = FormattableString.Invariant($$"""{"lon":{{gLon}},"lat":{{gLat}},"datum":"GCJ02"}""");
        await client.PublishAsync(Message(AlarmTopic(TestDevices.AlarmId(1)), TestDevices.AlarmJson("evt-pos", position: position)));

        var opened = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentOpened, "incident opened");
        var alarm = opened.Incident.Alarms[0];
        Assert.False(alarm.PositionFromDevice);
        Assert.Equal(lon, alarm.Position.Lon, 5);
        Assert.Equal(lat, alarm.Position.Lat, 5);
        Assert.Contains(alarm.KeySites, k => k.Code == site.Code && k.DistanceM == 0);
        Assert.Equal(site.GridCode, alarm.Region.GridCode);
    }

    [Fact]
    public async Task Duplicates_by_vendor_and_event_id_are_acknowledged_counted_and_not_repeated_on_the_feed()
    {
        await using var feed = new FeedReader(_host, _centre);
        var client = await _host.ConnectMqttAsync("vendor-a", _vendorA);
        var payload = TestDevices.AlarmJson("evt-dup");

        var first = await client.PublishAsync(Message(AlarmTopic(TestDevices.AlarmId(1)), payload));
        var second = await client.PublishAsync(Message(AlarmTopic(TestDevices.AlarmId(1)), payload));
        // The same eventId from another vendor is a different alarm.
        var other = await _host.ConnectMqttAsync("vendor-b", _vendorB);
        var third = await other.PublishAsync(Message(AlarmTopic(TestDevices.AlarmId(2)), payload));

        Assert.Equal(MqttClientPublishReasonCode.Success, first.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, second.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, third.ReasonCode);
        var stats = await new Admin.AdminClient(_host.Channel).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth);
        Assert.Equal(2, stats.AlarmsAccepted);
        Assert.Equal(1, stats.AlarmsDuplicate);
        // Both devices sit in the same grid and the alarms share a type class: one incident, opened then updated.
        static bool Carries(FeedEvent e) => e.Incident?.Alarms.Count > 0 && e.Incident.Alarms[0].EventId == "evt-dup";
        await feed.WaitForCountAsync(Carries, 2, "two incident events");
        var events = feed.Events.Where(Carries).ToList();
        Assert.Equal([FeedEventKind.IncidentOpened, FeedEventKind.IncidentUpdated], events.Select(e => e.Kind));
        Assert.Equal(["vendor-a", "vendor-b"], events.Select(e => e.Incident.Alarms[0].VendorId));
        Assert.Equal(2, events[1].Incident.AlarmCount);
        var stored = await new V1.Incidents.IncidentsClient(_host.Channel).GetIncidentAsync(new GetIncidentRequest { IncidentId = events[0].Incident.IncidentId }, _host.Auth(_centre));
        Assert.Equal(2, stored.Alarms.Count);
    }

    public static TheoryData<string, string, string, string> BadMessages => new()
    {
        // case, topic device, payload, expected reason
        { "not-json", "alarm1", "{not json", "malformed" },
        { "json-array", "alarm1", "[1,2,3]", "malformed" },
        { "no-event-id", "alarm1", """{"occurredAt":"2026-11-22T16:00:00+08:00","priority":1,"method":5,"type":6}""", "invalid-field" },
        { "bad-time", "alarm1", """{"eventId":"x","occurredAt":"yesterday","priority":1,"method":5,"type":6}""", "invalid-field" },
        { "no-offset", "alarm1", """{"eventId":"x","occurredAt":"2026-11-22T16:00:00","priority":1,"method":5,"type":6}""", "invalid-field" },
        { "priority-5", "alarm1", """{"eventId":"x","occurredAt":"2026-11-22T16:00:00+08:00","priority":5,"method":5,"type":6}""", "invalid-field" },
        { "method-9", "alarm1", """{"eventId":"x","occurredAt":"2026-11-22T16:00:00+08:00","priority":1,"method":9,"type":6}""", "invalid-field" },
        { "va-type-13", "alarm1", """{"eventId":"x","occurredAt":"2026-11-22T16:00:00+08:00","priority":1,"method":5,"type":13}""", "invalid-field" },
        { "bad-datum", "alarm1", """{"eventId":"x","occurredAt":"2026-11-22T16:00:00+08:00","priority":1,"method":5,"type":6,"position":{"lon":114.6,"lat":37.6,"datum":"CGCS2000"}}""", "invalid-field" },
        { "oversized", "alarm1", "OVERSIZED", "oversized" },
        { "unknown-device", "13012700001340888888", "VALID", "unknown-device" },
        { "foreign-device", "alarm2", "VALID", "unknown-device" }, // the same answer as an unregistered device: ids of other vendors stay private
        { "bad-topic-id", "1234", "VALID", "invalid-topic" },
    };

    [Theory]
    [MemberData(nameof(BadMessages))]
    public async Task Every_bad_message_is_dead_lettered_with_its_reason_and_counted_and_the_gateway_keeps_going(string @case, string device, string payload, string reason)
    {
        var deviceId = device switch { "alarm1" => TestDevices.AlarmId(1), "alarm2" => TestDevices.AlarmId(2), _ => device };
        payload = payload switch
        {
            "VALID" => TestDevices.AlarmJson("evt-" + @case),
            "OVERSIZED" => TestDevices.AlarmJson("evt-big").Replace("\"test\"", "\"" + new string('x', 20_000) + "\"", StringComparison.Ordinal),
            _ => payload,
        };
        var received = new ConcurrentQueue<MqttApplicationMessage>();
        var client = await _host.ConnectMqttAsync("vendor-a", _vendorA);
        client.ApplicationMessageReceivedAsync += e =>
        {
            received.Enqueue(e.ApplicationMessage);
            return Task.CompletedTask;
        };
        var sub = await client.SubscribeAsync("sharpeyes/v1/deadletter/vendor-a", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, sub.Items.Single().ResultCode);

        var ack = await client.PublishAsync(Message(AlarmTopic(deviceId), payload));

        Assert.NotEqual(MqttClientPublishReasonCode.Success, ack.ReasonCode);
        Assert.Equal(reason, ack.ReasonString);
        await Eventually.TrueAsync(() => !received.IsEmpty, "the dead letter");
        var letter = JsonDocument.Parse(received.Single().Payload.ToArray()).RootElement;
        Assert.Equal(reason, letter.GetProperty("reason").GetString());
        Assert.Equal("vendor-a", letter.GetProperty("vendorId").GetString());
        Assert.Equal(AlarmTopic(deviceId), letter.GetProperty("topic").GetString());
        Assert.False(string.IsNullOrEmpty(letter.GetProperty("detail").GetString()));
        var stats = await new Admin.AdminClient(_host.Channel).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth);
        Assert.Equal(1, stats.DeadLettersByReason[reason]);
        Assert.Equal(0, stats.AlarmsAccepted);

        // The gateway keeps running and the same connection still gets alarms through.
        var good = await client.PublishAsync(Message(AlarmTopic(TestDevices.AlarmId(1)), TestDevices.AlarmJson("evt-after-" + @case)));
        Assert.Equal(MqttClientPublishReasonCode.Success, good.ReasonCode);
    }

    [Fact]
    public async Task An_alarm_for_another_vendors_device_gets_the_same_answer_as_one_for_a_device_nobody_registered()
    {
        var client = await _host.ConnectMqttAsync("vendor-a", _vendorA);
        var letters = await DeadLetterListener.SubscribeAsync(client, "vendor-a");
        var foreignId = TestDevices.AlarmId(2); // vendor-b's
        var unknownId = TestDevices.AlarmId(777_777);
        var payload = TestDevices.AlarmJson("evt-probe");

        var foreign = await client.PublishAsync(Message(AlarmTopic(foreignId), payload));
        var unknown = await client.PublishAsync(Message(AlarmTopic(unknownId), payload));

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, foreign.ReasonCode);
        Assert.Equal(unknown.ReasonCode, foreign.ReasonCode);
        Assert.Equal("unknown-device", foreign.ReasonString);
        Assert.Equal(unknown.ReasonString, foreign.ReasonString);
        await Eventually.TrueAsync(() => letters.Letters.Count >= 2, "both dead letters");
        var byTopic = letters.Letters.ToDictionary(l => l.Topic);
        var (toForeign, toUnknown) = (byTopic[AlarmTopic(foreignId)], byTopic[AlarmTopic(unknownId)]);
        Assert.Equal("unknown-device", toForeign.Reason);
        Assert.Equal(toUnknown.Reason, toForeign.Reason);
        Assert.Equal($"device {foreignId} is not registered to vendor vendor-a", toForeign.Detail);
        Assert.Equal(toUnknown.Detail.Replace(unknownId, foreignId, StringComparison.Ordinal), toForeign.Detail);
        // The reason foreign-device is gone from the counters too.
        var stats = await _host.GetStatsAsync();
        Assert.Equal(2, stats.DeadLettersByReason["unknown-device"]);
        Assert.DoesNotContain("foreign-device", stats.DeadLettersByReason.Keys);
        Assert.DoesNotContain("foreign-device", await MetricsScrape.TextAsync(_host.HttpPort), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dead_letters_reach_MQTT_311_publishers_too_and_bad_input_is_never_silent()
    {
        var received = new ConcurrentQueue<MqttApplicationMessage>();
        var client = await _host.ConnectMqttAsync("vendor-a", _vendorA, version: MQTTnet.Formatter.MqttProtocolVersion.V311);
        client.ApplicationMessageReceivedAsync += e =>
        {
            received.Enqueue(e.ApplicationMessage);
            return Task.CompletedTask;
        };
        await client.SubscribeAsync("sharpeyes/v1/deadletter/vendor-a", MqttQualityOfServiceLevel.AtLeastOnce);

        await client.PublishAsync(Message("sharpeyes/v1/other/topic", "{}"));

        await Eventually.TrueAsync(() => !received.IsEmpty, "the dead letter");
        Assert.Equal("invalid-topic", JsonDocument.Parse(received.Single().Payload.ToArray()).RootElement.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Connections_with_a_wrong_key_or_a_mismatched_vendor_id_are_refused()
    {
        var wrongKey = await Assert.ThrowsAnyAsync<Exception>(() => _host.ConnectMqttAsync("vendor-a", "se_0000_wrong"));
        var wrongName = await Assert.ThrowsAnyAsync<Exception>(() => _host.ConnectMqttAsync("vendor-b", _vendorA));

        Assert.Contains("BadUserNameOrPassword", wrongKey.Message + wrongKey.InnerException?.Message, StringComparison.Ordinal);
        Assert.Contains("BadUserNameOrPassword", wrongName.Message + wrongName.InnerException?.Message, StringComparison.Ordinal);
        // The refusals are counted and logged (once per interval), naming the user and the key id, never the password (an API key).
        Assert.Contains(_host.Logs.Lines, l => l.Contains("Refused auth-failed-mqtt", StringComparison.Ordinal) && l.Contains("key id 0000", StringComparison.Ordinal));
        Assert.DoesNotContain("se_0000_wrong", _host.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain(_vendorA, _host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_client_can_pose_as_the_gateway_to_skip_intake_or_forge_dead_letters()
    {
        var posing = await Assert.ThrowsAnyAsync<Exception>(() => _host.ConnectMqttAsync("vendor-a", _vendorA, clientId: "sharpeyes-gateway"));
        var received = new ConcurrentQueue<MqttApplicationMessage>();
        var victim = await _host.ConnectMqttAsync("vendor-b", _vendorB);
        victim.ApplicationMessageReceivedAsync += e =>
        {
            received.Enqueue(e.ApplicationMessage);
            return Task.CompletedTask;
        };
        await victim.SubscribeAsync("sharpeyes/v1/deadletter/vendor-b", MqttQualityOfServiceLevel.AtLeastOnce);
        var attacker = await _host.ConnectMqttAsync("vendor-a", _vendorA);

        // Publishing straight to another vendor's dead-letter topic is itself dead-lettered (to the attacker), never delivered.
        var ack = await attacker.PublishAsync(Message("sharpeyes/v1/deadletter/vendor-b", """{"reason":"forged"}"""));

        Assert.Contains("ClientIdentifierNotValid", posing.Message + posing.InnerException?.Message, StringComparison.Ordinal);
        Assert.Equal("invalid-topic", ack.ReasonString);
        var stats = await new Admin.AdminClient(_host.Channel).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth);
        Assert.Equal(1, stats.DeadLettersByReason["invalid-topic"]);
        Assert.Empty(received);
    }

    [Fact]
    public async Task Vendors_may_subscribe_only_to_their_own_dead_letter_topic()
    {
        var client = await _host.ConnectMqttAsync("vendor-a", _vendorA);

        var other = await client.SubscribeAsync("sharpeyes/v1/deadletter/vendor-b");
        var all = await client.SubscribeAsync("sharpeyes/v1/#");
        var own = await client.SubscribeAsync("sharpeyes/v1/deadletter/vendor-a");

        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, other.Items.Single().ResultCode);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, all.Items.Single().ResultCode);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS0, own.Items.Single().ResultCode);
    }

    [Fact]
    public async Task An_alarm_counts_as_a_sign_of_life_for_its_device()
    {
        await using var feed = new FeedReader(_host, _centre);
        var client = await _host.ConnectMqttAsync("vendor-a", _vendorA);

        await client.PublishAsync(Message(AlarmTopic(TestDevices.AlarmId(1)), TestDevices.AlarmJson("evt-life")));

        var online = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOnline, "device online");
        Assert.Equal(TestDevices.AlarmId(1), online.Device.DeviceId);
    }

    private static (double Lon, double Lat) Centroid(JsonElement geometry)
    {
        var points = new List<(double, double)>();
        void Walk(JsonElement e)
        {
            if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() >= 2 && e[0].ValueKind == JsonValueKind.Number)
            {
                points.Add((e[0].GetDouble(), e[1].GetDouble()));
            }
            else if (e.ValueKind == JsonValueKind.Array)
            {
                foreach (var c in e.EnumerateArray())
                {
                    Walk(c);
                }
            }
        }

        Walk(geometry.GetProperty("coordinates"));
        return (points.Average(p => p.Item1), points.Average(p => p.Item2));
    }
}
