using System.ComponentModel.DataAnnotations;

namespace SharpEyes.Gateway.Configuration;

/// <summary>
/// The "SharpEyes:ExternalBroker" section: take alarms from an external MQTT 5 broker (mosquitto 2, EMQX) through a
/// shared subscription to <c>$share/{group}/sharpeyes/v1/alarms/#</c>, beside the embedded broker or instead of it.
/// The broker authenticates the vendors and holds the per-vendor topic ACLs (<c>sharpeyes broker mosquitto</c>
/// writes them); the gateway acknowledges each message to the broker only after the alarm (or its dead letter) is
/// committed. Off unless <see cref="Url"/> is set. See docs/scale-out.md#external-broker.
/// </summary>
public sealed class ExternalBrokerOptions
{
    /// <summary>
    /// The broker, <c>mqtt://host:1883</c> or <c>mqtts://host:8883</c> (TLS, the broker's certificate checked against
    /// <see cref="CaPath"/> or the system's roots). Empty (the default): no external broker. Credentials do not belong
    /// in the URL: use <see cref="UserName"/> and <see cref="Password"/>.
    /// </summary>
    public string Url { get; set; } = "";

    /// <summary>
    /// The gateway's MQTT client id at the broker. It names the persistent session that holds the messages sent to
    /// this replica and not yet acknowledged, so it must stay the same across restarts and differ between replicas.
    /// Empty: <c>sharpeyes-</c> and the host name (each replica on its own host, or set it per replica).
    /// </summary>
    public string ClientId { get; set; } = "";

    /// <summary>The shared-subscription group: replicas in one group share the alarms, each message going to one of them.</summary>
    [RegularExpression("^[A-Za-z0-9_.-]{1,64}$")] public string Group { get; set; } = "sharpeyes";

    /// <summary>The gateway's user name at the broker (<c>sharpeyes-gateway</c> in the generated password file). Empty: none.</summary>
    public string UserName { get; set; } = "";

    /// <summary>The gateway's password at the broker (never logged; prefer the environment variable <c>SharpEyes__ExternalBroker__Password</c>). Empty: none.</summary>
    public string Password { get; set; } = "";

    /// <summary>PEM file of the CA that signed an <c>mqtts://</c> broker's certificate. Empty: the system's trusted roots.</summary>
    public string CaPath { get; set; } = "";

    /// <summary>
    /// How long the broker keeps this gateway's session (its subscription and the messages queued for it) while the
    /// gateway is away. Longer than any outage the gateway should ride out: messages for a session that expired are lost.
    /// </summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Most messages the broker may have in flight to this gateway unacknowledged (MQTT 5 receive maximum): it bounds
    /// the alarms waiting for their commit, and what the broker sends again after a disconnect.
    /// </summary>
    [Range(1, 65535)] public int ReceiveMaximum { get; set; } = 1000;

    /// <summary>
    /// Keep serving the embedded broker on the MQTT port beside the external one (vendors may use either). False: the
    /// external broker only; the MQTT port is not bound.
    /// </summary>
    public bool Embedded { get; set; } = true;

    /// <summary>First delay before reconnecting after the link dropped (then doubling, with jitter).</summary>
    public TimeSpan ReconnectBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest delay between reconnection attempts.</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>An external broker is configured.</summary>
    public bool Enabled => Url.Length > 0;

    /// <summary>The topic filter of the shared subscription.</summary>
    public string SharedFilter => $"$share/{Group}/sharpeyes/v1/alarms/#";

    /// <summary><see cref="ClientId"/>, else <c>sharpeyes-{host name}</c>.</summary>
    public string EffectiveClientId => ClientId.Length > 0 ? ClientId : "sharpeyes-" + Environment.MachineName.ToLowerInvariant();

    /// <summary>What is wrong with the section, if anything (the gateway refuses to start then).</summary>
    public IEnumerable<string> Problems()
    {
        if (!Enabled)
        {
            yield break;
        }

        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("mqtt" or "mqtts") || uri.Host.Length == 0)
        {
            yield return "ExternalBroker: Url must be mqtt://host:port or mqtts://host:port (--external-broker)";
        }
        else if (uri.UserInfo.Length > 0)
        {
            yield return "ExternalBroker: Url must not hold credentials; set ExternalBroker:UserName and ExternalBroker:Password";
        }

        if (SessionExpiry < TimeSpan.FromMinutes(1) || SessionExpiry.TotalSeconds > uint.MaxValue - 1)
        {
            yield return "ExternalBroker: SessionExpiry must be at least one minute (and under 136 years)";
        }

        if (ReconnectBaseDelay <= TimeSpan.Zero || ReconnectMaxDelay < ReconnectBaseDelay)
        {
            yield return "ExternalBroker: ReconnectBaseDelay must be positive and ReconnectMaxDelay at least ReconnectBaseDelay";
        }

        if (CaPath.Length > 0 && !File.Exists(CaPath))
        {
            yield return $"ExternalBroker: CaPath {CaPath} does not exist";
        }
    }
}
