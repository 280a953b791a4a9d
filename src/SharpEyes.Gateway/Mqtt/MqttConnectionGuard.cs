using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Observability;

namespace SharpEyes.Gateway.Mqtt;

/// <summary>
/// Kestrel connection middleware in front of MQTTnet on the MQTT listener. It holds what MQTTnet does not bound:
/// <list type="bullet">
/// <item>open connections in all and per IP address (System.Threading.RateLimiting concurrency limiters; a refused
/// connection is closed before a byte is read, so a flood costs neither file descriptors nor memory);</item>
/// <item>the size of each packet, checked on its fixed header before MQTTnet buffers it (<see cref="GuardedPipeReader"/>):
/// a small limit until the CONNACK accepted the client, a larger one after;</item>
/// <item>time: a connection that has not been accepted within the CONNECT timeout is closed, and an accepted one
/// silent for 1.5 times its keepalive (at most the broker's maximum) is closed.</item>
/// </list>
/// Each refusal is counted by kind (<see cref="Kinds"/>) in <see cref="ClientRefusals"/>.
/// </summary>
public sealed class MqttConnectionGuard : IDisposable
{
    private readonly LimitOptions _limits;
    private readonly ClientRefusals _refusals;
    private readonly TimeProvider _clock;
    private readonly ConcurrencyLimiter _total;
    private readonly PartitionedRateLimiter<IPAddress> _perAddress;
    private readonly ConcurrentDictionary<EndPoint, MqttConnectionState> _open = new();
    private readonly ITimer _sweep;

    /// <param name="clock">
    /// Network timeouts run on their own clock, the system's unless a test registers another under
    /// <see cref="ClockKey"/>: the gateway's domain clock jumps in tests, and sockets must not follow it.
    /// </param>
    public MqttConnectionGuard(IOptions<GatewayOptions> options, ClientRefusals refusals, [FromKeyedServices(ClockKey)] TimeProvider clock)
    {
        _limits = options.Value.Limits;
        _refusals = refusals;
        _clock = clock;
        _total = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = _limits.MqttMaxConnections, QueueLimit = 0 });
        var perAddress = _limits.MqttMaxConnectionsPerAddress;
        _perAddress = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address => RateLimitPartition.GetConcurrencyLimiter(
            address, _ => new ConcurrencyLimiterOptions { PermitLimit = perAddress, QueueLimit = 0 }));
        var period = TimeSpan.FromMilliseconds(Math.Clamp(_limits.MqttConnectTimeout.TotalMilliseconds / 5, 50, 1000));
        _sweep = clock.CreateTimer(_ => Sweep(), null, period, period);
    }

    /// <summary>The keyed service name of the clock for network timeouts.</summary>
    public const string ClockKey = "sharpeyes.network-clock";

    /// <summary>The refusal kinds this guard counts (the label of <c>sharpeyes_refusals_total</c>).</summary>
    public static class Kinds
    {
        public const string TotalConnections = "mqtt-connections-total";
        public const string ConnectionsPerAddress = "mqtt-connections-per-address";
        public const string ConnectTimeout = "mqtt-connect-timeout";
        public const string KeepAliveTimeout = "mqtt-keepalive-timeout";
        public const string ConnectTooLarge = "mqtt-connect-too-large";
        public const string PacketTooLarge = "mqtt-packet-too-large";
        public const string Malformed = "mqtt-malformed-packet";
    }

    /// <summary>MQTT connections open now (accepted by the limits, CONNECT or not).</summary>
    public int OpenConnections => _open.Count;

    public LimitOptions Limits => _limits;

    /// <summary>The state of the open connection from <paramref name="remote"/>, for the broker's hooks.</summary>
    public MqttConnectionState? Find(EndPoint? remote) => remote is not null && _open.TryGetValue(remote, out var s) ? s : null;

    /// <summary>
    /// The connection middleware: admits or refuses the connection, then (<see cref="OnDecryptedAsync"/>, after TLS
    /// when the listener has it, so that handshakes count against the limits too) runs MQTTnet on the guarded input.
    /// </summary>
    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var remote = connection.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        var address = (remote as IPEndPoint)?.Address ?? IPAddress.None;
        using var total = _total.AttemptAcquire();
        if (!total.IsAcquired)
        {
            _refusals.Count(Kinds.TotalConnections, $"{address}: {_limits.MqttMaxConnections:N0} MQTT connections are open (SharpEyes:Limits:MqttMaxConnections)");
            return;
        }

        using var mine = _perAddress.AttemptAcquire(address);
        if (!mine.IsAcquired)
        {
            _refusals.Count(Kinds.ConnectionsPerAddress, $"{address} already has {_limits.MqttMaxConnectionsPerAddress:N0} MQTT connections open (SharpEyes:Limits:MqttMaxConnectionsPerAddress)");
            return;
        }

        var state = new MqttConnectionState(this, connection, address, _clock);
        if (!_open.TryAdd(remote, state))
        {
            return; // the same address and port twice at once cannot happen on TCP; refuse rather than mix states
        }

        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            _open.TryRemove(new KeyValuePair<EndPoint, MqttConnectionState>(remote, state));
        }
    }

    /// <summary>
    /// The second half of the middleware, on the plain MQTT bytes (after TLS): packet sizes are checked on their
    /// headers, and the client certificate the TLS handshake accepted, if any, is kept for the CONNECT.
    /// </summary>
    public Task OnDecryptedAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (Find(connection.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0)) is not { } state)
        {
            return Task.CompletedTask; // not admitted by OnConnectionAsync
        }

        state.ClientCertificate = connection.Features.Get<Microsoft.AspNetCore.Http.Features.ITlsConnectionFeature>()?.ClientCertificate;
        var transport = connection.Transport;
        connection.Transport = new GuardedTransport(new GuardedPipeReader(transport.Input, state), transport.Output);
        return next(connection);
    }

    internal void Count(string kind, string detail) => _refusals.Count(kind, detail);

    private void Sweep()
    {
        foreach (var state in _open.Values)
        {
            state.CheckTime(_limits.MqttConnectTimeout);
        }
    }

    public void Dispose()
    {
        _sweep.Dispose();
        _total.Dispose();
        _perAddress.Dispose();
    }

    private sealed class GuardedTransport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}

