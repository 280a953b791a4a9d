using System.Globalization;
using System.Text;

namespace SharpEyes.Gateway.Sip;

/// <summary>How large a SIP message may be: every limit refuses the message with a reason, never grows memory.</summary>
public sealed record SipLimits(int MaxHeaderBytes = 16 * 1024, int MaxHeaders = 100, int MaxBodyBytes = 256 * 1024);

/// <summary>What <see cref="SipParser.Frame"/> found at the start of a stream's buffer.</summary>
public enum SipFrameStatus
{
    /// <summary>A whole message (or a keepalive CRLF run, with no message): consume the bytes said.</summary>
    Complete,

    /// <summary>Not all of it has arrived yet: read more.</summary>
    Incomplete,

    /// <summary>Not a SIP message, or over a limit: the stream cannot be resynchronised and is closed.</summary>
    Invalid,
}

/// <summary>
/// Parses SIP messages (RFC 3261 §7, §18.3): from one UDP datagram (<see cref="TryParse"/>), or framed off a TCP stream by
/// Content-Length (<see cref="Frame"/>). Lenient where devices are (bare LF line ends, folded header lines, compact
/// header names, extra bytes after the body in a datagram), strict where a wrong guess would misroute (the version, the
/// status code, the CSeq's method, a Content-Length that is not one number). Every refusal is a reason for a 400
/// (requests) or a counter (responses), never an exception.
/// </summary>
public static class SipParser
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private static readonly Dictionary<string, string> Compact = new(StringComparer.OrdinalIgnoreCase)
    {
        ["v"] = "Via", ["f"] = "From", ["t"] = "To", ["i"] = "Call-ID", ["m"] = "Contact", ["l"] = "Content-Length",
        ["c"] = "Content-Type", ["e"] = "Content-Encoding", ["k"] = "Supported", ["s"] = "Subject", ["o"] = "Event",
    };

    /// <summary>The full name of a compact header name (v → Via, ...); any other name as given.</summary>
    public static string FullName(string name) => Compact.GetValueOrDefault(name, name);

    /// <summary>Parses one datagram; false with <paramref name="error"/> (why, for a 400's reason or a log) when it is not a valid SIP message.</summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, SipLimits limits, out SipMessage? message, out string? error)
    {
        message = null;
        var end = HeaderEnd(datagram, out var separator);
        if (end < 0)
        {
            error = datagram.Length > limits.MaxHeaderBytes ? $"header section over {limits.MaxHeaderBytes} bytes" : "no blank line ends the header section";
            return false;
        }

        if (!TryParseHead(datagram[..end], limits, out var head, out error))
        {
            return false;
        }

        var rest = datagram[(end + separator)..];
        var length = head.ContentLength ?? rest.Length;
        if (length > limits.MaxBodyBytes)
        {
            error = $"Content-Length {length} over the limit of {limits.MaxBodyBytes} bytes";
            return false;
        }

        if (length > rest.Length)
        {
            error = $"Content-Length {length} but {rest.Length} bytes follow the headers";
            return false;
        }

        message = head.Build(rest[..length].ToArray()); // bytes after the body in a datagram are discarded (RFC 3261 §18.3)
        return true;
    }

    /// <summary>
    /// Frames the first message of a stream's buffer: <see cref="SipFrameStatus.Complete"/> with the bytes it took (and the
    /// message, or null for a keepalive's CRLFs), <see cref="SipFrameStatus.Incomplete"/>, or
    /// <see cref="SipFrameStatus.Invalid"/> with the reason. On a stream Content-Length is required.
    /// </summary>
    public static SipFrameStatus Frame(ReadOnlySpan<byte> buffer, SipLimits limits, out SipMessage? message, out int consumed, out string? error)
    {
        message = null;
        error = null;
        consumed = 0;
        var skipped = 0;
        while (skipped < buffer.Length && buffer[skipped] is (byte)'\r' or (byte)'\n')
        {
            skipped++;
        }

        if (skipped > 0)
        {
            consumed = skipped; // keepalive CRLFs (RFC 5626 §4.4.1) between messages
            return SipFrameStatus.Complete;
        }

        var end = HeaderEnd(buffer, out var separator);
        if (end < 0)
        {
            if (buffer.Length > limits.MaxHeaderBytes)
            {
                error = $"header section over {limits.MaxHeaderBytes} bytes";
                return SipFrameStatus.Invalid;
            }

            return SipFrameStatus.Incomplete;
        }

        if (!TryParseHead(buffer[..end], limits, out var head, out error))
        {
            return SipFrameStatus.Invalid;
        }

        if (head.ContentLength is not { } length)
        {
            error = "Content-Length is required on a stream (RFC 3261 §18.3)";
            return SipFrameStatus.Invalid;
        }

        if (length > limits.MaxBodyBytes)
        {
            error = $"Content-Length {length} over the limit of {limits.MaxBodyBytes} bytes";
            return SipFrameStatus.Invalid;
        }

        var total = end + separator + length;
        if (buffer.Length < total)
        {
            return SipFrameStatus.Incomplete;
        }

        message = head.Build(buffer[(end + separator)..total].ToArray());
        consumed = total;
        return SipFrameStatus.Complete;
    }

    /// <summary>A parameter's value in a header value (<c>;tag=abc</c>, <c>;branch=z9hG4bK..</c>; "" for a flag), or null.</summary>
    public static string? Parameter(string headerValue, string name)
    {
        var outside = headerValue.LastIndexOf('>') is var close and >= 0 ? headerValue[(close + 1)..] : headerValue;
        foreach (var part in outside.Split(';').Skip(1))
        {
            var eq = part.IndexOf('=');
            var key = (eq < 0 ? part : part[..eq]).Trim();
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return eq < 0 ? "" : part[(eq + 1)..].Trim().Trim('"');
            }
        }

        return null;
    }

    /// <summary>The URI of a name-addr or addr-spec (<c>"Cam" &lt;sip:3402...@3402000000&gt;;tag=1</c> → <c>sip:3402...@3402000000</c>).</summary>
    public static string Uri(string headerValue)
    {
        var open = headerValue.IndexOf('<');
        var close = open >= 0 ? headerValue.IndexOf('>', open + 1) : -1;
        return open >= 0 && close > open ? headerValue[(open + 1)..close].Trim() : headerValue.Split(';', 2)[0].Trim();
    }

    /// <summary>The user part of a SIP URI (<c>sip:34020000001320000001@3402000000:5060</c> → the 20 digits), or "".</summary>
    public static string User(string uri)
    {
        var colon = uri.IndexOf(':');
        var at = uri.IndexOf('@');
        return colon >= 0 && at > colon ? uri[(colon + 1)..at] : "";
    }

    /// <summary>A Via value's sent-by (<c>SIP/2.0/UDP 10.0.0.1:5060;branch=...</c> → <c>10.0.0.1:5060</c>), or "".</summary>
    public static string SentBy(string via) =>
        via.Split(';', 2)[0].Split(' ', 2, StringSplitOptions.RemoveEmptyEntries) is [_, var by] ? by.Trim() : "";

    /// <summary>A header line's values split at commas outside quotes and angle brackets (Via: a, b).</summary>
    internal static IEnumerable<string> SplitValues(string value)
    {
        var start = 0;
        var quoted = false;
        var angle = 0;
        for (var i = 0; i < value.Length; i++)
        {
            switch (value[i])
            {
                case '"' when i == 0 || value[i - 1] != '\\':
                    quoted = !quoted;
                    break;
                case '<' when !quoted:
                    angle++;
                    break;
                case '>' when !quoted && angle > 0:
                    angle--;
                    break;
                case ',' when !quoted && angle == 0:
                    if (value.AsSpan(start, i - start).Trim().Length > 0)
                    {
                        yield return value[start..i].Trim();
                    }

                    start = i + 1;
                    break;
            }
        }

        if (value.AsSpan(start).Trim().Length > 0)
        {
            yield return value[start..].Trim();
        }
    }

    /// <summary>Where the header section ends (the index of its blank line's first line end), with the separator's length; -1 when there is none.</summary>
    private static int HeaderEnd(ReadOnlySpan<byte> data, out int separator)
    {
        for (var i = 0; i < data.Length; i++)
        {
            if (data[i] != (byte)'\n')
            {
                continue;
            }

            // "\n\n" or "\n\r\n" after a line end: the blank line
            if (i + 1 < data.Length && data[i + 1] == (byte)'\n')
            {
                var start = i > 0 && data[i - 1] == (byte)'\r' ? i - 1 : i;
                separator = i + 2 - start;
                return start;
            }

            if (i + 2 < data.Length && data[i + 1] == (byte)'\r' && data[i + 2] == (byte)'\n')
            {
                var start = i > 0 && data[i - 1] == (byte)'\r' ? i - 1 : i;
                separator = i + 3 - start;
                return start;
            }
        }

        separator = 0;
        return -1;
    }

    private sealed record Head(string? Method, string? RequestUri, int StatusCode, string Reason, List<SipHeader> Headers, int? ContentLength)
    {
        public SipMessage Build(byte[] body) => SipMessage.Parsed(Method, RequestUri, StatusCode, Reason, Headers, body);
    }

    private static bool TryParseHead(ReadOnlySpan<byte> section, SipLimits limits, out Head head, out string? error)
    {
        head = null!;
        if (section.Length > limits.MaxHeaderBytes)
        {
            error = $"header section over {limits.MaxHeaderBytes} bytes";
            return false;
        }

        string text;
        try
        {
            text = StrictUtf8.GetString(section);
        }
        catch (DecoderFallbackException)
        {
            error = "the start line and headers are not UTF-8";
            return false;
        }

        var lines = text.Split('\n');
        var startLine = lines[0].TrimEnd('\r');
        string? method = null, requestUri = null, reason = "";
        var status = 0;
        var parts = startLine.Split(' ', 3);
        if (parts.Length == 3 && parts[0] == SipMessage.Version)
        {
            if (parts[1].Length != 3 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out status) || status is < 100 or > 699)
            {
                error = "status code must be three digits, 100-699";
                return false;
            }

            reason = parts[2];
        }
        else if (parts.Length == 3 && parts[2] == SipMessage.Version && IsToken(parts[0]) && parts[1].Length > 0 && !parts[1].Contains(' '))
        {
            method = parts[0];
            requestUri = parts[1];
        }
        else
        {
            error = parts.Length == 3 && (parts[0].StartsWith("SIP/", StringComparison.Ordinal) || parts[2].StartsWith("SIP/", StringComparison.Ordinal))
                ? $"only {SipMessage.Version} is spoken"
                : "the start line is neither 'METHOD uri SIP/2.0' nor 'SIP/2.0 code reason'";
            return false;
        }

        var headers = new List<SipHeader>();
        int? contentLength = null;
        for (var i = 1; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            while (i + 1 < lines.Length && lines[i + 1].Length > 0 && lines[i + 1][0] is ' ' or '\t')
            {
                line += " " + lines[++i].TrimEnd('\r').Trim(); // a folded line continues the header (RFC 3261 §7.3.1)
            }

            var colon = line.IndexOf(':');
            var name = colon > 0 ? line[..colon].Trim() : "";
            if (!IsToken(name))
            {
                error = $"header line {i} is not 'Name: value'";
                return false;
            }

            if (headers.Count == limits.MaxHeaders)
            {
                error = $"more than {limits.MaxHeaders} header lines";
                return false;
            }

            var full = FullName(name);
            var value = line[(colon + 1)..].Trim();
            if (full.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (value.Length is 0 or > 9 || !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var length)
                    || (contentLength is { } earlier && earlier != length))
                {
                    error = "Content-Length must be one number";
                    return false;
                }

                contentLength = length;
            }

            headers.Add(new SipHeader(full, value));
        }

        foreach (var required in new[] { "Via", "From", "To", "Call-ID", "CSeq" })
        {
            if (!headers.Exists(h => h.Name.Equals(required, StringComparison.OrdinalIgnoreCase)))
            {
                error = $"{required} header missing";
                return false;
            }
        }

        head = new Head(method, requestUri, status, reason, headers, contentLength);
        var cseq = head.Build([]).CSeq;
        if (cseq.Number == 0 && cseq.Method.Length == 0)
        {
            error = "CSeq must be 'number METHOD'";
            return false;
        }

        if (method is not null && cseq.Method != method)
        {
            error = $"CSeq method {cseq.Method} differs from the request's {method}";
            return false;
        }

        error = null;
        return true;
    }

    private static bool IsToken(string s)
    {
        if (s.Length == 0)
        {
            return false;
        }

        foreach (var c in s)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '!' or '%' or '*' or '_' or '+' or '`' or '\'' or '~'))
            {
                return false;
            }
        }

        return true;
    }
}
