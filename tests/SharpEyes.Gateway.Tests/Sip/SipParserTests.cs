using System.Text;
using SharpEyes.Gateway.Sip;

namespace SharpEyes.Gateway.Tests.Sip;

/// <summary>
/// The SIP message layer (issue 16's first part): parsing a datagram, framing a stream by Content-Length, building
/// responses, and what each kind of bad message gets (a reason for a 400, never an exception).
/// </summary>
public sealed class SipParserTests
{
    private static readonly SipLimits Limits = new();

    /// <summary>A GB/T 28181 device's first REGISTER, as WVP-GB28181-pro's users capture them (CRLF line ends).</summary>
    internal const string Register =
        "REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n" +
        "Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1371463273\r\n" +
        "From: <sip:34020000001320000001@3402000000>;tag=2043466181\r\n" +
        "To: <sip:34020000001320000001@3402000000>\r\n" +
        "Call-ID: 1011047669\r\n" +
        "CSeq: 1 REGISTER\r\n" +
        "Contact: <sip:34020000001320000001@192.168.1.64:5060>\r\n" +
        "Max-Forwards: 70\r\n" +
        "User-Agent: IP Camera\r\n" +
        "Expires: 3600\r\n" +
        "Content-Length: 0\r\n\r\n";

    private static SipMessage Parse(string text)
    {
        Assert.True(SipParser.TryParse(Encoding.UTF8.GetBytes(text), Limits, out var message, out var error), error);
        return message!;
    }

    [Fact]
    public void A_register_is_read_with_its_headers_in_order_and_its_parts()
    {
        var register = Parse(Register);
        Assert.Equal(("REGISTER", "sip:34020000002000000001@3402000000", 0), (register.Method, register.RequestUri, register.StatusCode));
        Assert.Equal(10, register.Headers.Count);
        Assert.Equal((1L, "REGISTER"), register.CSeq);
        Assert.Equal("3600", register.Header("expires"));
        Assert.Equal("2043466181", SipParser.Parameter(register.Header("From")!, "tag"));
        Assert.Equal("", SipParser.Parameter(register.Header("Via")!, "rport")); // a flag
        Assert.Equal("34020000001320000001", SipParser.User(SipParser.Uri(register.Header("From")!)));
        Assert.Empty(register.Body);
    }

