using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SharpEyes.CentreSink;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// One replica at a time pushes to a centre endpoint. Two gateway processes on one PostgreSQL database, both configured
/// with the same endpoint (the reference CentreSink, which stores a source's events only in sequence order, counts
/// what it receives twice, and refuses a batch that starts after a hole): only the lease's holder delivers; when it
/// is killed (SIGKILL) or stopped (SIGTERM) the other takes the endpoint over from the stored cursor, and the centre
/// ends up with every sequence, in order, with no batch ever refused for a gap. Also, one gateway alone (SQLite or
/// PostgreSQL, whichever the run uses) always holds its lease.
/// </summary>
public sealed class OutboxLeaseTests(PostgresCluster cluster)
{
    private const string AdminKey = "lease-test-admin-key-0123456789abcdef";
    private const string VendorId = "vendor-lease";
    private const string Source = "lease-test-gateway";
    private const string Delivered = "sharpeyes_outbox_delivered_total{endpoint=\"centre\"}";
    private const string LeaseHeld = "sharpeyes_outbox_lease_held{endpoint=\"centre\"}";
    private const string Takeovers = "sharpeyes_outbox_lease_takeovers_total{endpoint=\"centre\"}";
    private const int Devices = 8;

    /// <summary>Lease settings for the test: 4 s, renewed every second, stop 1 s before expiry.</summary>
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(4);

