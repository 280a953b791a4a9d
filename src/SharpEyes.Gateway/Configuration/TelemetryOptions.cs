using System.ComponentModel.DataAnnotations;

namespace SharpEyes.Gateway.Configuration;

/// <summary>
/// The "SharpEyes:Telemetry" section: OpenTelemetry traces (one alarm from its MQTT publish to the centre's
/// acknowledgement) and metrics (the same <c>sharpeyes_*</c> metrics as <c>/metrics</c>) sent over OTLP. Off unless
/// <see cref="OtlpEndpoint"/> is set: then nothing listens to the gateway's spans or meters and the gateway opens no
/// connection for telemetry. The Prometheus <c>/metrics</c> page is separate and always served.
/// </summary>
public sealed class TelemetryOptions
{
    /// <summary>
    /// Base URL of an OTLP/HTTP receiver (an OpenTelemetry Collector, Jaeger or Tempo), such as
    /// <c>http://127.0.0.1:4318</c>: traces are POSTed to <c>{url}/v1/traces</c> and metrics to <c>{url}/v1/metrics</c>
    /// as protobuf. Empty (the default): no traces are recorded or sent.
    /// </summary>
    public string OtlpEndpoint { get; set; } = "";

    /// <summary>
    /// Share of traces recorded when <see cref="OtlpEndpoint"/> is set, from 0 (none) to 1 (every alarm). A trace that
    /// arrives with a sampled parent (a gRPC call carrying <c>traceparent</c>) follows its parent's decision.
    /// </summary>
    [Range(0.0, 1.0)] public double SamplingRatio { get; set; } = 1.0;

    /// <summary>
    /// <c>service.instance.id</c> of this gateway's spans, to tell replicas apart. Empty: the host name and the full path
    /// of the data directory (<c>host:/var/lib/sharpeyes</c>).
    /// </summary>
    public string InstanceId { get; set; } = "";

    /// <summary>
    /// How often metrics are sent over OTLP when <see cref="OtlpEndpoint"/> is set, from 1 second to 1 hour. Each export
    /// carries every metric's value at that moment, cumulative since the gateway started (as <c>/metrics</c> shows it),
    /// so a lost export loses no count.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")] public TimeSpan MetricsInterval { get; set; } = TimeSpan.FromSeconds(60);
}
