using System.Buffers;
using System.IO.Pipelines;
using MQTTnet.Exceptions;

namespace SharpEyes.Gateway.Mqtt;

/// <summary>What the fixed header (and, for CONNECT, the variable header) of the packet at a buffer's start says.</summary>
internal readonly record struct MqttPacketHeader(int Type, long RemainingLength, int HeaderLength)
{
    public const int Connect = 1;

    /// <summary>The largest remaining length MQTT can encode (four length bytes).</summary>
    public const long MaxEncodable = 268_435_455;

    public long TotalLength => HeaderLength + RemainingLength;

    /// <summary>
    /// Reads the fixed header at the start of <paramref name="buffer"/>: null while it is incomplete. A remaining
    /// length whose fourth byte still has its continuation bit set is malformed (thrown).
    /// </summary>
    public static MqttPacketHeader? TryRead(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < 2)
        {
            return null;
        }

        Span<byte> head = stackalloc byte[5];
        var n = (int)Math.Min(5, buffer.Length);
        buffer.Slice(0, n).CopyTo(head);
        long length = 0;
        for (var i = 1; i < n; i++)
        {
            length |= (long)(head[i] & 0x7F) << (7 * (i - 1));
            if ((head[i] & 0x80) == 0)
            {
                return new MqttPacketHeader(head[0] >> 4, length, i + 1);
            }

            if (i == 4)
            {
                throw new MqttProtocolViolationException("malformed remaining length (more than four bytes)");
            }
        }

        return null;
    }
}

/// <summary>The fields of a CONNECT's variable header the guard acts on (before MQTTnet parses the packet).</summary>
internal readonly record struct MqttConnectHeader(int ProtocolLevel, bool WillFlag, bool CleanStart, int KeepAliveSeconds)
{
    /// <summary>Reads the CONNECT variable header after <paramref name="header"/>, or null while it has not arrived.</summary>
    public static MqttConnectHeader? TryRead(in ReadOnlySequence<byte> buffer, MqttPacketHeader header)
    {
        // protocol name (2-byte length + "MQTT" or "MQIsdp"), level, flags, keep alive (2 bytes)
        var start = header.HeaderLength;
        if (buffer.Length < start + 2)
        {
            return null;
        }

        Span<byte> len = stackalloc byte[2];
        buffer.Slice(start, 2).CopyTo(len);
        var nameLength = (len[0] << 8) | len[1];
        if (nameLength > 6)
        {
            throw new MqttProtocolViolationException($"CONNECT protocol name of {nameLength} bytes");
        }

        var need = start + 2 + nameLength + 4;
        if (buffer.Length < need)
        {
            return null;
        }

        Span<byte> tail = stackalloc byte[4];
        buffer.Slice(start + 2 + nameLength, 4).CopyTo(tail);
        var flags = tail[1];
        return new MqttConnectHeader(tail[0], (flags & 0x04) != 0, (flags & 0x02) != 0, (tail[2] << 8) | tail[3]);
    }
}

/// <summary>
/// The MQTT listener's input as MQTTnet reads it, checked packet by packet before MQTTnet sees a byte of the body.
/// MQTTnet consumes whole packets only, so every read starts at a packet boundary: the fixed header there says how
/// long the packet will be, and one longer than the connection's limit fails the read at once (MQTTnet would
/// otherwise wait for, buffer and allocate the whole declared length, before authentication for a CONNECT).
/// No library does this below MQTTnet's parser, and MQTTnet has no receive limit of its own (5.2).
/// </summary>
internal sealed class GuardedPipeReader(PipeReader inner, MqttConnectionState state) : PipeReader
{
    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
        Check(result);
        return result;
    }

    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result))
        {
            return false;
        }

        Check(result);
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    private void Check(in ReadResult result)
    {
        var buffer = result.Buffer;
        if (buffer.IsEmpty)
        {
            return;
        }

        state.Touch();
        MqttPacketHeader? header;
        MqttConnectHeader? connect = null;
        try
        {
            header = MqttPacketHeader.TryRead(buffer);
            if (header is { Type: MqttPacketHeader.Connect } h && !state.SawConnect)
            {
                connect = MqttConnectHeader.TryRead(buffer, h);
            }
        }
        catch (MqttProtocolViolationException e)
        {
            state.Refuse(MqttConnectionGuard.Kinds.Malformed, e.Message);
            throw;
        }

        if (header is not { } packet)
        {
            return;
        }

        if (!state.SawConnect && packet.Type != MqttPacketHeader.Connect)
        {
            state.Refuse(MqttConnectionGuard.Kinds.Malformed, $"first packet is of type {packet.Type}, not CONNECT");
            throw new MqttProtocolViolationException("the first packet must be CONNECT");
        }

        var limit = state.PacketLimit;
        if (packet.TotalLength > limit)
        {
            var kind = state.Authenticated ? MqttConnectionGuard.Kinds.PacketTooLarge : MqttConnectionGuard.Kinds.ConnectTooLarge;
            state.Refuse(kind, $"a packet of {packet.TotalLength:N0} bytes (type {packet.Type}) over the limit of {limit:N0}");
            throw new MqttCommunicationException($"packet of {packet.TotalLength} bytes exceeds the limit of {limit} bytes");
        }

        if (connect is { } c)
        {
            state.OnConnectHeader(c);
        }
    }
}
