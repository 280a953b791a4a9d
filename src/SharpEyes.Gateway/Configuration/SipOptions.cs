using System.ComponentModel.DataAnnotations;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Configuration;

/// <summary>GB/T 28181: devices and lower platforms that register over SIP (UDP and TCP on one port), and what the gateway asks of them.</summary>
public sealed class SipOptions
{
    /// <summary>Listen for SIP (GB/T 28181 devices) on <see cref="Port"/>, UDP and TCP.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The SIP port, UDP and TCP (--sip-port; 0: one the system picks, the same number for both).</summary>
    [Range(0, 65535)] public int Port { get; set; } = 5060;

    /// <summary>
    /// The gateway's own 20-digit SIP server ID (type code 200). Empty: the first served county's code, then
    /// <c>0000</c>, <c>200</c> and <c>0000001</c> (13012700002000000001 for 高邑县).
    /// </summary>
    [RegularExpression("^([0-9]{20})?$")] public string ServerId { get; set; } = "";

    /// <summary>The SIP domain and digest realm. Empty: the first 10 digits of the server ID, as devices are usually configured.</summary>
    [RegularExpression("^[A-Za-z0-9._-]{0,64}$")] public string Domain { get; set; } = "";

    /// <summary>A registration asking for less than this is answered 423 Interval Too Brief with Min-Expires.</summary>
    public TimeSpan MinExpires { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A registration asking for more is granted this long (the 200 OK says how long).</summary>
    public TimeSpan MaxExpires { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How long a digest challenge's nonce is accepted; an older one gets a new challenge (stale=true).</summary>
    public TimeSpan NonceLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Requests handled at once; past this a request is answered 503 with Retry-After (counted).</summary>
    [Range(1, 100_000)] public int MaxConcurrentRequests { get; set; } = 512;

    /// <summary>Open TCP connections at most; past this a new connection is closed at once (counted).</summary>
    [Range(1, 1_000_000)] public int MaxTcpConnections { get; set; } = 20_000;

    /// <summary>A TCP connection that carried nothing for this long is closed (devices keep theirs busy with keepalives).</summary>
    public TimeSpan TcpIdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A catalog query whose answers stop coming for this long ends incomplete (what arrived is kept; the next query starts over).</summary>
    public TimeSpan CatalogTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Channels one device's catalog may hold; items beyond it are refused (counted).</summary>
    [Range(1, 1_000_000)] public int MaxChannelsPerDevice { get; set; } = 100_000;

    /// <summary>Query the catalog again this often while a device stays registered (0: only on registration and on demand).</summary>
    public TimeSpan CatalogRefresh { get; set; } = TimeSpan.FromHours(6);

    /// <summary>The UTC offset of devices' clocks: GB/T 28181 times (AlarmTime) carry none. China Standard Time by default.</summary>
    public TimeSpan DeviceUtcOffset { get; set; } = TimeSpan.FromHours(8);

    /// <summary>The datum of positions in catalogs and alarms (Longitude, Latitude); WGS-84 by the standard, GCJ-02 on some platforms.</summary>
    public Datum PositionDatum { get; set; } = Datum.Wgs84;

    /// <summary>The horizontal field of view given to a fixed camera first found in a catalog (which says nothing of it); an operator sets the real view with UpdateDevice, and later catalogs keep it.</summary>
    [Range(1, 360)] public double ChannelHfovDeg { get; set; } = 90;

    /// <summary>The horizontal field of view given to a dome or remote-controlled (PTZType 1 or 4) camera first found in a catalog.</summary>
    [Range(1, 360)] public double DomeHfovDeg { get; set; } = 360;

    /// <summary>The range given to a camera first found in a catalog, in metres.</summary>
    [Range(1, 5000)] public double ChannelRangeM { get; set; } = 50;

    /// <summary>After a device registers, arm its alarms (a SetGuard DeviceControl) and subscribe to them (SUBSCRIBE, Event: presence).</summary>
    public bool ArmOnRegister { get; set; } = true;

    /// <summary>The registration expiry the gateway asks of an upper platform it cascades to (renewed at half of what is granted).</summary>
    public TimeSpan UpstreamExpires { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often the gateway sends an upper platform a keepalive; three unanswered ones mean registering again.</summary>
    public TimeSpan UpstreamKeepaliveInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The SIP server ID in effect.</summary>
    public string ServerIdFor(GatewayOptions options) => ServerId.Length > 0 ? ServerId : options.ServedCountyCodes[0] + "0000" + "200" + "0000001";

    /// <summary>The SIP domain (and digest realm) in effect.</summary>
    public string DomainFor(GatewayOptions options) => Domain.Length > 0 ? Domain : ServerIdFor(options)[..10];
}
