using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SharpEyes.CentreSink;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Outbox;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Delivery;

/// <summary>
/// The outbox inside one gateway (in process, fake clock): region-filtered endpoints, a centre that lost its data,
/// retention that never deletes what an endpoint has not acknowledged, metrics and health text, bad endpoint settings.
/// </summary>
public sealed class OutboxTests
{
    private const string VendorId = "vendor-outbox";
    private const string Township = "130127100"; // 高邑镇, where the test devices stand

    [Fact]
    public async Task Each_endpoint_gets_its_region_in_order_and_a_centre_that_lost_its_data_gets_everything_again()
    {
        await using var all = await StartSinkAsync();
        await using var township = await StartSinkAsync();
        await using var host = await GatewayHost.StartAsync(extraArgs:
        [
            "--centre-url", all.Address.ToString(), "--SharpEyes:Outbox:SourceId=outbox-test",
            "--SharpEyes:Outbox:Endpoints:1:Name=township", $"--SharpEyes:Outbox:Endpoints:1:Url={township.Address}",
            $"--SharpEyes:Outbox:Endpoints:1:RegionPrefix={Township}",
        ]);
        await PublishAlarmsAsync(host, 30);
        await WaitAsync(host, () => all.Store.Held("outbox-test") == host.LastSequence && township.Store.Held("outbox-test") == host.LastSequence, "both endpoints caught up");

        var everything = all.Store.Events("outbox-test");
        Assert.Equal(Enumerable.Range(1, (int)host.LastSequence).Select(i => (long)i), everything.Select(e => e.Sequence));
        var ours = township.Store.Events("outbox-test");
        Assert.NotEmpty(ours);
        Assert.All(ours, e => Assert.StartsWith(Township, e.RegionCode, StringComparison.Ordinal));
        Assert.Equal(everything.Where(e => e.RegionCode.StartsWith(Township, StringComparison.Ordinal)).Select(e => e.Sequence), ours.Select(e => e.Sequence));
        Assert.True(ours.Count < everything.Count, "the demo's coverage gaps in other townships are filtered out");

        // The centre loses its database: it answers "I hold nothing", and the gateway sends everything again.
        var port = all.Port;
        var dbPath = Path.Combine(GatewayHost.NewDataDir(), "fresh.db");
        await all.DisposeAsync();
        await using var fresh = await CentreSinkServer.StartAsync(new CentreSinkOptions { Port = port, DatabasePath = dbPath, ConfigureLogging = l => l.ClearProviders() });
        await PublishAlarmsAsync(host, 1, "after-loss");
        await WaitAsync(host, () => fresh.Store.Held("outbox-test") == host.LastSequence, "the fresh centre to hold everything");
        Assert.Equal(Enumerable.Range(1, (int)host.LastSequence).Select(i => (long)i), fresh.Store.Events("outbox-test").Select(e => e.Sequence));
        Assert.Contains("(it lost events); resending after 0", host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retention_deletes_only_old_events_every_endpoint_acknowledged_and_pull_subscribers_learn_what_is_gone()
    {
        await using var sink = await StartSinkAsync();
        var dataDir = GatewayHost.NewDataDir();
        string[] args = ["--centre-url", sink.Address.ToString(), "--SharpEyes:Outbox:SourceId=retention-test", "--feed-retention", "7.00:00:00", "--alarm-retention", "30.00:00:00",
            "--SharpEyes:Outbox:PruneInterval=40.00:00:00"]; // only the passes this test runs
        var host = await GatewayHost.StartAsync(dataDir: dataDir, extraArgs: args);
        await PublishAlarmsAsync(host, 20);
        await WaitAsync(host, () => sink.Store.Held("retention-test") == host.LastSequence, "the centre caught up");
        // The centre holds everything; the gateway learns it when the answer arrives (under load a moment later).
        var outbox = host.Services.GetRequiredService<OutboxService>();
        await WaitAsync(host, () => outbox.Endpoints.All(e => e.AckedSequence == host.LastSequence), "the gateway to record the centre's acknowledgement");
        var last = host.LastSequence;

        // Not old enough yet: nothing goes.
        var pruner = host.Services.GetRequiredService<RetentionPruner>();
        Assert.Equal((0L, 0L, 0L), await pruner.PruneAsync());

        // Eight days later every event is older than 7 days and acknowledged: deleted, except the newest event of the
        // feed (it keeps the sequence from being reused); the device's keepalive timeout may have added newer ones.
        host.Time.Advance(TimeSpan.FromDays(8));
        var (feed, alarms, letters) = await pruner.PruneAsync();
        Assert.InRange(feed, last - 1, last);
        Assert.Equal(0, alarms); // alarms are kept 30 days
        Assert.Equal(0, letters);
        var pruned = host.Services.GetRequiredService<SharpEyes.Gateway.Feeds.FeedLog>().PrunedThrough;
        Assert.Equal(feed, pruned);
        var centreKey = await host.CreateKeyAsync(Role.Centre);
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = new V1.Feeds.FeedsClient(host.Channel).Subscribe(new SubscribeRequest { AfterSequence = 1 }, host.Auth(centreKey));
            await call.ResponseStream.MoveNext();
        });
        Assert.Equal(StatusCode.OutOfRange, error.StatusCode);
        Assert.Contains($"events up to {pruned} were deleted by retention", error.Status.Detail, StringComparison.Ordinal);
        await using (var reader = new FeedReader(host, centreKey))
        {
            var first = await reader.WaitForAsync(_ => true, "the oldest kept event");
            Assert.Equal(pruned + 1, first.Sequence);
        }

        // 31 days: the alarms go too, and the intake counters still count them, across a restart.
        host.Time.Advance(TimeSpan.FromDays(23));
        var accepted = host.Services.GetRequiredService<AlarmStats>().Accepted;
        (_, alarms, _) = await pruner.PruneAsync();
        Assert.Equal(20, alarms);
        host = await host.RestartAsync(args);
        await using (host)
        {
            Assert.Equal(accepted, host.Services.GetRequiredService<AlarmStats>().Accepted);
            Assert.True(host.LastSequence >= last); // sequences are never reused
        }
    }

