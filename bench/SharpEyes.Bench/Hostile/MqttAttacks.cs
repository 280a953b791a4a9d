using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using SharpEyes.Bench.Mqtt;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Bench.Hostile;

/// <summary>
/// The MQTT attacks of issue 11 but the idle flood (<see cref="IdleFlood"/>), over bare sockets (<see cref="RawMqtt"/>, shared with the gateway's tests) where a
/// client library would not misbehave, and MQTTnet clients where it would. Each comes from its own loopback address.
/// </summary>
internal static class MqttAttacks
{
    private const int BigConnectAddress = 23;
    private const int BigPublishAddress = 24;
    private const int SessionAddress = 27;
    private static readonly TimeSpan SendLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan AnswerWait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan PublishLimit = TimeSpan.FromSeconds(300);

    public static readonly HostileAttack BigConnect = new("big-connect", s => string.Create(CultureInfo.InvariantCulture,
        $"{s.BigConnects} connections at once from 127.0.0.{BigConnectAddress}, each a CONNECT fixed header declaring {s.BigConnectBytes:N0} bytes, then that many bytes "
        + $"of zeros (sending stops after {SendLimit.TotalSeconds:0} s or when the gateway closes the connection); then up to {AnswerWait.TotalSeconds:0} s for an answer. "
        + $"Bytes taken = what the client's socket accepted, the loopback socket buffers (a few MB) included"),
        "A CONNECT with wrong credentials carrying about 60 MB of MQTT 5 user properties ... four of 250 MB: 595 → 1,627 MB, still 1,533 MB after",
        BigConnectAsync);

    public static readonly HostileAttack BigPublish = new("big-publish", s => string.Create(CultureInfo.InvariantCulture,
        $"{s.BigPublishes} connections at once from 127.0.0.{BigPublishAddress} of the attacker's vendor (MQTT 3.1.1 CONNECT with its key, accepted), each a QoS 1 "
        + $"PUBLISH to its alarm device's topic declaring {s.BigPublishBytes:N0} bytes, the payload zeros (limits as for big-connect)"),
        "ten 50 MB publishes took 290 → 1,212 MB",
        BigPublishAsync);

    public static readonly HostileAttack SessionQueues = new("session-queues", s => string.Create(CultureInfo.InvariantCulture,
        $"{s.Sessions:N0} MQTT 5 clients of the attacker's vendor from 127.0.0.{SessionAddress} (clean start off, session expiry 1 h, 8 at a time) subscribe to "
        + $"sharpeyes/v1/deadletter/hostile and disconnect; then one client publishes {s.DeadLetters:N0} malformed alarms (QoS 1, 64 in flight), each dead-lettered "
        + $"and queued to every subscribed session"),
        "1,000 sessions × 5,000 dead letters took 492 → 2,664 MB",
        SessionQueuesAsync);

    private static async Task<AttackOutcome> BigConnectAsync(HostileTarget t, HostileSettings s, CancellationToken ct)
    {
        var pushed = await Task.WhenAll(Enumerable.Range(0, s.BigConnects).Select(_ => PushAsync(t.Gateway.MqttPort, BigConnectAddress, async raw =>
        {
            await raw.SendAsync(RawMqtt.Header(0x10, s.BigConnectBytes));
            return await raw.SendFillerAsync(s.BigConnectBytes, SendLimit);
        })));
        return Outcome(pushed, s.BigConnectBytes);
    }

    private static async Task<AttackOutcome> BigPublishAsync(HostileTarget t, HostileSettings s, CancellationToken ct)
    {
        var topic = AlarmMessages.TopicPrefix + t.Attacker.DeviceId;
        // The publish's own topic and packet id, then filler as payload: RawMqtt builds the packet, its 2-byte fixed header is replaced.
        var head = RawMqtt.Publish(topic, [], packetId: 1)[2..];
        var pushed = await Task.WhenAll(Enumerable.Range(0, s.BigPublishes).Select(i => PushAsync(t.Gateway.MqttPort, BigPublishAddress, async raw =>
        {
            await raw.SendAsync(RawMqtt.Connect($"hostile-big-{i}", t.Attacker.Id, t.Attacker.Key));
            var connAck = await raw.ReadPacketAsync(AnswerWait);
            if (connAck is not { Type: 0x20 } c || c.Body[1] != 0)
            {
                throw new InvalidOperationException("CONNECT refused: " + Describe(connAck));
            }

            await raw.SendAsync([.. RawMqtt.Header(0x32, s.BigPublishBytes), .. head]);
            return head.Length + await raw.SendFillerAsync(s.BigPublishBytes - head.Length, SendLimit);
        })));
        return Outcome(pushed, s.BigPublishBytes);
    }

    /// <summary>One big packet over a bare socket: how many bytes the socket took, how long, and what the gateway answered after.</summary>
    private static async Task<(long Taken, TimeSpan Took, string Answer)> PushAsync(int port, int address, Func<RawMqtt, Task<long>> send)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await using var raw = await RawMqtt.OpenAsync(port, HostileTarget.Loopback(address).ToString());
            var taken = await send(raw);
            var took = clock.Elapsed;
            string answer;
            try
            {
                answer = Describe(await raw.ReadPacketAsync(AnswerWait));
            }
            catch (OperationCanceledException)
            {
                answer = $"no answer, open after {AnswerWait.TotalSeconds:0} s";
            }

