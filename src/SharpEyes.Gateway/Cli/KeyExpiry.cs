using System.Globalization;
using System.Text.RegularExpressions;
using Google.Protobuf.WellKnownTypes;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Cli;

/// <summary>
/// The CLI's <c>--expires</c>: a UTC time (<c>2027-06-30T00:00Z</c>, <c>2027-06-30</c>), a lifetime from now in whole
/// days, hours or minutes (<c>90d</c>, <c>12h</c>, <c>30m</c>), or <c>never</c> (set-expiry only). The gateway checks
/// that the result is in the future by its own clock.
/// </summary>
internal abstract partial record KeyExpiry
{
    internal sealed record At(Timestamp Time) : KeyExpiry;

    internal sealed record In(Duration Duration) : KeyExpiry;

    internal sealed record Never : KeyExpiry;

    [GeneratedRegex("^([1-9][0-9]{0,5})([dhm])$")]
    private static partial Regex Lifetime();

    /// <summary>The expiry <paramref name="text"/> names, or null when it is none of the forms.</summary>
    public static KeyExpiry? Parse(string text)
    {
        if (text == "never")
        {
            return new Never();
        }

        if (Lifetime().Match(text) is { Success: true } m)
        {
            var count = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            var span = m.Groups[2].Value switch
            {
                "d" => TimeSpan.FromDays(count),
                "h" => TimeSpan.FromHours(count),
                _ => TimeSpan.FromMinutes(count),
            };
            return new In(Duration.FromTimeSpan(span));
        }

        // A time must say it is UTC (Z or +00:00) or be a bare date: a local time would depend on the operator's machine.
        var utc = text.EndsWith('Z') || text.EndsWith("+00:00", StringComparison.Ordinal) || !text.Contains('T', StringComparison.Ordinal);
        return utc && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
            ? new At(Timestamp.FromDateTimeOffset(at))
            : null;
    }

    /// <summary>Sets the request's expiry from <paramref name="text"/> through the setter of its form; false when it names none (or never, and <paramref name="never"/> is null).</summary>
    public static bool Apply(string text, Action<Timestamp> at, Action<Duration> lifetime, Action? never)
    {
        switch (Parse(text))
        {
            case At a:
                at(a.Time);
                return true;
            case In i:
                lifetime(i.Duration);
                return true;
            case Never when never is not null:
                never();
                return true;
            default:
                return false;
        }
    }

    public static string Problem(string text, bool allowNever) =>
        $"--expires: '{text}' is neither a UTC time (2027-06-30T00:00Z) nor a lifetime (90d, 12h, 30m){(allowNever ? " nor never" : "")}";

    /// <summary>", expires at 2027-06-30 00:00:00Z" / ", expired at ..." / ", never expires" for a key's listing.</summary>
    public static string Describe(ApiKeyInfo info) =>
        info.ExpiresAt is null ? ", never expires"
        : $", {(info.Expired ? "expired" : "expires")} at {info.ExpiresAt.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture)}";
}
