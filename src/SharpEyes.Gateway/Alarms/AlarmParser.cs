using System.Buffers;
using System.Globalization;
using System.Text.Json;
using SharpEyes.Gateway.Geography;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Alarms;

/// <summary>An alarm as published, before it is mapped onto the county.</summary>
public sealed record ParsedAlarm(string EventId, DateTimeOffset OccurredAt, int Priority, int Method, int Type, string Description, GeoPoint? Position);

/// <summary>Why a message was dead-lettered: a machine-readable reason and a human-readable detail.</summary>
public sealed record Rejection(string Reason, string Detail);

/// <summary>The dead-letter reasons, as they appear on the dead-letter topic and in the stats.</summary>
public static class DeadLetterReasons
{
    public const string Malformed = "malformed";
    public const string InvalidField = "invalid-field";
    public const string Oversized = "oversized";
    public const string UnknownDevice = "unknown-device";
    public const string ForeignDevice = "foreign-device";
    public const string InvalidTopic = "invalid-topic";
    public const string NotPermitted = "not-permitted";

    public static readonly IReadOnlyList<string> All = [Malformed, InvalidField, Oversized, UnknownDevice, ForeignDevice, InvalidTopic, NotPermitted];
}

/// <summary>
/// Parses the alarm JSON: <c>eventId</c> (1–128 chars), <c>occurredAt</c> (RFC 3339 with offset, at most a day ahead),
/// <c>priority</c> 1–4, <c>method</c> 1–7, <c>type</c> (1–12 for video analytics, 0–999 otherwise), optional
/// <c>description</c> (≤ 1024 chars) and <c>position</c> <c>{lon, lat, datum}</c>. Unknown members are ignored.
/// </summary>
public static class AlarmParser
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 8 };

    public static Rejection? TryParse(in ReadOnlySequence<byte> payload, DateTimeOffset now, out ParsedAlarm? alarm)
    {
        alarm = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload, Options);
        }
        catch (JsonException ex)
        {
            return new Rejection(DeadLetterReasons.Malformed, "not valid JSON: " + ex.Message);
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

                GeoPoint? position = null;
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

    private static GeoPoint Position(JsonElement p)
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

        var datum = GeoConvert.Parse(d.GetString()) ?? throw new FieldError("position.datum", $"unknown datum '{d.GetString()}': WGS84, GCJ02 or BD09");
        return new GeoPoint { Lon = lon, Lat = lat, Datum = datum };
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

        var v = e.GetDouble();
        return !double.IsFinite(v) || v < min || v > max ? throw new FieldError(field, $"must be in [{min}, {max}], got {v}") : v;
    }

    private sealed class FieldError(string field, string message) : Exception(message)
    {
        public string Field { get; } = field;
    }
}
