using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.Gateway.Configuration;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Outbox;

/// <summary>
/// One batch for an endpoint: the events in (<see cref="After"/>, <see cref="Through"/>] that pass its region filter;
/// <see cref="PrunedThrough"/>: events up to there were deleted by retention and cannot be sent again.
/// </summary>
public sealed record OutboxBatch(string SourceId, long After, long Through, IReadOnlyList<FeedEvent> Events, long PrunedThrough = 0);

/// <summary>How a batch reaches an endpoint. Delivery (order, retries, breaker, timeout) is the caller's.</summary>
public interface ICentreTransport : IAsyncDisposable
{
    /// <summary>Sends one batch; returns the sequence up to which the endpoint now holds every event.</summary>
    Task<long> DeliverAsync(OutboxBatch batch, CancellationToken cancellationToken);

    /// <summary>Whether the transport has a live connection (MQTT) or is able to try (gRPC connects per call).</summary>
    bool Connected { get; }

    /// <summary>The TLS side of an https:// or mqtts:// endpoint; null in clear text.</summary>
    CentreTls? Tls { get; }
}

/// <summary>
/// The centre's CentreSink gRPC service over one reused HTTP/2 channel; over https:// the centre's certificate is
/// verified by <see cref="CentreTls"/> at each new connection.
/// </summary>
public sealed class GrpcCentreTransport : ICentreTransport
{
    private readonly GrpcChannel _channel;
    private readonly CentreSink.CentreSinkClient _client;
    private readonly Metadata _headers = [];

    public GrpcCentreTransport(CentreEndpointOptions options, CentreTls? tls)
    {
        Tls = tls;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.Timeout,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            EnableMultipleHttp2Connections = false,
        };
        if (tls is not null)
        {
            handler.SslOptions = tls.SslOptions();
        }

        _channel = GrpcChannel.ForAddress(options.Url, new GrpcChannelOptions
        {
            HttpHandler = handler,
            MaxReceiveMessageSize = 4 * 1024 * 1024,
            MaxSendMessageSize = 64 * 1024 * 1024,
        });
        _client = new CentreSink.CentreSinkClient(_channel);
        if (!string.IsNullOrEmpty(options.ApiKey))
        {
            _headers.Add("authorization", "Bearer " + options.ApiKey);
        }
    }

    public bool Connected => _channel.State != ConnectivityState.TransientFailure;

    public CentreTls? Tls { get; }

    public async Task<long> DeliverAsync(OutboxBatch batch, CancellationToken cancellationToken)
    {
        var request = new DeliverRequest { SourceId = batch.SourceId, AfterSequence = batch.After, ThroughSequence = batch.Through, PrunedThrough = batch.PrunedThrough };
        request.Events.AddRange(batch.Events);
        try
        {
            var response = await _client.DeliverAsync(request, _headers, cancellationToken: cancellationToken).ConfigureAwait(false);
            return response.AckedSequence;
        }
        catch (RpcException e) when (Tls?.Explain(e) is { } why)
        {
            throw new CentreTlsException(why, e);
        }
    }

    public ValueTask DisposeAsync()
    {
        _channel.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// A topic on an external MQTT broker: each event as protobuf JSON at QoS 1 to {topic}/{region code}, with the MQTT 5
/// user properties <c>source</c>, <c>sequence</c> and <c>kind</c> for the subscriber's de-duplication. Events are
/// published one after another (each PUBACK awaited) so they reach the broker in sequence order.
/// </summary>
public sealed class MqttCentreTransport(CentreEndpointOptions options, ExternalMqttConnection connection) : ICentreTransport
{
    private static readonly Google.Protobuf.JsonFormatter Json = Google.Protobuf.JsonFormatter.Default;

    public bool Connected => connection.Connected;

    public CentreTls? Tls => connection.Tls;

    public async Task<long> DeliverAsync(OutboxBatch batch, CancellationToken cancellationToken)
    {
        var client = connection.Client ?? throw new InvalidOperationException(
            $"not connected to the MQTT broker {connection.Endpoint}{(connection.LastError is { } error ? ": " + error : "")}");
        foreach (var e in batch.Events)
        {
            var message = new MQTTnet.MqttApplicationMessageBuilder()
                .WithTopic($"{options.Topic}/{(e.RegionCode.Length > 0 ? e.RegionCode : "none")}")
                .WithPayload(Encoding.UTF8.GetBytes(Json.Format(e)))
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce)
                .WithContentType("application/json")
                .WithUserProperty("source", Encoding.UTF8.GetBytes(batch.SourceId))
                .WithUserProperty("sequence", Encoding.UTF8.GetBytes(e.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                .WithUserProperty("kind", Encoding.UTF8.GetBytes(e.Kind.ToString()))
                .Build();
            var result = await client.PublishAsync(message, cancellationToken).ConfigureAwait(false);
            if (!result.IsSuccess)
            {
                throw new InvalidOperationException($"the broker refused sequence {e.Sequence}: {result.ReasonCode} {result.ReasonString}");
            }
        }

        return batch.Through;
    }

    public ValueTask DisposeAsync() => connection.DisposeAsync();
}
