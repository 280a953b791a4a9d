using System.Diagnostics;
using System.Globalization;
using System.Text;
using CsCheck;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Mqtt;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Fuzz;

/// <summary>
/// Thousands of generated alarms (<see cref="AlarmCases"/>: valid ones and every mutation), on the right topic or a
/// wrong one, a few retained, some sent again, published at QoS 1 over a few connections to a running gateway: every
/// one ends as accepted, duplicate or dead letter with the reason its mutation calls for, with its PUBACK, on
/// connections that stay up; accepted + duplicates + dead letters = sent in the stats and on /metrics; each dead
/// letter reaches the vendor's topic; afterwards the gateway serves a canary, logged no unhandled exception and its
/// memory stayed bounded.
/// </summary>
[Collection(ProcessMemoryCollection.Name)]
public sealed class AlarmWireFuzzTests : IAsyncLifetime
{
    private const string VendorId = "vendor-fuzz";
    private const string OtherVendorId = "vendor-other";
    private const ulong Seed = 20261122;
    private const int PayloadCount = 5_000;
    private const int Connections = 4;
    private const int InFlightPerConnection = 32;
    private const int MaxPayloadBytes = 16 * 1024;
    private static readonly TimeSpan TimeBound = TimeSpan.FromSeconds(120);

    private GatewayHost _host = null!;
    private string _vendorKey = null!;

    /// <summary>The topic a case is published to: its vendor's device, another vendor's, one nobody registered, or not an alarm topic.</summary>
    private static readonly Gen<string> Topic = Gen.Frequency(
        (40, Gen.Const("own")),
        (1, Gen.Const("foreign")),
        (1, Gen.Const("unregistered")),
        (2, Gen.OneOf(
            "sharpeyes/v1/alarms/1301270000134", "sharpeyes/v1/alarms/" + TestDevices.AlarmId(1) + "/x", "sharpeyes/v1/alarms/ABCDEFGHIJKLMNOPQRST",
            "sharpeyes/v1/alarm/" + TestDevices.AlarmId(1), "sharpeyes/v1/deadletter/" + VendorId, "x", "sharpeyes/v1/alarms/设备000000000000000000",
            "/sharpeyes/v1/alarms/" + TestDevices.AlarmId(1), "sharpeyes/v1/alarms/", "sharpeyes/v1/alarms/ " + TestDevices.AlarmId(1)[1..],
            "sharpeyes/v1/alarms/" + TestDevices.AlarmId(1) + "\u0000")));

    /// <summary>A case: the payload, its topic, whether it is retained, and (a fraction) which earlier valid alarm to send again instead.</summary>
    private static readonly Gen<WireCase> Cases = Gen.Select(
        AlarmCases.Any, Topic, Gen.Int[0, 99], Gen.Double.Unit,
        (alarm, topic, r, resend) => new WireCase(alarm, topic, r == 0, r is >= 1 and <= 5 ? resend : -1));

