using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;
using SharpEyes.CentreSink;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Tests.Delivery;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Tracing;

/// <summary>
/// One alarm followed from its MQTT publish to the centre's acknowledgement through the gateway's spans, recorded by
/// an in-process <see cref="ActivityListener"/> on a gateway (in process) pushing to the reference CentreSink.
/// </summary>
public sealed class TracingTests
{
    [Fact]
    public async Task One_alarm_is_followed_from_its_publish_through_commit_and_feed_to_the_centres_acknowledgement()
    {
        using var spans = new SpanRecorder();
        await using var sink = await CentreSinkServer.StartAsync(new CentreSinkOptions
        {
            DatabasePath = Path.Combine(GatewayHost.NewDataDir(), "centre.db"),
            ConfigureLogging = l => l.ClearProviders(),
        });
        await using var host = await GatewayHost.StartAsync(extraArgs: ["--centre-url", sink.Address.ToString(), "--SharpEyes:Outbox:SourceId=trace-test"]);
        var eventId = "traced-" + Guid.NewGuid().ToString("N")[..8];
        await OutboxTests.PublishAlarmsAsync(host, 1, eventId); // registers the alarm device (a gRPC call), publishes "{eventId}-0"
        eventId += "-0";

        // The receive span is the alarm's root, found by its event id.
        var receive = await spans.WaitForAsync(s => s.OperationName == GatewayTracing.MqttReceive && Tag(s, GatewayTracing.EventIdTag) == eventId, "the MQTT receive span");
        var trace = receive.TraceId;
        Assert.Null(receive.Parent);
        Assert.Equal(ActivityKind.Consumer, receive.Kind);
        Assert.Equal("vendor-outbox", Tag(receive, GatewayTracing.VendorIdTag));
        Assert.Equal(TestDevices.AlarmId(1), Tag(receive, GatewayTracing.DeviceIdTag));
        Assert.Equal("accepted", Tag(receive, GatewayTracing.OutcomeTag));
        var incidentId = Tag(receive, GatewayTracing.IncidentIdTag);
        Assert.False(string.IsNullOrEmpty(incidentId));

        var check = spans.Single(s => s.OperationName == GatewayTracing.AlarmCheck && s.ParentSpanId == receive.SpanId);
        Assert.Equal(eventId, Tag(check, GatewayTracing.EventIdTag));

        // The group commit that held it, in the alarm's trace, with the feed sequence its incident event got.
        var commit = spans.Single(s => s.OperationName == GatewayTracing.JournalCommit && s.ParentSpanId == receive.SpanId);
        Assert.Equal(trace, commit.TraceId);
        var sequence = long.Parse(Tag(commit, GatewayTracing.FeedSequenceTag)!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(sequence > 0);
        Assert.True(int.Parse(Tag(commit, GatewayTracing.BatchSizeTag)!, System.Globalization.CultureInfo.InvariantCulture) >= 1);
        var correlate = spans.Single(s => s.OperationName == GatewayTracing.IncidentCorrelate && s.ParentSpanId == commit.SpanId);
        Assert.Equal(incidentId, Tag(correlate, GatewayTracing.IncidentIdTag));
        Assert.True(receive.StartTimeUtc <= commit.StartTimeUtc && commit.StartTimeUtc + commit.Duration <= receive.StartTimeUtc + receive.Duration,
            "the receive span lasts until the alarm is durable");

        // The centre holds it: the delivery attempt that carried the sequence links to the commit, and the
        // acknowledgement appears in the alarm's own trace.
        await OutboxTests.WaitAsync(host, () => sink.Store.Held("trace-test") >= sequence, "the centre to hold the alarm's feed event");
        var ack = await spans.WaitForAsync(s => s.OperationName == GatewayTracing.OutboxAcknowledged && s.ParentSpanId == commit.SpanId, "the acknowledgement span in the alarm's trace");
        Assert.Equal(trace, ack.TraceId);
        Assert.Equal(sequence.ToString(System.Globalization.CultureInfo.InvariantCulture), Tag(ack, GatewayTracing.FeedSequenceTag));
        Assert.Equal("centre", Tag(ack, GatewayTracing.EndpointTag));
        var deliver = spans.Single(s => s.OperationName == GatewayTracing.OutboxDeliver && s.SpanId == Assert.Single(ack.Links).Context.SpanId);
        Assert.Contains(deliver.Links, l => l.Context.SpanId == commit.SpanId && l.Context.TraceId == trace);
        Assert.Equal(ActivityKind.Client, deliver.Kind);
        Assert.Equal("acknowledged", Tag(deliver, GatewayTracing.OutcomeTag));
        var after = long.Parse(Tag(deliver, GatewayTracing.AfterTag)!, System.Globalization.CultureInfo.InvariantCulture);
        var through = long.Parse(Tag(deliver, GatewayTracing.ThroughTag)!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(sequence, after + 1, through);
        Assert.True(long.Parse(Tag(deliver, GatewayTracing.AckedTag)!, System.Globalization.CultureInfo.InvariantCulture) >= sequence);

        // Across the wire: the centre's own request span (ASP.NET Core, in this process) continues the delivery's trace.
        // (Its parent is the HTTP client's span under the attempt, which this listener does not record.)
        var centre = await spans.WaitForAsync(s => s.Source.Name == "Microsoft.AspNetCore" && s.TraceId == deliver.TraceId,
            "the centre's request span, in the delivery attempt's trace (traceparent)");
        Assert.Equal(ActivityKind.Server, centre.Kind);
        Assert.Contains("CentreSink/Deliver", TagText(centre), StringComparison.Ordinal);

        // The gRPC side: RegisterDevice made a server span of its own.
        await spans.WaitForAsync(s => s.Source.Name == "Microsoft.AspNetCore" && s.Kind == ActivityKind.Server
            && TagText(s).Contains("DeviceRegistry/RegisterDevice", StringComparison.Ordinal), "a server span for DeviceRegistry/RegisterDevice");
    }

    [Fact]
    public async Task Alarms_carried_by_one_incident_event_each_trace_to_that_event_and_to_the_centres_acknowledgement()
    {
        using var spans = new SpanRecorder();
        await using var sink = await CentreSinkServer.StartAsync(new CentreSinkOptions
        {
            DatabasePath = Path.Combine(GatewayHost.NewDataDir(), "centre.db"),
            ConfigureLogging = l => l.ClearProviders(),
        });
        await using var host = await GatewayHost.StartAsync(extraArgs: ["--centre-url", sink.Address.ToString(), "--SharpEyes:Outbox:SourceId=trace-group"]);
        var vendorKey = await host.CreateKeyAsync(Role.Vendor, "vendor-group");
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), host.Auth(vendorKey));
        using var client = await AlarmPublisher.ConnectAsync(host.MqttPort, "vendor-group", vendorKey, "group-client");

        // A first alarm opens the incident and brings the device online (events of their own); then three alarms of the
        // device queue behind the held writer and commit together: one INCIDENT_UPDATED carries them.
        var acked = new ConcurrentDictionary<string, bool>();
        await AlarmPublisher.PublishAsync(client, [TestDevices.AlarmId(1)], ["grouped-first"], acked);
        Assert.Single(acked);
        acked.Clear();
        var ids = Enumerable.Range(0, 3).Select(i => $"grouped-{i}").ToList();
        Task<int> publishing;
        using (var held = await HeldJournal.HoldAsync(host))
        {
            publishing = AlarmPublisher.PublishAsync(client, [TestDevices.AlarmId(1)], ids, acked);
            await held.QueuedAsync(ids.Count, "the three alarms queued behind the held writer");
            await held.ReleaseAsync();
        }

        await publishing;
        Assert.Equal(ids.Count, acked.Count);
        var commits = new List<Activity>();
        foreach (var id in ids)
        {
            var receive = await spans.WaitForAsync(s => s.OperationName == GatewayTracing.MqttReceive && Tag(s, GatewayTracing.EventIdTag) == id, $"the receive span of {id}");
            commits.Add(spans.Single(s => s.OperationName == GatewayTracing.JournalCommit && s.ParentSpanId == receive.SpanId));
        }

        // Every alarm's commit span names the one event that carries it.
        var sequence = Assert.Single(commits.Select(c => Tag(c, GatewayTracing.FeedSequenceTag)).Distinct());
        Assert.All(commits, c => Assert.Equal("1", Tag(c, GatewayTracing.FeedEventsTag)));
        var number = long.Parse(sequence!, System.Globalization.CultureInfo.InvariantCulture);

        // The centre's acknowledgement of that event appears in each alarm's own trace, and the attempt links to each.
        await OutboxTests.WaitAsync(host, () => sink.Store.Held("trace-group") >= number, "the centre to hold the event");
        foreach (var commit in commits)
        {
            var ack = await spans.WaitForAsync(s => s.OperationName == GatewayTracing.OutboxAcknowledged && s.ParentSpanId == commit.SpanId, "an acknowledgement span in each alarm's trace");
            Assert.Equal((commit.TraceId, sequence), (ack.TraceId, Tag(ack, GatewayTracing.FeedSequenceTag)));
            var deliver = spans.Single(s => s.OperationName == GatewayTracing.OutboxDeliver && s.SpanId == Assert.Single(ack.Links).Context.SpanId);
            Assert.Contains(deliver.Links, l => l.Context.SpanId == commit.SpanId);
        }
    }

