using System.Diagnostics;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;

namespace SharpEyes.Bench.Mqtt;

/// <summary>What one publishing run did: per-message send and PUBACK times (Stopwatch ticks, 0 = never).</summary>
public sealed class PublishOutcome(int planned, long startTicks)
{
    private int _sent;
    private int _acked;
    private int _failed;
    private string? _firstFailure;

    public int Planned { get; } = planned;

    public long StartTicks { get; } = startTicks;

    public long[] SendTicks { get; } = new long[planned];

    public long[] AckTicks { get; } = new long[planned];

    public int Sent => Volatile.Read(ref _sent);

    public int Acked => Volatile.Read(ref _acked);

    public int Failed => Volatile.Read(ref _failed);

    public string? FirstFailure => _firstFailure;

    /// <summary>True when the time limit stopped publishing or waiting for PUBACKs.</summary>
    public bool TimedOut { get; set; }

    /// <summary>Time of the last PUBACK (ticks), or 0.</summary>
    public long LastAckTicks => AckTicks.Length == 0 ? 0 : AckTicks.Max();

    internal void CountSent() => Interlocked.Increment(ref _sent);

    internal void CountAcked() => Interlocked.Increment(ref _acked);

    internal void CountFailed(string reason)
    {
        Interlocked.Increment(ref _failed);
        Interlocked.CompareExchange(ref _firstFailure, reason, null);
    }
}

/// <summary>Per-message times of a run (Stopwatch ticks, 0 = never), turned into what the reports print.</summary>
public static class MessageTimes
{
    /// <summary><paramref name="arrived"/>[i] − <paramref name="sent"/>[i] in ms for every message with both set.</summary>
    public static List<double> LatenciesMs(ReadOnlySpan<long> sent, ReadOnlySpan<long> arrived)
    {
        var ms = new List<double>(sent.Length);
        for (var i = 0; i < sent.Length; i++)
        {
            if (sent[i] > 0 && arrived[i] > 0)
            {
                ms.Add((arrived[i] - sent[i]) * 1000.0 / System.Diagnostics.Stopwatch.Frequency);
            }
        }

        return ms;
    }

    /// <summary>Messages sent per second between the first send and the last (0 with fewer than two).</summary>
    public static double AchievedRate(ReadOnlySpan<long> sent)
    {
        long first = long.MaxValue, last = 0;
        var count = 0;
        foreach (var t in sent)
        {
            if (t > 0)
            {
                first = Math.Min(first, t);
                last = Math.Max(last, t);
                count++;
            }
        }

        return last > first ? (count - 1) / ((last - first) / (double)System.Diagnostics.Stopwatch.Frequency) : 0;
    }
}

/// <summary>
/// Publishes QoS 1 messages over N connections as fast as possible (each connection keeps up to a window of
/// PublishAsync calls outstanding, awaiting the oldest when the window is full) or paced at a fixed rate.
/// The same code drives the bare broker and the gateway.
/// </summary>
public static class AlarmPublisher
{
    /// <param name="tlsCa">A CA file: connect over TLS trusting that CA only (see <see cref="Gateway.BenchTls"/>); null: plain text.</param>
    public static async Task<List<IMqttClient>> ConnectAsync(int port, string? userName, string? password, int connections, string clientPrefix, CancellationToken ct, string? tlsCa = null)
    {
        var factory = new MqttClientFactory();
        var clients = new List<IMqttClient>(connections);
        try
        {
            for (var c = 0; c < connections; c++)
            {
                var client = factory.CreateMqttClient();
                clients.Add(client);
                var builder = new MqttClientOptionsBuilder()
                    .WithTcpServer("127.0.0.1", port)
                    .WithClientId($"{clientPrefix}-{c}-{Environment.ProcessId}")
                    .WithCleanStart(true)
                    .WithProtocolVersion(MqttProtocolVersion.V500)
                    .WithKeepAlivePeriod(TimeSpan.FromSeconds(60))
                    .WithTimeout(TimeSpan.FromSeconds(30));
                if (userName is not null)
                {
                    builder = builder.WithCredentials(userName, password);
                }

                builder = Gateway.BenchTls.Mqtt(builder, tlsCa);

                using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                connectTimeout.CancelAfter(TimeSpan.FromSeconds(15));
                var result = await client.ConnectAsync(builder.Build(), connectTimeout.Token);
                if (result.ResultCode != MqttClientConnectResultCode.Success)
                {
                    throw new InvalidOperationException($"MQTT connect to port {port} refused: {result.ResultCode} {result.ReasonString}");
                }
            }
        }
        catch
        {
            await DisconnectAsync(clients);
            throw;
        }

        return clients;
    }

