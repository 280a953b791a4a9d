using System.Collections.Concurrent;
using System.Text;
using CsCheck;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace SharpEyes.Gateway.Tests.Fuzz;

/// <summary>A request body as sent (protobuf wire bytes), and how it was made.</summary>
internal sealed record RpcBody(string Kind, byte[] Bytes);

/// <summary>
/// CsCheck generators of protobuf request bodies from a message descriptor, written as wire bytes so that anything a
/// client could send is reachable: every field of the message (nested messages, maps, oneofs, well-known types)
/// with edge and random values (out-of-range enums, NaN and infinities, invalid UTF-8 in strings, ids the gateway
/// knows, GeoJSON), repeated fields packed or not; and mutations of such a body: unknown fields, a known field with
/// the wrong wire type, truncation, bit flips, raw random bytes, an empty body, and one huge repeated field or string
/// within the message size limit.
/// </summary>
internal sealed class RpcCases(IReadOnlyList<string> knownIds, IReadOnlyList<string> geoJson)
{
    /// <summary>Messages nest at most this deep (Struct and Value are recursive); deeper message fields are left out.</summary>
    private const int MaxDepth = 4;

    /// <summary>A huge body stays under the gateway's 4 MiB request limit (SharpEyes:Limits:GrpcMaxRequestBytes) with room for the rest.</summary>
    public const int HugeBytes = 3 * 1024 * 1024;

    private static readonly ulong[] EdgeVarints =
    [
        0, 1, 2, 3, 4, 5, 7, 10, 13, 60, 100, 999, 1000, 1001, 10_000, 65_535, 1_000_000, int.MaxValue, (ulong)int.MaxValue + 1, uint.MaxValue,
        long.MaxValue, ulong.MaxValue, unchecked((ulong)-1L), unchecked((ulong)(long)int.MinValue), unchecked((ulong)-2L), 1_764_000_000, 253_402_300_800, 315_537_897_600,
    ];

    private static readonly double[] EdgeDoubles =
    [
        0, -0.0, 1, -1, 0.5, double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.MaxValue, double.MinValue, double.Epsilon, 1e-300,
        180, -180, 180.0000001, 90, -90, 90.5, 360, 361, 114.603, 37.606, 114.5, 37.5, 1e9, -1e9, 1e15,
    ];

    private static readonly string[] Strings =
    [
        "", " ", "a", "0", "-1", "1e999", "NaN", "true", "null", "WGS84", "GCJ02", "BD09", "x".PadRight(300, 'x'), "东门 摄像机", "🚨😀", "\u0000", "\t\r\n",
        "\u001b[31m", "\u0085", "\u2028", "\ufeff", "../../etc/passwd", "%s%s%n", "' OR 1=1 --", "<script>alert(1)</script>", "${jndi:ldap://x}",
        "rtsp://admin:hunter2@127.0.0.1:8554/cam", "rtsp://[::1", "http://127.0.0.1:1/", "2026-11-22T08:00:00Z", "2026-11-22T08:00:00+08:00", "yesterday",
        "130127", "130127100", "130127100001", "1301271000010001", "130127000013200000", "13012700001340000001", "99999999999999999999",
        "ROLE_ADMIN", "vendor-fuzz", "vendor-other", "gbt28181", "school", "checkpoint", "grid", "key_site", "open", "closed", "acknowledged",
        "device_id", "name,position", "camera.rtsp_url", "*", "a.b.c.d.e.f", "sev1", "A".PadRight(70_000, 'A'),
    ];

