using System.Net;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using MQTTnet.AspNetCore;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Configuration;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Mqtt;

/// <summary>
/// The embedded MQTTnet broker. Vendors connect with username = vendor id and password = their API key, or over mutual
/// TLS with a client certificate listed in SharpEyes:Tls:ClientCertificates and no password (the user name, if any,
/// must then be the certificate's vendor; a key beside a certificate must name the same vendor); they may publish
/// alarms for their own devices and subscribe only to their own dead-letter topic.
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
/// <para>
/// MQTTnet runs inside Kestrel (MQTTnet.AspNetCore) behind <see cref="MqttConnectionGuard"/>, which bounds
/// connections, packet sizes and idle time before MQTTnet reads a byte. Who may connect, publish and subscribe is
/// <see cref="AccessTable"/>'s: vendor keys only. A client id belongs to one vendor (<see cref="MqttSessionPolicy"/>);
/// will messages and retained publishes are refused, not silently half-supported.
/// </para>
/// <para>
/// Each vendor's publishes are rate limited (<see cref="MqttRateLimits"/>): one over the limit is stored, but its
/// PUBACK waits in the same place as the commit's, per connection on its own send loop, so other clients are not held;
/// a flood is disconnected with reason 0x96 (message rate too high).
/// </para>
/// </summary>
public sealed partial class MqttBroker(
    ApiKeyStore keys,
    AuthFailureLimiter authFailures,
    AlarmIntake intake,
    DeadLetterSink deadLetters,
    MqttConnectionHandler connections,
    MqttConnectionGuard guard,
    MqttSessionPolicy sessions,
    MqttRateLimits rateLimits,
    ClientCertificateIdentities certificates,
    ClientRefusals refusals,
    IOptions<GatewayOptions> options,
    ILogger<MqttBroker> logger) : IHostedLifecycleService
{
    public const string ServerClientId = "sharpeyes-gateway";
    private const string PrincipalItem = "sharpeyes.principal";
    private const string PendingItem = "sharpeyes.pending-acks";

    /// <summary>The connection (its receive loop's token) disconnected as a flood: its further publishes are refused unread.</summary>
    private const string FloodItem = "sharpeyes.flooded";

    private static readonly Access ConnectRule = AccessTable.Get(AccessTable.MqttConnect);
    private static readonly Access PublishRule = AccessTable.Get(AccessTable.MqttPublishAlarm);
    private static readonly Access SubscribeRule = AccessTable.Get(AccessTable.MqttSubscribeDeadLetters);

    /// <summary>The session items of the gateway's own injected messages: an object no client connection can present.</summary>
    private readonly System.Collections.Hashtable _injectedItems = [];
    private readonly LimitOptions _limits = options.Value.Limits;
    private MqttServer? _server;
    private int _clients;

    public bool IsRunning => _server?.IsStarted == true;

    /// <summary>False when an external broker replaces the embedded one (SharpEyes:ExternalBroker:Embedded false): it is not started.</summary>
    public bool Serves { get; } = options.Value.ServesEmbeddedBroker;

    /// <summary>MQTT clients connected now (CONNECT accepted).</summary>
    public int ConnectedClients => Volatile.Read(ref _clients);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!Serves)
        {
            return;
        }

        var serverOptions = new MqttServerOptionsBuilder()
            // Kestrel owns the listener (MqttConnectionHandler on the MQTT port); MQTTnet's own TCP endpoint stays off.
            // MQTTnet's wait for CONNECT is a backstop behind the guard's own timeout.
            .WithDefaultCommunicationTimeout(_limits.MqttConnectTimeout + TimeSpan.FromSeconds(5))
            .WithMaxPendingMessagesPerClient(_limits.MqttMaxQueuedMessagesPerSession)
            .WithPersistentSessions()
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions, [connections]);
        _server.ValidatingConnectionAsync += ValidateConnection;
        keys.KeyRevoked += CloseRevoked;
        _server.InterceptingPublishAsync += InterceptPublish;
        _server.InterceptingInboundPacketAsync += InterceptInbound;
        _server.InterceptingOutboundPacketAsync += InterceptOutbound;
        _server.InterceptingSubscriptionAsync += InterceptSubscription;
        _server.ClientConnectedAsync += OnClientConnected;
        _server.ClientDisconnectedAsync += e =>
        {
            if (e.DisconnectType != MqttClientDisconnectType.Takeover)
            {
                Interlocked.Decrement(ref _clients);
            }

            return Task.CompletedTask;
        };
        _server.SessionDeletedAsync += e =>
        {
            sessions.Release(e.Id);
            return Task.CompletedTask;
        };
        _server.QueuedApplicationMessageOverwrittenAsync += e =>
        {
            refusals.Count("mqtt-session-queue-full", $"session {LogText.Client(e.ReceiverClientId)} had {_limits.MqttMaxQueuedMessagesPerSession:N0} messages queued; the oldest was dropped (SharpEyes:Limits:MqttMaxQueuedMessagesPerSession)");
            return Task.CompletedTask;
        };
        deadLetters.Publisher = PublishDeadLetter;
        await _server.StartAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Stops taking alarms before anything else stops: Kestrel, which carries the MQTT connections, would otherwise
    /// wait for them to end on their own, and the journal must drain only after the last alarm came in.
    /// </summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (_server is { IsStarted: true })
        {
            deadLetters.Publisher = null;
            await _server.StopAsync(new MqttServerStopOptions()).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        keys.KeyRevoked -= CloseRevoked;
        _server?.Dispose();
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// A key was revoked or reached its expiry: its connected clients are disconnected at once (MQTT 5: reason "not
    /// authorized", with the reason string), rather than kept until they reconnect. Their sessions stay (a new CONNECT needs a valid key). Raised on the thread pool; a
    /// failure is logged, never thrown (an event handler's exception would end the process).
    /// </summary>
    private void CloseRevoked(string keyId) => _ = CloseRevokedAsync(keyId);

    private async Task CloseRevokedAsync(string keyId)
    {
        try
        {
            if (_server is not { IsStarted: true } server)
            {
                return;
            }

            foreach (var client in await server.GetClientsAsync().ConfigureAwait(false))
            {
                if (client.Session.Items[PrincipalItem] is Principal principal && principal.KeyId == keyId)
                {
                    var why = keys.Inactive(keyId) ?? $"the API key {keyId} was revoked";
                    LogRevokedClosed(logger, LogText.Client(client.Id, _limits.LoggedClientTextChars), why);
                    await client.DisconnectAsync(new MqttServerClientDisconnectOptions { ReasonCode = MqttDisconnectReasonCode.NotAuthorized, ReasonString = why })
                        .ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // The broker is stopping: its connections end with it.
        }
        catch (Exception e)
        {
            LogRevokedCloseFailed(logger, e, keyId);
        }
    }

    private Task ValidateConnection(ValidatingConnectionEventArgs e)
    {
        var v5 = e.ProtocolVersion == MQTTnet.Formatter.MqttProtocolVersion.V500;
        var state = guard.Find(e.RemoteEndPoint);
        var address = state?.Address ?? (e.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        if (e.ClientId == ServerClientId)
        {
            return Refuse(e, MqttConnectReasonCode.ClientIdentifierNotValid, "mqtt-client-id-reserved", $"client id {ServerClientId} is the gateway's own");
        }

        if (authFailures.IsLockedOut(address, "mqtt"))
        {
            return Refuse(e, v5 ? MqttConnectReasonCode.QuotaExceeded : MqttConnectReasonCode.ServerUnavailable, null,
                $"too many failed authentications from this address; try again within {authFailures.Window.TotalSeconds:0} s");
        }

        var certificate = state?.ClientCertificate;
        var byCertificate = certificate is null ? null : certificates.Map(certificate);
        Principal? principal;
        if (string.IsNullOrEmpty(e.Password) && certificate is not null)
        {
            // Mutual TLS without a password: the certificate is the credential.
            var why = byCertificate is null ? ClientCertificateIdentities.Unmapped(certificate)
                : !string.IsNullOrEmpty(e.UserName) && e.UserName != byCertificate.VendorId
                    ? $"user name {LogText.Client(e.UserName, _limits.LoggedClientTextChars)} is not the client certificate's vendor ({byCertificate.VendorId ?? "none: role " + byCertificate.Role})"
                    : null;
            if (why is not null)
            {
                authFailures.Failed(address, "mqtt", null, why);
                e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
                e.ReasonString = why;
                return Task.CompletedTask;
            }

            principal = byCertificate!;
        }
        else
        {
            principal = keys.Authenticate(e.Password, out var expired);
            if (principal is null || (principal.Role == Role.Vendor && principal.VendorId != e.UserName))
            {
                authFailures.Failed(address, "mqtt", e.Password, principal is null
                    ? $"{expired ?? "unknown or revoked API key"} for user name {LogText.Client(e.UserName, _limits.LoggedClientTextChars)}"
                    : $"user name {LogText.Client(e.UserName, _limits.LoggedClientTextChars)} is not the key's vendor");
                e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
                if (expired is not null)
                {
                    e.ReasonString = expired; // the right key, past its expiry: MQTT 5 clients learn why
                }

                return Task.CompletedTask;
            }

            if (byCertificate is not null)
            {
                var (both, conflict) = ClientCertificateIdentities.Combine(principal, byCertificate);
                if (both is null)
                {
                    authFailures.Failed(address, "mqtt", null, conflict!);
                    return Refuse(e, MqttConnectReasonCode.NotAuthorized, null, conflict!);
                }

                principal = both;
            }
        }

        if (!ConnectRule.Allows(principal.Role))
        {
            return Refuse(e, MqttConnectReasonCode.NotAuthorized, "mqtt-role-denied",
                $"role {principal.Role} may not connect over MQTT; only vendor keys publish alarms (key {principal.KeyId})");
        }

        if (state is { Connect.WillFlag: true })
        {
            return Refuse(e, MqttConnectReasonCode.NotAuthorized, "mqtt-will-refused",
                "will messages are not supported (the gateway would take one for an alarm); connect without a will");
        }

        var keepAlive = (int)(e.KeepAlivePeriod ?? 0);
        var max = _limits.MqttMaxKeepAliveSeconds;
        var announce = keepAlive == 0 || keepAlive > max;
        if (announce && !v5)
        {
            return Refuse(e, MqttConnectReasonCode.NotAuthorized, "mqtt-keepalive-refused",
                $"keepalive {keepAlive} s: MQTT 3.1.1 clients must ask for 1-{max} s (SharpEyes:Limits:MqttMaxKeepAliveSeconds)");
        }

        if (string.IsNullOrEmpty(e.ClientId))
        {
            // MQTT 5 lets a client leave its id to the server (mosquitto_pub does); MQTT 3.1.1 clients must send one.
            e.AssignedClientIdentifier = "sharpeyes-" + Guid.NewGuid().ToString("N");
        }

        var clientId = string.IsNullOrEmpty(e.ClientId) ? e.AssignedClientIdentifier : e.ClientId;
        switch (sessions.TryClaim(clientId, principal.VendorId!))
        {
            case MqttSessionPolicy.Claim.OwnedByAnother:
                return Refuse(e, MqttConnectReasonCode.ClientIdentifierNotValid, "mqtt-client-id-taken",
                    $"client id {LogText.Client(clientId, _limits.LoggedClientTextChars)} is held by another vendor's session; choose another");
            case MqttSessionPolicy.Claim.TooManySessions:
                return Refuse(e, v5 ? MqttConnectReasonCode.QuotaExceeded : MqttConnectReasonCode.ServerUnavailable, "mqtt-sessions-per-vendor",
                    $"vendor {principal.VendorId} holds {_limits.MqttMaxSessionsPerVendor:N0} sessions (SharpEyes:Limits:MqttMaxSessionsPerVendor); end some or connect with clean start");
        }

        state?.Admit(principal, announce ? max : keepAlive, announce);
        e.SessionItems[PrincipalItem] = principal;
        e.SessionItems[PendingItem] = new PendingAcks();
        return Task.CompletedTask;
    }

    /// <summary>Refuses a CONNECT with a reason the client sees (MQTT 5 reason string), counted and logged once per interval.</summary>
    private Task Refuse(ValidatingConnectionEventArgs e, MqttConnectReasonCode code, string? kind, string reason)
    {
        e.ReasonCode = code;
        e.ReasonString = reason;
        if (kind is not null)
        {
            var address = (e.RemoteEndPoint as IPEndPoint)?.Address;
            refusals.Count(kind, $"{address}: {reason}");
        }

        return Task.CompletedTask;
    }

    private Task OnClientConnected(ClientConnectedEventArgs e)
    {
        Interlocked.Increment(ref _clients);
        // A resumed session keeps the items of the connection that created it: the principal must be this
        // connection's (a rotated or revoked key must not live on in an old session).
        if (guard.Find(e.RemoteEndPoint)?.Principal is { } principal)
        {
            e.SessionItems[PrincipalItem] = principal;
        }

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
        if (e.SessionItems[PrincipalItem] is not Principal principal || !PublishRule.Allows(principal.Role))
        {
            e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
            return;
        }

        var acknowledged = message.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce && pending is not null;
        var admission = e.SessionItems[FloodItem] is CancellationToken flooded && flooded.Equals(e.CancellationToken)
            ? new MqttRateLimits.Admission(null, "")
            : rateLimits.Admit(principal.VendorId!, acknowledged, e.CancellationToken);
        if (admission.Flood is { } flood)
        {
            // Neither stored nor acknowledged (an MQTT 3.1.1 PUBACK cannot say no): the client sends it again after reconnecting.
            e.Response.ReasonCode = MqttPubAckReasonCode.QuotaExceeded;
            if (acknowledged)
            {
                pending!.Register(pending.CurrentPacketId, Task.CompletedTask, Task.FromResult(false));
            }

            if (flood.Length > 0)
            {
                e.SessionItems[FloodItem] = e.CancellationToken;
                var clientId = e.ClientId;
                _ = Task.Run(() => DisconnectFloodAsync(clientId, flood));
            }

            return;
        }

        Rejection? rejection;
        Task committed;
        var span = GatewayTracing.StartMqttReceive(principal.VendorId); // null unless traces are recorded
        try
        {
            (rejection, committed) = await intake.SubmitAsync(principal, message.Topic, message.Payload, e.CancellationToken, message.Retain).ConfigureAwait(false);
            if (span is not null)
            {
                _ = GatewayTracing.EndWhenDurableAsync(span, committed);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, "intake failed").Stop();
            // Last resort: intake must not throw for any payload; if it does, the publisher gets a refusal and the
            // connection stays up rather than the message vanishing with it.
            LogIntakeFailed(logger, LogText.Client(e.ClientId, _limits.LoggedClientTextChars), ex);
            e.Response.ReasonCode = MqttPubAckReasonCode.UnspecifiedError;
            e.Response.ReasonString = "internal error; the alarm was not stored";
            return;
        }
        catch (OperationCanceledException)
        {
            span?.Stop(); // the publisher went away or the gateway is stopping: nothing was queued
            throw;
        }

        e.Response.ReasonCode = PubAckCode(rejection);
        if (rejection is not null)
        {
            e.Response.ReasonString = rejection.Reason;
        }

        if (acknowledged)
        {
            pending!.Register(pending.CurrentPacketId, committed, admission.Hold);
        }
        else
        {
            _ = ObserveAsync(committed, e.ClientId); // QoS 0: nothing to hold back, but a failure is still logged
        }
    }

    /// <summary>The MQTT 5 PUBACK reason code for an alarm's outcome (MQTT 3.1.1 PUBACKs carry none: the dead letter says it).</summary>
    private static MqttPubAckReasonCode PubAckCode(Rejection? rejection) => rejection?.Reason switch
    {
        null => MqttPubAckReasonCode.Success,
        DeadLetterReasons.Malformed or DeadLetterReasons.InvalidField or DeadLetterReasons.Oversized => MqttPubAckReasonCode.PayloadFormatInvalid,
        DeadLetterReasons.InvalidTopic => MqttPubAckReasonCode.TopicNameInvalid,
        DeadLetterReasons.InternalError => MqttPubAckReasonCode.UnspecifiedError,
        DeadLetterReasons.Unsupported => MqttPubAckReasonCode.ImplementationSpecificError,
        _ => MqttPubAckReasonCode.NotAuthorized,
    };

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
        if (e.Packet is MqttConnAckPacket { ReasonCode: MqttConnectReasonCode.Success } connAck)
        {
            // The client is in: tell MQTT 5 clients what the broker holds them to, and raise the guard's packet limit.
            connAck.MaximumPacketSize = (uint)_limits.MqttMaxPacketBytes;
            connAck.RetainAvailable = false;
            if (guard.Find(e.RemoteEndPoint) is { } state)
            {
                if (state.AnnounceKeepAlive)
                {
                    connAck.ServerKeepAlive = (ushort)state.KeepAliveSeconds;
                }

                state.Accepted();
            }

            return;
        }

        var id = e.Packet switch
        {
            MqttPubAckPacket ack => ack.PacketIdentifier,
            MqttPubRecPacket rec => rec.PacketIdentifier,
            _ => (ushort)0,
        };
        if (id == 0 || e.SessionItems[PendingItem] is not PendingAcks pending || !pending.TryTake(id, out var committed, out var hold))
        {
            return;
        }

        // Over the vendor's rate limit: the PUBACK waits for a token (this connection's send loop only); none if the
        // connection ended first or the publish was refused as a flood.
        if (hold is not null && !await hold.ConfigureAwait(false))
        {
            e.ProcessPacket = false;
            return;
        }

        try
        {
            await committed.ConfigureAwait(false);
            // The check passed but the commit turned the alarm into a dead letter (internal-error): say so.
            if (committed is Task<IntakeResult> { Result.Rejection: { } late } && e.Packet is MqttPubAckPacket ack && ack.ReasonCode == MqttPubAckReasonCode.Success)
            {
                ack.ReasonCode = PubAckCode(late);
                ack.ReasonString = late.Reason;
            }
        }
        catch (Exception ex)
        {
            // Not durable: no PUBACK. Disconnect (off the send loop) so the publisher resends after reconnecting.
            e.ProcessPacket = false;
            LogNotDurable(logger, LogText.Client(e.ClientId, _limits.LoggedClientTextChars), ex);
            _ = Task.Run(() => _server?.DisconnectClientAsync(e.ClientId, new MqttServerClientDisconnectOptions { ReasonCode = MqttDisconnectReasonCode.UnspecifiedError }));
        }
    }

    /// <summary>Disconnects a flooding client: MQTT 5 with DISCONNECT reason 0x96 (message rate too high) and why; MQTT 3.1.1 by closing.</summary>
    private async Task DisconnectFloodAsync(string clientId, string reason)
    {
        try
        {
            if (_server is { IsStarted: true } server)
            {
                await server.DisconnectClientAsync(clientId, new MqttServerClientDisconnectOptions
                {
                    ReasonCode = MqttDisconnectReasonCode.MessageRateTooHigh,
                    ReasonString = reason,
                }).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // Gone already, or the broker is stopping.
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
            LogNotDurable(logger, LogText.Client(clientId, _limits.LoggedClientTextChars), ex);
        }
    }

    private Task InterceptSubscription(InterceptingSubscriptionEventArgs e)
    {
        var principal = e.SessionItems[PrincipalItem] as Principal;
        var topic = e.TopicFilter.Topic;
        string? denied = null;
        var code = MqttSubscribeReasonCode.NotAuthorized;
        if (principal is null || !SubscribeRule.Allows(principal.Role) || topic != DeadLetterSink.TopicPrefix + principal.VendorId)
        {
            denied = $"may subscribe only to {DeadLetterSink.TopicPrefix}{{its vendor id}}, not {LogText.Client(topic, _limits.LoggedClientTextChars)}";
            refusals.Count("mqtt-subscribe-denied", $"client {LogText.Client(e.ClientId, _limits.LoggedClientTextChars)}: {denied}");
        }
        else if (!sessions.TrySubscribe(e.ClientId, principal.VendorId!))
        {
            code = MqttSubscribeReasonCode.QuotaExceeded;
            denied = $"vendor {principal.VendorId} has {_limits.MqttMaxSubscriberSessionsPerVendor} subscribing sessions (SharpEyes:Limits:MqttMaxSubscriberSessionsPerVendor)";
            refusals.Count("mqtt-subscribers-per-vendor", denied);
        }

        if (denied is not null)
        {
            e.ProcessSubscription = false;
            e.Response.ReasonCode = code;
            e.Response.ReasonString = denied;
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

    [LoggerMessage(EventId = 2010, Level = LogLevel.Information, Message = "Disconnected MQTT client {ClientId}: {Reason}")]
    private static partial void LogRevokedClosed(ILogger logger, string clientId, string reason);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Error, Message = "Could not disconnect the MQTT clients of revoked key {KeyId}; they end at their next CONNECT")]
    private static partial void LogRevokedCloseFailed(ILogger logger, Exception exception, string keyId);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Error, Message = "An alarm from client {ClientId} could not be stored; it was not acknowledged")]
    private static partial void LogNotDurable(ILogger logger, string clientId, Exception exception);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Alarm intake failed on a message from client {ClientId}; it was refused (PUBACK unspecified error) and the connection kept")]
    private static partial void LogIntakeFailed(ILogger logger, string clientId, Exception exception);

    /// <summary>
    /// One session's alarms whose PUBACK waits for their commit, by packet id. Ids are unique among a client's
    /// unacknowledged publishes; if a taken-over session's new connection reuses an id still pending from the old
    /// one, the entry waits for both commits.
    /// </summary>
    private sealed class PendingAcks
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<ushort, (Task Committed, Task<bool>? Hold)> _pending = new();

        /// <summary>The packet id of the PUBLISH being dispatched (set on the receive loop just before the publish interceptor runs).</summary>
        public ushort CurrentPacketId { get; set; }

        /// <summary>The PUBACK of <paramref name="packetId"/> waits for the commit and, over the rate limit, for <paramref name="hold"/> (the newest connection's).</summary>
        public void Register(ushort packetId, Task committed, Task<bool>? hold) =>
            _pending.AddOrUpdate(packetId, (committed, hold), (_, earlier) => (Task.WhenAll(earlier.Committed, committed), hold));

        public bool TryTake(ushort packetId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Task? committed, out Task<bool>? hold)
        {
            var found = _pending.TryRemove(packetId, out var entry);
            (committed, hold) = entry;
            return found;
        }
    }
}
