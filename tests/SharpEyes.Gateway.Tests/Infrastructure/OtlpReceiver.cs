using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// A stand-in OTLP/HTTP receiver on 127.0.0.1 (Kestrel): keeps every body POSTed to /v1/traces and /v1/metrics, by
/// signal, and answers 200 as a collector does.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<ExportRequest> Traces { get; } = new();

    public ConcurrentQueue<ExportRequest> Metrics { get; } = new();

    /// <summary>The base URL to give the gateway (--otlp-endpoint).</summary>
    public string Address => _app.Urls.Single();

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var receiver = new OtlpReceiver(builder.Build());
        receiver._app.MapPost("/v1/{signal}", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            var request = new ExportRequest(context.Request.ContentType ?? "", buffer.ToArray());
            switch (context.Request.RouteValues["signal"] as string)
            {
                case "traces":
                    receiver.Traces.Enqueue(request);
                    break;
                case "metrics":
                    receiver.Metrics.Enqueue(request);
                    break;
            }

            return Results.Ok();
        });
        await receiver._app.StartAsync(TestContext.Current.CancellationToken);
        return receiver;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    public sealed record ExportRequest(string ContentType, byte[] Body)
    {
        public bool Contains(string text) => Body.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(text)) >= 0;
    }
}

/// <summary>
/// One number of an OTLP metrics export: the metric's name, the data point's value and attributes, and for sums the
/// temporality (1 delta, 2 cumulative) and whether it is monotonic.
/// </summary>
public sealed record OtlpPoint(string Metric, string Kind, double Value, IReadOnlyDictionary<string, string> Attributes, int Temporality, bool Monotonic)
{
    /// <summary>
    /// Every number data point of an ExportMetricsServiceRequest (opentelemetry-proto, metrics/v1). Read with
    /// Google.Protobuf's wire reader over the field numbers of the few messages involved: no .NET package ships the
    /// OTLP message classes, and the exporter's own serializer is internal.
    /// </summary>
    public static List<OtlpPoint> Parse(byte[] body)
    {
        var points = new List<OtlpPoint>();
        foreach (var resource in Fields(body, 1)) // ExportMetricsServiceRequest.resource_metrics
        {
            foreach (var scope in Fields(resource, 2)) // ResourceMetrics.scope_metrics
            {
                foreach (var metric in Fields(scope, 2)) // ScopeMetrics.metrics
                {
                    var name = Fields(metric, 1).Select(b => System.Text.Encoding.UTF8.GetString(b)).Single();
                    foreach (var (field, kind) in new[] { (5, "gauge"), (7, "sum") }) // Metric.gauge, Metric.sum
                    {
                        foreach (var data in Fields(metric, field))
                        {
                            var temporality = (int)Varints(data, 2).FirstOrDefault(); // Sum.aggregation_temporality
                            var monotonic = Varints(data, 3).FirstOrDefault() != 0; // Sum.is_monotonic
                            points.AddRange(Fields(data, 1).Select(p => new OtlpPoint(name, kind, ReadValue(p), ReadAttributes(p), temporality, monotonic)));
                        }
                    }
                }
            }
        }

        return points;
    }

    /// <summary>NumberDataPoint: as_double (4, fixed 64-bit double) or as_int (6, sfixed64).</summary>
    private static double ReadValue(byte[] point)
    {
        var input = new CodedInputStream(point);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (tag)
            {
                case (4 << 3) | 1:
                    return input.ReadDouble();
                case (6 << 3) | 1:
                    return input.ReadSFixed64();
                default:
                    input.SkipLastField();
                    break;
            }
        }

        throw new InvalidDataException("a number data point without a value");
    }

    /// <summary>NumberDataPoint.attributes (7): KeyValue { key = 1; AnyValue value = 2 { string_value = 1 } }.</summary>
    private static Dictionary<string, string> ReadAttributes(byte[] point) =>
        Fields(point, 7).ToDictionary(
            kv => System.Text.Encoding.UTF8.GetString(Fields(kv, 1).Single()),
            kv => Fields(kv, 2).SelectMany(v => Fields(v, 1)).Select(b => System.Text.Encoding.UTF8.GetString(b)).SingleOrDefault() ?? "");

    private static List<byte[]> Fields(byte[] message, int number)
    {
        var found = new List<byte[]>();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (tag == (uint)((number << 3) | 2))
            {
                found.Add(input.ReadBytes().ToByteArray());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return found;
    }

    private static List<ulong> Varints(byte[] message, int number)
    {
        var found = new List<ulong>();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (tag == (uint)(number << 3))
            {
                found.Add(input.ReadUInt64());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return found;
    }
}
