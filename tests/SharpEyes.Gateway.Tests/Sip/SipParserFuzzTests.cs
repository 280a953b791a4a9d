using System.Text;
using CsCheck;
using SharpEyes.Gateway.Sip;
using SharpEyes.Gateway.Tests.Fuzz;

namespace SharpEyes.Gateway.Tests.Sip;

/// <summary>One generated datagram: its kind, its bytes, and (valid ones) the message it must parse to.</summary>
internal sealed record SipCase(string Kind, byte[] Bytes, SipMessage? Expected)
{
    public override string ToString() => $"{Kind}: {Fuzzing.Show(Bytes)}";
}

/// <summary>
/// The SIP parser called with generated valid messages (any method or status, extra headers with CJK values, binary
/// bodies), mutations of them (bit flips, deletions, insertions, truncations, bare line feeds, a doubled line) and random
/// bytes: it never throws; a refusal always says why; a valid message reads back exactly as built; whatever it accepts
/// reads back the same once written again; and the stream framer, given the same bytes, never throws nor claims more
/// bytes than it was given.
/// </summary>
public sealed class SipParserFuzzTests
{
    private const ulong Seed = 20261203;
    private const int Cases = 10_000;

    private static readonly SipLimits Limits = new();

    private static readonly Gen<string> Value = Gen.OneOf(
        Gen.String[Gen.Char.AlphaNumeric, 1, 30],
        Gen.String[Gen.Char['\u4e00', '\u9fa5'], 1, 10],
        Gen.OneOf("<sip:34020000001320000001@3402000000>;tag=1", "SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK77", "Application/MANSCDP+xml", "a, b, \"c, d\""));

    private static readonly Gen<SipHeader> Extra = Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 12], Value, (name, value) => new SipHeader("X-" + name, value));

    private static readonly Gen<SipMessage> Request = Gen.Select(
        Gen.OneOf("REGISTER", "MESSAGE", "SUBSCRIBE", "NOTIFY", "INFO", "OPTIONS", "BYE", "INVITE"),
        Gen.String[Gen.Char['0', '9'], 20, 20],
        Gen.Long[1, 1_000_000],
        Extra.Array[0, 8],
        Gen.Byte.Array[0, 600],
        (method, id, cseq, extra, body) => SipMessage.Request(method, $"sip:{id}@3402000000", [
            new SipHeader("Via", "SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK" + cseq),
            new SipHeader("From", $"<sip:{id}@3402000000>;tag={cseq}"),
            new SipHeader("To", "<sip:34020000002000000001@3402000000>"),
            new SipHeader("Call-ID", $"{cseq}@192.168.1.64"),
            new SipHeader("CSeq", $"{cseq} {method}"),
            .. extra,
        ], body));

    private static readonly Gen<SipMessage> Message = Gen.OneOf(
        Request,
        Gen.Select(Request, Gen.Int[100, 699], Gen.String[Gen.Char.AlphaNumeric, 0, 20], (request, status, reason) => SipMessage.ResponseTo(request, status, reason, toTag: "gw")));

    private static readonly Gen<SipCase> Valid = Message.Select(m => new SipCase("valid", m.ToBytes(), m));

    private static readonly Gen<SipCase> Mutated = Gen.Select(Message, Gen.Int[0, 5], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 8], (m, how, at, noise) =>
    {
        var bytes = m.ToBytes();
        var i = at % bytes.Length;
        return how switch
        {
            0 => new SipCase("bit flip", [.. bytes[..i], (byte)(bytes[i] ^ (1 << (at % 8))), .. bytes[(i + 1)..]], null),
            1 => new SipCase("deletion", [.. bytes[..i], .. bytes[Math.Min(bytes.Length, i + 1 + (at % 16))..]], null),
            2 => new SipCase("insertion", [.. bytes[..i], .. noise, .. bytes[i..]], null),
            3 => new SipCase("truncation", bytes[..i], null),
            4 => new SipCase("bare line feeds", Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(bytes).Replace("\r\n", "\n", StringComparison.Ordinal)), null),
            _ => new SipCase("doubled line", DoubleLine(bytes, at), null),
        };
    });

    private static readonly Gen<SipCase> Random = Gen.Byte.Array[0, 400].Select(b => new SipCase("random bytes", b, null));

    private static readonly Gen<SipCase> Any = Gen.Frequency((3, Valid), (6, Mutated), (1, Random));

    [Fact]
    public void Every_datagram_is_parsed_or_refused_with_a_reason_and_never_throws() =>
        Fuzzing.Check("SIP parser", Any, Seed, Cases, Property, c => c.ToString(), c => c.Kind);

    private static string Property(SipCase c)
    {
        var ok = SipParser.TryParse(c.Bytes, Limits, out var message, out var error);
        var framed = SipParser.Frame(c.Bytes, Limits, out var frame, out var consumed, out var frameError);
        Assert.InRange(consumed, 0, c.Bytes.Length);
        Assert.Equal(framed == SipFrameStatus.Invalid, frameError is not null);
        Assert.True(framed != SipFrameStatus.Complete || consumed > 0, "a complete frame took no bytes");
        if (framed == SipFrameStatus.Complete && frame is not null)
        {
            Assert.True(ok, $"framed from a stream but refused as a datagram: {error}");
        }

        if (!ok)
        {
            Assert.Null(message);
            Assert.False(string.IsNullOrWhiteSpace(error));
            return "refused";
        }

        Assert.Null(error);
        if (c.Expected is { } expected)
        {
            AssertSame(expected, message!);
        }

        Assert.True(SipParser.TryParse(message!.ToBytes(), Limits, out var again, out var againError), againError);
        AssertSame(message, again!);
        return "parsed";
    }

    private static void AssertSame(SipMessage expected, SipMessage actual)
    {
        Assert.Equal((expected.Method, expected.RequestUri, expected.StatusCode, expected.ReasonPhrase), (actual.Method, actual.RequestUri, actual.StatusCode, actual.ReasonPhrase));
        Assert.Equal(expected.Headers, actual.Headers);
        Assert.Equal(expected.Body, actual.Body);
    }

    private static byte[] DoubleLine(byte[] bytes, int at)
    {
        var text = Encoding.UTF8.GetString(bytes);
        var lines = text.Split("\r\n").ToList();
        var i = 1 + (at % Math.Max(1, Math.Min(lines.Count - 1, 6)));
        lines.Insert(i, lines[Math.Min(i, lines.Count - 1)]);
        return Encoding.UTF8.GetBytes(string.Join("\r\n", lines));
    }
}
