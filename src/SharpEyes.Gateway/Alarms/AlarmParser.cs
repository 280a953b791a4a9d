using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Observability;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Alarms;

/// <summary>An alarm as published, before it is mapped onto the county.</summary>
public sealed record ParsedAlarm(string EventId, DateTimeOffset OccurredAt, int Priority, int Method, int Type, string Description, ReportedPosition? Position);

/// <summary>A position as a payload gave it: longitude and latitude in degrees on its datum (converted to WGS-84 when the alarm is mapped).</summary>
public sealed record ReportedPosition(double Lon, double Lat, Datum Datum);

/// <summary>Why a message was dead-lettered: a machine-readable reason and a human-readable detail.</summary>
public sealed record Rejection(string Reason, string Detail);

/// <summary>The dead-letter reasons, as they appear on the dead-letter topic and in the stats.</summary>
public static class DeadLetterReasons
{
    /// <summary>Not UTF-8 JSON text holding one object (the parser's summary lists each case).</summary>
    public const string Malformed = "malformed";
    public const string InvalidField = "invalid-field";
    public const string Oversized = "oversized";

    /// <summary>No device with this id is registered to the publishing vendor: nobody registered it, or another vendor did (the same answer, so a vendor cannot learn other vendors' device ids).</summary>
    public const string UnknownDevice = "unknown-device";
    public const string InvalidTopic = "invalid-topic";
    public const string NotPermitted = "not-permitted";

    /// <summary>The gateway failed while checking, mapping or storing the message (a bug, logged with an error id the detail names).</summary>
    public const string InternalError = "internal-error";

    /// <summary>A feature the gateway does not offer (a retained publish): refused rather than half-done.</summary>
    public const string Unsupported = "unsupported";

    public static readonly IReadOnlyList<string> All = [Malformed, InvalidField, Oversized, UnknownDevice, InvalidTopic, NotPermitted, InternalError, Unsupported];
}

