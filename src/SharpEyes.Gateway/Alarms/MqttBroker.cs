using System.Net;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Alarms;

/// <summary>
/// The embedded MQTTnet broker. Vendors connect with username = vendor id and password = their API key; they may
/// publish alarms for their own devices and subscribe only to their own dead-letter topic.
/// <para>
/// A PUBACK means durable, without making each connection wait for a commit per alarm. MQTTnet handles a
/// connection's publishes one after another on its receive loop, then <em>enqueues</em> the PUBACK for a separate
/// send loop, which awaits the outbound-packet interceptor before writing each packet. So the publish interceptor
/// only checks, maps and queues the alarm's transaction, remembering the commit task under the PUBLISH packet id
/// (captured by the inbound-packet interceptor just before it), and the outbound interceptor holds that packet's
/// PUBACK (or PUBREC for QoS 2) until the commit completes. If the commit fails, the PUBACK is dropped and the client
/// disconnected, so the publisher sends the alarm again. The receive loop meanwhile takes the next publish: one
/// connection's alarms share group commits.
/// </para>
/// Accepted alarms are not routed on to subscribers (the feed is the way out); MQTT 5 publishers get a reason code
/// on the PUBACK for dead-lettered messages.
/// </summary>
public sealed partial class MqttBroker(
    ApiKeyStore keys,
    AlarmIntake intake,
    DeadLetterSink deadLetters,
    IOptions<GatewayOptions> options,
    ILogger<MqttBroker> logger) : IHostedService
{
    public const string ServerClientId = "sharpeyes-gateway";
    private const string PrincipalItem = "sharpeyes.principal";
    private const string PendingItem = "sharpeyes.pending-acks";

    /// <summary>The session items of the gateway's own injected messages: an object no client connection can present.</summary>
    private readonly System.Collections.Hashtable _injectedItems = [];
    private MqttServer? _server;
    private int _clients;

    public bool IsRunning => _server?.IsStarted == true;

    /// <summary>MQTT connections open now.</summary>
    public int ConnectedClients => Volatile.Read(ref _clients);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var bind = IPAddress.Parse(o.BindAddress);
        // Listen where asked and nowhere else: MQTTnet opens an IPv6 wildcard listener too unless told not to
        // (IPAddress.None disables a family). 0.0.0.0 also serves [::]; an IPv6 address serves only itself.
        var (v4, v6) = bind.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? (IPAddress.None, bind)
            : (bind, bind.Equals(IPAddress.Any) ? IPAddress.IPv6Any : IPAddress.None);
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(v4)
            .WithDefaultEndpointBoundIPV6Address(v6)
            .WithDefaultEndpointPort(o.MqttPort)
            .WithMaxPendingMessagesPerClient(10_000)
            .WithPersistentSessions()
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions);
        _server.ValidatingConnectionAsync += ValidateConnection;
        _server.InterceptingPublishAsync += InterceptPublish;
        _server.InterceptingInboundPacketAsync += InterceptInbound;
        _server.InterceptingOutboundPacketAsync += InterceptOutbound;
        _server.InterceptingSubscriptionAsync += InterceptSubscription;
        _server.ClientConnectedAsync += _ =>
        {
            Interlocked.Increment(ref _clients);
            return Task.CompletedTask;
        };
        _server.ClientDisconnectedAsync += _ =>
        {
            Interlocked.Decrement(ref _clients);
            return Task.CompletedTask;
        };
        deadLetters.Publisher = PublishDeadLetter;
        await _server.StartAsync().ConfigureAwait(false);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            deadLetters.Publisher = null;
            await _server.StopAsync(new MqttServerStopOptions()).ConfigureAwait(false);
            _server.Dispose();
        }
    }

    private Task ValidateConnection(ValidatingConnectionEventArgs e)
    {
        if (e.ClientId == ServerClientId)
        {
            e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid; // reserved for the gateway's own messages
            return Task.CompletedTask;
        }

        var principal = keys.Authenticate(e.Password);
        if (principal is null || (principal.Role == Role.Vendor && principal.VendorId != e.UserName))
        {
            e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
            LogRejectedConnection(logger, e.ClientId, e.UserName ?? "");
            return Task.CompletedTask;
        }

        if (principal.Role is not (Role.Vendor or Role.Admin or Role.Centre or Role.Operator))
        {
            e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
            return Task.CompletedTask;
        }

        if (string.IsNullOrEmpty(e.ClientId))
        {
            // MQTT 5 lets a client leave its id to the server (mosquitto_pub does); MQTT 3.1.1 clients must send one.
            e.AssignedClientIdentifier = "sharpeyes-" + Guid.NewGuid().ToString("N");
        }

        e.SessionItems[PrincipalItem] = principal;
        if (e.SessionItems[PendingItem] is null)
        {
            e.SessionItems[PendingItem] = new PendingAcks();
        }

        return Task.CompletedTask;
    }

    private async Task InterceptPublish(InterceptingPublishEventArgs e)
    {
        if (ReferenceEquals(e.SessionItems, _injectedItems))
        {
            return; // our own dead letters, routed to their subscribers
        }

        e.ProcessPublish = false;
        var message = e.ApplicationMessage;
        var pending = e.SessionItems[PendingItem] as PendingAcks;
        if (e.SessionItems[PrincipalItem] is not Principal principal)
        {
            e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
            return;
        }

        var (rejection, committed) = await intake.SubmitAsync(principal, message.Topic, message.Payload, e.CancellationToken).ConfigureAwait(false);
        e.Response.ReasonCode = rejection?.Reason switch
        {
            null => MqttPubAckReasonCode.Success,
            DeadLetterReasons.Malformed or DeadLetterReasons.InvalidField or DeadLetterReasons.Oversized => MqttPubAckReasonCode.PayloadFormatInvalid,
            DeadLetterReasons.InvalidTopic => MqttPubAckReasonCode.TopicNameInvalid,
            _ => MqttPubAckReasonCode.NotAuthorized,
        };
        if (rejection is not null)
        {
            e.Response.ReasonString = rejection.Reason;
        }

        if (message.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce && pending is not null)
        {
            pending.Register(pending.CurrentPacketId, committed);
        }
        else
        {
            _ = ObserveAsync(committed, e.ClientId); // QoS 0: nothing to hold back, but a failure is still logged
        }
    }

    private static Task InterceptInbound(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttPublishPacket { QualityOfServiceLevel: not MqttQualityOfServiceLevel.AtMostOnce } publish
            && e.SessionItems[PendingItem] is PendingAcks pending)
        {
            pending.CurrentPacketId = publish.PacketIdentifier;
        }

        return Task.CompletedTask;
    }

    private async Task InterceptOutbound(InterceptingPacketEventArgs e)
    {
        var id = e.Packet switch
        {
            MqttPubAckPacket ack => ack.PacketIdentifier,
            MqttPubRecPacket rec => rec.PacketIdentifier,
            _ => (ushort)0,
        };
        if (id == 0 || e.SessionItems[PendingItem] is not PendingAcks pending || !pending.TryTake(id, out var committed))
        {
            return;
        }

        try
        {
            await committed.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Not durable: no PUBACK. Disconnect (off the send loop) so the publisher resends after reconnecting.
            e.ProcessPacket = false;
            LogNotDurable(logger, e.ClientId, ex);
            _ = Task.Run(() => _server?.DisconnectClientAsync(e.ClientId, new MqttServerClientDisconnectOptions { ReasonCode = MqttDisconnectReasonCode.UnspecifiedError }));
        }
    }

    private async Task ObserveAsync(Task committed, string clientId)
    {
        try
        {
            await committed.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogNotDurable(logger, clientId, ex);
        }
    }

    private Task InterceptSubscription(InterceptingSubscriptionEventArgs e)
    {
        var principal = e.SessionItems[PrincipalItem] as Principal;
        var topic = e.TopicFilter.Topic;
        var allowed = principal switch
        {
            { Role: Role.Vendor } => topic == DeadLetterSink.TopicPrefix + principal.VendorId,
            null => false,
            _ => topic.StartsWith(DeadLetterSink.TopicPrefix, StringComparison.Ordinal) || topic == "sharpeyes/v1/deadletter/#",
        };
        if (!allowed)
        {
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        }

        return Task.CompletedTask;
    }

    private Task PublishDeadLetter(string topic, byte[] body)
    {
        var server = _server;
        if (server is null || !server.IsStarted)
        {
            return Task.CompletedTask;
        }

        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(body)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithContentType("application/json")
            .Build();
        return server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = ServerClientId, CustomSessionItems = _injectedItems });
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "An alarm from client {ClientId} could not be stored; it was not acknowledged")]
    private static partial void LogNotDurable(ILogger logger, string clientId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused MQTT connection from client {ClientId} (username {UserName}): bad credentials")]
    private static partial void LogRejectedConnection(ILogger logger, string clientId, string userName);

    /// <summary>
    /// One session's alarms whose PUBACK waits for their commit, by packet id. Ids are unique among a client's
    /// unacknowledged publishes; if a taken-over session's new connection reuses an id still pending from the old
    /// one, the entry waits for both commits.
    /// </summary>
    private sealed class PendingAcks
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<ushort, Task> _pending = new();

        /// <summary>The packet id of the PUBLISH being dispatched (set on the receive loop just before the publish interceptor runs).</summary>
        public ushort CurrentPacketId { get; set; }

        public void Register(ushort packetId, Task committed) =>
            _pending.AddOrUpdate(packetId, committed, (_, earlier) => Task.WhenAll(earlier, committed));

        public bool TryTake(ushort packetId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Task? committed) =>
            _pending.TryRemove(packetId, out committed);
    }
}
