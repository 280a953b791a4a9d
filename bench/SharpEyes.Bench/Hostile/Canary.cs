using System.Diagnostics;
using Grpc.Core;
using MQTTnet;
using MQTTnet.Exceptions;
using SharpEyes.Bench.Gateway;
using SharpEyes.Bench.Mqtt;
using SharpEyes.V1;

namespace SharpEyes.Bench.Hostile;

/// <summary>
/// A well-behaved client on 127.0.0.1 while an attack runs, three probes once per second each, every probe bounded by
/// <see cref="ProbeTimeout"/>: an MQTT vendor client (MQTTnet, MQTT 5) publishing one valid QoS 1 alarm (answered = a
/// success PUBACK; reconnecting when its connection is gone), GET /healthz on a new connection each time (as a
/// load-balancer or kubelet probe does; answered = 2xx), and Admin.GetStats with the admin key on the gateway's
/// long-lived gRPC channel (answered = OK).
/// </summary>
internal sealed class Canary : IAsyncDisposable
{
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly CancellationTokenSource _stop = new();
    private readonly IMqttClient _mqtt;
    private readonly HttpClient _http = new(new SocketsHttpHandler()) { Timeout = ProbeTimeout };
    private readonly Task[] _loops;

    private Canary(GatewayProcess gateway, IMqttClient mqtt, string deviceId, string adminKey)
    {
        _mqtt = mqtt;
        var admin = new Admin.AdminClient(gateway.Channel);
        var adminAuth = new Metadata { { "authorization", "Bearer " + adminKey } };
        var topic = AlarmMessages.TopicPrefix + deviceId;
        var healthz = new Uri($"http://127.0.0.1:{gateway.HttpPort}/healthz");
        var alarm = 0;
        _loops =
        [
            Loop(Alarms, async ct =>
            {
                if (!_mqtt.IsConnected)
                {
                    await _mqtt.ReconnectAsync(ct);
                }

                var message = new MqttApplicationMessageBuilder()
                    .WithTopic(topic)
                    .WithPayload(AlarmMessages.Payload(9, alarm++, AlarmMessages.OccurredAt(DateTimeOffset.UtcNow)))
                    .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build();
                var result = await _mqtt.PublishAsync(message, ct);
                return result.IsSuccess ? null : $"PUBACK {result.ReasonCode}";
            }),
            Loop(Health, async ct =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, healthz);
                request.Headers.ConnectionClose = true;
                using var response = await _http.SendAsync(request, ct);
                return response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}";
            }),
            Loop(Stats, async ct =>
            {
                await admin.GetStatsAsync(new GetStatsRequest(), adminAuth, cancellationToken: ct);
                return null;
            }),
        ];
    }

    /// <summary>Valid QoS 1 alarms: a success PUBACK within the timeout.</summary>
    public Probe Alarms { get; } = new();

    /// <summary>GET /healthz on a new connection: 2xx within the timeout.</summary>
    public Probe Health { get; } = new();

    /// <summary>Admin.GetStats: OK within the timeout.</summary>
    public Probe Stats { get; } = new();

    public static async Task<Canary> StartAsync(GatewayProcess gateway, HostileTarget.Vendor vendor, string adminKey, CancellationToken ct)
    {
        var mqtt = (await AlarmPublisher.ConnectAsync(gateway.MqttPort, vendor.Id, vendor.Key, 1, "canary", ct))[0];
        return new Canary(gateway, mqtt, vendor.DeviceId, adminKey);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
        await AlarmPublisher.DisconnectAsync([_mqtt]);
        _http.Dispose();
        _stop.Dispose();
    }

    /// <summary>Runs <paramref name="probe"/> once per <see cref="Interval"/> until stopped; it returns null when answered, else why not.</summary>
    private Task Loop(Probe into, Func<CancellationToken, Task<string?>> probe) => Task.Run(async () =>
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(ProbeTimeout);
                var started = Stopwatch.GetTimestamp();
                string? failure;
                try
                {
                    failure = await probe(timeout.Token);
                }
                catch (Exception e) when (!_stop.IsCancellationRequested && e is OperationCanceledException or TimeoutException or HttpRequestException
                    or RpcException or MqttCommunicationException or InvalidOperationException)
                {
                    failure = e is RpcException r ? r.StatusCode.ToString() : e is OperationCanceledException ? "timeout" : e.GetType().Name;
                }

                if (!_stop.IsCancellationRequested)
                {
                    into.Record(failure, Stopwatch.GetElapsedTime(started));
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    });

    /// <summary>How one probe fared: attempts, answers, the slowest answer and the failures by kind.</summary>
    internal sealed class Probe
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, int> _failures = new(StringComparer.Ordinal);

        public int Attempts { get; private set; }

        public int Answered { get; private set; }

        public double WorstMs { get; private set; }

        public IReadOnlyDictionary<string, int> Failures
        {
            get
            {
                lock (_lock)
                {
                    return new Dictionary<string, int>(_failures, StringComparer.Ordinal);
                }
            }
        }

        public void Record(string? failure, TimeSpan took)
        {
            lock (_lock)
            {
                Attempts++;
                if (failure is null)
                {
                    Answered++;
                    WorstMs = Math.Max(WorstMs, took.TotalMilliseconds);
                }
                else
                {
                    _failures[failure] = _failures.GetValueOrDefault(failure) + 1;
                }
            }
        }
    }
}
