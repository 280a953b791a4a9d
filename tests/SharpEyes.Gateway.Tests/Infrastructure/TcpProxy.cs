using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// A TCP forwarder on 127.0.0.1 (an OS-picked port) to a target port on 127.0.0.1, for fault tests: it pipes both
/// directions of every connection, and <see cref="DropAll"/> aborts every current connection with an RST on both
/// sides (linger 0) while the listener stays up, so clients can reconnect through it. At most
/// <see cref="MaxConnections"/> connections are open at once; more are refused (closed at once).
/// <see cref="DiscardFromTarget"/> loses the target's replies instead (a PUBACK lost on the way back), so a test can
/// drop a connection knowing the client never saw the answer.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    public const int MaxConnections = 64;
    private const int BufferBytes = 64 * 1024;

    private readonly TcpListener _listener;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _cts = new();
    private readonly ConcurrentDictionary<long, Connection> _connections = new();
    private readonly Task _acceptLoop;
    private long _nextId;
    private long _accepted;
    private long _drops;
    private bool _discardFromTarget;

    /// <param name="listenPort">The port to listen on; 0 (the default) lets the OS pick one.</param>
    public TcpProxy(int targetPort, int listenPort = 0)
    {
        _targetPort = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, listenPort);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The port clients connect to.</summary>
    public int Port { get; }

    /// <summary>Connections accepted (and forwarded) so far.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Connections aborted by <see cref="DropAll"/> so far.</summary>
    public long Drops => Interlocked.Read(ref _drops);

    /// <summary>While set, bytes from the target are read and thrown away instead of forwarded to the client.</summary>
    public bool DiscardFromTarget
    {
        get => Volatile.Read(ref _discardFromTarget);
        set => Volatile.Write(ref _discardFromTarget, value);
    }

    /// <summary>Connections open now.</summary>
    public int Open => _connections.Count;

    /// <summary>Aborts every current connection (RST to the client and to the target); returns how many.</summary>
    public int DropAll()
    {
        var dropped = 0;
        foreach (var (id, connection) in _connections)
        {
            if (_connections.TryRemove(id, out _))
            {
                connection.Abort();
                dropped++;
            }
        }

        Interlocked.Add(ref _drops, dropped);
        return dropped;
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        _listener.Stop();
        foreach (var (id, connection) in _connections)
        {
            if (_connections.TryRemove(id, out _))
            {
                connection.Abort();
            }
        }

        try
        {
            await _acceptLoop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
            // Stopping is all we wait for.
        }

        _cts.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_cts.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (_connections.Count >= MaxConnections)
            {
                Abort(client);
                continue;
            }

            _ = ForwardAsync(client);
        }
    }

    private async Task ForwardAsync(Socket client)
    {
        var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
            connectTimeout.CancelAfter(TimeSpan.FromSeconds(5));
            await upstream.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _targetPort), connectTimeout.Token);
        }
        catch (Exception)
        {
            Abort(client);
            Abort(upstream);
            return;
        }

        var id = Interlocked.Increment(ref _nextId);
        var connection = new Connection(client, upstream);
        _connections[id] = connection;
        Interlocked.Increment(ref _accepted);
        try
        {
            // Either direction ending (EOF, reset, abort) ends the connection: the other side is closed too.
            await Task.WhenAny(PumpAsync(client, upstream, () => false, _cts.Token), PumpAsync(upstream, client, () => DiscardFromTarget, _cts.Token));
        }
        finally
        {
            if (_connections.TryRemove(id, out _))
            {
                connection.Close();
            }
        }
    }

    private static async Task PumpAsync(Socket from, Socket to, Func<bool> discard, CancellationToken ct)
    {
        var buffer = new byte[BufferBytes];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, ct);
                if (n == 0)
                {
                    return;
                }

                var sent = discard() ? n : 0;
                while (sent < n)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, ct);
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Reset, aborted or stopping: the connection is over.
        }
    }

    private static void Abort(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0); // close sends RST, not FIN
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }

        socket.Dispose();
    }

    private sealed class Connection(Socket client, Socket upstream)
    {
        public void Abort()
        {
            TcpProxy.Abort(client);
            TcpProxy.Abort(upstream);
        }

        /// <summary>One side ended on its own: pass the end on gracefully.</summary>
        public void Close()
        {
            foreach (var socket in new[] { client, upstream })
            {
                try
                {
                    socket.Shutdown(SocketShutdown.Both);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // Already gone.
                }

                socket.Dispose();
            }
        }
    }
}
