using System.Buffers;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Geography;

namespace SharpEyes.Gateway.Tests.Fuzz;

/// <summary>
/// The alarm parser called directly with generated valid and mutated payloads (<see cref="AlarmCases"/>): it never
/// throws, every rejection is one of the parser's own reasons with a detail that says what and where (an invalid
/// field's detail starts with the field's path), each mutation gets the answer it must, and every valid alarm is read
/// back exactly as generated, from one buffer or two.
/// </summary>
public sealed class AlarmParserFuzzTests
{
    private const ulong Seed = 20261122;
    private const int Cases = 20_000;

    private static readonly string[] Fields =
        ["eventId", "occurredAt", "priority", "method", "type", "description", "position", "position.lon", "position.lat", "position.datum"];

    private static readonly string[] MalformedDetails = ["not valid UTF-8: ", "not valid JSON: ", "payload must be a JSON object, got "];

    [Fact]
    public void Every_payload_is_parsed_or_rejected_with_its_specific_reason_and_valid_alarms_read_back_as_generated() =>
        Fuzzing.Check("alarm parser", AlarmCases.Any, Seed, Cases, Property, c => c.ToString(), c => c.Kind.Split(' ')[0]);

    /// <summary>Checks one case; returns its outcome (accepted, or the reason).</summary>
    internal static string Property(AlarmCase c)
    {
        var rejection = AlarmParser.TryParse(new ReadOnlySequence<byte>(c.Payload), AlarmCases.Now, AlarmCases.Window, out var alarm);
        var split = AlarmParser.TryParse(TwoSegments(c.Payload), AlarmCases.Now, AlarmCases.Window, out var splitAlarm);
        Assert.Equal(rejection, split);
        Assert.Equal(alarm, splitAlarm);
        if (rejection is null)
        {
            Assert.True(c.Expect.Accept, $"accepted, expected {string.Join(" or ", c.Expect.Reasons)} {c.Expect.Field}");
            if (c.Alarm is { } expected)
            {
                AssertReadBack(expected, alarm!);
            }

            return "accepted";
        }

        Assert.True(c.Expect.Reasons.Contains(rejection.Reason), $"rejected {rejection.Reason} ({rejection.Detail}), expected {(c.Expect.Accept ? "acceptance or " : "")}{string.Join(" or ", c.Expect.Reasons)}");
        AssertSpecific(rejection);
        if (c.Expect.Field is { } field && rejection.Reason == DeadLetterReasons.InvalidField)
        {
            Assert.StartsWith(field + ": ", rejection.Detail, StringComparison.Ordinal);
        }

        return rejection.Reason;
    }

    /// <summary>A rejection's detail names the field, or says how the payload is not JSON text.</summary>
    internal static void AssertSpecific(Rejection rejection)
    {
        switch (rejection.Reason)
        {
            case DeadLetterReasons.InvalidField:
                Assert.Contains(Fields, f => rejection.Detail.StartsWith(f + ": ", StringComparison.Ordinal) && rejection.Detail.Length > f.Length + 2);
                break;
            case DeadLetterReasons.Malformed:
                Assert.True(MalformedDetails.Any(d => rejection.Detail.StartsWith(d, StringComparison.Ordinal))
                    || rejection.Detail.Contains("unpaired UTF-16 surrogate escape", StringComparison.Ordinal), rejection.Detail);
                break;
            default:
                Assert.Fail($"the parser answered {rejection.Reason}, not one of its own reasons: {rejection.Detail}");
                break;
        }
    }

    private static void AssertReadBack(GeneratedAlarm expected, ParsedAlarm parsed)
    {
        Assert.Equal(expected.EventId, parsed.EventId);
        Assert.Equal(expected.OccurredAt, parsed.OccurredAt);
        Assert.Equal(expected.OccurredAt.Offset, parsed.OccurredAt.Offset);
        Assert.Equal((expected.Priority, expected.Method, expected.Type), (parsed.Priority, parsed.Method, parsed.Type));
        Assert.Equal(expected.Description, parsed.Description);
        if (expected.Position is var (lon, lat, datum))
        {
            Assert.NotNull(parsed.Position);
            Assert.Equal((lon, lat, GeoConvert.Parse(datum)), (parsed.Position.Lon, parsed.Position.Lat, (V1.Datum?)parsed.Position.Datum));
        }
        else
        {
            Assert.Null(parsed.Position);
        }
    }

    /// <summary>The payload in two segments, as the broker may hand over a large one.</summary>
    private static ReadOnlySequence<byte> TwoSegments(byte[] payload)
    {
        if (payload.Length < 2)
        {
            return new ReadOnlySequence<byte>(payload);
        }

        var first = new Segment(payload.AsMemory(0, payload.Length / 2), 0);
        var last = first.Append(payload.AsMemory(payload.Length / 2));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