    private static readonly byte[][] InvalidUtf8 = [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xE6, 0x97], [0xF4, 0x90, 0x80, 0x80], [0x80, 0x80]];

    private readonly ConcurrentDictionary<(MessageDescriptor, int), Gen<byte[]>> _messages = new();

    /// <summary>Generated and mutated bodies for a request message.</summary>
    public Gen<RpcBody> Bodies(MessageDescriptor request) => Gen.Frequency(
        (10, Message(request, 0).Select(b => new RpcBody("generated", b))),
        (2, Gen.Select(Message(request, 0), UnknownFields, (b, u) => new RpcBody("unknown-fields", [.. b, .. u]))),
        (1, Gen.Select(Message(request, 0), WrongWireType(request), (b, w) => new RpcBody("wrong-wire-type", [.. b, .. w]))),
        (2, Gen.Select(Message(request, 0), Gen.Int.Uniform, (b, at) => new RpcBody("truncated", b.Length == 0 ? [0x0A] : b[..(int)((uint)at % (uint)b.Length)]))),
        (2, Gen.Select(Message(request, 0), Gen.Int.Uniform.Array[3], (b, r) => new RpcBody("bit-flip", Flip(b, r)))),
        (2, Gen.Byte.Array[0, 300].Select(b => new RpcBody("random-bytes", b))),
        (1, Gen.Const(new RpcBody("empty", []))),
        (1, Huge(request)));

    /// <summary>A message: each field absent or present (a few times if repeated), in field-number order, sometimes shuffled by appending one again.</summary>
    public Gen<byte[]> Message(MessageDescriptor descriptor, int depth) => _messages.GetOrAdd((descriptor, depth), key =>
    {
        var fields = key.Item1.Fields.InFieldNumberOrder()
            .Where(f => f.FieldType != FieldType.Message || key.Item2 < MaxDepth)
            .Select(f => Field(f, key.Item2))
            .ToList();
        return fields.Aggregate(Gen.Const(Array.Empty<byte>()), (all, field) => Gen.Select(all, field, (a, b) => (byte[])[.. a, .. b]));
    });

    /// <summary>One field's occurrences: none (most often), one, or for repeated fields a few, packed when it can be.</summary>
    private Gen<byte[]> Field(FieldDescriptor field, int depth)
    {
        var value = Value(field, depth);
        var occurrences = field.IsRepeated ? value.Array[1, 5] : value.Array[1, 1];
        var encoded = occurrences.Select(values => Concat(values.Select(v => Tagged(field.FieldNumber, WireOf(field), v))));
        if (field.IsPacked || (field.IsRepeated && WireOf(field) != WireFormat.WireType.LengthDelimited))
        {
            var packed = value.Array[0, 8].Select(values => Tagged(field.FieldNumber, WireFormat.WireType.LengthDelimited, Concat(values)));
            encoded = Gen.Frequency((1, encoded), (1, packed));
        }

        return Gen.Frequency((3, Gen.Const(Array.Empty<byte>())), (2, encoded));
    }

    /// <summary>A field's value as its wire payload (a varint, 4 or 8 bytes, or the bytes of a length-delimited value).</summary>
    private Gen<byte[]> Value(FieldDescriptor field, int depth) => field.FieldType switch
    {
        FieldType.Bool => Gen.Frequency((4, Gen.ULong[0, 1]), (1, Gen.OneOf(EdgeVarints))).Select(Varint),
        FieldType.Enum => Gen.Frequency(
            (4, Gen.OneOf([.. field.EnumType.Values.Select(v => (ulong)(long)v.Number)])),
            (1, Gen.OneOf(EdgeVarints))).Select(Varint),
        FieldType.Int32 or FieldType.Int64 or FieldType.UInt32 or FieldType.UInt64 or FieldType.SInt32 or FieldType.SInt64 =>
            Gen.Frequency((3, Gen.OneOf(EdgeVarints)), (1, Gen.ULong), (2, Gen.ULong[0, 200])).Select(Varint),
        FieldType.Fixed32 or FieldType.SFixed32 => Gen.UInt.Select(v => BitConverter.GetBytes(v)),
        FieldType.Float => Gen.Frequency((3, Gen.OneOf(EdgeDoubles)), (1, Gen.Double)).Select(d => BitConverter.GetBytes((float)d)),
        FieldType.Fixed64 or FieldType.SFixed64 => Gen.ULong.Select(v => BitConverter.GetBytes(v)),
        FieldType.Double => Gen.Frequency((3, Gen.OneOf(EdgeDoubles)), (1, Gen.Double)).Select(d => BitConverter.GetBytes(d)),
        FieldType.String => StringValue(field),
        FieldType.Bytes => Gen.Byte.Array[0, 64],
        FieldType.Message or FieldType.Group => Message(field.MessageType, depth + 1),
        _ => Gen.Const(Array.Empty<byte>()),
    };

    /// <summary>A string: ids the gateway knows, GeoJSON for a geojson field, edge strings, random text, or bytes that are not UTF-8.</summary>
    private Gen<byte[]> StringValue(FieldDescriptor field)
    {
        var text = Gen.Frequency(
            (4, Gen.OneOf(Strings)),
            (field.Name.EndsWith("id", StringComparison.Ordinal) || field.Name.EndsWith("ids", StringComparison.Ordinal) ? 6 : 1, Gen.OneOf([.. knownIds])),
            (field.Name.Contains("geojson", StringComparison.Ordinal) ? 12 : 0, Gen.OneOf([.. geoJson])),
            (2, Gen.String[Gen.Char.AlphaNumeric, 0, 40]),
            (1, Gen.String[Gen.Char['\u4e00', '\u9fa5'], 1, 20])).Select(s => Encoding.UTF8.GetBytes(s));
        var invalid = Gen.Select(text, Gen.OneOf(InvalidUtf8), (t, bad) => (byte[])[.. t, .. bad]);
        return Gen.Frequency((12, text), (1, invalid));
    }

    /// <summary>Fields the message does not declare, of each wire type, with high and low numbers.</summary>
    private static readonly Gen<byte[]> UnknownFields =
        Gen.Select(Gen.Int[100, 536_870_911], Gen.Int[0, 3], Gen.Byte.Array[0, 40], (number, type, payload) => type switch
        {
            0 => Tagged(number, WireFormat.WireType.Varint, Varint(payload.Length == 0 ? 0UL : payload[0])),
            1 => Tagged(number, WireFormat.WireType.Fixed64, [.. payload.Concat(new byte[8]).Take(8)]),
            2 => Tagged(number, WireFormat.WireType.LengthDelimited, payload),
            _ => Tagged(number, WireFormat.WireType.Fixed32, [.. payload.Concat(new byte[4]).Take(4)]),
        }).Array[1, 4].Select(Concat);

    /// <summary>A declared field sent with another wire type than its own (or a field number 0, never valid).</summary>
    private static Gen<byte[]> WrongWireType(MessageDescriptor request)
    {
        int[] numbers = [0, .. request.Fields.InFieldNumberOrder().Select(f => f.FieldNumber)];
        return Gen.Select(Gen.OneOf(numbers), Gen.OneOf(0, 1, 2, 3, 4, 5, 6, 7), (number, wire) =>
            (byte[])[.. Varint(((ulong)(uint)number << 3) | (uint)wire), 5, 1, 2, 3, 4, 5]);
    }

    /// <summary>One repeated field with thousands of elements, or one string or bytes field of megabytes, below the request limit.</summary>
    private Gen<RpcBody> Huge(MessageDescriptor request)
    {
        var repeated = request.Fields.InFieldNumberOrder().Where(f => f.IsRepeated).ToList();
        var strings = request.Fields.InFieldNumberOrder().Where(f => !f.IsRepeated && f.FieldType is FieldType.String or FieldType.Bytes).ToList();
        var size = Gen.Frequency((4, Gen.Int[10_000, 300_000]), (1, Gen.Int[1_000_000, HugeBytes]));
        if (repeated.Count > 0)
        {
            return Gen.Select(Gen.OneOf([.. repeated]), size, (field, bytes) =>
            {
                var one = Field(field, MaxDepth - 1).Where(b => b.Length > 0);
                return (field, bytes, one);
            }).SelectMany(x => x.one.Select(element => new RpcBody(
                $"huge {x.field.Name}", Concat(Enumerable.Repeat(element, Math.Max(1, x.bytes / Math.Max(1, element.Length)))))));
        }

        if (strings.Count > 0)
        {
            return Gen.Select(Gen.OneOf([.. strings]), size, (field, bytes) =>
                new RpcBody($"huge {field.Name}", Tagged(field.FieldNumber, WireFormat.WireType.LengthDelimited, Encoding.UTF8.GetBytes(new string('x', bytes)))));
        }

        return size.Select(bytes => new RpcBody("huge unknown field", Tagged(9999, WireFormat.WireType.LengthDelimited, new byte[bytes])));
    }

    private static byte[] Flip(byte[] bytes, int[] r)
    {
        if (bytes.Length == 0)
        {
            return [(byte)r[0]];
        }

        var copy = (byte[])bytes.Clone();
        foreach (var x in r)
        {
            copy[(int)((uint)x % (uint)copy.Length)] ^= (byte)(1 << (int)((uint)x % 8));
        }

        return copy;
    }

    private static WireFormat.WireType WireOf(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Fixed32 or FieldType.SFixed32 or FieldType.Float => WireFormat.WireType.Fixed32,
        FieldType.Fixed64 or FieldType.SFixed64 or FieldType.Double => WireFormat.WireType.Fixed64,
        FieldType.String or FieldType.Bytes or FieldType.Message or FieldType.Group => WireFormat.WireType.LengthDelimited,
        _ => WireFormat.WireType.Varint,
    };

    private static byte[] Tagged(int number, WireFormat.WireType wire, byte[] payload)
    {
        var tag = Varint(((ulong)(uint)number << 3) | (uint)wire);
        return wire == WireFormat.WireType.LengthDelimited ? [.. tag, .. Varint((ulong)payload.Length), .. payload] : [.. tag, .. payload];
    }

    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>(10);
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? b : (byte)(b | 0x80));
        }
        while (value != 0);
        return [.. bytes];
    }

    private static byte[] Concat(IEnumerable<byte[]> parts)
    {
        var all = new List<byte>();
        foreach (var p in parts)
        {
            all.AddRange(p);
        }

        return [.. all];
    }
}
