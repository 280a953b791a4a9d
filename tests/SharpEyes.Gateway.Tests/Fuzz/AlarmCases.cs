using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using CsCheck;
using SharpEyes.Gateway.Alarms;

namespace SharpEyes.Gateway.Tests.Fuzz;

/// <summary>A valid alarm as generated: what the parser must read back from its JSON.</summary>
internal sealed record GeneratedAlarm(
    string EventId, DateTimeOffset OccurredAt, int Priority, int Method, int Type, string Description, (double Lon, double Lat, string Datum)? Position);

/// <summary>
/// What the parser may answer: accept (only when <see cref="Accept"/>), or one of <see cref="Reasons"/>, naming
/// <see cref="Field"/> at the start of its detail when one is given. <see cref="Any"/>: a byte-level mutation, whose
/// outcome only the general properties judge.
/// </summary>
internal sealed record AlarmExpectation(bool Accept, IReadOnlyList<string> Reasons, string? Field = null)
{
    public static readonly AlarmExpectation Valid = new(true, []);

    public static readonly AlarmExpectation Any = new(true, [DeadLetterReasons.Malformed, DeadLetterReasons.InvalidField]);

    public static readonly AlarmExpectation Malformed = new(false, [DeadLetterReasons.Malformed]);

    public static AlarmExpectation Invalid(string field) => new(false, [DeadLetterReasons.InvalidField], field);
}

/// <summary>One alarm payload: its mutation, bytes, what the parser must answer, and (valid ones) the alarm it holds.</summary>
internal sealed record AlarmCase(string Kind, byte[] Payload, AlarmExpectation Expect, GeneratedAlarm? Alarm = null)
{
    public override string ToString() => $"{Kind}: {Fuzzing.Show(Payload)}";
}

/// <summary>
/// CsCheck generators for the alarm JSON (<see cref="AlarmParser"/>'s contract): valid alarms (any order of members,
/// unknown members, every datum, times within the window in any offset, CJK and astral characters raw or escaped) and
/// mutations of them, each with what the parser must answer: members dropped, nulled, duplicated or of another type,
/// values out of range, huge numbers, NaN and Infinity, deep nesting, invalid UTF-8, control characters, unpaired
/// surrogate escapes, oversized strings, times outside the window, other JSON roots, random bytes, and bit flips,
/// inserts, deletes, truncations and splices.
/// </summary>
internal static class AlarmCases
{
    /// <summary>The gateway clock of <see cref="Infrastructure.GatewayHost"/> and the default duplicate window.</summary>
    public static readonly DateTimeOffset Now = new(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);

    public static readonly TimeSpan Window = TimeSpan.FromDays(90);

    private static readonly string[] Required = ["eventId", "occurredAt", "priority", "method", "type"];

    private static readonly JsonSerializerOptions Escaped = new();

    private static readonly JsonSerializerOptions Raw = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly Gen<string> Piece = Gen.OneOf(
        Gen.String[Gen.Char.AlphaNumeric, 1, 20],
        Gen.String[Gen.Char['\u4e00', '\u9fa5'], 1, 10],
        Gen.OneOf("🚨", "𠀀", "\t", "\n", "\r", " ", "\"", "\\", "/", "é", "ａｂｃ", "<script>", "\u00a0", "\u2028", "\ufeff"));

    private static readonly Gen<string> Description = Gen.Frequency(
        (8, Piece.Array[0, 30].Select(p => string.Concat(p))),
        (1, Gen.String[Gen.Char.AlphaNumeric, 1000, 1024]),
        (1, Gen.Const("")));

