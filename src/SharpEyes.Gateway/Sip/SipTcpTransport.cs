using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace SharpEyes.Gateway.Sip;

/// <summary>
/// SIP over TCP (RFC 3261 §18.3): a listener; each connection's bytes framed by Content-Length
/// (<see cref="SipParser.Frame"/>, keepalive CRLFs skipped). Requests go through the same dispatch as UDP's; responses to
/// <see cref="SipClientTransactions"/>; requests to a device go back over its own connection (devices behind NAT accept
/// nothing else). A stream that cannot be framed (a bad start line, a bad or missing Content-Length, past the limits) is
/// answered 400 when it can be and closed, since where the next message starts is lost. At most
/// <paramref name="maxConnections"/> connections; past that a new one is closed at once (counted); a connection idle
/// for <paramref name="idleTimeout"/> is closed.
/// </summary>
public sealed partial class SipTcpTransport(
    ISipRequestHandler handler, SipServerTransactions server, SipClientTransactions client, SipLimits limits, int concurrency,
    int maxConnections, TimeSpan idleTimeout, ILogger<SipTcpTransport> logger) : IAsyncDisposable, ISipSender
{
    private readonly SipRequestDispatch _dispatch = new(handler, server, concurrency, logger);
    private readonly ConcurrentDictionary<IPEndPoint, Connection> _connections = new();
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private Task? _accepting;
    private long _accepted, _refused, _framingErrors, _dropped;

    public string Name => "TCP";

    public bool Reliable => true;

    public IPEndPoint LocalEndPoint => (IPEndPoint)(_listener?.LocalEndPoint ?? throw new InvalidOperationException("not started"));

    /// <summary>Connections open now.</summary>
    public int Open => _connections.Count;

    /// <summary>Connections accepted.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Connections closed at once because <c>maxConnections</c> were open.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Connections closed because their stream could not be framed.</summary>
    public long FramingErrors => Interlocked.Read(ref _framingErrors);

    /// <summary>Responses no transaction waited for.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public SipRequestDispatch Requests => _dispatch;

    public IPEndPoint LocalFor(IPEndPoint remote) => new(SipLocalAddress.Toward(LocalEndPoint.Address, remote.Address), LocalEndPoint.Port);

    /// <summary>Listens on <paramref name="endpoint"/>.</summary>
    public void Start(IPEndPoint endpoint)
    {
        _listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(endpoint);
        _listener.Listen(512);
        _accepting = Task.Run(() => AcceptAsync(_stop.Token));
    }

    /// <summary>Sends <paramref name="bytes"/> over the open connection from <paramref name="remote"/>; throws <see cref="SocketException"/> when there is none.</summary>
    public async ValueTask SendAsync(byte[] bytes, IPEndPoint remote, CancellationToken ct = default)
    {
        if (!_connections.TryGetValue(remote, out var connection))
        {
            throw new SocketException((int)SocketError.NotConnected);
        }

        await connection.SendAsync(bytes, ct).ConfigureAwait(false);
    }

    private async Task AcceptAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener!.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return; // stopping: the listener was closed, perhaps before this accept began
            }
            catch (SocketException)
            {
                continue;
            }

            if (_connections.Count >= maxConnections)
            {
                Interlocked.Increment(ref _refused);
                socket.Dispose();
                continue;
            }

            Interlocked.Increment(ref _accepted);
            var remote = (IPEndPoint)socket.RemoteEndPoint!;
            remote = remote.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(remote.Address.MapToIPv4(), remote.Port) : remote;
            var connection = new Connection(socket);
            _connections[remote] = connection;
            _ = Task.Run(() => ReadAsync(connection, remote, ct), CancellationToken.None);
        }
    }

    private async Task ReadAsync(Connection connection, IPEndPoint remote, CancellationToken ct)
    {
        var capacity = limits.MaxHeaderBytes + limits.MaxBodyBytes + 4096;
        var buffer = new byte[Math.Min(capacity, 64 * 1024)];
        var filled = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                int read;
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    idle.CancelAfter(idleTimeout);
                    if (filled == buffer.Length)
                    {
                        Array.Resize(ref buffer, Math.Min(capacity, buffer.Length * 2));
                    }

                    read = await connection.Socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, idle.Token).ConfigureAwait(false);
                }

                if (read == 0)
                {
                    return;
                }

                filled += read;
                while (true)
                {
                    var status = SipParser.Frame(buffer.AsSpan(0, filled), limits, out var message, out var consumed, out var error);
                    if (status == SipFrameStatus.Incomplete)
                    {
                        if (filled == capacity)
                        {
                            Interlocked.Increment(ref _framingErrors);
                            return; // a message larger than the limits allow: nothing to frame it by
                        }

                        break;
                    }

                    if (status == SipFrameStatus.Invalid)
                    {
                        Interlocked.Increment(ref _framingErrors);
                        if (SipRequestDispatch.Answerable(buffer.AsSpan(0, filled), limits) is { } request)
                        {
                            await _dispatch.RefuseAsync(request, error!, remote, this, ct).ConfigureAwait(false);
                        }

                        return;
                    }

                    Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                    filled -= consumed;
                    if (message is null)
                    {
                        continue; // keepalive CRLFs
                    }

                    if (message.IsRequest)
                    {
                        await _dispatch.DispatchAsync(message, remote, this, ct).ConfigureAwait(false);
                    }
                    else if (!client.OnResponse(message))
                    {
                        Interlocked.Increment(ref _dropped);
                    }
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // idle, closed by the device, or the gateway stopping
        }
        catch (Exception e)
        {
            LogConnectionFailed(logger, remote.ToString(), e);
        }
        finally
        {
            _connections.TryRemove(new KeyValuePair<IPEndPoint, Connection>(remote, connection));
            connection.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        if (_accepting is not null)
        {
            await _accepting.ConfigureAwait(false);
        }

        foreach (var connection in _connections.Values)
        {
            connection.Dispose();
        }

        _stop.Dispose();
        _dispatch.Dispose();
    }

    private sealed class Connection(Socket socket) : IDisposable
    {
        private readonly SemaphoreSlim _writing = new(1, 1);

        public Socket Socket => socket;

        public async ValueTask SendAsync(byte[] bytes, CancellationToken ct)
        {
            await _writing.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                await socket.SendAsync(bytes, SocketFlags.None, ct).ConfigureAwait(false);
            }
            finally
            {
                _writing.Release();
            }
        }

        public void Dispose()
        {
            socket.Dispose();
            _writing.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "SIP TCP connection from {Remote} failed")]
    private static partial void LogConnectionFailed(ILogger logger, string remote, Exception exception);
}