    public async ValueTask InitializeAsync()
    {
        // The listener must see every dead letter: a queue that drops the oldest under load is MqttFloodTests' subject, not this one's.
        _host = await GatewayHost.StartAsync(extraArgs: ["--SharpEyes:Limits:MqttMaxQueuedMessagesPerSession=100000"]);
        _vendorKey = await _host.CreateKeyAsync(Role.Vendor, VendorId);
        await new DeviceRegistry.DeviceRegistryClient(_host.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_vendorKey));
        var other = await _host.CreateKeyAsync(Role.Vendor, OtherVendorId);
        await new DeviceRegistry.DeviceRegistryClient(_host.Channel).RegisterDeviceAsync(TestDevices.Alarm(2), _host.Auth(other));
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Every_alarm_is_accepted_a_duplicate_or_dead_lettered_with_its_reason_and_the_gateway_keeps_serving()
    {
        var seed = Fuzzing.Seed(Seed);
        var cases = Resolve(Fuzzing.Cases(Cases, seed, Fuzzing.Count(PayloadCount)));
        var memory = Canary.Mark();
        var listenerClient = await _host.ConnectMqttAsync(VendorId, _vendorKey);
        var letters = await DeadLetterListener.SubscribeAsync(listenerClient, VendorId);
        var clients = new List<IMqttClient>();
        for (var c = 0; c < Connections; c++)
        {
            clients.Add(await _host.ConnectMqttAsync(VendorId, _vendorKey));
        }

        var disconnects = DisconnectCounter.Watch([.. clients, listenerClient]);

        var results = new FuzzResult?[cases.Count];
        using var bound = new CancellationTokenSource(TimeBound);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(clients.Select((client, c) => PublishShareAsync(client, cases, c, results, bound.Token)));
        clock.Stop();

        // Every PUBACK arrived, within the bound, and no connection dropped.
        Assert.All(results, (r, i) => Assert.True(r is { Error: null }, $"{Fuzzing.Replay(seed, i)} ({cases[i].Alarm.Kind}): {r?.Error ?? "not sent"}"));
        var acks = results.Select(r => r!).ToList();
        Assert.Equal(0, disconnects.Count);
        Assert.All(clients.Append(listenerClient), c => Assert.True(c.IsConnected));
        Assert.Equal(Connections + 1, _host.Services.GetRequiredService<MqttBroker>().ConnectedClients);

        // Each case got an answer its mutation and topic allow.
        var wrong = cases.Select((c, i) => (c, i, Why: Check(c, acks[i]))).Where(x => x.Why is not null).ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} of {cases.Count} alarms got the wrong answer (seed {seed}); the first:\n"
            + string.Join('\n', wrong.Take(5).Select(x => $"{Fuzzing.Replay(seed, x.i)}: {x.Why}\n  topic {x.c.TopicKind}, retained {x.c.Retain}, {Fuzzing.Shorten(x.c.Alarm.ToString(), 1500)}")));

        // accepted + duplicates + dead letters = sent, in the admin stats and on /metrics.
        var stats = await _host.GetStatsAsync();
        var deadLettered = stats.DeadLettersByReason.Values.Sum();
        Assert.Equal(cases.Count, stats.AlarmsAccepted + stats.AlarmsDuplicate + deadLettered);
        Assert.Equal(cases.Count, stats.AlarmsReceived);
        var metrics = await MetricsScrape.ReadAsync(_host.HttpPort);
        var metricDeadLetters = metrics.Where(m => m.Key.StartsWith("sharpeyes_alarms_dead_lettered_total{", StringComparison.Ordinal)).Sum(m => m.Value);
        Assert.Equal(cases.Count, metrics["sharpeyes_alarms_accepted_total"] + metrics["sharpeyes_alarms_duplicates_total"] + metricDeadLetters);
        Assert.Equal(cases.Count, metrics["sharpeyes_alarms_received_total"]);
        Assert.Equal(0, stats.DeadLettersByReason.GetValueOrDefault(DeadLetterReasons.InternalError)); // an internal error here is a bug the fuzz found

        // The PUBACKs agree: success for accepted and duplicates, the dead letter's reason otherwise.
        Assert.Equal(stats.AlarmsAccepted + stats.AlarmsDuplicate, acks.Count(a => a.Code == MqttClientPublishReasonCode.Success));
        foreach (var (reason, count) in stats.DeadLettersByReason)
        {
            Assert.Equal(count, acks.Count(a => a.Code != MqttClientPublishReasonCode.Success && a.ReasonString == reason));
        }

        // Every dead letter reached the vendor's topic, carrying the payload its PUBACK refused. Alone this takes seconds;
        // in a full run on two busy cores one took over 60 s: MQTTnet's delivery to one subscriber can crawl under load
        // (the alarm benchmark's bare MQTTnet baseline saw 500-15,000 messages/s to its subscriber from run to run).
        await Eventually.TrueAsync(() => letters.Letters.Count >= deadLettered, $"{deadLettered} dead letters", TimeSpan.FromSeconds(180));
        var refused = acks.Select((a, i) => (a, i)).Where(x => x.a.Code != MqttClientPublishReasonCode.Success)
            .GroupBy(x => (Convert.ToBase64String(cases[x.i].Alarm.Payload.AsSpan(0, Math.Min(4096, cases[x.i].Alarm.Payload.Length))), x.a.ReasonString))
            .ToDictionary(g => g.Key, g => g.Count());
        var received = letters.Letters.GroupBy(l => (Convert.ToBase64String(l.Payload), l.Reason)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(refused.OrderBy(p => p.Key), received.OrderBy(p => p.Key));

        // Independent oracle: what a strict UTF-8 decoder refuses is malformed (unless refused before the payload is read).
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        for (var i = 0; i < cases.Count; i++)
        {
            if (!Decodes(strict, cases[i].Alarm.Payload) && cases[i] is { Retain: false, TopicKind: "own" or "foreign" or "unregistered" } && cases[i].Alarm.Payload.Length <= MaxPayloadBytes)
            {
                Assert.True(acks[i].ReasonString == DeadLetterReasons.Malformed, $"{Fuzzing.Replay(seed, i)} ({cases[i].Alarm.Kind}) is not UTF-8 but got {acks[i].Code} {acks[i].ReasonString}");
            }
        }

        // Thousands of dead letters, a few log lines: one per reason per interval (the gateway's clock stands still here).
        var deadLetterLines = _host.Logs.Lines.Count(l => l.Contains("Dead-lettered a message", StringComparison.Ordinal));
        Assert.InRange(deadLetterLines, 1, stats.DeadLettersByReason.Count(r => r.Value > 0));

        // Still serving, nothing unhandled, memory bounded.
        await Canary.AssertServingAsync(_host, VendorId, _vendorKey, TestDevices.AlarmId(1));
        Canary.AssertNoUnhandledExceptions(_host.Logs);
        var memoryText = Canary.AssertBounded(memory);

        Report(seed, cases, acks, stats, clock.Elapsed, memoryText);
    }

    /// <summary>Why an answer is wrong for its case (null when it is right): the checks run in the gateway's order.</summary>
    private static string? Check(WireCase c, FuzzResult ack)
    {
        var reason = ack.Code == MqttClientPublishReasonCode.Success ? null : ack.ReasonString;
        string[] allowed = c switch
        {
            { Retain: true } => [DeadLetterReasons.Unsupported],
            { TopicKind: not ("own" or "foreign" or "unregistered") } => [DeadLetterReasons.InvalidTopic],
            _ when c.Alarm.Payload.Length > MaxPayloadBytes => [DeadLetterReasons.Oversized],
            _ => [.. c.Alarm.Expect.Reasons, .. c.Alarm.Expect.Accept ? [c.TopicKind == "own" ? "" : DeadLetterReasons.UnknownDevice] : Array.Empty<string>()],
        };
        return allowed.Contains(reason ?? "") ? null : $"got {ack.Code} {reason}, expected {string.Join(" or ", allowed.Select(a => a.Length == 0 ? "success" : a))}";
    }

    /// <summary>Cases that send an earlier valid alarm again take its payload and topic (a duplicate, or its first copy if the first was still in flight).</summary>
    private static List<WireCase> Resolve(List<WireCase> cases)
    {
        for (var i = 0; i < cases.Count; i++)
        {
            if (cases[i].Resend >= 0 && (int)(cases[i].Resend * i) is var j && j < i && cases[j] is { Retain: false, TopicKind: "own", Alarm.Alarm: not null } original
                && original.Alarm.Payload.Length <= MaxPayloadBytes)
            {
                cases[i] = original with { Alarm = original.Alarm with { Kind = "resent " + j } };
            }
        }

        return cases;
    }

    private string TopicOf(WireCase c) => c.TopicKind switch
    {
        "own" => "sharpeyes/v1/alarms/" + TestDevices.AlarmId(1),
        "foreign" => "sharpeyes/v1/alarms/" + TestDevices.AlarmId(2),
        "unregistered" => "sharpeyes/v1/alarms/" + TestDevices.AlarmId(99),
        _ => c.TopicKind,
    };

    private async Task PublishShareAsync(IMqttClient client, IReadOnlyList<WireCase> cases, int connection, FuzzResult?[] results, CancellationToken bound)
    {
        using var window = new SemaphoreSlim(InFlightPerConnection);
        var inFlight = new List<Task>();
        for (var i = connection; i < cases.Count; i += Connections)
        {
            await window.WaitAsync(bound);
            var index = i;
            inFlight.Add(Task.Run(async () =>
            {
                try
                {
                    var message = new MqttApplicationMessageBuilder().WithTopic(TopicOf(cases[index])).WithRetainFlag(cases[index].Retain)
                        .WithPayload(cases[index].Alarm.Payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
                    var ack = await client.PublishAsync(message, bound);
                    results[index] = new FuzzResult(ack.ReasonCode, ack.ReasonString ?? "", null);
                }
                catch (Exception ex)
                {
                    results[index] = new FuzzResult(MqttClientPublishReasonCode.UnspecifiedError, "", ex.GetType().Name + ": " + ex.Message);
                }
                finally
                {
                    window.Release();
                }
            }, CancellationToken.None));
        }

        await Task.WhenAll(inFlight);
    }

    private static bool Decodes(UTF8Encoding strict, byte[] bytes)
    {
        try
        {
            strict.GetCharCount(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static void Report(ulong seed, IReadOnlyList<WireCase> cases, IReadOnlyList<FuzzResult> acks, GetStatsResponse stats, TimeSpan elapsed, string memory)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{Connections} connections, {elapsed.TotalSeconds:0.0} s: ")
            .Append(CultureInfo.InvariantCulture, $"accepted {stats.AlarmsAccepted} + duplicates {stats.AlarmsDuplicate} + dead letters {stats.DeadLettersByReason.Values.Sum()} (")
            .AppendJoin(", ", stats.DeadLettersByReason.Where(p => p.Value > 0).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"))
            .Append(CultureInfo.InvariantCulture, $") = {stats.AlarmsReceived}; {memory}");
        foreach (var kind in cases.Select((c, i) => (Kind: c.Alarm.Kind.Split(' ')[0], Outcome: acks[i].Code == MqttClientPublishReasonCode.Success ? "ok" : acks[i].ReasonString))
            .GroupBy(k => k.Kind).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  {kind.Key,-18} {kind.Count(),5}: ")
                .AppendJoin(", ", kind.GroupBy(k => k.Outcome).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"));
        }

        Fuzzing.Report("alarms over MQTT", seed, cases.Count, 0, text.ToString());
    }

    private sealed record WireCase(AlarmCase Alarm, string TopicKind, bool Retain, double Resend);

    private sealed record FuzzResult(MqttClientPublishReasonCode Code, string ReasonString, string? Error);
}