    public static async Task DisconnectAsync(IEnumerable<IMqttClient> clients)
    {
        foreach (var client in clients)
        {
            try
            {
                if (client.IsConnected)
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await client.DisconnectAsync(new MqttClientDisconnectOptions(), timeout.Token);
                }
            }
            catch (Exception e) when (e is MqttCommunicationException or OperationCanceledException or InvalidOperationException)
            {
                // Best effort: the broker may already be gone.
            }

            client.Dispose();
        }
    }

    /// <param name="window">Most PublishAsync calls outstanding per connection.</param>
    /// <param name="ratePerSecond">Null: as fast as possible; else the total paced rate across all connections.</param>
    /// <param name="timeLimit">Bound on publishing and on waiting for the last PUBACKs.</param>
    public static async Task<PublishOutcome> RunAsync(IReadOnlyList<IMqttClient> clients, MqttApplicationMessage[] messages, int window, double? ratePerSecond, TimeSpan timeLimit)
    {
        var n = clients.Count;
        var start = Stopwatch.GetTimestamp();
        var outcome = new PublishOutcome(messages.Length, start);
        var deadline = start + (long)(timeLimit.TotalSeconds * Stopwatch.Frequency);
        var perConnectionTicksPerMessage = ratePerSecond is { } rate ? Stopwatch.Frequency * n / rate : 0;

        async Task PublishOne(IMqttClient client, int i)
        {
            outcome.SendTicks[i] = Stopwatch.GetTimestamp();
            outcome.CountSent();
            try
            {
                var result = await client.PublishAsync(messages[i]);
                outcome.AckTicks[i] = Stopwatch.GetTimestamp();
                if (result.IsSuccess)
                {
                    outcome.CountAcked();
                }
                else
                {
                    outcome.CountFailed($"PUBACK {result.ReasonCode} {result.ReasonString}");
                }
            }
            catch (Exception e) when (e is MqttCommunicationException or OperationCanceledException or InvalidOperationException)
            {
                outcome.CountFailed(e.GetType().Name + ": " + e.Message);
            }
        }

        async Task RunConnection(IMqttClient client, int c)
        {
            var ring = new Task?[window];
            var k = 0;
            for (var i = c; i < messages.Length; i += n, k++)
            {
                if (perConnectionTicksPerMessage > 0)
                {
                    var due = start + (long)(k * perConnectionTicksPerMessage);
                    while (Stopwatch.GetTimestamp() < due && Stopwatch.GetTimestamp() < deadline)
                    {
                        await Task.Delay(1);
                    }
                }

                if (Stopwatch.GetTimestamp() >= deadline || !client.IsConnected)
                {
                    outcome.TimedOut = true;
                    break;
                }

                var slot = k % window;
                if (ring[slot] is { } previous)
                {
                    await previous;
                }

                ring[slot] = PublishOne(client, i);
            }

            var pending = ring.Where(t => t is not null).Cast<Task>().ToArray();
            var remaining = TimeSpan.FromSeconds(Math.Max(1.0, (deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency));
            try
            {
                await Task.WhenAll(pending).WaitAsync(remaining);
            }
            catch (TimeoutException)
            {
                outcome.TimedOut = true;
            }
        }

        var connections = new Task[n];
        for (var c = 0; c < n; c++)
        {
            var client = clients[c];
            var index = c;
            connections[c] = Task.Run(() => RunConnection(client, index));
        }

        await Task.WhenAll(connections);
        return outcome;
    }
}
