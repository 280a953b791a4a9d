using System.Net;

namespace SharpEyes.Gateway.Sip;

/// <summary>
/// What both transports do with a request that parsed: absorb a retransmission (answered again with the response
/// already sent), refuse past the concurrency limit (<c>503</c> with <c>Retry-After</c>), else hand it to the handler on
/// the thread pool and send its answer (<c>500</c> with <c>Retry-After</c> when the handler fails), then run its
/// <see cref="SipIncoming.Then"/>. Also answers a request that did not parse with <c>400</c> and the parser's reason.
/// </summary>
public sealed partial class SipRequestDispatch(ISipRequestHandler handler, SipServerTransactions server, int concurrency, ILogger logger) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(concurrency, concurrency);
    private long _retransmissions, _busy, _answered, _malformed;

    /// <summary>Requests absorbed as retransmissions.</summary>
    public long Retransmissions => Interlocked.Read(ref _retransmissions);

    /// <summary>Requests answered 503 because <c>concurrency</c> were being handled.</summary>
    public long Busy => Interlocked.Read(ref _busy);

    /// <summary>Requests answered by the handler.</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>Requests answered 400 for not being valid SIP.</summary>
    public long Malformed => Interlocked.Read(ref _malformed);

    /// <summary>Handles <paramref name="request"/> (not yet stamped) that came from <paramref name="remote"/> on <paramref name="transport"/>; returns once it is absorbed, refused or handed over.</summary>
    public async Task DispatchAsync(SipMessage request, IPEndPoint remote, ISipSender transport, CancellationToken ct)
    {
        var stamped = request.Received(remote.Address.ToString(), remote.Port);
        if (server.TryAbsorb(stamped, out var earlier))
        {
            Interlocked.Increment(ref _retransmissions);
            if (earlier is not null)
            {
                await transport.SendAsync(earlier.ToBytes(), remote, ct).ConfigureAwait(false);
            }

            return;
        }

        if (!_slots.Wait(0, CancellationToken.None))
        {
            Interlocked.Increment(ref _busy);
            var busy = SipMessage.ResponseTo(stamped, 503, "Service Unavailable", extra: [new SipHeader("Retry-After", "5")]);
            server.Completed(stamped, busy);
            await transport.SendAsync(busy.ToBytes(), remote, ct).ConfigureAwait(false);
            return;
        }

        _ = Task.Run(async () =>
        {
            SipMessage? response;
            var incoming = new SipIncoming(stamped, remote, transport);
            try
            {
                response = await handler.HandleAsync(incoming, ct).ConfigureAwait(false);
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

            if (response is not null)
            {
                server.Completed(stamped, response);
                await transport.SendAsync(response.ToBytes(), remote, ct).ConfigureAwait(false);
            }

            await SipLocalAddress.RunThen(incoming, logger).ConfigureAwait(false);
        }, CancellationToken.None);
    }

    /// <summary>Answers <paramref name="request"/>, which did not parse for <paramref name="error"/>, with 400 and the reason.</summary>
    public ValueTask RefuseAsync(SipMessage request, string error, IPEndPoint remote, ISipSender transport, CancellationToken ct)
    {
        Interlocked.Increment(ref _malformed);
        return transport.SendAsync(SipMessage.ResponseTo(request.Received(remote.Address.ToString(), remote.Port), 400, "Bad Request: " + SipMessage.Phrase(error, 120)).ToBytes(), remote, ct);
    }

    /// <summary>A request whose start line and dialog headers parse when its body (and Content-Length) are set aside, to answer 400; else null.</summary>
    public static SipMessage? Answerable(ReadOnlySpan<byte> bytes, SipLimits limits)
    {
        var end = bytes.IndexOf("\r\n\r\n"u8);
        var head = end >= 0 ? bytes[..end] : bytes;
        var lines = System.Text.Encoding.UTF8.GetString(head).Split("\r\n")
            .Where(l => !l.StartsWith("Content-Length", StringComparison.OrdinalIgnoreCase) && !l.StartsWith("l:", StringComparison.Ordinal));
        var text = string.Join("\r\n", lines) + "\r\nContent-Length: 0\r\n\r\n";
        return SipParser.TryParse(System.Text.Encoding.UTF8.GetBytes(text), limits, out var request, out _) && request!.IsRequest ? request : null;
    }

    public void Dispose() => _slots.Dispose();

    [LoggerMessage(Level = LogLevel.Error, Message = "SIP request {Request} from {Remote} failed; answered 500 with Retry-After")]
    private static partial void LogHandlerFailed(ILogger logger, string request, string remote, Exception exception);
}