    private static readonly Gen<string> EventId = Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 16, 32], Gen.OneOf("", "-东门", ":🚨", "/1", " x", ".\"q\""), (id, tail) => id + tail);

    /// <summary>An offset in quarter hours between -12:00 and +14:00, and an instant in the window (to the millisecond).</summary>
    private static readonly Gen<DateTimeOffset> Occurred = Gen.Select(
        Gen.Long[-(long)(Window - TimeSpan.FromDays(1)).TotalMilliseconds, (long)TimeSpan.FromHours(23).TotalMilliseconds],
        Gen.Int[-48, 56],
        (ms, quarters) => Now.AddMilliseconds(ms).ToOffset(TimeSpan.FromMinutes(15 * quarters)));

    private static readonly Gen<(double, double, string)?> Position = Gen.Frequency(
        (1, Gen.Const(((double, double, string)?)null)),
        (2, Gen.Select(
            Gen.Frequency((5, Gen.Double[-180, 180]), (1, Gen.OneOf(-180.0, 180.0, 0.0, -0.0, 114.603))),
            Gen.Frequency((5, Gen.Double[-90, 90]), (1, Gen.OneOf(-90.0, 90.0, 0.0, 37.606))),
            Gen.OneOf("WGS84", "GCJ02", "BD09", "wgs-84", "gcj_02", "bd-09"),
            (lon, lat, datum) => ((double, double, string)?)(lon, lat, datum))));

    public static readonly Gen<GeneratedAlarm> ValidAlarm =
        from method in Gen.Int[1, 7]
        from type in method == 5 ? Gen.Int[1, 12] : Gen.Int[0, 999]
        from rest in Gen.Select(EventId, Occurred, Gen.Int[1, 4], Description, Position)
        select new GeneratedAlarm(rest.Item1, rest.Item2, rest.Item3, method, type, rest.Item4, rest.Item5);

    /// <summary>A valid alarm as members (name, raw JSON value) in a generated order, with its text form choices.</summary>
    private static readonly Gen<(GeneratedAlarm Alarm, List<(string Key, string Value)> Members)> ValidMembers =
        from alarm in ValidAlarm
        from escape in Gen.Bool
        from timeStyle in Gen.Int[0, 5]
        from unknown in Gen.OneOf(0, 0, 1, 2)
        from order in Gen.Int.Array[8]
        select (alarm, Members(alarm, escape, timeStyle, unknown, order));

    public static readonly Gen<AlarmCase> Valid = ValidMembers.Select(v => new AlarmCase("valid", Json(v.Members), AlarmExpectation.Valid, v.Alarm));

    private static readonly string[] Literals = ["null", "true", "false", "0", "-1", "1.5", "\"\"", "\"3\"", "[]", "{}", "[1,2]", "{\"a\":1}", "\"2026-11-22T08:00:00Z\""];

    private static readonly (string Key, string Value, string Field)[] OutOfRange =
    [
        ("priority", "0", "priority"), ("priority", "5", "priority"), ("priority", "-1", "priority"), ("method", "0", "method"), ("method", "8", "method"),
        ("type", "1000", "type"), ("type", "-1", "type"), ("eventId", "\"\"", "eventId"), ("description", "\"\\u0000\"", "description"),
        ("position", """{"lon":180.0001,"lat":37,"datum":"WGS84"}""", "position.lon"), ("position", """{"lon":-180.5,"lat":37,"datum":"WGS84"}""", "position.lon"),
        ("position", """{"lon":114,"lat":90.0001,"datum":"WGS84"}""", "position.lat"), ("position", """{"lon":114,"lat":-91,"datum":"GCJ02"}""", "position.lat"),
        ("position", """{"lon":114,"lat":37,"datum":"ETRS89"}""", "position.datum"), ("position", """{"lon":114,"lat":37}""", "position.datum"),
        ("position", """{"lon":114,"lat":37,"datum":84}""", "position.datum"), ("position", """{"lon":"114","lat":37,"datum":"BD09"}""", "position.lon"),
        ("position", """{"lat":37,"datum":"BD09"}""", "position.lon"), ("position", """{"lon":114,"datum":"BD09"}""", "position.lat"),
        ("position", "[114,37]", "position"), ("position", "\"114,37\"", "position"),
    ];

    private static readonly string[] HugeNumbers =
    [
        "1e400", "-1e400", "1e-400", "4294967298", "-2147483649", "2147483648", "9223372036854775808", "1" + new string('0', 400),
        "-" + new string('9', 300), "0." + new string('0', 400) + "1", "1E+308", "1.7976931348623157e308", "4.9e-324", "-0.0", "1.0", "1e0", "2E1",
    ];

    private static readonly byte[][] InvalidUtf8 =
    [
        [0xFF], [0xFE], [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],
        [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE6, 0x97], [0xF0, 0x9F, 0x9A], [0xE9], [0xC3],
    ];

    private static readonly string[] LoneSurrogates = [@"\udc00", @"\ud800", @"\udbff", @"\ude00\ud83d", @"\ud83d\ud83d", @"\ud800x", @"\ud83d\u0041"];

    private static readonly string[] BadTimes =
    [
        "1900-01-01T00:00:00Z", "2026-08-23T07:59:59Z", "2026-11-23T08:00:01Z", "2026-11-24T08:00:00+08:00", "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z", "2026-11-22T16:00:00", "2026-02-30T00:00:00Z", "2026-11-22T25:00:00Z", "2026-11-22", "yesterday", "",
        "2026-11-22T08:00:00+24:00", "2026-11-22T08:00:00+08", "1732262400", "2026-11-22T08:00:00.Z", "２０２６-11-22T08:00:00Z",
        "2026-11-22T08:00:00Z" + new string(' ', 50),
    ];

    /// <summary>The C0 and C1 control characters.</summary>
    private static readonly int[] Controls = [.. Enumerable.Range(0, 0xA0).Where(c => char.IsControl((char)c))];

    /// <summary>Every kind of case the parser is fuzzed with, valid ones among them.</summary>
    public static readonly Gen<AlarmCase> Any = Gen.Frequency(
        (6, Valid),
        (2, Gen.Select(ValidMembers, Gen.Int[0, 15], (v, i) => Drop(v.Members, i % v.Members.Count))),
        (1, Gen.Select(ValidMembers, Gen.OneOf(Required), (v, key) => Set("null", v.Members, key, "null", AlarmExpectation.Invalid(key)))),
        (2, Gen.Select(ValidMembers, Gen.Int[0, 15], Gen.Bool, (v, i, same) => Duplicate(v.Members, i % v.Members.Count, same))),
        (2, Gen.Select(ValidMembers, Gen.OneOf([.. Required, "description", "position"]), Gen.OneOf(Literals), (v, key, literal) => Retype(v.Members, key, literal))),
        (2, Gen.Select(ValidMembers, Gen.OneOf(OutOfRange), (v, o) => Set("out-of-range", v.Members, o.Key, o.Value, AlarmExpectation.Invalid(o.Field)))),
        (2, Gen.Select(ValidMembers, Gen.OneOf("priority", "method", "type", "lon", "lat"), Gen.OneOf(HugeNumbers), (v, key, n) => Huge(v.Alarm, v.Members, key, n))),
        (1, Gen.Select(ValidMembers, Gen.OneOf(Required), Gen.OneOf("NaN", "Infinity", "-Infinity", "+1", ".5", "01", "1.", "0x10"),
            (v, key, n) => Set("not-a-json-number", v.Members, key, n, AlarmExpectation.Malformed))),
        (2, Gen.Select(ValidMembers, Gen.Frequency((3, Gen.Int[1, 10]), (1, Gen.Int[11, 300])), Gen.Bool, Gen.Bool, (v, depth, arrays, inPosition) => Deep(v.Members, depth, arrays, inPosition))),
        (2, Gen.Select(ValidMembers, Gen.OneOf(InvalidUtf8), Gen.Int.Uniform, (v, bytes, at) => Splice("invalid-utf8", Json(v.Members), bytes, at, AlarmExpectation.Malformed))),
        (2, Gen.Select(ValidMembers, Gen.OneOf(Controls), Gen.Int[0, 2], (v, c, how) => Control(v.Members, c, how))),
        (1, Gen.Select(ValidMembers, Gen.OneOf(LoneSurrogates), Gen.OneOf("eventId", "description", "unknown"), (v, s, key) => Surrogate(v.Members, s, key))),
        (2, Gen.Select(ValidMembers, Gen.OneOf("eventId", "description"), Gen.Int[1, 40_000], (v, key, extra) => Oversized(v.Members, key, extra))),
        (2, Gen.Select(ValidMembers, Gen.OneOf(BadTimes), (v, t) => Set("time", v.Members, "occurredAt", Quote(t), AlarmExpectation.Invalid("occurredAt")))),
        (1, Gen.OneOf("[]", "[1,2]", "\"alarm\"", "42", "true", "null", "", " ", "{}", "{\"eventId\":\"x\"}", "\ufeff{}").Select(Root)),
        (2, Gen.Byte.Array[0, 600].Select(b => new AlarmCase("random-bytes", b, AlarmExpectation.Any))),
        (4, Gen.Select(ValidMembers, Gen.Int[0, 4], Gen.Int.Uniform.Array[6], (v, how, r) => Bytes(Json(v.Members), how, r))));

    /// <summary>Times that are RFC 3339 (§5.6) and inside the window but spelled less commonly.</summary>
    private static string Rfc3339(DateTimeOffset t, int style)
    {
        var text = t.ToString(style % 2 == 0 ? "yyyy-MM-dd'T'HH:mm:ss.fff" : "yyyy-MM-dd'T'HH:mm:ss.fffffff", CultureInfo.InvariantCulture);
        var offset = t.Offset == TimeSpan.Zero && style >= 2 ? "Z" : t.ToString("zzz", CultureInfo.InvariantCulture);
        return style switch
        {
            4 => text.Replace('T', 't') + offset.Replace('Z', 'z'),
            5 => text.Replace('T', ' ') + offset,
            _ => text + offset,
        };
    }

    private static List<(string Key, string Value)> Members(GeneratedAlarm a, bool escape, int timeStyle, int unknown, int[] order)
    {
        var members = new List<(string Key, string Value)>
        {
            ("eventId", Quote(a.EventId, escape)),
            ("occurredAt", Quote(Rfc3339(a.OccurredAt, timeStyle))),
            ("priority", Int(a.Priority)),
            ("method", Int(a.Method)),
            ("type", Int(a.Type)),
            ("description", Quote(a.Description, escape)),
        };
        if (a.Position is var (lon, lat, datum))
        {
            members.Add(("position", string.Create(CultureInfo.InvariantCulture, $$"""{"lon":{{lon:R}},"lat":{{lat:R}},"datum":"{{datum}}"}""")));
        }

        members.AddRange(Enumerable.Range(0, unknown).Select(u => ($"x-vendor-{u}", u == 0 ? "{\"firmware\":\"1.2\",\"channels\":[1,2,3]}" : Quote("东门", escape))));
        return [.. members.Select((m, i) => (m, order[i % order.Length])).OrderBy(x => x.Item2).Select(x => x.m)];
    }

    private static AlarmCase Drop(List<(string Key, string Value)> members, int index)
    {
        var key = members[index].Key;
        var expect = Required.Contains(key) ? AlarmExpectation.Invalid(key) : AlarmExpectation.Valid;
        members.RemoveAt(index);
        return new AlarmCase("drop " + key, Json(members), expect);
    }

    private static AlarmCase Set(string kind, List<(string Key, string Value)> members, string key, string value, AlarmExpectation expect)
    {
        members.RemoveAll(m => m.Key == key);
        members.Insert(0, (key, value));
        return new AlarmCase($"{kind} {key}", Json(members), expect);
    }

    private static AlarmCase Duplicate(List<(string Key, string Value)> members, int index, bool sameValue)
    {
        var (key, value) = members[index];
        members.Add((key, sameValue ? value : "0"));
        return new AlarmCase("duplicate " + key, Json(members), AlarmExpectation.Malformed);
    }

    /// <summary>A member with a value of another JSON type than its own (a null description or position is allowed).</summary>
    private static AlarmCase Retype(List<(string Key, string Value)> members, string key, string literal)
    {
        var isString = key is "eventId" or "occurredAt" or "description";
        var sameType = literal == "null" ? key is "description" or "position"
            : isString ? literal.StartsWith('"')
            : key == "position" ? literal.StartsWith('{')
            : literal is "0" or "-1"; // integers: out of range, not of another type
        var expect = sameType ? AlarmExpectation.Any with { Reasons = [DeadLetterReasons.InvalidField] }
            : key == "position" ? AlarmExpectation.Invalid("position")
            : AlarmExpectation.Invalid(key);
        return Set("retype", members, key, literal, literal == "null" && key is "description" or "position" ? AlarmExpectation.Valid : expect);
    }

    /// <summary>
    /// A huge, tiny or oddly written number in an integer field or a coordinate: a field error when it is not an
    /// integer in range (or a coordinate in range), never a failure to read it. Whether 1.0 or 1e0 counts as the
    /// integer 1 is left open (either answer is specific).
    /// </summary>
    private static AlarmCase Huge(GeneratedAlarm alarm, List<(string Key, string Value)> members, string key, string number)
    {
        var value = double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (key is "lon" or "lat")
        {
            var (lon, lat) = alarm.Position is var (x, y, _) ? (x, y) : (114.6, 37.6);
            var position = key == "lon"
                ? string.Create(CultureInfo.InvariantCulture, $$"""{"lon":{{number}},"lat":{{lat:R}},"datum":"WGS84"}""")
                : string.Create(CultureInfo.InvariantCulture, $$"""{"lon":{{lon:R}},"lat":{{number}},"datum":"WGS84"}""");
            var inRange = double.IsFinite(value) && Math.Abs(value) <= (key == "lon" ? 180 : 90);
            return Set("huge", members, "position", position, inRange ? AlarmExpectation.Valid : AlarmExpectation.Invalid("position." + key));
        }

        var integral = double.IsFinite(value) && Math.Floor(value) == value && !number.Contains('.') && !number.Contains('e') && !number.Contains('E');
        var expect = integral && value is >= 0 and <= 999 ? AlarmExpectation.Any with { Reasons = [DeadLetterReasons.InvalidField] } : AlarmExpectation.Invalid(key);
        if (number is "1.0" or "1e0" or "2E1" or "-0.0")
        {
            expect = new AlarmExpectation(true, [DeadLetterReasons.InvalidField], key);
        }

        return Set("huge", members, key, number, expect);
    }

    /// <summary>Arrays or objects nested <paramref name="depth"/> deep in an unknown member (or as the position): the parser reads at most 8 levels.</summary>
    private static AlarmCase Deep(List<(string Key, string Value)> members, int depth, bool arrays, bool inPosition)
    {
        var nested = arrays ? new string('[', depth) + new string(']', depth) : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
        var total = depth + 1; // the root object is the first level
        var expect = total > 8 ? AlarmExpectation.Malformed
            : inPosition ? AlarmExpectation.Invalid(arrays ? "position" : "position.lon") // an array, or an object without lon
            : AlarmExpectation.Valid;

        return Set("deep", members, inPosition ? "position" : "nested", nested, expect);
    }

    /// <summary>A C0 or C1 control character: raw in a string (not JSON below U+0020), or escaped in the event id or the description.</summary>
    private static AlarmCase Control(List<(string Key, string Value)> members, int c, int how)
    {
        var key = how == 2 ? "eventId" : "description";
        var escaped = how > 0 || c >= 0x20;
        var text = escaped ? $"\\u{c:x4}" : ((char)c).ToString();
        var (_, value) = members.First(m => m.Key == key);
        var inside = value[..^1] + text + "\"";
        var expect = !escaped ? AlarmExpectation.Malformed
            : key == "description" && c is '\t' or '\n' or '\r' ? AlarmExpectation.Valid
            : AlarmExpectation.Invalid(key);
        return Set($"control U+{c:X4}", members, key, inside, expect);
    }

    private static AlarmCase Surrogate(List<(string Key, string Value)> members, string escape, string key)
    {
        if (key == "unknown")
        {
            members.Add(("x-" + escape, "1"));
            return new AlarmCase("surrogate in a member name", Json(members), AlarmExpectation.Malformed);
        }

        var (_, value) = members.First(m => m.Key == key);
        return Set("surrogate " + key, members, key, value[..^1] + escape + "\"", AlarmExpectation.Malformed);
    }

    private static AlarmCase Oversized(List<(string Key, string Value)> members, string key, int extra)
    {
        var max = key == "eventId" ? 128 : 1024;
        return Set("oversized " + key, members, key, Quote(new string('x', max + extra)), AlarmExpectation.Invalid(key));
    }

    private static AlarmCase Root(string json) => new("root " + json.Trim(), Encoding.UTF8.GetBytes(json), json == "{\"eventId\":\"x\"}" || json == "{}"
        ? AlarmExpectation.Invalid(json == "{}" ? "eventId" : "occurredAt")
        : AlarmExpectation.Malformed);

    private static AlarmCase Splice(string kind, byte[] json, byte[] insert, int at, AlarmExpectation expect)
    {
        var i = (int)((uint)at % (json.Length + 1));
        return new AlarmCase(kind, [.. json.AsSpan(0, i), .. insert, .. json.AsSpan(i)], expect);
    }

    /// <summary>Bit flips, byte inserts, deletes, a truncation or a splice of two halves, at generated places.</summary>
    private static AlarmCase Bytes(byte[] json, int how, int[] r)
    {
        var bytes = json.ToList();
        int At(int k, int length) => (int)((uint)r[k] % (uint)Math.Max(1, length));
        switch (how)
        {
            case 0:
                for (var k = 0; k < 3; k++)
                {
                    bytes[At(k, bytes.Count)] ^= (byte)(1 << At(k + 3, 8));
                }

                return new AlarmCase("bit-flip", [.. bytes], AlarmExpectation.Any);
            case 1:
                for (var k = 0; k < 3; k++)
                {
                    bytes.Insert(At(k, bytes.Count + 1), (byte)r[k + 3]);
                }

                return new AlarmCase("byte-insert", [.. bytes], AlarmExpectation.Any);
            case 2:
                for (var k = 0; k < 3 && bytes.Count > 0; k++)
                {
                    bytes.RemoveAt(At(k, bytes.Count));
                }

                return new AlarmCase("byte-delete", [.. bytes], AlarmExpectation.Any);
            case 3:
                return new AlarmCase("truncate", [.. bytes.Take(At(0, bytes.Count))], AlarmExpectation.Any);
            default:
                var cut = At(0, bytes.Count);
                return new AlarmCase("splice", [.. bytes.Skip(cut), .. bytes.Take(cut)], AlarmExpectation.Any);
        }
    }

    public static byte[] Json(List<(string Key, string Value)> members) =>
        Encoding.UTF8.GetBytes("{" + string.Join(',', members.Select(m => $"\"{m.Key}\":{m.Value}")) + "}");

    private static string Quote(string text, bool escape = true) => JsonSerializer.Serialize(text, escape ? Escaped : Raw);

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);
}
