using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace SharpEyes.Gateway.Sip;

/// <summary>Which local address a device reaches the gateway at, for the Via and Contact of requests sent to it.</summary>
public static partial class SipLocalAddress
{
    private static readonly ConcurrentDictionary<IPAddress, IPAddress> Routes = new();

    /// <summary>
    /// <paramref name="bound"/> when the transport is bound to one address; bound to every address (0.0.0.0, ::), the
    /// address the system routes <paramref name="remote"/> from (a connected UDP socket's local end: nothing is sent).
    /// </summary>
    public static IPAddress Toward(IPAddress bound, IPAddress remote)
    {
        if (!bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any))
        {
            return bound;
        }

        return Routes.GetOrAdd(remote, r =>
        {
            try
            {
                using var probe = new Socket(r.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                probe.Connect(new IPEndPoint(r, 9));
                return ((IPEndPoint)probe.LocalEndPoint!).Address;
            }
            catch (SocketException)
            {
                return r.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
            }
        });
    }

    /// <summary>Runs the handler's <see cref="SipIncoming.Then"/>, if any, logging (never throwing) its failure.</summary>
    public static async Task RunThen(SipIncoming incoming, ILogger logger)
    {
        if (incoming.Then is not { } then)
        {
            return;
        }

        try
        {
            await then().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogThenFailed(logger, incoming.Request.ToString(), e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Work after answering SIP request {Request} failed")]
    private static partial void LogThenFailed(ILogger logger, string request, Exception exception);
}
