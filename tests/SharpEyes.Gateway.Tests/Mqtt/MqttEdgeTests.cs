using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Mqtt;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Mqtt;

/// <summary>
/// The MQTT edge against clients that misbehave, on purpose or by mistake, with an in-process gateway whose network
/// clock the tests move: what each gets (CONNACK code, closed socket, dead letter) and what is counted.
/// </summary>
public sealed class MqttEdgeTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _network = new(DateTimeOffset.UnixEpoch);
    private GatewayHost _host = null!;
    private string _vendor = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartWithNetworkClockAsync(_network,
            "--SharpEyes:Limits:MqttMaxKeepAliveSeconds=60", "--SharpEyes:Limits:MqttMaxSessionsPerVendor=5",
            "--SharpEyes:Limits:MqttMaxSubscriberSessionsPerVendor=2", "--SharpEyes:Limits:FailedAuthPerAddress=5");
        _vendor = await _host.CreateKeyAsync(Role.Vendor, "acme");
        await new DeviceRegistry.DeviceRegistryClient(_host.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_vendor));
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private ClientRefusals Refusals => _host.Services.GetRequiredService<ClientRefusals>();

    [Fact]
    public async Task A_socket_that_never_sends_CONNECT_is_closed_at_the_connect_timeout_and_counted()
    {
        await using var idle = await RawMqtt.OpenAsync(_host.MqttPort);
        await using var half = await RawMqtt.OpenAsync(_host.MqttPort);
        await half.SendAsync(RawMqtt.Connect("half", "acme", _vendor)[..10]); // a CONNECT that never ends (slowloris)
        await Eventually.TrueAsync(() => _host.Services.GetRequiredService<MqttConnectionGuard>().OpenConnections == 2, "both sockets admitted");

        Assert.False(await idle.ClosedByServerAsync(TimeSpan.FromMilliseconds(200)));
        _network.Advance(TimeSpan.FromSeconds(6)); // default CONNECT timeout: 5 s

        Assert.True(await idle.ClosedByServerAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await half.ClosedByServerAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, Refusals[MqttConnectionGuard.Kinds.ConnectTimeout]);
        Assert.Contains(_host.Logs.Lines, l => l.Contains("Refused mqtt-connect-timeout", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_CONNECT_declaring_more_than_the_pre_authentication_limit_is_closed_on_its_header()
    {
        await using var raw = await RawMqtt.OpenAsync(_host.MqttPort);
        // 250 MB announced: MQTTnet alone would allocate all of it before reading the password.
        await raw.SendAsync(RawMqtt.Header(0x10, 250_000_000));
        var sent = await raw.SendFillerAsync(250_000_000, TimeSpan.FromSeconds(10));

        Assert.True(await raw.ClosedByServerAsync(TimeSpan.FromSeconds(10)));
        Assert.True(sent < 16 * 1024 * 1024, $"the gateway took {sent:N0} bytes before closing");
        Assert.Equal(1, Refusals[MqttConnectionGuard.Kinds.ConnectTooLarge]);
    }

    [Fact]
    public async Task After_authentication_a_packet_over_the_limit_closes_the_connection_and_one_under_it_is_dead_lettered_as_oversized()
    {
        await using var raw = await RawMqtt.OpenAsync(_host.MqttPort);
        await raw.SendAsync(RawMqtt.Connect("big-publisher", "acme", _vendor));
        var connAck = await raw.ReadPacketAsync();
        Assert.Equal(0x20, connAck!.Value.Type);
        Assert.Equal(0, connAck.Value.Body[1]); // accepted

        // 100 KiB: over Alarms:MaxPayloadBytes (16 KiB), under Limits:MqttMaxPacketBytes (256 KiB): a dead letter, connection kept.
        await raw.SendAsync(RawMqtt.Publish("sharpeyes/v1/alarms/" + TestDevices.AlarmId(1), new byte[100 * 1024], packetId: 1));
        var ack = await raw.ReadPacketAsync();
        Assert.Equal(0x40, ack!.Value.Type);
        // 50 MB: closed on the header, before MQTTnet buffers it.
        await raw.SendAsync(RawMqtt.Header(0x32, 50_000_000));
        await raw.SendFillerAsync(50_000_000, TimeSpan.FromSeconds(10));

        Assert.True(await raw.ClosedByServerAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, Refusals[MqttConnectionGuard.Kinds.PacketTooLarge]);
        var stats = await new Admin.AdminClient(_host.Channel).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth);
        Assert.Equal(1, stats.DeadLettersByReason["oversized"]);
    }

    [Fact]
    public async Task MQTT5_clients_are_told_the_limits_and_a_keepalive_of_0_becomes_the_maximum_which_is_enforced()
    {
        await using var raw = await RawMqtt.OpenAsync(_host.MqttPort);
        await raw.SendAsync(RawMqtt.Connect("no-keepalive", "acme", _vendor, level: 5, keepAlive: 0));
        var connAck = (await raw.ReadPacketAsync())!.Value;
        Assert.Equal(0, connAck.Body[1]);
        var properties = Mqtt5Properties(connAck.Body.AsSpan(2));
        Assert.Equal(60, properties[0x13]);              // server keep alive
        Assert.Equal(256 * 1024, properties[0x27]);      // maximum packet size
        Assert.Equal(0, properties[0x25]);               // retain available: no

        _network.Advance(TimeSpan.FromSeconds(80));
        Assert.False(await raw.ClosedByServerAsync(TimeSpan.FromMilliseconds(300))); // 80 s < 1.5 × 60 s
        _network.Advance(TimeSpan.FromSeconds(15));
        Assert.True(await raw.ClosedByServerAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, Refusals[MqttConnectionGuard.Kinds.KeepAliveTimeout]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(61)]
    public async Task MQTT311_clients_asking_for_no_keepalive_or_more_than_the_maximum_are_refused(int keepAlive)
    {
        await using var raw = await RawMqtt.OpenAsync(_host.MqttPort);
        await raw.SendAsync(RawMqtt.Connect("ka-" + keepAlive, "acme", _vendor, level: 4, keepAlive: keepAlive));

        var connAck = (await raw.ReadPacketAsync())!.Value;
        Assert.Equal(5, connAck.Body[1]); // 3.1.1: not authorized
        Assert.Equal(1, Refusals["mqtt-keepalive-refused"]);
        Assert.Contains(_host.Logs.Lines, l => l.Contains($"keepalive {keepAlive} s", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_will_is_refused_at_CONNECT_because_it_would_be_taken_for_an_alarm()
    {
        await using var raw = await RawMqtt.OpenAsync(_host.MqttPort);
        await raw.SendAsync(RawMqtt.Connect("with-will", "acme", _vendor, level: 5,
            will: ("sharpeyes/v1/alarms/" + TestDevices.AlarmId(1), TestDevices.AlarmJson("evt-will"))));

        var connAck = (await raw.ReadPacketAsync())!.Value;
        Assert.Equal(0x87, connAck.Body[1]); // not authorized, with a reason string
        Assert.Contains("will messages are not supported", Encoding.UTF8.GetString(connAck.Body), StringComparison.Ordinal);
        Assert.Equal(1, Refusals["mqtt-will-refused"]);
    }

    [Fact]
    public async Task A_retained_alarm_is_dead_lettered_as_unsupported_not_accepted_and_forgotten()
    {
        var client = await _host.ConnectMqttAsync("acme", _vendor);
        var ack = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(1))
            .WithPayload(TestDevices.AlarmJson("evt-retained")).WithRetainFlag().WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

        Assert.Equal(MqttClientPublishReasonCode.ImplementationSpecificError, ack.ReasonCode);
        Assert.Equal("unsupported", ack.ReasonString);
        var stats = await new Admin.AdminClient(_host.Channel).GetStatsAsync(new GetStatsRequest(), _host.AdminAuth);
        Assert.Equal(0, stats.AlarmsAccepted);
        Assert.Equal(1, stats.DeadLettersByReason["unsupported"]);
        // The connection stays usable.
        var next = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(1))
            .WithPayload(TestDevices.AlarmJson("evt-after")).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.Success, next.ReasonCode);
    }

    [Theory]
    [InlineData(Role.Operator)]
    [InlineData(Role.Centre)]
    [InlineData(Role.Planner)]
    [InlineData(Role.Admin)]
    public async Task Only_vendor_keys_may_connect(Role role)
    {
        var key = role == Role.Admin ? _host.AdminKey : await _host.CreateKeyAsync(role);

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => _host.ConnectMqttAsync("anyone", key));

        Assert.Contains("NotAuthorized", refused.Message + refused.InnerException?.Message, StringComparison.Ordinal);
        Assert.Equal(1, Refusals["mqtt-role-denied"]);
    }

    [Fact]
    public async Task A_vendor_cannot_take_over_another_vendors_session_or_read_its_dead_letters()
    {
        var otherKey = await _host.CreateKeyAsync(Role.Vendor, "bravo");
        var victimLetters = new ConcurrentQueue<string>();
        var victim = await _host.ConnectMqttAsync("bravo", otherKey, clientId: "bravo-monitor", cleanStart: false);
        victim.ApplicationMessageReceivedAsync += e =>
        {
            victimLetters.Enqueue(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await victim.SubscribeAsync("sharpeyes/v1/deadletter/bravo", MqttQualityOfServiceLevel.AtLeastOnce);

        var attempt = await Assert.ThrowsAnyAsync<Exception>(() => _host.ConnectMqttAsync("acme", _vendor, clientId: "bravo-monitor", cleanStart: false));

        Assert.Contains("ClientIdentifierNotValid", attempt.Message + attempt.InnerException?.Message, StringComparison.Ordinal);
        Assert.True(victim.IsConnected);
        // The victim's session still works and still gets its own dead letters.
        var bravoPublisher = await _host.ConnectMqttAsync("bravo", otherKey);
        await bravoPublisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/1234").WithPayload("{}")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await Eventually.TrueAsync(() => !victimLetters.IsEmpty, "the victim's dead letter");
        Assert.Equal(1, Refusals["mqtt-client-id-taken"]);
    }

    [Fact]
    public async Task Sessions_and_subscribing_sessions_per_vendor_are_bounded()
    {
        var clients = new List<IMqttClient>();
        for (var i = 0; i < 5; i++)
        {
            clients.Add(await _host.ConnectMqttAsync("acme", _vendor, clientId: "acme-" + i, cleanStart: false));
        }

        var sixth = await Assert.ThrowsAnyAsync<Exception>(() => _host.ConnectMqttAsync("acme", _vendor, clientId: "acme-5", cleanStart: false));
        var subscriptions = new List<MqttClientSubscribeResultCode>();
        foreach (var client in clients.Take(3))
        {
            subscriptions.Add((await client.SubscribeAsync("sharpeyes/v1/deadletter/acme", MqttQualityOfServiceLevel.AtLeastOnce)).Items.Single().ResultCode);
        }

        Assert.Contains("QuotaExceeded", sixth.Message + sixth.InnerException?.Message, StringComparison.Ordinal);
        Assert.Equal([MqttClientSubscribeResultCode.GrantedQoS1, MqttClientSubscribeResultCode.GrantedQoS1, MqttClientSubscribeResultCode.QuotaExceeded], subscriptions);
        Assert.Equal(1, Refusals["mqtt-sessions-per-vendor"]);
        Assert.Equal(1, Refusals["mqtt-subscribers-per-vendor"]);
        // An existing session may come back; another vendor is not affected by acme's count.
        clients[4].Dispose();
        clients.Add(await _host.ConnectMqttAsync("acme", _vendor, clientId: "acme-4", cleanStart: false));
        var bravo = await _host.CreateKeyAsync(Role.Vendor, "bravo");
        Assert.True((await _host.ConnectMqttAsync("bravo", bravo)).IsConnected);
    }

    [Fact]
    public async Task Wrong_keys_are_counted_and_an_address_that_used_up_its_failures_is_refused_unchecked()
    {
        for (var i = 0; i < 5; i++)
        {
            var wrong = await Assert.ThrowsAnyAsync<Exception>(() => _host.ConnectMqttAsync("acme", $"se_guess{i}_nope"));
            Assert.Contains("BadUserNameOrPassword", wrong.Message + wrong.InnerException?.Message, StringComparison.Ordinal);
        }

        // The sixth attempt, even with the right key, is refused without looking at it.
        var locked = await Assert.ThrowsAnyAsync<Exception>(() => _host.ConnectMqttAsync("acme", _vendor));

        Assert.Contains("QuotaExceeded", locked.Message + locked.InnerException?.Message, StringComparison.Ordinal);
        Assert.Equal(5, Refusals["auth-failed-mqtt"]);
        Assert.Equal(1, Refusals["auth-locked-out"]);
        // One log line per kind per interval, with key ids and never a secret.
        Assert.Single(_host.Logs.Lines, l => l.Contains("Refused auth-failed-mqtt", StringComparison.Ordinal));
        Assert.DoesNotContain("_nope", _host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_thousand_refused_CONNECTs_with_long_client_ids_write_a_few_short_log_lines()
    {
        var before = _host.Logs.All.Length;
        var longId = new string('x', 4 * 1024);
        for (var i = 0; i < 1000; i++)
        {
            await using var raw = await RawMqtt.OpenAsync(_host.MqttPort, from: "127.0.0." + (2 + (i % 200)));
            await raw.SendAsync(RawMqtt.Connect(longId + i, "acme" + longId, "se_guess_" + i));
            Assert.Equal(4, (await raw.ReadPacketAsync())!.Value.Body[1]); // bad user name or password
        }

        var written = _host.Logs.All.Length - before;
        Assert.True(written < 4_000, $"1,000 refusals wrote {written:N0} characters of log");
        Assert.Equal(1000, Refusals["auth-failed-mqtt"]);
    }

    /// <summary>The properties of an MQTT 5 CONNACK (after flags and reason code) whose values are integers.</summary>
    private static Dictionary<int, int> Mqtt5Properties(ReadOnlySpan<byte> p)
    {
        var values = new Dictionary<int, int>();
        var length = 0;
        var shift = 0;
        var i = 0;
        do
        {
            length |= (p[i] & 0x7F) << shift;
            shift += 7;
        }
        while ((p[i++] & 0x80) != 0);

        var end = i + length;
        while (i < end)
        {
            var id = p[i++];
            switch (id)
            {
                case 0x24 or 0x25 or 0x28 or 0x29 or 0x2A: // one-byte values
                    values[id] = p[i++];
                    break;
                case 0x13 or 0x21 or 0x22: // two-byte integers
                    values[id] = (p[i] << 8) | p[i + 1];
                    i += 2;
                    break;
                case 0x11 or 0x27: // four-byte integers
                    values[id] = (p[i] << 24) | (p[i + 1] << 16) | (p[i + 2] << 8) | p[i + 3];
                    i += 4;
                    break;
                case 0x12 or 0x1A or 0x1C or 0x1F: // strings
                    i += 2 + ((p[i] << 8) | p[i + 1]);
                    break;
                case 0x26: // user property: two strings
                    i += 2 + ((p[i] << 8) | p[i + 1]);
                    i += 2 + ((p[i] << 8) | p[i + 1]);
                    break;
                default:
                    throw new InvalidOperationException($"unexpected CONNACK property 0x{id:x2}");
            }
        }

        return values;
    }
}
