using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// MQTT over a bare socket, for what a well-behaved client library will not do: connections that never send CONNECT,
/// CONNECT packets that declare 250 MB, keepalive 0 under MQTT 3.1.1, a will. Packets are built by hand from the
/// MQTT 3.1.1 and 5.0 specifications.
/// </summary>
public sealed class RawMqtt : IAsyncDisposable
{
    private readonly Socket _socket;

    private RawMqtt(Socket socket) => _socket = socket;

    public static async Task<RawMqtt> OpenAsync(int port, string from = "127.0.0.1")
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
        return new RawMqtt(socket);
    }

    public Socket Socket => _socket;

    /// <summary>A CONNECT packet. <paramref name="level"/> 4 is MQTT 3.1.1, 5 is MQTT 5.0.</summary>
    public static byte[] Connect(string clientId, string? user, string? password, int level = 4, int keepAlive = 30, bool cleanStart = true,
        (string Topic, string Payload)? will = null, int userPropertyBytes = 0)
    {
        var body = new List<byte>();
        WriteString(body, "MQTT");
        body.Add((byte)level);
        var flags = (cleanStart ? 0x02 : 0) | (will is null ? 0 : 0x04) | (password is null ? 0 : 0x40) | (user is null ? 0 : 0x80);
        body.Add((byte)flags);
        body.Add((byte)(keepAlive >> 8));
        body.Add((byte)keepAlive);
        if (level == 5)
        {
            var properties = new List<byte>();
            if (userPropertyBytes > 0)
            {
                properties.Add(0x26); // user property
                WriteString(properties, "x");
                WriteString(properties, new string('p', Math.Min(userPropertyBytes, 65_000)));
            }

            WriteVarInt(body, properties.Count);
            body.AddRange(properties);
        }

        WriteString(body, clientId);
        if (will is { } w)
        {
            if (level == 5)
            {
                body.Add(0); // will properties
            }

            WriteString(body, w.Topic);
            WriteString(body, w.Payload);
        }

        if (user is not null)
        {
            WriteString(body, user);
        }

        if (password is not null)
        {
            WriteString(body, password);
        }

        return Packet(0x10, body);
    }

    /// <summary>A QoS 1 PUBLISH (MQTT 3.1.1 framing unless <paramref name="level"/> is 5).</summary>
    public static byte[] Publish(string topic, byte[] payload, ushort packetId, int level = 4, bool retain = false)
    {
        var body = new List<byte>();
        WriteString(body, topic);
        body.Add((byte)(packetId >> 8));
        body.Add((byte)packetId);
        if (level == 5)
        {
            body.Add(0);
        }

        body.AddRange(payload);
        return Packet((byte)(0x32 | (retain ? 1 : 0)), body);
    }

    /// <summary>Just a fixed header declaring <paramref name="remainingLength"/> bytes to follow.</summary>
    public static byte[] Header(byte type, long remainingLength)
    {
        var header = new List<byte> { type };
        WriteVarInt(header, remainingLength);
        return [.. header];
    }

    public async Task SendAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _socket.SendAsync(bytes, SocketFlags.None, timeout.Token);
    }

    /// <summary>
    /// Sends up to <paramref name="total"/> bytes of filler in chunks until the server closes the connection or the
    /// deadline passes; returns how many bytes the socket took.
    /// </summary>
    public async Task<long> SendFillerAsync(long total, TimeSpan deadline)
    {
        var chunk = new byte[64 * 1024];
        long sent = 0;
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            while (sent < total)
            {
                sent += await _socket.SendAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, total - sent)), SocketFlags.None, timeout.Token);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The server closed the connection (reset) or stopped reading: what we wanted to see.
        }

        return sent;
    }

    /// <summary>Reads one packet: (first byte, body), or null when the server closed the connection.</summary>
    public async Task<(byte Type, byte[] Body)?> ReadPacketAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            var first = await ReadExactAsync(1, cts.Token);
            if (first is null)
            {
                return null;
            }

            long length = 0;
            for (var shift = 0; ; shift += 7)
            {
                var b = await ReadExactAsync(1, cts.Token);
                if (b is null)
                {
                    return null;
                }

                length |= (long)(b[0] & 0x7F) << shift;
                if ((b[0] & 0x80) == 0)
                {
                    break;
                }
            }

            var body = await ReadExactAsync((int)length, cts.Token);
            return body is null ? null : (first[0], body);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>True when the server has closed the connection (a read returns end of stream or a reset) before the deadline.</summary>
    public async Task<bool> ClosedByServerAsync(TimeSpan deadline)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(deadline);
        try
        {
            while (true)
            {
                if (await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task<byte[]?> ReadExactAsync(int count, CancellationToken ct)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await _socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, ct);
            if (n == 0)
            {
                return null;
            }

            read += n;
        }

        return buffer;
    }

    private static byte[] Packet(byte type, List<byte> body)
    {
        var packet = new List<byte> { type };
        WriteVarInt(packet, body.Count);
        packet.AddRange(body);
        return [.. packet];
    }

    private static void WriteString(List<byte> to, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        to.Add((byte)(bytes.Length >> 8));
        to.Add((byte)bytes.Length);
        to.AddRange(bytes);
    }

    private static void WriteVarInt(List<byte> to, long value)
    {
        do
        {
            var b = (byte)(value % 128);
            value /= 128;
            to.Add(value > 0 ? (byte)(b | 0x80) : b);
        }
        while (value > 0);
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
