using System.Diagnostics.Metrics;
using Prometheus;

namespace SharpEyes.Gateway.Observability;

/// <summary>
/// The gateway's own metrics (every <c>sharpeyes_*</c> family of <see cref="GatewayMetrics"/>, the ones /metrics shows)
/// as <see cref="System.Diagnostics.Metrics"/> instruments, for OpenTelemetry's OTLP exporter. Created only when an
/// OTLP endpoint is configured (<see cref="GatewayTelemetry"/>). The instruments are observable: each reads the value
/// prometheus-net holds when the exporter collects, so the numbers are the same as /metrics and nothing is recorded on
/// the intake's path. Names and help texts are the Prometheus ones; labels become attributes of the same names.
/// </summary>
public sealed class GatewayMeter : IDisposable
{
    /// <summary>The meter's name (the OTLP instrumentation scope).</summary>
    public const string Name = "SharpEyes.Gateway";

    /// <summary>
    /// One collection reads every instrument in turn; the gateway's state is brought up to date once for all of them,
    /// not once per instrument (the device and KPI gauges walk every device). Shorter than the smallest export interval.
    /// </summary>
    internal static readonly TimeSpan RefreshReuse = TimeSpan.FromMilliseconds(500);

    private readonly Meter _meter;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _clock = TimeProvider.System; // collection timing, not domain time: real elapsed time even under a test's fake clock
    private readonly Lock _lock = new();
    private long _refreshedAt = long.MinValue;

    public GatewayMeter(GatewayMetrics metrics, IMeterFactory meters)
    {
        _metrics = metrics;
        _meter = meters.Create(Name, typeof(GatewayMeter).Assembly.GetName().Version?.ToString());
        foreach (var family in metrics.Families)
        {
            switch (family)
            {
                case Counter counter:
                    _meter.CreateObservableCounter(counter.Name, () => Observe(counter, labels => (long)(labels is null ? counter.Value : counter.WithLabels(labels).Value)),
                        description: counter.Help);
                    break;
                case Gauge gauge:
                    _meter.CreateObservableGauge(gauge.Name, () => Observe(gauge, labels => labels is null ? gauge.Value : gauge.WithLabels(labels).Value), description: gauge.Help);
                    break;
                default:
                    throw new InvalidOperationException($"{family.Name}: only counters and gauges are exported over OTLP");
            }
        }
    }

    /// <summary>Every series of one family: its value (<paramref name="value"/> of its label values, null without labels) and its labels as attributes.</summary>
    private IEnumerable<Measurement<T>> Observe<TChild, T>(Collector<TChild> family, Func<string[]?, T> value)
        where TChild : ChildBase
        where T : struct
    {
        EnsureFresh();
        if (family.LabelNames.Length == 0)
        {
            return [new Measurement<T>(value(null))];
        }

        var names = family.LabelNames;
        return family.GetAllLabelValues().Select(labels =>
        {
            var tags = new KeyValuePair<string, object?>[names.Length];
            for (var i = 0; i < names.Length; i++)
            {
                tags[i] = new(names[i], labels[i]);
            }

            return new Measurement<T>(value(labels), tags);
        }).ToList();
    }

    private void EnsureFresh()
    {
        lock (_lock)
        {
            if (_refreshedAt != long.MinValue && _clock.GetElapsedTime(_refreshedAt) < RefreshReuse)
            {
                return;
            }

            _metrics.Refresh();
            _refreshedAt = _clock.GetTimestamp();
        }
    }

    public void Dispose() => _meter.Dispose();
}