    [Fact]
    public void Compact_names_folded_lines_bare_line_feeds_and_several_vias_are_understood()
    {
        var message = Parse(
            "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\n" +
            "v: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-a, SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-b\n" +
            "Via: SIP/2.0/TCP 10.0.0.0:5060;branch=z9hG4bK-c\n" +
            "f: \"前门\" <sip:34020000001320000001@3402000000>;tag=1\n" +
            "t: <sip:34020000002000000001@3402000000>\n" +
            "i: call-1\n" +
            "CSeq: 20\n MESSAGE\n" +
            "c: Application/MANSCDP+xml\n" +
            "l: 9\n\n" +
            "<Notify/>trailing bytes a datagram may carry");
        Assert.Equal(["SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-a", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-b", "SIP/2.0/TCP 10.0.0.0:5060;branch=z9hG4bK-c"], message.Values("Via"));
        Assert.Equal((20L, "MESSAGE"), message.CSeq);
        Assert.Equal("Application/MANSCDP+xml", message.Header("Content-Type"));
        Assert.Equal("call-1", message.Header("i"));
        Assert.Equal("<Notify/>", Encoding.UTF8.GetString(message.Body)); // Content-Length bytes; the rest of the datagram discarded
    }

    [Fact]
    public void A_response_copies_the_dialog_headers_tags_the_to_and_reads_back_the_same()
    {
        var register = Parse(Register);
        var ok = SipMessage.ResponseTo(register, 200, "OK", toTag: "gw1",
            [new SipHeader("Expires", "3600"), new SipHeader("Date", "2026-12-03T10:00:00.000")]);
        var back = Parse(Encoding.UTF8.GetString(ok.ToBytes()));
        Assert.Equal((200, "OK", false), (back.StatusCode, back.ReasonPhrase, back.IsRequest));
        Assert.Equal(register.Header("Via"), back.Header("Via"));
        Assert.Equal(register.Header("From"), back.Header("From"));
        Assert.Equal(register.Header("To") + ";tag=gw1", back.Header("To"));
        Assert.Equal(["Via", "From", "To", "Call-ID", "CSeq", "Expires", "Date", "Content-Length"], back.Headers.Select(h => h.Name));
        Assert.Equal("0", back.Header("Content-Length"));

        var tagged = Parse(Encoding.UTF8.GetString(SipMessage.ResponseTo(back.With("To", back.Header("To")!), 200, "OK", toTag: "other").ToBytes()));
        Assert.Equal(register.Header("To") + ";tag=gw1", tagged.Header("To")); // a To that has a tag keeps it
    }

    [Fact]
    public void A_request_from_behind_nat_gets_received_and_rport_in_its_top_via_and_its_response_carries_them()
    {
        var register = Parse(Register).Received("203.0.113.7", 40123);
        Assert.Equal("SIP/2.0/UDP 192.168.1.64:5060;received=203.0.113.7;rport=40123;branch=z9hG4bK1371463273", register.Header("Via"));
        Assert.Equal(register.Header("Via"), SipMessage.ResponseTo(register, 401, "Unauthorized").Header("Via"));

        // Without rport and from the address it names: nothing to add. From another address: received only.
        var direct = Parse(Register.Replace(";rport", "", StringComparison.Ordinal));
        Assert.Equal(direct.Header("Via"), direct.Received("192.168.1.64", 5060).Header("Via"));
        Assert.Equal("SIP/2.0/UDP 192.168.1.64:5060;branch=z9hG4bK1371463273;received=10.0.0.1", direct.Received("10.0.0.1", 5060).Header("Via"));
    }

    public static TheoryData<string, string, string> BadMessages => new()
    {
        { "no blank line", "REGISTER sip:a SIP/2.0\r\nVia: x\r\n", "no blank line" },
        { "another version", "REGISTER sip:a SIP/3.0\r\n\r\n", "only SIP/2.0" },
        { "not SIP", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "the start line is neither" },
        { "status out of range", "SIP/2.0 99 Odd\r\n\r\n", "status code" },
        { "no header name", Register.Replace("Max-Forwards: 70", "no colon here", StringComparison.Ordinal), "header line 7" },
        { "no Via", Register.Replace("Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1371463273\r\n", "", StringComparison.Ordinal), "Via header missing" },
        { "CSeq of another method", Register.Replace("CSeq: 1 REGISTER", "CSeq: 1 INVITE", StringComparison.Ordinal), "CSeq method INVITE differs" },
        { "CSeq without a number", Register.Replace("CSeq: 1 REGISTER", "CSeq: REGISTER", StringComparison.Ordinal), "CSeq must be" },
        { "Content-Length not a number", Register.Replace("Content-Length: 0", "Content-Length: 1e3", StringComparison.Ordinal), "Content-Length must be one number" },
        { "two Content-Lengths", Register.Replace("Content-Length: 0", "Content-Length: 0\r\nl: 4", StringComparison.Ordinal), "Content-Length must be one number" },
        { "body shorter than said", Register.Replace("Content-Length: 0", "Content-Length: 10", StringComparison.Ordinal) + "short", "Content-Length 10 but 5 bytes" },
        { "body over the limit", Register.Replace("Content-Length: 0", "Content-Length: 999999999", StringComparison.Ordinal), "over the limit" },
    };

    [Theory]
    [MemberData(nameof(BadMessages))]
    public void Each_kind_of_bad_message_is_refused_with_its_reason(string kind, string text, string reason)
    {
        Assert.False(SipParser.TryParse(Encoding.UTF8.GetBytes(text), Limits, out var message, out var error), kind);
        Assert.Null(message);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Headers_that_are_not_utf8_too_many_lines_and_too_large_a_header_section_are_refused()
    {
        var latin1 = Encoding.Latin1.GetBytes(Register.Replace("IP Camera", "Caméra", StringComparison.Ordinal));
        Assert.False(SipParser.TryParse(latin1, Limits, out _, out var error));
        Assert.Equal("the start line and headers are not UTF-8", error);

        var many = Register.Replace("Content-Length: 0", string.Concat(Enumerable.Range(0, 100).Select(i => $"X-{i}: {i}\r\n")) + "Content-Length: 0", StringComparison.Ordinal);
        Assert.False(SipParser.TryParse(Encoding.UTF8.GetBytes(many), Limits, out _, out error));
        Assert.Equal("more than 100 header lines", error);

        var large = Register.Replace("IP Camera", new string('x', 17_000), StringComparison.Ordinal);
        Assert.False(SipParser.TryParse(Encoding.UTF8.GetBytes(large), Limits, out _, out error));
        Assert.Equal("header section over 16384 bytes", error);
    }

    [Fact]
    public void A_stream_is_framed_by_content_length_with_keepalives_between_and_waits_for_the_rest()
    {
        var body = Encoding.UTF8.GetBytes("<?xml version=\"1.0\"?><Notify><CmdType>Keepalive</CmdType></Notify>");
        var keepalive = SipMessage.Request("MESSAGE", "sip:34020000002000000001@3402000000",
            Parse(Register).Headers.Where(h => h.Name is "Via" or "From" or "To" or "Call-ID").Append(new SipHeader("CSeq", "2 MESSAGE")), body).ToBytes();
        var stream = Encoding.UTF8.GetBytes(Register).Concat("\r\n\r\n"u8.ToArray()).Concat(keepalive).ToArray();

        var frames = new List<SipMessage?>();
        var offset = 0;
        while (offset < stream.Length)
        {
            Assert.Equal(SipFrameStatus.Complete, SipParser.Frame(stream.AsSpan(offset), Limits, out var message, out var consumed, out var error));
            Assert.Null(error);
            frames.Add(message);
            offset += consumed;
        }

        Assert.Equal(["REGISTER", null, "MESSAGE"], frames.Select(f => f?.Method));
        Assert.Equal(body, frames[2]!.Body);

        // Cut anywhere inside the second message: incomplete, nothing consumed.
        for (var cut = 1; cut < keepalive.Length; cut += 7)
        {
            Assert.Equal(SipFrameStatus.Incomplete, SipParser.Frame(keepalive.AsSpan(0, cut), Limits, out var none, out var consumed, out _));
            Assert.Equal((null, 0), (none, consumed));
        }

        var noLength = Encoding.UTF8.GetBytes(Register.Replace("Content-Length: 0\r\n", "", StringComparison.Ordinal));
        Assert.Equal(SipFrameStatus.Invalid, SipParser.Frame(noLength, Limits, out _, out _, out var why));
        Assert.Equal("Content-Length is required on a stream (RFC 3261 §18.3)", why);
        Assert.Equal(SipFrameStatus.Invalid, SipParser.Frame(new byte[20_000], Limits, out _, out _, out why)); // no line end in 16 KiB
        Assert.Equal("header section over 16384 bytes", why);
    }
}