/// <summary>
/// Parses the alarm JSON: <c>eventId</c> (1–128 printable chars), <c>occurredAt</c> (RFC 3339 with offset),
/// <c>priority</c> 1–4, <c>method</c> 1–7, <c>type</c> (1–12 for video analytics, 0–999 otherwise), optional
/// <c>description</c> (≤ 1024 chars; no control characters but tab, line feed and carriage return) and
/// <c>position</c> <c>{lon, lat, datum}</c>. Unknown members are ignored.
/// <para>
/// <c>occurredAt</c> may be at most a day ahead of the gateway clock, and no older than the duplicate window
/// (<c>SharpEyes:Alarms:Retention</c>, 90 days): the gateway recognises a resent (vendor, eventId) only while the first
/// copy is stored, so an older alarm could be stored twice; it is refused as <c>invalid-field</c> instead.
/// </para>
/// <para>
/// <c>malformed</c>, each with a detail saying what and where: a payload that is not UTF-8 (invalid, overlong or
/// truncated sequences, UTF-8-encoded surrogates: RFC 8259 §8.1), a string escape that decodes to an unpaired UTF-16
/// surrogate (<c>"\udc00"</c>; in any string or member name, also of members the gateway ignores), a member twice in
/// one object (parsers disagree on which copy counts), nesting deeper than 8, anything else that is not JSON, or JSON
/// that is not an object. Such payloads never reach the field checks, so reading a field cannot throw.
/// </para>
/// </summary>
public static class AlarmParser
{
    private const int MaxDepth = 8;
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth };
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = MaxDepth, AllowDuplicateProperties = false };

    /// <summary>C0 and C1 control characters except tab, line feed and carriage return: not allowed in a description.</summary>
    private static readonly SearchValues<char> DescriptionControls =
        SearchValues.Create([.. Enumerable.Range(0, 0xA0).Select(c => (char)c).Where(c => char.IsControl(c) && c is not ('\t' or '\n' or '\r'))]);

    /// <param name="window">The duplicate window: alarms that occurred longer ago than this are refused.</param>
    public static Rejection? TryParse(in ReadOnlySequence<byte> payload, DateTimeOffset now, TimeSpan window, out ParsedAlarm? alarm)
    {
        alarm = null;
        var json = payload.IsSingleSegment ? payload.First : payload.ToArray();
        if (CheckText(json.Span) is { } notText)
        {
            return notText;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, Options);
        }
        catch (JsonException ex)
        {
            return NotJson(ex); // a duplicate member: the text itself was checked above
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new Rejection(DeadLetterReasons.Malformed, $"payload must be a JSON object, got {root.ValueKind}");
            }

            try
            {
                var eventId = RequiredString(root, "eventId", 128);
                var occurredText = RequiredString(root, "occurredAt", 64);
                if (!TryRfc3339(occurredText, out var occurredAt))
                {
                    throw new FieldError("occurredAt", "must be an RFC 3339 time with an offset, e.g. 2026-11-22T08:30:00+08:00");
                }

                if (occurredAt > now.AddDays(1))
                {
                    throw new FieldError("occurredAt", "is more than a day in the future");
                }

                if (now - occurredAt > window)
                {
                    throw new FieldError("occurredAt", $"{occurredText} is older than {Describe(window)}, the window in which a resent alarm is recognised as a duplicate (SharpEyes:Alarms:Retention)");
                }

                var priority = RequiredInt(root, "priority", 1, 4);
                var method = RequiredInt(root, "method", 1, 7);
                var type = method == 5 ? RequiredInt(root, "type", 1, 12) : RequiredInt(root, "type", 0, 999);
                var description = root.TryGetProperty("description", out var d) && d.ValueKind != JsonValueKind.Null
                    ? d.ValueKind == JsonValueKind.String ? d.GetString()! : throw new FieldError("description", "must be a string")
                    : "";
                if (description.Length > 1024)
                {
                    throw new FieldError("description", "at most 1024 characters");
                }

                if (description.AsSpan().IndexOfAny(DescriptionControls) is var control and >= 0)
                {
                    throw new FieldError("description", string.Create(CultureInfo.InvariantCulture,
                        $"control character U+{(int)description[control]:X4} at index {control}; only tab, line feed and carriage return are allowed"));
                }

                ReportedPosition? position = null;
                if (root.TryGetProperty("position", out var p) && p.ValueKind != JsonValueKind.Null)
                {
                    position = Position(p);
                }

                alarm = new ParsedAlarm(eventId, occurredAt, priority, method, type, description, position);
                return null;
            }
            catch (FieldError e)
            {
                return new Rejection(DeadLetterReasons.InvalidField, $"{e.Field}: {e.Message}");
            }
        }
    }
    public static bool TryRfc3339(string text, out DateTimeOffset value)
    {
        value = default;
        // RFC 3339 needs a full date, 'T' (or space), a time and an explicit offset or Z.
        if (text.Length < 20 || (text[10] != 'T' && text[10] != 't' && text[10] != ' '))
        {
            return false;
        }

        var last = text[^1];
        var hasOffset = last is 'Z' or 'z' || (text.Length > 6 && (text[^6] == '+' || text[^6] == '-') && text[^3] == ':');
        return hasOffset && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out value);
    }

    /// <summary>
    /// The payload as text: UTF-8 throughout, and JSON whose strings and member names all decode to valid UTF-16.
    /// System.Text.Json checks neither while parsing; it throws <see cref="InvalidOperationException"/> when such a
    /// string is read (and, for a member name, while looking up or comparing members), which is why this runs first.
    /// </summary>
    private static Rejection? CheckText(ReadOnlySpan<byte> json)
    {
        if (!Utf8.IsValid(json))
        {
            var at = FirstInvalidUtf8(json);
            return new Rejection(DeadLetterReasons.Malformed, $"not valid UTF-8: invalid byte sequence at byte {at} (0x{json[at]:X2})");
        }

        var reader = new Utf8JsonReader(json, ReaderOptions);
        ReadOnlySpan<byte> member = default;
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is not (JsonTokenType.PropertyName or JsonTokenType.String))
                {
                    continue;
                }

                if (reader.ValueIsEscaped && !Decodes(ref reader, out var error))
                {
                    var where = reader.TokenType == JsonTokenType.PropertyName ? "a member name"
                        : reader.CurrentDepth == 0 ? "the string" : $"\"{LogText.Client(Encoding.UTF8.GetString(member), 64)}\"";
                    return new Rejection(DeadLetterReasons.Malformed, $"{where} holds an unpaired UTF-16 surrogate escape (string at byte {reader.TokenStartIndex}): {error}");
                }

                if (reader.TokenType == JsonTokenType.PropertyName)
                {
                    member = reader.ValueSpan;
                }
            }
        }
        catch (JsonException ex)
        {
            return NotJson(ex);
        }

        return null;
    }

    /// <summary>Whether an escaped string decodes; the library's only signal for an unpaired surrogate escape is this exception.</summary>
    private static bool Decodes(ref Utf8JsonReader reader, out string? error)
    {
        try
        {
            _ = reader.GetString();
            error = null;
            return true;
        }
        catch (InvalidOperationException ex)
        {
            error = ex.Message;
            return false;
        }
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        var at = 0;
        while (at < bytes.Length && Rune.DecodeFromUtf8(bytes[at..], out _, out var consumed) == OperationStatus.Done)
        {
            at += consumed;
        }

        return at;
    }

    private static Rejection NotJson(JsonException ex) => new(DeadLetterReasons.Malformed, "not valid JSON: " + ex.Message);

    private static string Describe(TimeSpan window) => window.Ticks % TimeSpan.TicksPerDay == 0
        ? window.Days == 1 ? "1 day" : $"{window.Days} days"
        : window.ToString("c", CultureInfo.InvariantCulture);

    private static ReportedPosition Position(JsonElement p)
    {
        if (p.ValueKind != JsonValueKind.Object)
        {
            throw new FieldError("position", "must be an object {lon, lat, datum}");
        }

        var lon = RequiredDouble(p, "position.lon", "lon", -180, 180);
        var lat = RequiredDouble(p, "position.lat", "lat", -90, 90);
        if (!p.TryGetProperty("datum", out var d) || d.ValueKind != JsonValueKind.String)
        {
            throw new FieldError("position.datum", "required: WGS84, GCJ02 or BD09");
        }

        var name = d.GetString();
        var datum = GeoConvert.Parse(name) ?? throw new FieldError("position.datum", $"unknown datum '{LogText.Client(name, 32)}': WGS84, GCJ02 or BD09");
        return new ReportedPosition(lon, lat, datum);
    }

    private static string RequiredString(JsonElement root, string name, int max)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            throw new FieldError(name, "required");
        }

        if (e.ValueKind != JsonValueKind.String)
        {
            throw new FieldError(name, $"must be a string, got {e.ValueKind}");
        }

        var s = e.GetString()!;
        if (s.Length == 0 || s.Length > max || s.Any(char.IsControl))
        {
            throw new FieldError(name, $"must be 1-{max} printable characters");
        }

        return s;
    }

    private static int RequiredInt(JsonElement root, string name, int min, int max)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            throw new FieldError(name, "required");
        }

        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out var v))
        {
            throw new FieldError(name, "must be an integer");
        }

        return v < min || v > max ? throw new FieldError(name, $"must be in {min}-{max}, got {v}") : v;
    }

    private static double RequiredDouble(JsonElement root, string field, string name, double min, double max)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind != JsonValueKind.Number)
        {
            throw new FieldError(field, "required number");
        }

        var v = e.GetDouble(); // ±Infinity beyond the range of a double
        return !double.IsFinite(v) || v < min || v > max
            ? throw new FieldError(field, string.Create(CultureInfo.InvariantCulture, $"must be in [{min}, {max}], got {v}"))
            : v;
    }

    private sealed class FieldError(string field, string message) : Exception(message)
    {
        public string Field { get; } = field;
    }
}
