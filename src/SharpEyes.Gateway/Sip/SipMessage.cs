using System.Globalization;
using System.Text;

namespace SharpEyes.Gateway.Sip;

/// <summary>One header line of a SIP message: its name as sent (compact forms expanded) and its value, trimmed.</summary>
public readonly record struct SipHeader(string Name, string Value);

/// <summary>
/// A SIP request or response (RFC 3261 §7): the start line, the header lines in order, and the body as bytes (a
/// MANSCDP body may be GB2312: it is decoded by whoever reads it, by its declaration). Immutable; built by
/// <see cref="SipParser"/> from the wire or by <see cref="Request"/> and <see cref="ResponseTo"/>.
/// </summary>
public sealed class SipMessage
{
    /// <summary>The only version this layer speaks.</summary>
    public const string Version = "SIP/2.0";

    private SipMessage(string? method, string? requestUri, int statusCode, string reasonPhrase, IReadOnlyList<SipHeader> headers, byte[] body)
    {
        Method = method;
        RequestUri = requestUri;
        StatusCode = statusCode;
        ReasonPhrase = reasonPhrase;
        Headers = headers;
        Body = body;
    }

    /// <summary>The request's method (REGISTER, MESSAGE, ...); null for a response.</summary>
    public string? Method { get; }

    /// <summary>The request's Request-URI; null for a response.</summary>
    public string? RequestUri { get; }

    /// <summary>The response's status code (100–699); 0 for a request.</summary>
    public int StatusCode { get; }

    /// <summary>The response's reason phrase; "" for a request.</summary>
    public string ReasonPhrase { get; }

    public IReadOnlyList<SipHeader> Headers { get; }

    public byte[] Body { get; }

    public bool IsRequest => Method is not null;

    /// <summary>The first value of header <paramref name="name"/> (case-insensitive; a compact form matches its full name), or null.</summary>
    public string? Header(string name)
    {
        var full = SipParser.FullName(name);
        foreach (var h in Headers)
        {
            if (string.Equals(h.Name, full, StringComparison.OrdinalIgnoreCase))
            {
                return h.Value;
            }
        }

        return null;
    }

    /// <summary>Every value of header <paramref name="name"/>, in order: one per header line, and a line's comma-separated values split (outside quotes and angle brackets).</summary>
    public IEnumerable<string> Values(string name)
    {
        var full = SipParser.FullName(name);
        foreach (var h in Headers)
        {
            if (string.Equals(h.Name, full, StringComparison.OrdinalIgnoreCase))
            {
                foreach (var value in SipParser.SplitValues(h.Value))
                {
                    yield return value;
                }
            }
        }
    }

    /// <summary>The CSeq's number and method; (0, "") when the header is missing or malformed.</summary>
    public (long Number, string Method) CSeq
    {
        get
        {
            var parts = (Header("CSeq") ?? "").Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return parts.Length == 2 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? (n, parts[1]) : (0, "");
        }
    }

    /// <summary>A request; Content-Length is set from <paramref name="body"/> (any given one is replaced).</summary>
    public static SipMessage Request(string method, string requestUri, IEnumerable<SipHeader> headers, byte[]? body = null) =>
        new(method, requestUri, 0, "", WithLength(headers, body?.Length ?? 0), body ?? []);

    /// <summary>
    /// The response to <paramref name="request"/> (RFC 3261 §8.2.6): its Via lines, From, To (with
    /// <paramref name="toTag"/> added when the request's To has none), Call-ID and CSeq copied, then
    /// <paramref name="extra"/>; Content-Length from <paramref name="body"/>.
    /// </summary>
    public static SipMessage ResponseTo(SipMessage request, int statusCode, string reasonPhrase, string? toTag = null, IEnumerable<SipHeader>? extra = null, byte[]? body = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 699);
        var headers = new List<SipHeader>();
        foreach (var h in request.Headers)
        {
            if (h.Name.Equals("Via", StringComparison.OrdinalIgnoreCase) || h.Name.Equals("From", StringComparison.OrdinalIgnoreCase)
                || h.Name.Equals("Call-ID", StringComparison.OrdinalIgnoreCase) || h.Name.Equals("CSeq", StringComparison.OrdinalIgnoreCase))
            {
                headers.Add(h);
            }
            else if (h.Name.Equals("To", StringComparison.OrdinalIgnoreCase))
            {
                headers.Add(toTag is not null && SipParser.Parameter(h.Value, "tag") is null ? h with { Value = h.Value + ";tag=" + toTag } : h);
            }
        }

