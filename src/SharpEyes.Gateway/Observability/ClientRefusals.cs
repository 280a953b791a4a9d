using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;

namespace SharpEyes.Gateway.Observability;

/// <summary>
/// Every time the gateway refuses a client because of a limit or a failed authentication, it counts it here by kind
/// (<c>sharpeyes_refusals_total{kind}</c> on /metrics) and logs it at most once per <see cref="LimitOptions.LogInterval"/>
/// per kind, with the number refused since the previous line. A flood of bad clients therefore costs a counter
/// increment each, not a log line each. Details passed in must already be safe to log (see <see cref="LogText"/>).
/// </summary>
public sealed partial class ClientRefusals(IOptions<GatewayOptions> options, TimeProvider time, ILogger<ClientRefusals> logger)
{
    private readonly ConcurrentDictionary<string, long[]> _totals = new(StringComparer.Ordinal);
    private readonly LogThrottle _throttle = new(time, options.Value.Limits.LogInterval);

    /// <summary>Counts one refusal of <paramref name="kind"/>; logs it unless a line for this kind was written within the interval.</summary>
    public void Count(string kind, string detail)
    {
        Interlocked.Increment(ref _totals.GetOrAdd(kind, static _ => new long[1])[0]);
        if (_throttle.Due(kind) is { } count)
        {
            LogRefused(logger, kind, count, detail);
        }
    }

    /// <summary>Refusals per kind since start.</summary>
    public IReadOnlyList<(string Kind, long Count)> Snapshot() =>
        [.. _totals.Select(p => (p.Key, Interlocked.Read(ref p.Value[0]))).OrderBy(p => p.Key, StringComparer.Ordinal)];

    public long this[string kind] => _totals.TryGetValue(kind, out var k) ? Interlocked.Read(ref k[0]) : 0;

    [LoggerMessage(EventId = 9001, Level = LogLevel.Warning, Message = "Refused {Kind} (x{Count} since the last such line): {Detail}")]
    private static partial void LogRefused(ILogger logger, string kind, long count, string detail);
}

/// <summary>
/// A gate for log lines that repeat: per key, at most one line per interval. Each occurrence is counted; the one that
/// may log learns how many occurred since the previous line.
/// </summary>
public sealed class LogThrottle(TimeProvider time, TimeSpan interval)
{
    private readonly ConcurrentDictionary<string, Gate> _gates = new(StringComparer.Ordinal);

    /// <summary>Counts one occurrence of <paramref name="key"/>; returns how many since the last line when a line is due now, else null.</summary>
    public long? Due(string key)
    {
        var gate = _gates.GetOrAdd(key, static _ => new Gate());
        var now = time.GetTimestamp();
        lock (gate)
        {
            gate.SinceLog++;
            if (gate.LastLog != 0 && time.GetElapsedTime(gate.LastLog, now) < interval)
            {
                return null;
            }

            var count = gate.SinceLog;
            gate.SinceLog = 0;
            gate.LastLog = now;
            return count;
        }
    }

    private sealed class Gate
    {
        public long SinceLog;
        public long LastLog;
    }
}

/// <summary>Client-supplied text made safe for a log line: control characters escaped, length capped.</summary>
public static class LogText
{
    public const int DefaultMax = 128;

    public static string Client(string? text, int max = DefaultMax)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }

        var builder = new StringBuilder(Math.Min(text.Length, max) + 24);
        var i = 0;
        for (; i < text.Length && builder.Length < max; i++)
        {
            var c = text[i];
            if (char.IsControl(c) || char.IsSurrogate(c) || c is '\u2028' or '\u2029')
            {
                builder.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        if (i < text.Length)
        {
            builder.Append("…(").Append(text.Length).Append(" chars)");
        }

        return builder.ToString();
    }
}
