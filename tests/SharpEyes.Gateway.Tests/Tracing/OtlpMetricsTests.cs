using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Tests.Delivery;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Tracing;

/// <summary>
/// The sharpeyes_* metrics over OpenTelemetry: with an OTLP endpoint, a stand-in OTLP/HTTP receiver on 127.0.0.1 gets
/// metrics exports holding the same numbers as /metrics, labels as attributes, and no key; without one, nothing.
/// </summary>
public sealed class OtlpMetricsTests
{
    [Fact]
    public async Task With_an_endpoint_the_sharpeyes_metrics_are_exported_with_the_values_metrics_shows()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var host = await GatewayHost.StartAsync(demo: false,
            extraArgs: ["--otlp-endpoint", receiver.Address, "--SharpEyes:Telemetry:MetricsInterval=00:00:01"]);
        await OutboxTests.PublishAlarmsAsync(host, 3, "otlp-metrics"); // a vendor key, a registered alarm device, three alarms acknowledged
        var key = await host.CreateKeyAsync(Role.Vendor, "otlp-metrics-vendor");
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(TestDevices.Camera(3), host.Auth(key)); // rtsp://admin:s3cr3t-pw@...

        var scraped = await MetricsScrape.ReadAsync(host.HttpPort);
        Assert.Equal(3, scraped["sharpeyes_alarms_received_total"]);
        var cameras = scraped.Where(m => m.Key.StartsWith("sharpeyes_devices{", StringComparison.Ordinal) && m.Key.Contains("kind=\"camera\"", StringComparison.Ordinal))
            .Sum(m => m.Value);
        Assert.Equal(1, cameras);

        // Exports every second: the first one collected after the alarms and the camera carries what /metrics showed.
        // (Waiting for the camera too: a cold CI run once matched an export with 5 of the 6 device series, cause not found.)
        var points = await Eventually.WaitAsync(() => Task.FromResult(receiver.Metrics.Select(r => OtlpPoint.Parse(r.Body))
                .FirstOrDefault(p => p.Any(x => x.Metric == "sharpeyes_alarms_received_total" && x.Value == 3)
                    && p.Count(x => x.Metric == "sharpeyes_devices") == 6
                    && p.Where(x => x.Metric == "sharpeyes_devices" && x.Attributes["kind"] == "camera").Sum(x => x.Value) == 1)),
            "a metrics export with sharpeyes_alarms_received_total = 3 and the camera among 6 device series", TimeSpan.FromSeconds(30));

        var received = Assert.Single(points, p => p.Metric == "sharpeyes_alarms_received_total");
        Assert.Equal(("sum", 2, true), (received.Kind, received.Temporality, received.Monotonic)); // a cumulative, monotonic sum, as Prometheus counts
        Assert.Equal(scraped["sharpeyes_alarms_accepted_total"], Assert.Single(points, p => p.Metric == "sharpeyes_alarms_accepted_total").Value);
        Assert.Equal(scraped["sharpeyes_feed_last_sequence"], Assert.Single(points, p => p.Metric == "sharpeyes_feed_last_sequence").Value);

        // Labels become attributes of the same names.
        var online = points.Where(p => p.Metric == "sharpeyes_devices").ToList();
        Assert.Equal(6, online.Count); // kind x status, as on /metrics
        Assert.Equal(1, online.Where(p => p.Attributes["kind"] == "camera").Sum(p => p.Value));
        Assert.Equal("gauge", online[0].Kind);
        foreach (var point in online)
        {
            var series = string.Create(CultureInfo.InvariantCulture, $"sharpeyes_devices{{kind=\"{point.Attributes["kind"]}\",status=\"{point.Attributes["status"]}\"}}");
            Assert.Equal(scraped[series], point.Value);
        }

        // Every family /metrics shows is exported, the TLS ones (added by GatewayTls) included.
        var families = (await MetricsScrape.TextAsync(host.HttpPort)).Split('\n')
            .Where(l => l.StartsWith("# TYPE sharpeyes_", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).ToHashSet();
        var exported = host.Services.GetRequiredService<GatewayMetrics>().Families.Select(f => f.Name).ToHashSet();
        Assert.Contains("sharpeyes_tls_reloads_total", exported);
        Assert.Superset(families, exported);

        // No key, no secret, no RTSP password in any export.
        foreach (var body in receiver.Metrics)
        {
            Assert.False(body.Contains(key.Split('_', 3)[2]), "an export holds a key's secret");
            Assert.False(body.Contains("s3cr3t-pw"), "an export holds an RTSP password");
            Assert.False(body.Contains("rtsp://"), "an export holds a stream URL");
        }

        // Only the gateway's own paths: the intake records nothing (observable instruments), so the export is all it costs.
        Assert.Equal("application/x-protobuf", receiver.Metrics.First().ContentType);
    }

    [Fact]
    public async Task Without_an_endpoint_no_instrument_exists_and_metrics_still_answers()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: ["--SharpEyes:Telemetry:MetricsInterval=00:00:01"]);
        await OutboxTests.PublishAlarmsAsync(host, 1, "no-otlp");
        Assert.Equal(1, (await MetricsScrape.ReadAsync(host.HttpPort))["sharpeyes_alarms_received_total"]);
        Assert.Null(host.Services.GetService<GatewayMeter>());
        Assert.Null(host.Services.GetService<OpenTelemetry.Metrics.MeterProvider>()); // no reader, no exporter, no connection

        // No instrument of this gateway's meter was ever published (a listener started now is told of every live one).
        var factory = host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var published = new List<string>();
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == GatewayMeter.Name && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    published.Add(instrument.Name);
                }
            },
        };
        listener.Start();
        Assert.Empty(published);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("02:00:00")]
    public async Task A_metrics_interval_out_of_range_is_refused_at_start_with_the_setting_named(string interval)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(demo: false,
            extraArgs: ["--otlp-endpoint", "http://127.0.0.1:4318", $"--SharpEyes:Telemetry:MetricsInterval={interval}"]));
        Assert.Contains("MetricsInterval", error.ToString(), StringComparison.Ordinal);
    }
}
