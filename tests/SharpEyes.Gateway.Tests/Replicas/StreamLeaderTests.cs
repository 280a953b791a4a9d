using SharpEyes.Gateway.Streams;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Streams;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// A camera is probed by one replica. Two gateway processes on one PostgreSQL database, stream checks on (every second),
/// one camera on the real RTSP test server: only the holder of the probing lease runs the schedule; a camera turning
/// faulty is announced once although the other replica checks it too at the same time (an operator's CheckNow runs on
/// the replica asked); when the leader stops, the other takes the schedule over and announces the repair.
/// </summary>
public sealed class StreamLeaderTests(PostgresCluster cluster, RtspServerFixture fixture) : IClassFixture<RtspServerFixture>
{
    private const string AdminKey = "stream-leader-admin-key-0123456789abcdef";
    private const string Mount = "/stoppable";
    private const string Leader = "sharpeyes_stream_probing_leader";
    private const string Takeovers = "sharpeyes_stream_probing_takeovers_total";

    [Fact]
    public async Task Only_the_leader_probes_a_fault_is_announced_once_and_the_other_replica_takes_over_when_the_leader_stops()
    {
        var store = await cluster.CreateDatabaseAsync();
        string[] Args(string replica) =>
        [
            "--store", store, "--replica-id", replica, "--demo-cameras", "false", "--SharpEyes:Streams:Enabled=true",
            "--SharpEyes:Streams:LivenessInterval=00:00:01", "--SharpEyes:Streams:RetryBaseDelay=00:00:00.200", "--SharpEyes:Streams:RetryMaxDelay=00:00:01",
            "--SharpEyes:Streams:ProbeInterval=1.00:00:00", "--SharpEyes:Streams:QualityInterval=1.00:00:00",
            "--SharpEyes:Outbox:LeaseTtl=00:00:04", "--SharpEyes:Outbox:LeaseRenewInterval=00:00:01", "--SharpEyes:Outbox:LeaseMargin=00:00:01",
        ];

        await using var a = await GatewayProcess.StartAsync(GatewayHost.NewDataDir(), AdminKey, [.. Args("replica-a"), "--demo"]);
        await Eventually.TrueAsync(async () => (await MetricsScrape.ReadAsync(a.HttpPort))[Leader] == 1, "replica A to lead stream probing");
        var admin = new Admin.AdminClient(a.Channel);
        async Task<string> KeyAsync(Role role, string vendor = "") =>
            (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = role, VendorId = vendor }, GatewayProcess.Auth(AdminKey))).ApiKey;
        var vendorKey = await KeyAsync(Role.Vendor, "acme");
        var centreKey = await KeyAsync(Role.Centre);
        var operatorKey = await KeyAsync(Role.Operator);
        var request = TestDevices.Camera(500);
        request.Camera.RtspUrl = fixture.Server.Url(Mount).ToString();
        var camera = (await new DeviceRegistry.DeviceRegistryClient(a.Channel).RegisterDeviceAsync(request, GatewayProcess.Auth(vendorKey))).Device.DeviceId;

        // B starts after the camera and keys are stored (it loads them at start) and stands by.
        await using var b = await GatewayProcess.StartAsync(GatewayHost.NewDataDir(), AdminKey, Args("replica-b"));
        await using var feedA = new FeedReader(a.Channel, GatewayProcess.Auth(centreKey));
        await using var feedB = new FeedReader(b.Channel, GatewayProcess.Auth(centreKey));
        var describesA = await DescribesAsync(a);
        await Eventually.TrueAsync(async () => await DescribesAsync(a) >= describesA + 3, "replica A to check the camera three more times", TimeSpan.FromSeconds(20));
        var metricsB = await MetricsScrape.ReadAsync(b.HttpPort);
        Assert.Equal(0, metricsB[Leader]);
        Assert.Equal(0, await DescribesAsync(b));
        Assert.Equal(1, (await MetricsScrape.ReadAsync(a.HttpPort))[Leader]);
        var (_, healthB) = await MetricsScrape.HealthAsync(b.HttpPort);
        Assert.Contains("stream-probing: Healthy — standby (held by replica-a)", healthB, StringComparison.Ordinal);
        var (_, healthA) = await MetricsScrape.HealthAsync(a.HttpPort);
        Assert.Contains("stream-probing: Healthy — leader: this replica probes 1 cameras", healthA, StringComparison.Ordinal);
        Assert.Contains("Stream probing: this replica (replica-a) holds the lease and probes the cameras", a.Output, StringComparison.Ordinal);

        // The stream stops. A's schedule finds it; meanwhile an operator checks it through B again and again, so both
        // replicas count the failures and may both see the camera turn faulty: the stored row lets one announce it.
        await fixture.Server.StopMountAsync(Mount);
        try
        {
            var health = new StreamHealth.StreamHealthClient(b.Channel);
            await Eventually.TrueAsync(async () =>
            {
                await health.CheckNowAsync(new CheckNowRequest { DeviceIds = { camera } }, GatewayProcess.Auth(operatorKey));
                return feedB.Events.Any(e => e.Kind == FeedEventKind.CameraFaulty);
            }, "CAMERA_FAULTY", TimeSpan.FromSeconds(20));
            for (var i = 0; i < 5; i++)
            {
                await health.CheckNowAsync(new CheckNowRequest { DeviceIds = { camera } }, GatewayProcess.Auth(operatorKey));
            }

            // A few more scheduled checks after the announcement, and every commit taken into both feeds.
            describesA = await DescribesAsync(a);
            await Eventually.TrueAsync(async () => await DescribesAsync(a) >= describesA + 3, "replica A to check the faulty camera three more times", TimeSpan.FromSeconds(20));
            await Eventually.TrueAsync(async () =>
            {
                var last = (long)(await MetricsScrape.ReadAsync(a.HttpPort))["sharpeyes_feed_last_sequence"];
                return feedA.Events.LastOrDefault()?.Sequence == last && feedB.Events.LastOrDefault()?.Sequence == last;
            }, "both feeds to reach the last sequence");
            foreach (var feed in new[] { feedA, feedB })
            {
                var faulty = Assert.Single(feed.Events, e => e.Kind == FeedEventKind.CameraFaulty);
                Assert.Equal(camera, faulty.CameraHealth.DeviceId);
                Assert.Equal(PictureFaults.NoSignal, faulty.Reason);
            }

            Assert.True(await DescribesAsync(b) >= 6, "B's own CheckNow calls ran on B");

            // The leader stops cleanly: it releases the lease and B takes the schedule over at its next try. (A's feed
            // subscription is ended first: the gateway waits for open Feeds.Subscribe calls when it stops.)
            await feedA.DisposeAsync();
            Assert.Equal(0, await a.TerminateAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("Stream probing: lease released by replica-a", a.Output, StringComparison.Ordinal);
            await Eventually.TrueAsync(async () => (await MetricsScrape.ReadAsync(b.HttpPort))[Leader] == 1, "replica B to take stream probing over", TimeSpan.FromSeconds(10));
            Assert.Equal(1, (await MetricsScrape.ReadAsync(b.HttpPort))[Takeovers]);
            await Eventually.TrueAsync(() => b.Output.Contains("Stream probing: this replica (replica-b) took the lease over from replica-a", StringComparison.Ordinal),
                "B's log line for the takeover (its output is read as it comes)", TimeSpan.FromSeconds(10));
            var describesB = await DescribesAsync(b);
            await Eventually.TrueAsync(async () => await DescribesAsync(b) >= describesB + 3, "replica B's schedule to check the camera", TimeSpan.FromSeconds(20));
        }
        finally
        {
            await fixture.Server.StartMountAsync(Mount);
        }

        // B's schedule finds the stream back and announces the repair, once.
        await feedB.WaitForAsync(e => e.Kind == FeedEventKind.CameraRepaired && e.CameraHealth.DeviceId == camera, "CAMERA_REPAIRED from replica B", TimeSpan.FromSeconds(20));
        var okB = await DescribesAsync(b, "ok");
        await Eventually.TrueAsync(async () => await DescribesAsync(b, "ok") >= okB + 2, "two more passing checks on B", TimeSpan.FromSeconds(20));
        Assert.Single(feedB.Events, e => e.Kind == FeedEventKind.CameraRepaired);
    }

    /// <summary>DESCRIBE checks the gateway ran since start (of the given outcome, or all).</summary>
    private static async Task<double> DescribesAsync(GatewayProcess gateway, string? outcome = null) =>
        (await MetricsScrape.ReadAsync(gateway.HttpPort))
            .Where(m => m.Key.StartsWith("sharpeyes_stream_checks_total{check=\"describe\"", StringComparison.Ordinal)
                && (outcome is null || m.Key.EndsWith($"outcome=\"{outcome}\"}}", StringComparison.Ordinal)))
            .Sum(m => m.Value);
}