    [Fact]
    public async Task Events_an_endpoint_has_not_acknowledged_are_never_deleted_however_old()
    {
        await using var sink = await StartSinkAsync();
        using var dead = Ports.Refusing(out var deadPort); // a released free port could be taken by another test's server
        await using var host = await GatewayHost.StartAsync(extraArgs:
        [
            "--centre-url", sink.Address.ToString(), "--SharpEyes:Outbox:SourceId=unacked-test",
            "--SharpEyes:Outbox:Endpoints:1:Name=dead", $"--SharpEyes:Outbox:Endpoints:1:Url=http://127.0.0.1:{deadPort}",
            "--outbox-backlog-limit", "5",
        ]);
        await PublishAlarmsAsync(host, 10);
        await WaitAsync(host, () => sink.Store.Held("unacked-test") == host.LastSequence, "the live centre caught up");
        host.Time.Advance(TimeSpan.FromDays(60));
        Assert.Equal(0, (await host.Services.GetRequiredService<RetentionPruner>().PruneAsync()).FeedEvents);

        // The dead endpoint is reported as backed up: metric, health, log. The live centre first takes what the 60 days
        // added (devices going offline), so that its own depth is below the limit when the metrics are read.
        var outbox = host.Services.GetRequiredService<OutboxService>();
        await WaitAsync(host, () => outbox.Endpoints.Single(e => e.Name == "centre").Depth == 0, "the live centre to take the new events");
        outbox.CheckBacklogs();
        Assert.Contains("Outbox dead is backed up", host.Logs.All, StringComparison.Ordinal);
        var metrics = await MetricsScrape.ReadAsync(host.HttpPort);
        Assert.Equal(1, metrics["sharpeyes_outbox_backlog_exceeded{endpoint=\"dead\"}"]);
        Assert.Equal(0, metrics["sharpeyes_outbox_backlog_exceeded{endpoint=\"centre\"}"]);
        Assert.Equal(host.LastSequence, metrics["sharpeyes_outbox_depth{endpoint=\"dead\"}"]);
        Assert.True(metrics["sharpeyes_outbox_lag_seconds{endpoint=\"dead\"}"] >= TimeSpan.FromDays(60).TotalSeconds);
        var (status, health) = await MetricsScrape.HealthAsync(host.HttpPort);
        Assert.Equal(200, status);
        Assert.Contains("outbox: Degraded", health, StringComparison.Ordinal);
        Assert.Contains("dead is backed up", health, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_count_intake_by_outcome_and_show_incidents_and_coverage_KPIs()
    {
        await using var host = await GatewayHost.StartAsync();
        await PublishAlarmsAsync(host, 5);
        var vendorKey = await host.CreateKeyAsync(Role.Vendor, "vendor-metrics");
        using var client = await AlarmPublisher.ConnectAsync(host.MqttPort, "vendor-metrics", vendorKey, "metrics-bad");
        await client.PublishAsync(new MQTTnet.MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(1)).WithPayload("{not json")
            .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        var text = await MetricsScrape.TextAsync(host.HttpPort);
        var m = MetricsScrape.Parse(text);
        Assert.Equal(5, m["sharpeyes_alarms_accepted_total"]);
        Assert.Equal(1, m["sharpeyes_alarms_dead_lettered_total{reason=\"malformed\"}"]);
        Assert.Equal(0, m["sharpeyes_alarms_dead_lettered_total{reason=\"oversized\"}"]);
        Assert.Equal(6, m["sharpeyes_alarms_received_total"]);
        Assert.True(m["sharpeyes_incidents_open"] >= 1);
        Assert.Equal(host.LastSequence, m["sharpeyes_feed_last_sequence"]);
        Assert.Equal(1, m["sharpeyes_store_writable"]);
        Assert.Equal(1, m["sharpeyes_devices{kind=\"alarm-device\",status=\"online\"}"]);
        Assert.True(m.ContainsKey("sharpeyes_kpi{region=\"130127\",kpi=\"key_site_coverage\"}") || m.Keys.Any(k => k.StartsWith("sharpeyes_kpi{region=\"130127\"", StringComparison.Ordinal)), text);
        Assert.Equal(0.98, m["sharpeyes_kpi_target{region=\"130127\",kpi=\"serviceability\"}"]);
        Assert.Contains("# TYPE sharpeyes_alarms_received_total counter", text, StringComparison.Ordinal);
        var (status, health) = await MetricsScrape.HealthAsync(host.HttpPort);
        Assert.Equal(200, status);
        Assert.StartsWith("status: Healthy", health, StringComparison.Ordinal);
        Assert.Contains("outbox: Healthy — no push endpoints configured", health, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--centre-url=ftp://centre:21", "Url 'ftp://centre:21' must be an absolute http or https:// URL")]
    [InlineData("--SharpEyes:Outbox:Endpoints:0:Name=Bad Name", "Name")]
    [InlineData("--SharpEyes:Outbox:Endpoints:0:RetryMaxDelay=00:00:00.001", "RetryMaxDelay at least RetryBaseDelay")]
    public async Task Bad_endpoint_settings_stop_the_start_with_the_setting_named(string arg, string message)
    {
        string[] args = arg.StartsWith("--centre-url", StringComparison.Ordinal) ? [arg] : ["--centre-url=http://127.0.0.1:1", arg];
        var error = await Assert.ThrowsAnyAsync<OptionsValidationException>(() => GatewayHost.StartAsync(demo: false, extraArgs: args));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_centre_that_lost_events_retention_already_deleted_records_the_loss_and_gets_everything_after_it()
    {
        await using var sink = await StartSinkAsync();
        string[] args = ["--centre-url", sink.Address.ToString(), "--SharpEyes:Outbox:SourceId=lost-test", "--feed-retention", "7.00:00:00",
            "--SharpEyes:Outbox:PruneInterval=40.00:00:00"];
        await using var host = await GatewayHost.StartAsync(extraArgs: args);
        var (endpoint, pruned) = await DeliverThenPruneAsync(host, () => sink.Store.Held("lost-test"));

        // The centre loses its database after the gateway deleted what it had delivered.
        var port = sink.Port;
        await sink.DisposeAsync();
        await using var fresh = await CentreSinkServer.StartAsync(new CentreSinkOptions
        {
            Port = port, DatabasePath = Path.Combine(GatewayHost.NewDataDir(), "fresh.db"), ConfigureLogging = l => l.ClearProviders(),
        });
        await PublishAlarmsAsync(host, 1, "after-loss");
        await WaitAsync(host, () => fresh.Store.Held("lost-test") == host.LastSequence, "the fresh centre to hold everything still kept");

        // It records exactly what retention took, gets everything after it once, and the gateway says so too.
        Assert.Equal(pruned, fresh.Store.Lost);
        Assert.Equal(Enumerable.Range((int)pruned + 1, (int)(host.LastSequence - pruned)).Select(i => (long)i), fresh.Store.Events("lost-test").Select(e => e.Sequence));
        Assert.Equal(pruned, endpoint.LostToRetention);
        Assert.Contains($"the endpoint lost events 1..{pruned}, which retention had already deleted", host.Logs.All, StringComparison.Ordinal);
        Assert.Equal(pruned, (await MetricsScrape.ReadAsync(host.HttpPort))["sharpeyes_outbox_lost_to_retention_total{endpoint=\"centre\"}"]);
        Assert.InRange(fresh.Store.Calls, 1, 5); // the lost answer, the batch after the loss, and the new alarm's events
    }

    [Fact]
    public async Task A_centre_that_refuses_to_record_a_loss_is_retried_with_backoff_not_in_a_loop()
    {
        // A centre written against the contract before pruned_through existed: it keeps asking for what it misses.
        var centre = new ForgetfulCentre();
        await using var app = await ForgetfulCentre.StartAsync(centre);
        string[] args = ["--centre-url", app.Urls.Single(), "--SharpEyes:Outbox:SourceId=refuse-test", "--feed-retention", "7.00:00:00",
            "--SharpEyes:Outbox:PruneInterval=40.00:00:00"];
        await using var host = await GatewayHost.StartAsync(extraArgs: args);
        var (endpoint, pruned) = await DeliverThenPruneAsync(host, () => centre.Held);

        centre.Forget();
        var callsBefore = centre.Calls;
        await PublishAlarmsAsync(host, 1, "after-loss");
        // The refusal of the batch that starts at the oldest kept event is a failed attempt, retried after a backoff
        // on the gateway's clock (which this test does not move now), not a new batch at once.
        await Eventually.TrueAsync(() => endpoint.FailedAttempts > 0, "the refusal counted as a failed attempt", TimeSpan.FromSeconds(30));
        Assert.Contains($"events up to {pruned} were deleted by retention and cannot be sent again", endpoint.LastError, StringComparison.Ordinal);
        Assert.InRange(centre.Calls - callsBefore, 2, 4); // the batch answered 0, then the one at the oldest kept event (and a retry at most)
        Assert.Equal(pruned, endpoint.LostToRetention);
    }

    [Fact]
    public async Task A_push_centre_holding_sequences_a_restored_gateway_never_issued_is_reported()
    {
        var centre = new ForgetfulCentre();
        await using var app = await ForgetfulCentre.StartAsync(centre);
        await using var host = await GatewayHost.StartAsync(extraArgs: ["--centre-url", app.Urls.Single(), "--SharpEyes:Outbox:SourceId=restored-test"]);
        var endpoint = Assert.Single(host.Services.GetRequiredService<OutboxService>().Endpoints);
        await WaitAsync(host, () => endpoint.AckedSequence == host.LastSequence, "the centre caught up");
        var last = host.LastSequence;

        centre.HoldThrough(last + 50); // it saw 50 more events from this source before the store was restored
        await PublishAlarmsAsync(host, 1);
        await WaitAsync(host, () => endpoint.AckedSequence == host.LastSequence, "the batch acknowledged");

        var line = Assert.Single(host.Logs.All.Split('\n'), l => l.Contains("the endpoint holds this source through", StringComparison.Ordinal));
        var reported = long.Parse(System.Text.RegularExpressions.Regex.Match(line, @"feed ends at (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(reported, last, host.LastSequence); // the feed's end when the answer came
        Assert.Contains($"through {last + 50}, but this gateway's feed ends at {reported}: was its store restored from a backup?", line, StringComparison.Ordinal);
    }

    /// <summary>Publishes, waits until the centre and the gateway agree on everything, then prunes it all but the newest.</summary>
    private static async Task<(OutboxEndpoint Endpoint, long Pruned)> DeliverThenPruneAsync(GatewayHost host, Func<long> held)
    {
        await PublishAlarmsAsync(host, 10);
        var endpoint = Assert.Single(host.Services.GetRequiredService<OutboxService>().Endpoints);
        await WaitAsync(host, () => held() == host.LastSequence && endpoint.AckedSequence == host.LastSequence, "the centre caught up");
        host.Time.Advance(TimeSpan.FromDays(8));
        await host.Services.GetRequiredService<RetentionPruner>().PruneAsync();
        var pruned = host.Services.GetRequiredService<SharpEyes.Gateway.Feeds.FeedLog>().PrunedThrough;
        Assert.True(pruned > 10, $"retention deleted the delivered events (through {pruned})");

        // Eight days on, the liveness sweep commits events of its own (devices gone offline), which retention may
        // already count as delivered (it prunes through the stored cursor). The centre gets them before the test
        // goes on, so its cursor is past what retention deleted: a centre that then loses its store answers with a
        // gap, as the tests expect, rather than being offered a batch that starts right at the deleted edge (which
        // it records as lost without the gateway ever seeing the loss).
        await WaitAsync(host, () => held() == host.LastSequence && endpoint.AckedSequence == host.LastSequence && host.LastSequence > pruned,
            "the centre caught up after retention");
        return (endpoint, pruned);
    }

    /// <summary>A centre that follows the contract without pruned_through: it answers what it holds, and can forget.</summary>
    private sealed class ForgetfulCentre : SharpEyes.V1.CentreSink.CentreSinkBase
    {
        private long _held;
        private long _calls;

        public long Held => Interlocked.Read(ref _held);

        public long Calls => Interlocked.Read(ref _calls);

        public void Forget() => Interlocked.Exchange(ref _held, 0);

        /// <summary>As a centre that received sequences from this source before its store went back in time.</summary>
        public void HoldThrough(long held) => Interlocked.Exchange(ref _held, held);

        public override Task<DeliverResponse> Deliver(DeliverRequest request, ServerCallContext context)
        {
            Interlocked.Increment(ref _calls);
            if (request.AfterSequence <= Held)
            {
                Interlocked.Exchange(ref _held, Math.Max(Held, request.ThroughSequence));
            }

            return Task.FromResult(new DeliverResponse { AckedSequence = Held });
        }

        public static async Task<Microsoft.AspNetCore.Builder.WebApplication> StartAsync(ForgetfulCentre centre)
        {
            var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2));
            builder.Services.AddGrpc();
            builder.Services.AddSingleton(centre);
            var app = builder.Build();
            app.MapGrpcService<ForgetfulCentre>();
            await app.StartAsync();
            return app;
        }
    }

    private static Task<CentreSinkServer> StartSinkAsync() => CentreSinkServer.StartAsync(new CentreSinkOptions
    {
        DatabasePath = Path.Combine(GatewayHost.NewDataDir(), "centre.db"),
        ConfigureLogging = l => l.ClearProviders(),
    });

    /// <summary>Registers the vendor's alarm device (once) and publishes <paramref name="count"/> alarms, each acknowledged.</summary>
    internal static async Task PublishAlarmsAsync(GatewayHost host, int count, string prefix = "a")
    {
        var key = await host.CreateKeyAsync(Role.Vendor, VendorId);
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        try
        {
            await registry.RegisterDeviceAsync(TestDevices.Alarm(1), host.Auth(key));
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.AlreadyExists)
        {
        }

        using var client = await AlarmPublisher.ConnectAsync(host.MqttPort, VendorId, key, "outbox-" + prefix);
        var acked = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
        await AlarmPublisher.PublishAsync(client, [TestDevices.AlarmId(1)], Enumerable.Range(0, count).Select(n => $"{prefix}-{n}"), acked);
        Assert.Equal(count, acked.Count);
    }

    /// <summary>Waits while moving the fake clock a second per poll, so retry delays on the gateway clock pass.</summary>
    internal static Task WaitAsync(GatewayHost host, Func<bool> condition, string what) =>
        Eventually.TrueAsync(() =>
        {
            host.Time.Advance(TimeSpan.FromSeconds(1));
            return condition();
        }, what, TimeSpan.FromSeconds(30));
}
