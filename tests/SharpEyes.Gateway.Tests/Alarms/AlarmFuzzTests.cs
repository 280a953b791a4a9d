using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Mqtt;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Alarms;

/// <summary>
/// Thousands of alarm payloads mutated from valid ones (fixed seed), published at QoS 1 over a few connections: every
/// one must end as accepted, duplicate or dead letter, with its PUBACK, on connections that stay up.
/// </summary>
public sealed class AlarmFuzzTests : IAsyncLifetime
{
    private const string VendorId = "vendor-fuzz";
    private const int Seed = 20261122;
    private const int PayloadCount = 5_000;
    private const int Connections = 4;
    private const int InFlightPerConnection = 32;
    private static readonly TimeSpan TimeBound = TimeSpan.FromSeconds(120);

    private GatewayHost _host = null!;
    private string _vendorKey = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync();
        _vendorKey = await _host.CreateKeyAsync(Role.Vendor, VendorId);
        await new DeviceRegistry.DeviceRegistryClient(_host.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_vendorKey));
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Every_mutated_alarm_is_accepted_a_duplicate_or_dead_lettered_acknowledged_on_a_connection_that_stays_up()
    {
        var payloads = new AlarmFuzzer(Seed).Generate(PayloadCount);
        var listenerClient = await _host.ConnectMqttAsync(VendorId, _vendorKey);
        var letters = await DeadLetterListener.SubscribeAsync(listenerClient, VendorId);
        var clients = new List<IMqttClient>();
        for (var c = 0; c < Connections; c++)
        {
            clients.Add(await _host.ConnectMqttAsync(VendorId, _vendorKey));
        }

        var disconnects = DisconnectCounter.Watch([.. clients, listenerClient]);

        var results = new FuzzResult?[payloads.Count];
        using var bound = new CancellationTokenSource(TimeBound);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(clients.Select((client, c) => PublishShareAsync(client, payloads, c, results, bound.Token)));
        clock.Stop();

        // Every PUBACK arrived, within the bound, and no connection dropped.
        Assert.All(results, (r, i) => Assert.True(r is { Error: null }, $"payload {i} ({payloads[i].Kind}): {r?.Error ?? "not sent"}"));
        var acks = results.Select(r => r!).ToList();
        Assert.Equal(0, disconnects.Count);
        Assert.All(clients.Append(listenerClient), c => Assert.True(c.IsConnected));
        Assert.Equal(Connections + 1, _host.Services.GetRequiredService<MqttBroker>().ConnectedClients);

        // accepted + duplicates + dead letters = sent, in the admin stats and on /metrics.
        var stats = await _host.GetStatsAsync();
        var deadLettered = stats.DeadLettersByReason.Values.Sum();
        Assert.Equal(PayloadCount, stats.AlarmsAccepted + stats.AlarmsDuplicate + deadLettered);
        Assert.Equal(PayloadCount, stats.AlarmsReceived);
        var metrics = await MetricsScrape.ReadAsync(_host.HttpPort);
        var metricDeadLetters = metrics.Where(m => m.Key.StartsWith("sharpeyes_alarms_dead_lettered_total{", StringComparison.Ordinal)).Sum(m => m.Value);
        Assert.Equal(PayloadCount, metrics["sharpeyes_alarms_accepted_total"] + metrics["sharpeyes_alarms_duplicates_total"] + metricDeadLetters);
        Assert.Equal(PayloadCount, metrics["sharpeyes_alarms_received_total"]);
        Assert.Equal(0, stats.DeadLettersByReason.GetValueOrDefault(DeadLetterReasons.InternalError)); // an internal error here is a bug the fuzz found

        // The PUBACKs agree: success for accepted and duplicates, the dead letter's reason otherwise.
        Assert.Equal(stats.AlarmsAccepted + stats.AlarmsDuplicate, acks.Count(a => a.Code == MqttClientPublishReasonCode.Success));
        foreach (var (reason, count) in stats.DeadLettersByReason)
        {
            Assert.Equal(count, acks.Count(a => a.Code != MqttClientPublishReasonCode.Success && a.ReasonString == reason));
        }

        // Every dead letter reached the vendor's topic, carrying the payload its PUBACK refused.
        await Eventually.TrueAsync(() => letters.Letters.Count >= deadLettered, $"{deadLettered} dead letters", TimeSpan.FromSeconds(60));
        var refused = acks.Select((a, i) => (a, i)).Where(x => x.a.Code != MqttClientPublishReasonCode.Success)
            .GroupBy(x => (Convert.ToBase64String(payloads[x.i].Payload), x.a.ReasonString)).ToDictionary(g => g.Key, g => g.Count());
        var received = letters.Letters.GroupBy(l => (Convert.ToBase64String(l.Payload), l.Reason)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(refused.OrderBy(p => p.Key), received.OrderBy(p => p.Key));

        // Independent oracles: what a strict UTF-8 decoder refuses is malformed; unmutated alarms are accepted.
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        for (var i = 0; i < payloads.Count; i++)
        {
            if (!Decodes(strict, payloads[i].Payload))
            {
                Assert.True(acks[i].ReasonString == DeadLetterReasons.Malformed, $"payload {i} ({payloads[i].Kind}) is not UTF-8 but got {acks[i].Code} {acks[i].ReasonString}");
            }

            if (payloads[i].Kind is "valid" or "unicode")
            {
                Assert.True(acks[i].Code == MqttClientPublishReasonCode.Success, $"payload {i} ({payloads[i].Kind}) is valid but got {acks[i].Code} {acks[i].ReasonString}");
            }
        }

        // Thousands of dead letters, a few log lines: one per reason per interval (the gateway's clock stands still here).
        var deadLetterLines = _host.Logs.Lines.Count(l => l.Contains("Dead-lettered a message", StringComparison.Ordinal));
        Assert.InRange(deadLetterLines, 1, stats.DeadLettersByReason.Count(r => r.Value > 0));

        Report(payloads, acks, stats, clock.Elapsed);
    }

    private static async Task PublishShareAsync(IMqttClient client, IReadOnlyList<FuzzPayload> payloads, int connection, FuzzResult?[] results, CancellationToken bound)
    {
        using var window = new SemaphoreSlim(InFlightPerConnection);
        var inFlight = new List<Task>();
        for (var i = connection; i < payloads.Count; i += Connections)
        {
            await window.WaitAsync(bound);
            var index = i;
            inFlight.Add(Task.Run(async () =>
            {
                try
                {
                    var message = new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(1))
                        .WithPayload(payloads[index].Payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
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

    private static void Report(IReadOnlyList<FuzzPayload> payloads, IReadOnlyList<FuzzResult> acks, GetStatsResponse stats, TimeSpan elapsed)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"alarm fuzz: seed {Seed}, {payloads.Count} payloads over {Connections} connections in {elapsed.TotalSeconds:0.0} s: ")
            .Append(CultureInfo.InvariantCulture, $"accepted {stats.AlarmsAccepted} + duplicates {stats.AlarmsDuplicate} + dead letters {stats.DeadLettersByReason.Values.Sum()} (")
            .AppendJoin(", ", stats.DeadLettersByReason.Where(p => p.Value > 0).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"))
            .Append(CultureInfo.InvariantCulture, $") = {stats.AlarmsReceived}\n");
        foreach (var kind in payloads.Select((p, i) => (p.Kind, Outcome: acks[i].Code == MqttClientPublishReasonCode.Success ? "ok" : acks[i].ReasonString))
            .GroupBy(k => k.Kind).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"  {kind.Key,-16} {kind.Count(),5}: ")
                .AppendJoin(", ", kind.GroupBy(k => k.Outcome).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}")).Append('\n');
        }

        TestContext.Current.TestOutputHelper?.WriteLine(text.ToString());
        TestContext.Current.SendDiagnosticMessage(text.ToString());
        Console.WriteLine(text.ToString());
    }

    private sealed record FuzzResult(MqttClientPublishReasonCode Code, string ReasonString, string? Error);
}

/// <summary>One generated payload and the mutation that made it.</summary>
internal sealed record FuzzPayload(string Kind, byte[] Payload);

/// <summary>
/// Valid alarms (varied fields, optional positions in each datum, non-ASCII descriptions) and mutations of them: bit
/// flips, byte inserts and deletes, truncation, splices of invalid UTF-8 and of surrogate escapes, control characters,
/// type changes, missing and duplicate members, deep nesting, huge numbers, times outside the window, splices of two
/// payloads, and alarms sent again with an event id already used. Deterministic for a seed.
/// </summary>
internal sealed class AlarmFuzzer(int seed)
{
    private static readonly string[] Kinds =
    [
        "valid", "unicode", "bit-flip", "byte-insert", "byte-delete", "truncate", "invalid-utf8", "surrogate-escape", "control",
        "type-change", "missing-member", "duplicate-member", "deep", "huge-number", "time", "splice", "duplicate-event", "position-edge",
    ];

    private static readonly byte[][] InvalidUtf8 =
    [
        [0xFF], [0xFE], [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],
        [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE6, 0x97], [0xF0, 0x9F, 0x9A], [0xE9],
    ];

    private static readonly string[] SurrogateEscapes = [@"\udc00", @"\ud800", @"\udbff", @"\ude00\ud83d", @"\ud83d\ud83d", @"\ud800x", @"\ud83d\udea8"];

    private static readonly string[] Descriptions = ["test", "", "周界入侵 东门", "🚨 alarm", @"\ud83d\udea8 escaped", @"line 1\nline 2\ttab", "quote \\\" backslash \\\\", "Ünïcödé"];

    private static readonly string[] Literals = ["null", "true", "false", "0", "-1", "1.5", "\"\"", "\"text\"", "[]", "{}", "[1,2]", "{\"a\":1}", "1e400", "-0", "\"2\""];

    private readonly Random _random = new(seed);
    private readonly List<List<KeyValuePair<string, string>>> _valid = [];

    public List<FuzzPayload> Generate(int count)
    {
        var payloads = new List<FuzzPayload>(count);
        for (var i = 0; i < count; i++)
        {
            var kind = Kinds[_random.Next(Kinds.Length)];
            var members = ValidMembers($"fz-{i:D5}");
            _valid.Add([.. members]);
            payloads.Add(new FuzzPayload(kind, Mutate(kind, members, payloads)));
        }

        return payloads;
    }

    private List<KeyValuePair<string, string>> ValidMembers(string eventId)
    {
        var method = _random.Next(1, 8);
        var members = new List<KeyValuePair<string, string>>
        {
            new("eventId", Quote(eventId)),
            new("occurredAt", Quote(_random.Next(3) switch { 0 => "2026-11-22T16:00:00+08:00", 1 => "2026-11-22T07:59:30.250Z", _ => "2026-11-21T23:00:00-01:00" })),
            new("priority", Int(_random.Next(1, 5))),
            new("method", Int(method)),
            new("type", Int(method == 5 ? _random.Next(1, 13) : _random.Next(0, 1000))),
            new("description", Quote(Descriptions[_random.Next(Descriptions.Length)])),
        };
        if (_random.Next(2) == 0)
        {
            var datum = _random.Next(3) switch { 0 => "WGS84", 1 => "GCJ02", _ => "BD09" };
            var lon = TestDevices.SeatLon + ((_random.NextDouble() - 0.5) / 100);
            var lat = TestDevices.SeatLat + ((_random.NextDouble() - 0.5) / 100);
            members.Add(new("position", string.Create(CultureInfo.InvariantCulture, $$"""{"lon":{{lon:0.######}},"lat":{{lat:0.######}},"datum":"{{datum}}"}""")));
        }

        return members;
    }

    private byte[] Mutate(string kind, List<KeyValuePair<string, string>> members, List<FuzzPayload> earlier)
    {
        switch (kind)
        {
            case "valid":
                return Json(members);
            case "unicode":
                members[5] = new("description", Quote(Pick(["东门 🚨 报警", @"\u4e1c\u95e8", @"\ud83d\ude00\ud83d\udea8", "ａｂｃ", "𠀀𠀁"])));
                return Json(members);
            case "type-change":
                var t = _random.Next(members.Count);
                members[t] = new(members[t].Key, Pick(Literals));
                return Json(members);
            case "missing-member":
                members.RemoveAt(_random.Next(members.Count));
                return Json(members);
            case "duplicate-member":
                var d = members[_random.Next(members.Count)];
                members.Insert(_random.Next(members.Count + 1), new(d.Key, _random.Next(2) == 0 ? d.Value : Pick(Literals)));
                return Json(members);
            case "deep":
                var depth = _random.Next(4, 40);
                members.Insert(_random.Next(members.Count + 1), new("nested", new string('[', depth) + new string(']', depth)));
                return Json(members);
            case "huge-number":
                var n = _random.Next(3);
                var huge = Pick(["1e400", "-1e400", "1" + new string('0', _random.Next(20, 400)), "1e-400", "4294967298"]);
                members[n + 2] = new(members[n + 2].Key, huge);
                return Json(members);
            case "position-edge":
                var edge = string.Create(CultureInfo.InvariantCulture,
                    $$"""{"lon":{{Pick([-180, -179.9999, 0, 73.5, 114.603, 135.1, 179.9999, 180, 180.0001])}},"lat":{{Pick([-90, -0.0001, 0, 18, 37.606, 53.6, 89.9999, 90, 90.5])}},"datum":"{{Pick(["WGS84", "GCJ02", "BD09"])}}"}""");
                members.RemoveAll(m => m.Key == "position");
                members.Add(new("position", edge));
                return Json(members);
            case "time":
                members[1] = new("occurredAt", Quote(Pick([
                    "1900-01-01T00:00:00Z", "2026-08-23T07:59:59Z", "2026-08-25T08:00:00Z", "2026-11-24T08:00:01Z", "2026-11-23T07:00:00Z",
                    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-11-22T16:00:00", "2026-02-30T00:00:00Z", "yesterday",
                ])));
                return Json(members);
            case "control":
                var s = _random.Next(2) == 0 ? 0 : 5;
                var c = _random.Next(0x20);
                var text = Unquote(members[s].Value);
                members[s] = new(members[s].Key, Quote(text.Insert(_random.Next(text.Length + 1), _random.Next(2) == 0 ? $"\\u{c:x4}" : ((char)c).ToString())));
                return Json(members);
            case "surrogate-escape":
                return InsertInString(Json(members), Encoding.ASCII.GetBytes(Pick(SurrogateEscapes)));
            case "invalid-utf8":
                return InsertInString(Json(members), Pick(InvalidUtf8));
            case "duplicate-event" when _valid.Count > 0:
                var original = _valid[_random.Next(_valid.Count)];
                if (_random.Next(2) == 0)
                {
                    return Json(original); // byte for byte
                }

                members[0] = original[0]; // the same event id, other fields
                return Json(members);
            case "splice" when earlier.Count > 0:
                var a = Json(members);
                var b = earlier[_random.Next(earlier.Count)].Payload;
                return [.. a.AsSpan(0, _random.Next(a.Length)), .. b.AsSpan(_random.Next(b.Length))];
            default:
                return Bytes(kind, Json(members));
        }
    }

    private byte[] Bytes(string kind, byte[] json)
    {
        var bytes = json.ToList();
        var times = _random.Next(1, 4);
        for (var k = 0; k < times && bytes.Count > 0; k++)
        {
            switch (kind)
            {
                case "bit-flip":
                    var i = _random.Next(bytes.Count);
                    bytes[i] ^= (byte)(1 << _random.Next(8));
                    break;
                case "byte-insert":
                    bytes.Insert(_random.Next(bytes.Count + 1), (byte)_random.Next(256));
                    break;
                case "byte-delete":
                    bytes.RemoveAt(_random.Next(bytes.Count));
                    break;
                default: // truncate (and the kinds that found nothing earlier to reuse)
                    return [.. bytes.Take(_random.Next(bytes.Count))];
            }
        }

        return [.. bytes];
    }

    /// <summary>Inserts right after a random double quote: mostly inside a string, sometimes just after one.</summary>
    private byte[] InsertInString(byte[] json, byte[] insert)
    {
        var quotes = json.Select((b, i) => (b, i)).Where(x => x.b == (byte)'"').Select(x => x.i).ToList();
        var at = quotes[_random.Next(quotes.Count)] + 1;
        return [.. json.AsSpan(0, at), .. insert, .. json.AsSpan(at)];
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    private static byte[] Json(List<KeyValuePair<string, string>> members) =>
        Encoding.UTF8.GetBytes("{" + string.Join(',', members.Select(m => $"\"{m.Key}\":{m.Value}")) + "}");

    private static string Quote(string text) => "\"" + text + "\"";

    private static string Unquote(string value) => value.Length >= 2 && value[0] == '"' ? value[1..^1] : value;

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);
}
