using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using SharpEyes.Gateway.Configuration;

namespace SharpEyes.Gateway.Observability;

/// <summary>
/// OpenTelemetry, registered only when <see cref="TelemetryOptions.OtlpEndpoint"/> is set: traces of the gateway's own
/// source (<see cref="GatewayTracing"/>) and of ASP.NET Core (every gRPC and JSON API request), the gateway's own
/// metrics (<see cref="GatewayMeter"/>) and ASP.NET Core's, Kestrel's and the runtime's meters, all sent over OTLP/HTTP
/// protobuf, metrics every <see cref="TelemetryOptions.MetricsInterval"/>. Without an endpoint nothing is registered:
/// no listener, so no span is created, and no connection is ever made.
/// </summary>
public static class GatewayTelemetry
{
    public const string ServiceName = "sharpeyes-gateway";

    /// <summary>
    /// Meters sent over OTLP: the gateway's own (<see cref="GatewayMeter"/>, the sharpeyes_* metrics /metrics shows) and
    /// ASP.NET Core's, Kestrel's and the runtime's.
    /// </summary>
    public static readonly string[] Meters = [GatewayMeter.Name, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Runtime"];

    public static WebApplicationBuilder AddSharpEyesTelemetry(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        if (Endpoint(options.Telemetry) is not { } endpoint)
        {
            return builder; // none configured (or not a URL: GatewayOptionsValidator refuses to start and says why)
        }

        var telemetry = options.Telemetry;
        var version = typeof(GatewayTelemetry).Assembly.GetName().Version?.ToString();
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName, serviceVersion: version, autoGenerateServiceInstanceId: false,
                serviceInstanceId: InstanceId(options)))
            .WithTracing(tracing => tracing
                .AddSource(GatewayTracing.SourceName)
                .AddAspNetCoreInstrumentation(o => o.Filter = http =>
                    !http.Request.Path.StartsWithSegments("/metrics") && !http.Request.Path.StartsWithSegments("/healthz")) // scrapes and probes: noise
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(telemetry.SamplingRatio)))
                .AddOtlpExporter(o =>
                {
                    o.Protocol = OtlpExportProtocol.HttpProtobuf;
                    o.Endpoint = new Uri(endpoint, "v1/traces");
                }))
            .WithMetrics(metrics => metrics
                .AddMeter(Meters)
                .AddInstrumentation(services => services.GetRequiredService<GatewayMeter>()) // created with the provider, disposed with it
                .AddOtlpExporter((o, reader) =>
                {
                    o.Protocol = OtlpExportProtocol.HttpProtobuf;
                    o.Endpoint = new Uri(endpoint, "v1/metrics");
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)telemetry.MetricsInterval.TotalMilliseconds;
                    reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative; // as /metrics: totals since start
                }));
        builder.Services.AddSingleton<GatewayMeter>();
        return builder;
    }

    /// <summary>The OTLP base URL with a trailing slash; null when none is set or it is not an absolute http(s) URL.</summary>
    public static Uri? Endpoint(TelemetryOptions telemetry) =>
        telemetry.OtlpEndpoint.Length > 0
        && Uri.TryCreate(telemetry.OtlpEndpoint.TrimEnd('/') + "/", UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : null;

    /// <summary><see cref="TelemetryOptions.InstanceId"/>, else host name and data directory: distinct for every replica and every gateway on one host.</summary>
    public static string InstanceId(GatewayOptions options) =>
        options.Telemetry.InstanceId.Length > 0 ? options.Telemetry.InstanceId : $"{Environment.MachineName}:{Path.GetFullPath(options.DataDir)}";
}
