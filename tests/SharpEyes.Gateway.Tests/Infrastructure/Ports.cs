using System.Net;
using System.Net.Sockets;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>Free loopback ports, picked by the OS (bind to port 0, read it, release it).</summary>
public static class Ports
{
    private static readonly Lock Gate = new();
    private static readonly HashSet<int> Handed = [];

    public static int Free()
    {
        lock (Gate)
        {
            while (true)
            {
                using var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                if (Handed.Add(port))
                {
                    return port;
                }
            }
        }
    }

    /// <summary>
    /// A loopback port that refuses every connection for as long as the returned socket lives: bound, never listening,
    /// so no other server of the test run can take it (a port from <see cref="Free"/> can be taken once released).
    /// </summary>
    public static Socket Refusing(out int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }
}