/// <summary>One MQTT connection as the guard sees it: its limits, what its CONNECT said, when it last sent a byte.</summary>
public sealed class MqttConnectionState
{
    private readonly MqttConnectionGuard _guard;
    private readonly ConnectionContext _connection;
    private readonly TimeProvider _clock;
    private readonly long _opened;
    private long _lastActivity;
    private volatile int _packetLimit;
    private volatile int _keepAliveSeconds;
    private int _closed;

    internal MqttConnectionState(MqttConnectionGuard guard, ConnectionContext connection, IPAddress address, TimeProvider clock)
    {
        _guard = guard;
        _connection = connection;
        _clock = clock;
        Address = address;
        _opened = _lastActivity = clock.GetTimestamp();
        _packetLimit = guard.Limits.MqttMaxConnectPacketBytes;
    }

    public IPAddress Address { get; }

    /// <summary>Set once the CONNACK accepting the client went out.</summary>
    public bool Authenticated { get; private set; }

    public bool SawConnect { get; private set; }

    /// <summary>What the client's CONNECT declared (protocol level, will flag, keepalive), once its header arrived.</summary>
    internal MqttConnectHeader Connect { get; private set; }

    internal int PacketLimit => _packetLimit;

    internal void Touch() => Volatile.Write(ref _lastActivity, _clock.GetTimestamp());

    internal void OnConnectHeader(MqttConnectHeader header)
    {
        Connect = header;
        SawConnect = true;
    }

    /// <summary>The client certificate of a mutual-TLS connection (it chained to SharpEyes:Tls:ClientCaPath), else null.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate { get; internal set; }

    /// <summary>Who the CONNECT authenticated as (set when the broker admits it).</summary>
    public Auth.Principal? Principal { get; private set; }

    /// <summary>The keepalive the connection is held to: the client's, or the broker's maximum when it asked for more or none.</summary>
    public int KeepAliveSeconds => _keepAliveSeconds;

    /// <summary>The client asked for no keepalive or more than the maximum: an MQTT 5 CONNACK tells it the server keep alive.</summary>
    public bool AnnounceKeepAlive { get; private set; }

    /// <summary>The broker admitted the CONNECT (its CONNACK is about to go out).</summary>
    public void Admit(Auth.Principal principal, int keepAliveSeconds, bool announce)
    {
        Principal = principal;
        _keepAliveSeconds = keepAliveSeconds;
        AnnounceKeepAlive = announce;
    }

    /// <summary>The accepting CONNACK is going out: from now on the client may send packets up to the authenticated limit.</summary>
    public void Accepted()
    {
        _packetLimit = _guard.Limits.MqttMaxPacketBytes;
        Authenticated = true;
    }

    internal void Refuse(string kind, string detail) => _guard.Count(kind, $"{Address}: {detail}");

    internal void CheckTime(TimeSpan connectTimeout)
    {
        if (Volatile.Read(ref _closed) != 0)
        {
            return;
        }

        if (!Authenticated)
        {
            if (_clock.GetElapsedTime(_opened) > connectTimeout)
            {
                Close(MqttConnectionGuard.Kinds.ConnectTimeout,
                    $"no accepted CONNECT within {connectTimeout.TotalSeconds:0.#} s (SharpEyes:Limits:MqttConnectTimeout)");
            }

            return;
        }

        var keepAlive = _keepAliveSeconds;
        if (keepAlive > 0 && _clock.GetElapsedTime(Volatile.Read(ref _lastActivity)).TotalSeconds > keepAlive * 1.5)
        {
            Close(MqttConnectionGuard.Kinds.KeepAliveTimeout, $"silent for 1.5 × its keepalive of {keepAlive} s");
        }
    }

    private void Close(string kind, string detail)
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            Refuse(kind, detail);
            _connection.Abort(new ConnectionAbortedException(detail));
        }
    }
}