    [Fact]
    public async Task No_tag_carries_a_key_or_an_RTSP_password()
    {
        using var spans = new SpanRecorder();
        await using var host = await GatewayHost.StartAsync();
        var vendorKey = await host.CreateKeyAsync(Role.Vendor, "vendor-secrets");
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(TestDevices.Camera(7), host.Auth(vendorKey)); // rtsp://admin:s3cr3t-pw@...
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(TestDevices.Alarm(7), host.Auth(vendorKey));
        using var client = await AlarmPublisher.ConnectAsync(host.MqttPort, "vendor-secrets", vendorKey, "secrets-client");
        var acked = new ConcurrentDictionary<string, bool>();
        await AlarmPublisher.PublishAsync(client, [TestDevices.AlarmId(7)], ["secret-check-1"], acked);
        Assert.Single(acked);

        var receive = await spans.WaitForAsync(s => s.OperationName == GatewayTracing.MqttReceive && Tag(s, GatewayTracing.EventIdTag) == "secret-check-1", "the alarm's spans");
        var ours = spans.Where(s => s.TraceId == receive.TraceId || TagText(s).Contains("RegisterDevice", StringComparison.Ordinal)).ToList();
        Assert.True(ours.Count >= 4, $"{ours.Count} spans recorded");
        var secret = vendorKey[(vendorKey.IndexOf('_', 3) + 1)..]; // the secret part of se_<id>_<secret>, or more
        foreach (var span in ours)
        {
            foreach (var (_, value) in span.EnumerateTagObjects())
            {
                var text = value?.ToString() ?? "";
                Assert.DoesNotContain(vendorKey, text, StringComparison.Ordinal);
                Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
                Assert.DoesNotContain("s3cr3t-pw", text, StringComparison.Ordinal);
                Assert.DoesNotContain("rtsp://", text, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Without_an_endpoint_nothing_of_OpenTelemetry_is_registered()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        Assert.Null(host.Services.GetService<TracerProvider>());
        Assert.Null(host.Services.GetService<OpenTelemetry.Metrics.MeterProvider>());
        Assert.Null(host.Services.GetService<GatewayMeter>()); // no sharpeyes_* instruments, so nothing to collect or send
    }

    /// <summary>
    /// With an endpoint, spans leave the gateway: a stand-in OTLP/HTTP receiver on 127.0.0.1 (Kestrel, counting what is
    /// POSTed to /v1/traces) gets protobuf export requests naming the service and the span of a gRPC call it made, and
    /// never a key.
    /// </summary>
    [Fact]
    public async Task With_an_endpoint_spans_are_exported_over_otlp_http()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var bodies = receiver.Traces;
        var address = receiver.Address;

        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: ["--otlp-endpoint", address]);
        var key = await host.CreateKeyAsync(Role.Vendor, "otlp-vendor");
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(TestDevices.Camera(1), host.Auth(key));

        // The batch processor exports every 5 s of real time.
        var export = await Eventually.WaitAsync(() => Task.FromResult(bodies.FirstOrDefault(b => b.Contains("RegisterDevice"))),
            "a trace export holding the RegisterDevice span", TimeSpan.FromSeconds(30));

        Assert.Equal("application/x-protobuf", export.ContentType);
        Assert.True(export.Contains(GatewayTelemetry.ServiceName), "the export names the service");
        Assert.DoesNotContain(bodies, b => b.Contains(key.Split('_', 3)[2]));
    }

    [Fact]
    public async Task A_bad_endpoint_is_refused_at_start_with_the_setting_named()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(demo: false, extraArgs: ["--otlp-endpoint", "collector:4318"]));
        Assert.Contains("Telemetry: OtlpEndpoint must be an absolute http:// or https:// URL", error.ToString(), StringComparison.Ordinal);
    }

    private static string? Tag(Activity span, string name) => span.GetTagItem(name)?.ToString();

    /// <summary>Every tag as name=value (ASP.NET Core's request span names its route in a tag).</summary>
    private static string TagText(Activity span) => string.Join(",", span.TagObjects.Select(t => t.Key + "=" + t.Value));

    /// <summary>Every stopped span of the gateway's source and of ASP.NET Core in this process (other tests' too: filter by ids).</summary>
    internal sealed class SpanRecorder : IDisposable
    {
        private readonly ConcurrentQueue<Activity> _stopped = new();
        private readonly ActivityListener _listener;

        public SpanRecorder()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = s => s.Name is GatewayTracing.SourceName or "Microsoft.AspNetCore",
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = _stopped.Enqueue,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public Activity Single(Func<Activity, bool> match) => Assert.Single(_stopped, s => match(s));

        public IEnumerable<Activity> Where(Func<Activity, bool> match) => _stopped.Where(match);

        public async Task<Activity> WaitForAsync(Func<Activity, bool> match, string what)
        {
            Activity? found = null;
            await Eventually.TrueAsync(() => (found = _stopped.FirstOrDefault(match)) is not null, what, TimeSpan.FromSeconds(30));
            return found!;
        }

        public void Dispose() => _listener.Dispose();
    }
}
