using System.Net;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Alarms;

/// <summary>
/// The embedded MQTTnet broker. Vendors connect with username = vendor id and password = their API key; they may
/// publish alarms for their own devices and subscribe only to their own dead-letter topic. The alarm is persisted
/// inside <c>InterceptingPublishAsync</c>, which MQTTnet awaits before it sends the PUBACK: a PUBACK means durable.
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
    private MqttServer? _server;

    public MqttServer? Server => _server;

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
        _server.InterceptingSubscriptionAsync += InterceptSubscription;
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
        return Task.CompletedTask;
    }

    private async Task InterceptPublish(InterceptingPublishEventArgs e)
    {
        if (e.ClientId == ServerClientId)
        {
            return; // our own dead letters
        }

        e.ProcessPublish = false;
        if (e.SessionItems[PrincipalItem] is not Principal principal)
        {
            e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
            return;
        }

        var message = e.ApplicationMessage;
        var result = await intake.AcceptAsync(principal, message.Topic, message.Payload, e.CancellationToken).ConfigureAwait(false);
        e.Response.ReasonCode = result.Rejection?.Reason switch
        {
            null => MqttPubAckReasonCode.Success,
            DeadLetterReasons.Malformed or DeadLetterReasons.InvalidField or DeadLetterReasons.Oversized => MqttPubAckReasonCode.PayloadFormatInvalid,
            DeadLetterReasons.InvalidTopic => MqttPubAckReasonCode.TopicNameInvalid,
            _ => MqttPubAckReasonCode.NotAuthorized,
        };
        if (result.Rejection is { } r)
        {
            e.Response.ReasonString = r.Reason;
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
        return server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = ServerClientId });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused MQTT connection from client {ClientId} (username {UserName}): bad credentials")]
    private static partial void LogRejectedConnection(ILogger logger, string clientId, string userName);
}