        headers.AddRange(extra ?? []);
        return new SipMessage(null, null, statusCode, reasonPhrase, WithLength(headers, body?.Length ?? 0), body ?? []);
    }

    /// <summary>A reason phrase from <paramref name="text"/>: one line (control characters left out), at most <paramref name="max"/> characters.</summary>
    public static string Phrase(string text, int max = 160)
    {
        var line = new string([.. text.Where(c => !char.IsControl(c))]);
        return line.Length <= max ? line : line[..max];
    }

    /// <summary>This message with <paramref name="header"/>'s first line replaced by <paramref name="value"/> (added last when absent).</summary>
    public SipMessage With(string header, string value)
    {
        var full = SipParser.FullName(header);
        var headers = Headers.ToList();
        var at = headers.FindIndex(h => h.Name.Equals(full, StringComparison.OrdinalIgnoreCase));
        if (at < 0)
        {
            headers.Insert(headers.FindIndex(h => h.Name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) is var cl and >= 0 ? cl : headers.Count, new SipHeader(full, value));
        }
        else
        {
            headers[at] = new SipHeader(headers[at].Name, value);
        }

        return new SipMessage(Method, RequestUri, StatusCode, ReasonPhrase, headers, Body);
    }

    /// <summary>
    /// A received request with its top Via stamped with where it came from (RFC 3261 §18.2.1, RFC 3581): <c>received</c>
    /// set to <paramref name="address"/> when the Via's host differs, and an empty <c>rport</c> filled with
    /// <paramref name="port"/>, so that responses go back through the device's NAT.
    /// </summary>
    public SipMessage Received(string address, int port)
    {
        var at = Headers.ToList().FindIndex(h => h.Name.Equals("Via", StringComparison.OrdinalIgnoreCase));
        if (at < 0)
        {
            return this;
        }

        var values = SipParser.SplitValues(Headers[at].Value).ToList();
        var top = values[0];
        var parts = top.Split(';').ToList();
        var host = SipParser.SentBy(top);
        host = host.StartsWith('[') ? host[..(host.IndexOf(']') + 1)] : host.Split(':')[0];
        parts.RemoveAll(p => p.Trim().StartsWith("received=", StringComparison.OrdinalIgnoreCase));
        var rport = parts.FindIndex(p => p.Trim().Equals("rport", StringComparison.OrdinalIgnoreCase));
        if (rport >= 0)
        {
            parts[rport] = string.Create(CultureInfo.InvariantCulture, $"rport={port}");
        }

        if (!host.Equals(address, StringComparison.OrdinalIgnoreCase) || rport >= 0)
        {
            parts.Insert(rport >= 0 ? rport : parts.Count, "received=" + address);
        }

        values[0] = string.Join(';', parts);
        var headers = Headers.ToList();
        headers[at] = new SipHeader(headers[at].Name, string.Join(", ", values));
        return new SipMessage(Method, RequestUri, StatusCode, ReasonPhrase, headers, Body);
    }

    /// <summary>The message as sent: CRLF line ends, headers as held (Content-Length always last), UTF-8 start line and headers, the body's bytes.</summary>
    public byte[] ToBytes()
    {
        var text = new StringBuilder(256);
        text.Append(IsRequest
            ? $"{Method} {RequestUri} {Version}\r\n"
            : string.Create(CultureInfo.InvariantCulture, $"{Version} {StatusCode} {ReasonPhrase}\r\n"));
        foreach (var h in Headers)
        {
            text.Append(h.Name).Append(": ").Append(h.Value).Append("\r\n");
        }

        text.Append("\r\n");
        var head = Encoding.UTF8.GetBytes(text.ToString());
        var bytes = new byte[head.Length + Body.Length];
        head.CopyTo(bytes, 0);
        Body.CopyTo(bytes, head.Length);
        return bytes;
    }

    public override string ToString() => IsRequest ? $"{Method} {RequestUri}" : string.Create(CultureInfo.InvariantCulture, $"{StatusCode} {ReasonPhrase}");

    internal static SipMessage Parsed(string? method, string? requestUri, int statusCode, string reasonPhrase, List<SipHeader> headers, byte[] body) =>
        new(method, requestUri, statusCode, reasonPhrase, headers, body);

    private static List<SipHeader> WithLength(IEnumerable<SipHeader> headers, int length)
    {
        var list = headers.Where(h => !h.Name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && h.Name != "l").ToList();
        list.Add(new SipHeader("Content-Length", length.ToString(CultureInfo.InvariantCulture)));
        return list;
    }
}
