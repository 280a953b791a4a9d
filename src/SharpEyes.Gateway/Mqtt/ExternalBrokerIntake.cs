using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Outbox;

namespace SharpEyes.Gateway.Mqtt;

/// <summary>
/// Alarms from an external MQTT 5 broker (SharpEyes:ExternalBroker). The gateway holds one persistent session there
/// (clean start off, a long session expiry, a client id stable across restarts) subscribed at QoS 1 to
/// <c>$share/{group}/sharpeyes/v1/alarms/#</c>, so replicas in one group share the alarms. The broker acknowledged
/// the publisher; the gateway acknowledges the broker: each message's PUBACK goes out only after
/// <see cref="AlarmIntake"/> committed the alarm (or its dead letter), in the order the messages came. If a commit
/// fails, nothing more is acknowledged on that connection: the gateway disconnects, and the broker sends every
/// unacknowledged message again when the supervising loop reconnects (<see cref="ExternalMqttConnection"/>, Polly
/// backoff). A message sent again is stored once: alarms are de-duplicated by (vendor, eventId).
/// <para>
/// The publisher is not known to the gateway (the broker authenticated it against the generated password file and
/// topic ACL): an alarm is attributed to the vendor that owns the topic's device
/// (<see cref="AlarmIntake.SubmitFromBrokerAsync"/>).
/// </para>
/// </summary>
public sealed partial class ExternalBrokerIntake(AlarmIntake intake, IOptions<GatewayOptions> options, TimeProvider time, ILoggerFactory loggers)
    : IHostedLifecycleService
{
    private readonly ExternalBrokerOptions _options = options.Value.ExternalBroker;
    private readonly ILogger _logger = loggers.CreateLogger<ExternalBrokerIntake>();
    private readonly CancellationTokenSource _stop = new();
    private int _stopping;
    private ExternalMqttConnection? _connection;
    private Task _lastAck = Task.CompletedTask;
    private long _generation;
    private long _received, _acked, _redelivered, _duplicates, _notAcked, _deadLettered;

    public bool Enabled => _options.Enabled;

    /// <summary>host:port of the broker (never credentials), or null when none is configured.</summary>
    public string? Endpoint => _connection?.Endpoint;

    public bool Connected => _connection?.Connected == true;

    /// <summary>Why the last connection attempt failed, if it did.</summary>
    public string? LastError => _connection?.LastError;

    public long Reconnects => _connection?.Reconnects ?? 0;

    /// <summary>Messages taken from the broker.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Messages acknowledged to the broker (each after its commit).</summary>
    public long Acked => Interlocked.Read(ref _acked);

    /// <summary>Messages the broker marked as sent again (DUP).</summary>
    public long Redelivered => Interlocked.Read(ref _redelivered);

    /// <summary>Messages that were duplicates of a stored (vendor, eventId), acknowledged without storing them again.</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Messages dead-lettered (acknowledged once the dead letter was stored).</summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    /// <summary>Messages left unacknowledged because their commit failed or the connection changed first (the broker sends them again).</summary>
    public long NotAcked => Interlocked.Read(ref _notAcked);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            return Task.CompletedTask;
        }

        var url = new Uri(_options.Url);
        var tls = CentreTls.IsTls(url)
            ? CentreTls.For(new CentreEndpointOptions { Name = "external-broker", Url = _options.Url, CaPath = _options.CaPath.Length > 0 ? _options.CaPath : null },
                loggers.CreateLogger<CentreTls>())
            : null;
        var subscriber = new ExternalMqttSubscriber(OnMessageAsync, SubscribeAsync, (uint)_options.SessionExpiry.TotalSeconds, (ushort)_options.ReceiveMaximum);
        _connection = new ExternalMqttConnection(url, _options.EffectiveClientId, NullIfEmpty(_options.UserName), NullIfEmpty(_options.Password),
            _options.ReconnectBaseDelay, _options.ReconnectMaxDelay, time, loggers.CreateLogger<ExternalMqttConnection>(), tls, subscriber);
        LogStarting(_logger, _connection.Endpoint, _options.EffectiveClientId, _options.SharedFilter);
        return Task.CompletedTask;

        static string? NullIfEmpty(string value) => value.Length > 0 ? value : null;
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Stops taking messages before the journal drains: what is in flight and not yet acknowledged is sent again to the next session.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopping, 1) == 1)
        {
            return; // a host stopped twice (a test that restarted it, then disposed it): done the first time
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_connection is { } connection)
        {
            try
            {
                await _lastAck.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                // Not acknowledged: the broker keeps them for this session.
            }

            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        _stop.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>After each connection: a new generation (acknowledgements of the previous connection's messages are not sent on this one), and the subscription.</summary>
    private async Task SubscribeAsync(IMqttClient client, CancellationToken ct)
    {
        Interlocked.Increment(ref _generation);
        var subscribe = new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(_options.SharedFilter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .Build();
        var result = await client.SubscribeAsync(subscribe, ct).ConfigureAwait(false);
        var code = result.Items.Count > 0 ? result.Items.First().ResultCode : MqttClientSubscribeResultCode.UnspecifiedError;
        if (code is not (MqttClientSubscribeResultCode.GrantedQoS1 or MqttClientSubscribeResultCode.GrantedQoS2))
        {
            throw new InvalidOperationException($"the broker refused the subscription to {_options.SharedFilter} at QoS 1: {code}");
        }
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        e.AutoAcknowledge = false; // acknowledged after the commit, below
        var generation = Interlocked.Read(ref _generation);
        var message = e.ApplicationMessage;
        Interlocked.Increment(ref _received);
        if (message.Dup)
        {
            Interlocked.Increment(ref _redelivered);
        }

        Task<IntakeResult> committed;
        var span = GatewayTracing.StartMqttReceive(null); // null unless traces are recorded
        try
        {
            (_, committed) = await intake.SubmitFromBrokerAsync(message.Topic, message.Payload, _stop.Token, message.Retain).ConfigureAwait(false);
            if (span is not null)
            {
                _ = GatewayTracing.EndWhenDurableAsync(span, committed);
            }
        }
        catch (OperationCanceledException)
        {
            span?.Stop();
            Interlocked.Increment(ref _notAcked);
            return; // stopping: not acknowledged, the broker keeps it for this session
        }

        // Acknowledgements leave in the order the messages came (MQTT asks for it), each after its own commit.
        _lastAck = AcknowledgeAsync(e, committed, _lastAck, generation);
    }

    private async Task AcknowledgeAsync(MqttApplicationMessageReceivedEventArgs e, Task<IntakeResult> committed, Task previous, long generation)
    {
        await previous.ConfigureAwait(false); // never throws
        IntakeResult result;
        try
        {
            result = await committed.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _notAcked);
            if (Interlocked.Read(ref _generation) == generation && _connection is { } connection)
            {
                // Not durable: no PUBACK. Disconnect so the broker sends this and everything after it again on reconnection.
                Interlocked.Increment(ref _generation);
                LogNotDurable(_logger, ex);
                await connection.DropAsync().ConfigureAwait(false);
            }

            return;
        }

        if (Interlocked.Read(ref _generation) != generation)
        {
            // The connection it came on is gone: the broker sends it again, and the copy is acknowledged as a duplicate.
            Interlocked.Increment(ref _notAcked);
            return;
        }

        try
        {
            await e.AcknowledgeAsync(_stop.Token).ConfigureAwait(false);
            Interlocked.Increment(ref _acked);
            switch (result.Status)
            {
                case IntakeStatus.Duplicate:
                    Interlocked.Increment(ref _duplicates);
                    break;
                case IntakeStatus.DeadLettered:
                    Interlocked.Increment(ref _deadLettered);
                    break;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException or ObjectDisposedException)
        {
            Interlocked.Increment(ref _notAcked); // the link went down first: the broker sends it again
        }
    }

    [LoggerMessage(EventId = 2020, Level = LogLevel.Information, Message = "Taking alarms from the external MQTT broker {Endpoint} as client {ClientId}, subscribed to {Filter}")]
    private static partial void LogStarting(ILogger logger, string endpoint, string clientId, string filter);

    [LoggerMessage(EventId = 2021, Level = LogLevel.Error, Message = "An alarm from the external broker could not be stored; it was not acknowledged, and the gateway reconnects so that the broker sends it again")]
    private static partial void LogNotDurable(ILogger logger, Exception exception);
}