    [Fact]
    public async Task The_holder_killed_mid_stream_is_replaced_within_the_lease_time_and_the_centre_gets_every_sequence_without_a_gap()
    {
        await using var rig = await Rig.StartAsync(cluster);
        var (a, b) = (rig.A, rig.B);

        // Only the holder delivers; the other stands by and says who holds the endpoint.
        await using var publisherB = await rig.PublisherAsync(b, "pub-b");
        using var stop = new CancellationTokenSource();
        var intake = Task.WhenAll(rig.PublishUntilStoppedAsync(a, "a", stop.Token), publisherB.PublishUntilStoppedAsync(stop.Token));
        await Eventually.TrueAsync(() => rig.Sink.Store.Held(Source) >= 150, "the centre to hold 150 events", TimeSpan.FromSeconds(60));
        var metricsA = await MetricsScrape.ReadAsync(a.HttpPort);
        var metricsB = await MetricsScrape.ReadAsync(b.HttpPort);
        Assert.Equal(1, metricsA[LeaseHeld]);
        Assert.Equal(0, metricsB[LeaseHeld]);
        Assert.True(metricsA[Delivered] >= 150, $"replica A delivered {metricsA[Delivered]}");
        Assert.Equal(0, metricsB[Delivered]);
        var (_, healthB) = await MetricsScrape.HealthAsync(b.HttpPort);
        Assert.Contains("centre: standby (held by replica-a)", healthB, StringComparison.Ordinal);
        Assert.Contains("replica: Healthy — id replica-b, on the PostgreSQL store shared by replicas", healthB, StringComparison.Ordinal);
        Assert.Contains("outbox: Healthy", healthB, StringComparison.Ordinal); // a standby is not degraded

        // The holder dies mid-stream: alarms keep coming through B, and the centre is behind.
        var heldAtKill = rig.Sink.Store.Held(Source);
        await a.KillAsync();
        var killed = Stopwatch.StartNew();
        await Eventually.TrueAsync(async () => (await MetricsScrape.ReadAsync(b.HttpPort))[LeaseHeld] == 1, "replica B to take the lease", Ttl + TimeSpan.FromSeconds(10));
        var takeover = killed.Elapsed;
        await Eventually.TrueAsync(() => rig.Sink.Store.Held(Source) > heldAtKill, "replica B to deliver", TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await intake;

        var last = await rig.WaitDeliveredAsync(b);
        metricsB = await MetricsScrape.ReadAsync(b.HttpPort);
        Assert.Equal(1, metricsB[Takeovers]);
        Assert.True(metricsB[Delivered] > 0);
        Assert.Contains("took the lease over from replica-a", b.Output, StringComparison.Ordinal);
        Assert.True(takeover < Ttl + TimeSpan.FromSeconds(5), $"the endpoint was taken over {takeover.TotalSeconds:0.0} s after the kill");
        rig.AssertEverySequenceOnceInOrderWithoutAGap(last);
        FaultReport.Add("outbox holder killed (two replicas)", $"replica A (the lease holder) killed with SIGKILL with the centre at sequence {heldAtKill}; lease TTL {Ttl.TotalSeconds:0} s",
            last, rig.Sink.Store.Held(Source), rig.Sink.Store.Duplicates, takeover, $"replica B took the endpoint over {takeover.TotalSeconds:0.0} s after the kill; {rig.Sink.Store.Duplicates} events received twice (de-duplicated), none refused for a gap");
    }

    [Fact]
    public async Task A_holder_stopped_cleanly_releases_the_lease_and_the_other_replica_takes_over_at_its_next_try()
    {
        await using var rig = await Rig.StartAsync(cluster);
        await using var publisherB = await rig.PublisherAsync(rig.B, "pub-b");
        await publisherB.PublishAsync("before", 100);
        await rig.WaitDeliveredAsync(rig.A);

        var stopping = Stopwatch.StartNew();
        Assert.Equal(0, await rig.A.TerminateAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("lease released by replica-a", rig.A.Output, StringComparison.Ordinal);
        await Eventually.TrueAsync(async () => (await MetricsScrape.ReadAsync(rig.B.HttpPort))[LeaseHeld] == 1, "replica B to take the lease", TimeSpan.FromSeconds(10));
        var takeover = stopping.Elapsed;
        // Released, not expired: B takes it at its next try (every second here), well before the 4 s lease could lapse.
        Assert.True(takeover < Ttl, $"taken over {takeover.TotalSeconds:0.0} s after SIGTERM");

        await publisherB.PublishAsync("after", 100);
        var last = await rig.WaitDeliveredAsync(rig.B);
        Assert.Equal(1, (await MetricsScrape.ReadAsync(rig.B.HttpPort))[Takeovers]);
        rig.AssertEverySequenceOnceInOrderWithoutAGap(last);
        // A stored its last cursor before releasing: B started exactly where A stopped.
        Assert.Equal(0, rig.Sink.Store.Duplicates);
    }

    [Fact]
    public async Task A_single_gateway_always_holds_its_lease_and_names_itself()
    {
        var sinkDb = Path.Combine(GatewayHost.NewDataDir(), "centre.db");
        await using var sink = await CentreSinkServer.StartAsync(new CentreSinkOptions { DatabasePath = sinkDb, ConfigureLogging = l => l.ClearProviders() });
        await using var host = await GatewayHost.StartAsync(extraArgs: ["--centre-url", sink.Address.ToString(), $"--SharpEyes:Outbox:SourceId={Source}"]);
        var vendorKey = await host.CreateKeyAsync(Role.Vendor, VendorId);
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), host.Auth(vendorKey));
        using (var client = await AlarmPublisher.ConnectAsync(host.MqttPort, VendorId, vendorKey, "pub-single"))
        {
            var acked = new ConcurrentDictionary<string, bool>();
            await AlarmPublisher.PublishAsync(client, [TestDevices.AlarmId(1)], Enumerable.Range(0, 20).Select(i => $"single-{i}"), acked);
            Assert.Equal(20, acked.Count);
        }

        await Eventually.TrueAsync(() => sink.Store.Held(Source) == host.LastSequence, "the centre to catch up");
        var metrics = await MetricsScrape.ReadAsync(host.HttpPort);
        Assert.Equal(1, metrics[LeaseHeld]);
        Assert.Equal(0, metrics[Takeovers]);
        var (_, health) = await MetricsScrape.HealthAsync(host.HttpPort);
        var id = System.Text.RegularExpressions.Regex.Match(health, @"replica: Healthy — id (\S+), ").Groups[1].Value;
        Assert.Matches("^[A-Za-z0-9._-]+-[0-9a-f]{6}$", id); // the host name and a random suffix
        Assert.Contains("centre: acked", health, StringComparison.Ordinal);
        if (TestStores.Postgres)
        {
            Assert.Contains("circuit Closed, lease held by this replica", health, StringComparison.Ordinal);
            // A PostgreSQL store may be shared: the lease is taken in it, by this replica.
            Assert.Contains("on the PostgreSQL store shared by replicas", health, StringComparison.Ordinal);
            Assert.Contains($"this replica ({id}) holds the lease and pushes", host.Logs.All, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains("the only replica of its SQLite store", health, StringComparison.Ordinal);
            Assert.DoesNotContain("lease", health, StringComparison.Ordinal);
            Assert.DoesNotContain("holds the lease", host.Logs.All, StringComparison.Ordinal); // nothing to take
        }
    }

    /// <summary>A reference centre and two gateway processes on one new database, both pushing to it; A started first, so A holds the lease.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly List<string> _devices = [.. Enumerable.Range(0, Devices).Select(TestDevices.AlarmId)];
        private string _vendorKey = "";

        private Rig(CentreSinkServer sink) => Sink = sink;

        public CentreSinkServer Sink { get; }

        public GatewayProcess A { get; private set; } = null!;

        public GatewayProcess B { get; private set; } = null!;

        public ConcurrentDictionary<string, bool> Acked { get; } = new();

        public static async Task<Rig> StartAsync(PostgresCluster cluster)
        {
            var store = await cluster.CreateDatabaseAsync();
            var sinkDb = Path.Combine(GatewayHost.NewDataDir(), "centre.db");
            // A slowish centre (batches of 20, 30 ms each), so the holder is mid-stream when it dies.
            var rig = new Rig(await CentreSinkServer.StartAsync(new CentreSinkOptions { DatabasePath = sinkDb, Delay = TimeSpan.FromMilliseconds(30), ConfigureLogging = l => l.ClearProviders() }));
            string[] Args(string replica) =>
            [
                "--store", store, "--replica-id", replica, "--demo-cameras", "false", "--stream-checks", "false", "--centre-url", rig.Sink.Address.ToString(),
                $"--SharpEyes:Outbox:SourceId={Source}", "--SharpEyes:Outbox:Endpoints:0:BatchSize=20",
                "--SharpEyes:Outbox:Endpoints:0:RetryBaseDelay=00:00:00.200", "--SharpEyes:Outbox:Endpoints:0:RetryMaxDelay=00:00:02",
                "--SharpEyes:Outbox:LeaseTtl=00:00:04", "--SharpEyes:Outbox:LeaseRenewInterval=00:00:01", "--SharpEyes:Outbox:LeaseMargin=00:00:01",
            ];
            rig.A = await GatewayProcess.StartAsync(GatewayHost.NewDataDir(), AdminKey, [.. Args("replica-a"), "--demo"]);
            await Eventually.TrueAsync(async () => (await MetricsScrape.ReadAsync(rig.A.HttpPort))[LeaseHeld] == 1, "replica A to hold the lease");
            rig._vendorKey = await rig.A.AddVendorWithAlarmDevicesAsync(AdminKey, VendorId, Devices);
            // B starts after the devices are registered: it loads them from the shared store at start.
            rig.B = await GatewayProcess.StartAsync(GatewayHost.NewDataDir(), AdminKey, Args("replica-b"));
            return rig;
        }

        public async Task<Publisher> PublisherAsync(GatewayProcess gateway, string clientId) =>
            new(this, await AlarmPublisher.ConnectAsync(gateway.MqttPort, VendorId, _vendorKey, clientId), clientId);

        /// <summary>Publishes over a connection to <paramref name="gateway"/> until stopped or the gateway dies.</summary>
        public async Task PublishUntilStoppedAsync(GatewayProcess gateway, string prefix, CancellationToken stop)
        {
            await using var publisher = await PublisherAsync(gateway, "pub-" + prefix);
            await publisher.PublishUntilStoppedAsync(stop);
        }

        /// <summary>Waits until the centre holds everything up to the feed's last sequence as <paramref name="gateway"/> sees it; returns it.</summary>
        public async Task<long> WaitDeliveredAsync(GatewayProcess gateway)
        {
            long last = 0;
            await Eventually.TrueAsync(async () =>
            {
                var metrics = await MetricsScrape.ReadAsync(gateway.HttpPort);
                last = (long)metrics["sharpeyes_feed_last_sequence"];
                return last > 0 && Sink.Store.Held(Source) == last && metrics["sharpeyes_outbox_depth{endpoint=\"centre\"}"] == 0;
            }, "the centre to hold the whole feed", TimeSpan.FromSeconds(90));
            return last;
        }

        /// <summary>
        /// The centre holds 1..last once each in order; no batch was ever refused for starting after a hole (what a
        /// skipped cursor would cause) and nothing was recorded lost; every acknowledged alarm arrived.
        /// </summary>
        public void AssertEverySequenceOnceInOrderWithoutAGap(long last)
        {
            Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (long)i), Sink.Store.Events(Source).Select(e => e.Sequence));
            Assert.Equal(0, Sink.Store.Rejected);
            Assert.Equal(0, Sink.Store.Lost);
            var atCentre = Sink.Store.Events(Source).Where(e => e.Incident is not null)
                .SelectMany(e => e.Incident.Alarms.Select(a => a.EventId)).ToHashSet(StringComparer.Ordinal);
            var missing = Acked.Keys.Where(id => !atCentre.Contains(id)).Take(5).ToList();
            Assert.True(missing.Count == 0, $"acknowledged alarms missing at the centre, e.g. {string.Join(", ", missing)}");
        }

        public async ValueTask DisposeAsync()
        {
            if (A is not null)
            {
                await A.DisposeAsync();
            }

            if (B is not null)
            {
                await B.DisposeAsync();
            }

            await Sink.DisposeAsync();
        }

        public sealed class Publisher(Rig rig, MQTTnet.IMqttClient client, string prefix) : IAsyncDisposable
        {
            public async Task PublishAsync(string batch, int count) =>
                await AlarmPublisher.PublishAsync(client, rig._devices, Enumerable.Range(0, count).Select(n => $"{prefix}-{batch}-{n}"), rig.Acked, occurredAt: DateTimeOffset.UtcNow);

            public async Task PublishUntilStoppedAsync(CancellationToken stop)
            {
                var deadline = DateTime.UtcNow.AddSeconds(90);
                await AlarmPublisher.PublishAsync(client, rig._devices, Enumerable.Range(0, 200_000).TakeWhile(_ => DateTime.UtcNow < deadline).Select(n => $"{prefix}-{n}"),
                    rig.Acked, stop, DateTimeOffset.UtcNow);
            }

            public ValueTask DisposeAsync()
            {
                client.Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }
}
