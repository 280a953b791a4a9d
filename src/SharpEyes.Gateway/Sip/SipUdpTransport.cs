using System.Net;
using System.Net.Sockets;

namespace SharpEyes.Gateway.Sip;

/// <summary>A request as it arrived: the message (its top Via stamped with <c>received</c>/<c>rport</c>) and where it came from.</summary>
public sealed record SipIncoming(SipMessage Request, IPEndPoint Remote);

/// <summary>What answers SIP requests (registration, keepalives, alarms...): the final response to send, after its work is durable.</summary>
public interface ISipRequestHandler
{
    Task<SipMessage> HandleAsync(SipIncoming incoming, CancellationToken ct);
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
    : IAsyncDisposable
{
    private readonly SemaphoreSlim _slots = new(concurrency, concurrency);
    private readonly CancellationTokenSource _stop = new();
    private Socket? _socket;
    private Task? _loop;
    private long _received, _malformed, _dropped, _retransmissions, _busy, _answered;

    /// <summary>The bound endpoint (after <see cref="Start"/>).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)(_socket?.LocalEndPoint ?? throw new InvalidOperationException("not started"));

    /// <summary>Datagrams received.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Requests answered 400 for not being valid SIP.</summary>
    public long Malformed => Interlocked.Read(ref _malformed);

    /// <summary>Datagrams dropped unanswered: not a message enough to answer, or a response no transaction waited for.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Requests absorbed as retransmissions.</summary>
    public long Retransmissions => Interlocked.Read(ref _retransmissions);

    /// <summary>Requests answered 503 because <c>concurrency</c> were being handled.</summary>
    public long Busy => Interlocked.Read(ref _busy);

    /// <summary>Requests answered by the handler.</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>Binds <paramref name="endpoint"/> and starts receiving.</summary>
    public void Start(IPEndPoint endpoint)
    {
        _socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(endpoint);
        _loop = Task.Run(() => ReceiveAsync(_stop.Token));
    }

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
            catch (OperationCanceledException)
            {
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
            if (Answerable(bytes) is { } request)
            {
                Interlocked.Increment(ref _malformed);
                await SendAsync(SipMessage.ResponseTo(request.Received(remote.Address.ToString(), remote.Port), 400, "Bad Request: " + Reason(error!)).ToBytes(), remote, ct).ConfigureAwait(false);
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

        var stamped = message.Received(remote.Address.ToString(), remote.Port);
        if (server.TryAbsorb(stamped, out var earlier))
        {
            Interlocked.Increment(ref _retransmissions);
            if (earlier is not null)
            {
                await SendAsync(earlier.ToBytes(), remote, ct).ConfigureAwait(false);
            }

            return;
        }

        if (!_slots.Wait(0, CancellationToken.None))
        {
            Interlocked.Increment(ref _busy);
            var busy = SipMessage.ResponseTo(stamped, 503, "Service Unavailable", extra: [new SipHeader("Retry-After", "5")]);
            server.Completed(stamped, busy);
            await SendAsync(busy.ToBytes(), remote, ct).ConfigureAwait(false);
            return;
        }

        _ = Task.Run(async () =>
        {
            SipMessage response;
            try
            {
                response = await handler.HandleAsync(new SipIncoming(stamped, remote), ct).ConfigureAwait(false);
                Interlocked.Increment(ref _answered);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogHandlerFailed(logger, stamped.ToString(), remote.ToString(), e);
                response = SipMessage.ResponseTo(stamped, 500, "Server Internal Error", extra: [new SipHeader("Retry-After", "5")]);
            }
            finally
            {
                _slots.Release(); // before the answer goes out: a device that got it finds the slot free
            }

            server.Completed(stamped, response);
            await SendAsync(response.ToBytes(), remote, ct).ConfigureAwait(false);
        }, CancellationToken.None);
    }

    /// <summary>A request whose start line and dialog headers parse when its body (and Content-Length) are set aside, to answer 400; else null.</summary>
    private SipMessage? Answerable(byte[] bytes)
    {
        var end = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        var head = end >= 0 ? bytes[..end] : bytes;
        var lines = System.Text.Encoding.UTF8.GetString(head).Split("\r\n")
            .Where(l => !l.StartsWith("Content-Length", StringComparison.OrdinalIgnoreCase) && !l.StartsWith("l:", StringComparison.Ordinal));
        var text = string.Join("\r\n", lines) + "\r\nContent-Length: 0\r\n\r\n";
        return SipParser.TryParse(System.Text.Encoding.UTF8.GetBytes(text), limits, out var request, out _) && request!.IsRequest ? request : null;
    }

    /// <summary>A reason phrase must be one line of text: the parser's reason, shortened.</summary>
    private static string Reason(string error)
    {
        var line = new string([.. error.Where(c => !char.IsControl(c))]);
        return line.Length <= 120 ? line : line[..120];
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
        _slots.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A SIP datagram from {Remote} could not be handled")]
    private static partial void LogDatagramFailed(ILogger logger, string remote, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "SIP request {Request} from {Remote} failed; answered 500 with Retry-After")]
    private static partial void LogHandlerFailed(ILogger logger, string request, string remote, Exception exception);
}