            return (taken, took, answer);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or InvalidOperationException)
        {
            return (0, clock.Elapsed, e is InvalidOperationException ? e.Message : "connection failed: " + e.GetType().Name);
        }
    }

    private static AttackOutcome Outcome((long Taken, TimeSpan Took, string Answer)[] pushed, long declared)
    {
        var answers = new Tally();
        foreach (var p in pushed)
        {
            answers.Add(p.Answer);
        }

        var summary = string.Create(CultureInfo.InvariantCulture,
            $"the gateway took {Mb(pushed.Min(p => p.Taken))}–{Mb(pushed.Max(p => p.Taken))} MB of {Mb(declared)} per connection; then: {answers}");
        return new AttackOutcome(summary,
            [.. pushed.Select((p, i) => string.Create(CultureInfo.InvariantCulture, $"connection {i}: {p.Taken:N0} bytes taken in {p.Took.TotalSeconds:F1} s, then {p.Answer}"))]);
    }

    private static string Describe((byte Type, byte[] Body)? packet) => packet switch
    {
        null => "closed by the gateway",
        { Type: 0x20, Body.Length: >= 2 } p => $"CONNACK code {p.Body[1]}",
        { Type: 0x40 } => "PUBACK",
        { Type: 0xE0 } => "DISCONNECT",
        { } p => $"packet type 0x{p.Type:X2}",
    };

    private static string Mb(long bytes) => (bytes / 1e6).ToString(bytes < 10_000_000 ? "F1" : "N0", CultureInfo.InvariantCulture);

    private static async Task<AttackOutcome> SessionQueuesAsync(HostileTarget t, HostileSettings s, CancellationToken ct)
    {
        var topic = "sharpeyes/v1/deadletter/" + t.Attacker.Id;
        var subscribed = new Tally();
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, s.Sessions), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (i, c) =>
        {
            try
            {
                using var client = await ConnectAsync(t, $"hostile-session-{i}", cleanStart: false, c);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(c);
                timeout.CancelAfter(TimeSpan.FromSeconds(15));
                var suback = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(topic, MqttQualityOfServiceLevel.AtLeastOnce).Build(), timeout.Token);
                subscribed.Add("SUBACK " + suback.Items.First().ResultCode);
                await client.DisconnectAsync(new MqttClientDisconnectOptions(), timeout.Token); // normal disconnect: the session stays
            }
            catch (MQTTnet.Adapter.MqttConnectingFailedException e)
            {
                subscribed.Add("CONNECT refused: " + e.Message);
            }
            catch (Exception e) when (e is MqttCommunicationException or InvalidOperationException or OperationCanceledException && !c.IsCancellationRequested)
            {
                subscribed.Add(e is InvalidOperationException ? e.Message : e.GetType().Name);
            }
        });
        var sessionsTook = clock.Elapsed;

        var messages = Enumerable.Range(0, s.DeadLetters).Select(i => new MqttApplicationMessageBuilder()
            .WithTopic(AlarmMessages.TopicPrefix + t.Attacker.DeviceId)
            .WithPayload(Encoding.UTF8.GetBytes($"{{\"eventId\":\"bad-{i}\",\"occurredAt\":"))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build()).ToArray();
        using var publisher = await ConnectAsync(t, "hostile-bad-alarms", cleanStart: true, ct);
        var outcome = await AlarmPublisher.RunAsync([publisher], messages, window: 64, ratePerSecond: null, PublishLimit);
        await AlarmPublisher.DisconnectAsync([publisher]);
        var answered = outcome.AckTicks.Count(at => at != 0);
        var seconds = BrokerBaseline.Seconds(outcome.StartTicks, outcome.LastAckTicks);
        var stopped = outcome.TimedOut ? string.Create(CultureInfo.InvariantCulture, $" (stopped at the {PublishLimit.TotalSeconds:0} s limit)") : "";
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"{s.Sessions:N0} sessions in {sessionsTook.TotalSeconds:F1} s: {subscribed}; {answered:N0}/{s.DeadLetters:N0} bad alarms answered in {seconds:F1} s{stopped}");
        return new AttackOutcome(summary,
        [
            string.Create(CultureInfo.InvariantCulture, $"bad alarms: {outcome.Sent:N0} sent, {answered:N0} PUBACKs, {outcome.Failed:N0} not success (first: {outcome.FirstFailure ?? "none"})"),
        ]);
    }

    /// <summary>An MQTT 5 client of the attacker's vendor from 127.0.0.27; <paramref name="cleanStart"/> false keeps its session an hour.</summary>
    private static async Task<IMqttClient> ConnectAsync(HostileTarget t, string clientId, bool cleanStart, CancellationToken ct)
    {
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", t.Gateway.MqttPort)
            .WithClientId(clientId)
            .WithCredentials(t.Attacker.Id, t.Attacker.Key)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(cleanStart)
            .WithSessionExpiryInterval(cleanStart ? 0u : 3600u)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(60))
            .WithTimeout(TimeSpan.FromSeconds(15))
            .Build();
        ((MqttClientTcpOptions)options.ChannelOptions).LocalEndpoint = new IPEndPoint(HostileTarget.Loopback(SessionAddress), 0);
        var client = new MqttClientFactory().CreateMqttClient();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(15));
            var result = await client.ConnectAsync(options, timeout.Token);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                throw new InvalidOperationException("CONNACK " + result.ResultCode);
            }

            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }
}
