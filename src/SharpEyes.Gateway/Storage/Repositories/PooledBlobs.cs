using System.Buffers;
using Google.Protobuf;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>
/// The rows of one multi-row statement serialised back to back into one pooled buffer, each bound as a
/// <see cref="ReadOnlyMemory{T}"/> slice (a BLOB to Microsoft.Data.Sqlite, <c>bytea</c> to Npgsql) instead of a byte
/// array per row: the alarm path wrote two or three feed events and an incident per alarm, and their arrays were a
/// tenth of everything it allocated. Dispose (after the statements ran) returns the buffer. Hand-written: protobuf
/// serialises into a span, and neither it nor the providers pool a batch's rows.
/// </summary>
internal readonly struct PooledBlobs : IDisposable
{
    private readonly byte[] _buffer;
    private readonly int[] _ends;

    private PooledBlobs(byte[] buffer, int[] ends)
    {
        _buffer = buffer;
        _ends = ends;
    }

    /// <summary>Serialises <paramref name="message"/>(0) … (<paramref name="count"/> − 1), each asked for once.</summary>
    public static PooledBlobs Serialize(int count, Func<int, IMessage> message)
    {
        var messages = ArrayPool<IMessage>.Shared.Rent(count);
        var ends = ArrayPool<int>.Shared.Rent(count);
        var total = 0;
        for (var i = 0; i < count; i++)
        {
            messages[i] = message(i);
            total += messages[i].CalculateSize();
            ends[i] = total;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(total, 1));
        for (var i = 0; i < count; i++)
        {
            var start = Start(ends, i);
            messages[i].WriteTo(buffer.AsSpan(start, ends[i] - start));
        }

        Array.Clear(messages, 0, count);
        ArrayPool<IMessage>.Shared.Return(messages);
        return new PooledBlobs(buffer, ends);
    }

    /// <summary>Row <paramref name="index"/>'s bytes, valid until <see cref="Dispose"/>.</summary>
    public ReadOnlyMemory<byte> this[int index]
    {
        get
        {
            var start = Start(_ends, index);
            return _buffer.AsMemory(start, _ends[index] - start);
        }
    }

    /// <summary>Where row <paramref name="index"/> starts: where the one before it ends.</summary>
    private static int Start(int[] ends, int index) => index == 0 ? 0 : ends[index - 1];

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        ArrayPool<int>.Shared.Return(_ends);
    }
}
