using MQTTnet;
using Polly;
using Polly.Retry;

namespace SharpEyes.Gateway.Outbox;

/// <summary>
/// The gateway's own client to an external MQTT broker, kept connected by a supervising loop (as MQTTnet's own
/// samples advise, not from the Disconnected event): every few seconds it pings; when the link is down it reconnects
/// with exponential backoff and jitter (a Polly retry on the injected clock) until it succeeds or the gateway stops.
/// The session is persistent (clean start off, one day of session expiry), so the broker keeps what was queued for it.
/// Over mqtts:// the broker's certificate is verified by <see cref="CentreTls"/> at each connection, and a refused
/// certificate is a failed connection like any other (retried with backoff), with the reason in <see cref="LastError"/>.
/// A subscriber (the external-broker intake) passes its message handler, attached before the first connection so
/// nothing the broker holds for the session is missed, and a step run after each connection (its subscription)
/// inside the same retry.
/// </summary>
public sealed partial class ExternalMqttConnection : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private readonly MqttClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ResiliencePipeline _reconnect;
    private readonly Task _loop;
    private volatile bool _connected;
    private volatile string? _lastError;
    private readonly Func<IMqttClient, CancellationToken, Task>? _onConnected;
    private long _reconnects;

    public ExternalMqttConnection(Uri broker, string clientId, string? userName, string? password, TimeSpan baseDelay, TimeSpan maxDelay,
        TimeProvider time, ILogger logger, CentreTls? tls = null, ExternalMqttSubscriber? subscriber = null)
    {
        _onConnected = subscriber?.OnConnected;
        var port = broker.Port > 0 ? broker.Port : tls is null ? 1883 : 8883;
        Endpoint = $"{broker.Host}:{port}"; // never the credentials
        Tls = tls;
        _time = time;
        _logger = logger;
        _client = new MqttClientFactory().CreateMqttClient();
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(broker.Host, port)
            .WithClientId(clientId)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(subscriber?.SessionExpirySeconds ?? 86_400)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (userName is not null || password is not null)
        {
            builder = builder.WithCredentials(userName ?? "", password ?? "");
        }

        if (tls is not null)
        {
            builder = builder.WithTlsOptions(o =>
            {
                o.UseTls()
                    .WithTargetHost(tls.Host)
                    .WithCertificateValidationHandler(args => tls.Verify(args.Certificate, args.Chain, args.SslPolicyErrors))
                    .WithRevocationMode(System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck);
                if (tls.HasClientCertificate)
                {
                    o.WithCertificateSelectionHandler(_ => tls.ClientCertificate()!);
                }
            });
        }

        if (subscriber is not null)
        {
            builder = builder.WithReceiveMaximum(subscriber.ReceiveMaximum);
            _client.ApplicationMessageReceivedAsync += subscriber.OnMessage;
        }

        _options = builder.Build();
        _reconnect = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = baseDelay,
                MaxDelay = maxDelay,
                OnRetry = args =>
                {
                    var error = args.Outcome.Exception is { } e ? Tls?.Explain(e) ?? e.Message : "";
                    _lastError = error;
                    LogConnectFailed(_logger, Endpoint, args.AttemptNumber + 1, args.RetryDelay, error);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
        _loop = Task.Run(SuperviseAsync);
    }

    /// <summary>host:port of the broker.</summary>
    public string Endpoint { get; }

    public bool Connected => _connected;

    /// <summary>The TLS side of an mqtts:// broker; null in clear text.</summary>
    public CentreTls? Tls { get; }

    /// <summary>Why the last connection attempt failed (a refused certificate names its reason); null once connected.</summary>
    public string? LastError => _lastError;

    /// <summary>Connections made after the first one.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>The client while connected, else null.</summary>
    public IMqttClient? Client => _connected ? _client : null;

    private static readonly TimeSpan ErrorPause = TimeSpan.FromSeconds(1);

    private async Task SuperviseAsync()
    {
        var first = true;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (!await _client.TryPingAsync(_stop.Token).ConfigureAwait(false))
                {
                    _connected = false;
                    await _reconnect.ExecuteAsync(async ct =>
                    {
                        if (_client.IsConnected)
                        {
                            await _client.DisconnectAsync(cancellationToken: ct).ConfigureAwait(false);
                        }

                        var result = await _client.ConnectAsync(_options, ct).ConfigureAwait(false);
                        if (result.ResultCode != MqttClientConnectResultCode.Success)
                        {
                            throw new InvalidOperationException($"connection refused: {result.ResultCode}");
                        }

                        if (_onConnected is { } connected)
                        {
                            await connected(_client, ct).ConfigureAwait(false);
                        }
                    }, _stop.Token).ConfigureAwait(false);
                    if (!first)
                    {
                        Interlocked.Increment(ref _reconnects);
                    }

                    first = false;
                    _lastError = null;
                    _connected = true;
                    LogConnected(_logger, Endpoint);
                }
                else
                {
                    _connected = true;
                }

                await Task.Delay(TimeSpan.FromSeconds(2), _time, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                _connected = false;
                LogSupervisorError(_logger, Endpoint, ex);
                try
                {
                    await Task.Delay(ErrorPause, _time, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>
    /// Drops the connection (a normal DISCONNECT, the session kept): the broker sends the unacknowledged messages again
    /// when the supervising loop reconnects.
    /// </summary>
    public async Task DropAsync()
    {
        _connected = false;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _client.DisconnectAsync(cancellationToken: timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException or ObjectDisposedException)
        {
            // Already down.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        if (_client.IsConnected)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await _client.DisconnectAsync(cancellationToken: timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or MQTTnet.Exceptions.MqttCommunicationException)
            {
            }
        }

        _client.Dispose();
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to the external MQTT broker {Endpoint}")]
    private static partial void LogConnected(ILogger logger, string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connecting to the external MQTT broker {Endpoint} failed (attempt {Attempt}); next try in {Delay}: {Error}")]
    private static partial void LogConnectFailed(ILogger logger, string endpoint, int attempt, TimeSpan delay, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "The supervising loop for the MQTT broker {Endpoint} failed; it keeps going")]
    private static partial void LogSupervisorError(ILogger logger, string endpoint, Exception exception);
}

/// <summary>
/// What a subscribing connection adds: its handler (set <c>AutoAcknowledge</c> false in it to acknowledge later), a step
/// after each connection (subscribe), the session expiry and the receive maximum (messages in flight to it).
/// </summary>
public sealed record ExternalMqttSubscriber(
    Func<MqttApplicationMessageReceivedEventArgs, Task> OnMessage,
    Func<IMqttClient, CancellationToken, Task> OnConnected,
    uint SessionExpirySeconds,
    ushort ReceiveMaximum);
