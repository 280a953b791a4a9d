namespace SharpEyes.Gateway.Observability;

/// <summary>
/// The size of a gRPC status message on the wire. It travels in the <c>grpc-message</c> trailer, an HTTP/2 header,
/// percent-encoded (3 bytes for each non-ASCII UTF-8 byte); clients give up on a header block above 64 KiB (.NET
/// fails the whole connection, every call on it; grpc-js hangs until its deadline), so a message that quotes what a
/// client sent must be bounded.
/// </summary>
public static class GrpcStatusText
{
    /// <summary>Bytes a status message may take on the wire.</summary>
    public const int MaxWireBytes = 8 * 1024;

    /// <summary>Bytes of <paramref name="text"/> as gRPC percent-encodes a status message: printable ASCII but '%' as is, every other UTF-8 byte as %XX.</summary>
    public static int WireBytes(string text)
    {
        var bytes = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            bytes += rune.Value is >= 0x20 and <= 0x7E and not '%' ? 1 : 3 * rune.Utf8SequenceLength;
        }

        return bytes;
    }

    /// <summary><paramref name="text"/> cut to at most <see cref="MaxWireBytes"/> on the wire, saying how long it was.</summary>
    public static string Bounded(string text)
    {
        if (WireBytes(text) <= MaxWireBytes)
        {
            return text;
        }

        var tail = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"…(cut: the message was {text.Length:N0} characters)");
        var budget = MaxWireBytes - WireBytes(tail);
        var kept = new System.Text.StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            var size = rune.Value is >= 0x20 and <= 0x7E and not '%' ? 1 : 3 * rune.Utf8SequenceLength;
            if ((budget -= size) < 0)
            {
                break;
            }

            kept.Append(rune.ToString());
        }

        return kept.Append(tail).ToString();
    }
}
