using System.Net;
using System.Net.Sockets;

namespace SharpEyes.Gateway.Sip;

/// <summary>
/// A request as it arrived: the message (its top Via stamped with <c>received</c>/<c>rport</c>), where it came from and
/// the transport it came on. A handler may set <see cref="Then"/>: work the transport starts once the answer is sent
/// (a registered device's catalog query goes out after its 200 OK).
/// </summary>
public sealed record SipIncoming(SipMessage Request, IPEndPoint Remote, ISipSender? Transport = null)
{
    public Func<Task>? Then { get; set; }
}

/// <summary>What answers SIP requests (registration, keepalives, alarms...): the final response to send, after its work is durable; null for none (an ACK).</summary>
public interface ISipRequestHandler
{
    Task<SipMessage?> HandleAsync(SipIncoming incoming, CancellationToken ct);
}

/// <summary>A SIP transport the gateway sends on: UDP (requests retransmitted on Timer E) or TCP (reliable: sent once).</summary>
public interface ISipSender
{
    /// <summary>"UDP" or "TCP", as a Via names it.</summary>
    string Name { get; }

    bool Reliable { get; }

    /// <summary>The local endpoint requests name in their Via (its address the one that reaches <paramref name="remote"/>).</summary>
    IPEndPoint LocalFor(IPEndPoint remote);

    ValueTask SendAsync(byte[] bytes, IPEndPoint remote, CancellationToken ct = default);
}

/// <summary>
/// SIP over UDP (RFC 3261 §18): one socket; each datagram parsed (<see cref="SipParser"/>). A request that is not valid
/// SIP is answered <c>400 Bad Request</c> with the parser's reason when enough of it was read to answer (its Via,
/// From, To, Call-ID and CSeq), else dropped and counted; a retransmission is absorbed and answered again with the final
/// response already sent (<see cref="SipServerTransactions"/>); a response goes to <see cref="SipClientTransactions"/>.
/// Requests are handled concurrently, at most <paramref name="concurrency"/> at a time; past that a new request is
/// answered <c>503 Service Unavailable</c> with <c>Retry-After</c>, which devices retry, and counted.
/// </summary>
public sealed partial class SipUdpTransport(
    ISipRequestHandler handler, SipServerTransactions server, SipClientTransactions client, SipLimits limits, int concurrency, ILogger<SipUdpTransport> logger)
    : IAsyncDisposable, ISipSender
{
    private readonly SipRequestDispatch _dispatch = new(handler, server, concurrency, logger);
    private readonly CancellationTokenSource _stop = new();
    private Socket? _socket;
    private Task? _loop;
    private long _received, _dropped;

    /// <summary>The bound endpoint (after <see cref="Start"/>).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)(_socket?.LocalEndPoint ?? throw new InvalidOperationException("not started"));

    /// <summary>Datagrams received.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Requests answered 400 for not being valid SIP.</summary>
    public long Malformed => _dispatch.Malformed;

    /// <summary>Datagrams dropped unanswered: not a message enough to answer, or a response no transaction waited for.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Requests absorbed as retransmissions.</summary>
    public long Retransmissions => _dispatch.Retransmissions;

    /// <summary>Requests answered 503 because <c>concurrency</c> were being handled.</summary>
    public long Busy => _dispatch.Busy;

    /// <summary>Requests answered by the handler.</summary>
    public long Answered => _dispatch.Answered;

    /// <summary>Binds <paramref name="endpoint"/> and starts receiving.</summary>
    public void Start(IPEndPoint endpoint)
    {
        _socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(endpoint);
        _loop = Task.Run(() => ReceiveAsync(_stop.Token));
    }

    public string Name => "UDP";

    public bool Reliable => false;

    public IPEndPoint LocalFor(IPEndPoint remote) => new(SipLocalAddress.Toward(LocalEndPoint.Address, remote.Address), LocalEndPoint.Port);

    /// <summary>Sends <paramref name="bytes"/> to <paramref name="remote"/> (a client transaction's request, or a response).</summary>
    public async ValueTask SendAsync(byte[] bytes, IPEndPoint remote, CancellationToken ct = default) =>
        await (_socket ?? throw new InvalidOperationException("not started")).SendToAsync(bytes, SocketFlags.None, remote, ct).ConfigureAwait(false);

    private async Task ReceiveAsync(CancellationToken ct)
    {
        var buffer = new byte[65_535];
        var any = new IPEndPoint(_socket!.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!ct.IsCancellationRequested)
        {
            SocketReceiveFromResult datagram;
            try
            {
                datagram = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || (e is SocketException && ct.IsCancellationRequested))
            {
                // Stopping: the socket was closed, perhaps before this receive began. A receive pending when it closes may
                // also end in SocketException (OperationAborted), as when SIP retries its port after TCP found it taken.
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize)
            {
                continue; // an ICMP port-unreachable for an earlier send, or an oversized datagram: nothing to answer
            }

            Interlocked.Increment(ref _received);
            var remote = Normalize((IPEndPoint)datagram.RemoteEndPoint);
            try
            {
                await OnDatagramAsync(buffer.AsSpan(0, datagram.ReceivedBytes).ToArray(), remote, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogDatagramFailed(logger, remote.ToString(), e); // one datagram never stops the listener
            }
        }
    }

    private async Task OnDatagramAsync(byte[] bytes, IPEndPoint remote, CancellationToken ct)
    {
        if (!SipParser.TryParse(bytes, limits, out var message, out var error))
        {
            // Answerable when the headers a response copies were read: parse them alone, ignoring the body's problem.
            if (SipRequestDispatch.Answerable(bytes, limits) is { } request)
            {
                await _dispatch.RefuseAsync(request, error!, remote, this, ct).ConfigureAwait(false);
            }
            else
            {
                Interlocked.Increment(ref _dropped);
            }

            return;
        }

        if (!message!.IsRequest)
        {
            if (!client.OnResponse(message))
            {
                Interlocked.Increment(ref _dropped);
            }

            return;
        }

        await _dispatch.DispatchAsync(message, remote, this, ct).ConfigureAwait(false);
    }

    private static IPEndPoint Normalize(IPEndPoint remote) =>
        remote.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(remote.Address.MapToIPv4(), remote.Port) : remote;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket?.Dispose();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _stop.Dispose();
        _dispatch.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A SIP datagram from {Remote} could not be handled")]
    private static partial void LogDatagramFailed(ILogger logger, string remote, Exception exception);
}
