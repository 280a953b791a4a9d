using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Coverage;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// Two gateways on one PostgreSQL database follow each other's devices: what one registers, changes or removes the
/// other knows within milliseconds (its API answers it, its MQTT intake takes the device's alarms), both hold the same
/// coverage model, and a coverage gap one of them opens is not opened again by the other.
/// </summary>
public sealed class DeviceReplicaTests(PostgresCluster cluster)
{
    private const string Vendor = "vendor-r";

    private static DeviceRegistry.DeviceRegistryClient Registry(GatewayHost host) => new(host.Channel);

    private static async Task<(GatewayHost A, GatewayHost B, string VendorKey, string CentreKey)> StartPairAsync(string store, Func<GatewayHost, Task>? prepare = null)
    {
        var a = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]);
        var vendorKey = await a.CreateKeyAsync(Role.Vendor, Vendor);
        var centreKey = await a.CreateKeyAsync(Role.Centre);
        if (prepare is not null)
        {
            await prepare(a);
        }

        // Keys and geography are loaded at start: the second replica starts after they are stored.
        var b = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]);
        return (a, b, vendorKey, centreKey);
    }

    private static async Task<Device?> TryGetAsync(GatewayHost host, string key, string deviceId)
    {
        try
        {
            return await Registry(host).GetDeviceAsync(new GetDeviceRequest { DeviceId = deviceId }, host.Auth(key));
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
    }

    private static async Task<MqttClientPublishResult> PublishAlarmAsync(IMqttClient client, string deviceId, string eventId) =>
        await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/" + deviceId)
            .WithPayload(TestDevices.AlarmJson(eventId)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    private static Task HeartbeatAsync(GatewayHost host, string key, params string[] ids)
    {
        var request = new HeartbeatRequest();
        request.DeviceIds.AddRange(ids);
        return Registry(host).HeartbeatAsync(request, host.Auth(key)).ResponseAsync;
    }

    [Fact]
    public async Task A_device_registered_changed_and_deregistered_through_one_replica_is_known_to_the_other_and_its_alarms_are_taken_there()
    {
        var store = await cluster.CreateDatabaseAsync();
        var (a, b, vendorKey, _) = await StartPairAsync(store);
        await using (a)
        await using (b)
        {
            var id = TestDevices.AlarmId(1);
            var client = await b.ConnectMqttAsync(Vendor, vendorKey);

            // Before: B refuses the alarm of a device nobody registered.
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await PublishAlarmAsync(client, id, "before")).ReasonCode);

            await Registry(a).RegisterDeviceAsync(TestDevices.Alarm(1), a.Auth(vendorKey));
            var seen = await Eventually.WaitAsync(() => TryGetAsync(b, vendorKey, id), "B knows the device registered through A");
            Assert.Equal(Vendor, seen.VendorId);
            var listed = await Registry(b).ListDevicesAsync(new ListDevicesRequest(), b.Auth(vendorKey));
            Assert.Equal([id], listed.Devices.Select(d => d.DeviceId));

            // B takes its alarms (accepted and stored, not dead-lettered), and the device came online there.
            var accepted = await PublishAlarmAsync(client, id, "after-register");
            Assert.Equal(MqttClientPublishReasonCode.Success, accepted.ReasonCode);
            var stats = await b.GetStatsAsync();
            Assert.Equal(1, stats.AlarmsAccepted);
            Assert.Equal(1, stats.DeadLettersByReason["unknown-device"]); // the one before the registration only

            // A change through A reaches B, and so does the status B's alarm caused, the other way.
            var update = new UpdateDeviceRequest { Device = new Device { DeviceId = id, Name = "renamed on A" } };
            update.UpdateMask = new Google.Protobuf.WellKnownTypes.FieldMask { Paths = { "name" } };
            var updated = await Registry(a).UpdateDeviceAsync(update, a.Auth(vendorKey));
            await Eventually.TrueAsync(async () => (await TryGetAsync(b, vendorKey, id))?.Name == "renamed on A", "B sees the new name");
            Assert.Equal(updated.UpdatedAt, (await TryGetAsync(b, vendorKey, id))!.UpdatedAt);
            await Eventually.TrueAsync(async () => (await TryGetAsync(a, vendorKey, id))?.Status == DeviceStatus.Online, "A sees the device online after B took its alarm");

            // Deregistered through A: B forgets it, and refuses its alarms again.
            await Registry(a).DeregisterDeviceAsync(new DeregisterDeviceRequest { DeviceId = id }, a.Auth(vendorKey));
            await Eventually.TrueAsync(async () => await TryGetAsync(b, vendorKey, id) is null, "B forgets the deregistered device");
            Assert.Empty((await Registry(b).ListDevicesAsync(new ListDevicesRequest(), b.Auth(vendorKey))).Devices);
            var refused = await PublishAlarmAsync(client, id, "after-deregister");
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
            Assert.Equal("unknown-device", refused.ReasonString);
            client.Dispose();
        }
    }

    [Fact]
    public async Task Both_replicas_hold_the_same_coverage_and_a_gap_opens_once_when_a_camera_is_removed_through_either()
    {
        var store = await cluster.CreateDatabaseAsync();
        var (a, b, vendorKey, centreKey) = await StartPairAsync(store, TinyCounty.ImportAsync);
        await using (a)
        await using (b)
        {
            var (x, y) = TinyCounty.WestCentre;
            var checkpointCamera = TinyCounty.Camera(1, x, y, azimuth: 0, hfov: 90, range: 40); // sees the checkpoint
            var crossingSouth = TinyCounty.Camera(2, 60, 30, azimuth: 0, hfov: 60, range: 40);
            var crossingWest = TinyCounty.Camera(3, 30, 60, azimuth: 90, hfov: 60, range: 40);
            await Registry(a).RegisterDeviceAsync(checkpointCamera, a.Auth(vendorKey));
            await Registry(b).RegisterDeviceAsync(crossingSouth, b.Auth(vendorKey));
            await Registry(a).RegisterDeviceAsync(crossingWest, a.Auth(vendorKey));
            foreach (var camera in new[] { checkpointCamera, crossingSouth, crossingWest })
            {
                await Eventually.WaitAsync(() => TryGetAsync(a, vendorKey, camera.DeviceId), "A knows " + camera.DeviceId);
                await Eventually.WaitAsync(() => TryGetAsync(b, vendorKey, camera.DeviceId), "B knows " + camera.DeviceId);
            }

            // Online through different replicas: every gap of the county closes, each once.
            await HeartbeatAsync(b, vendorKey, checkpointCamera.DeviceId, crossingWest.DeviceId);
            await HeartbeatAsync(a, vendorKey, crossingSouth.DeviceId);
            await AgreeAsync(a, b, "both replicas without gaps", gaps => gaps.Count == 0);

            var before = Math.Max(a.LastSequence, b.LastSequence);
            await using var feedA = new FeedReader(a, centreKey, afterSequence: before);
            await using var feedB = new FeedReader(b, centreKey, afterSequence: before);
            await Registry(b).DeregisterDeviceAsync(new DeregisterDeviceRequest { DeviceId = checkpointCamera.DeviceId }, b.Auth(vendorKey));
            await Eventually.TrueAsync(async () => await TryGetAsync(a, vendorKey, checkpointCamera.DeviceId) is null, "A follows the removal");
            await AgreeAsync(a, b, "both replicas with the checkpoint's and the west grid's gaps", gaps => gaps.Count == 2);

            // A followed the removal (and recomputed) in a commit of its own: had it opened the gaps again, that commit is on the feed now.
            var last = Math.Max(a.LastSequence, b.LastSequence);
            await Eventually.TrueAsync(() => feedA.Events.LastOrDefault()?.Sequence >= last && feedB.Events.LastOrDefault()?.Sequence >= last, "both feeds read to the end");
            foreach (var feed in new[] { feedA.Events, feedB.Events })
            {
                var opened = feed.Where(e => e.Kind == FeedEventKind.CoverageGapOpened).Select(e => e.CoverageGap.GapId).Order(StringComparer.Ordinal);
                Assert.Equal(["grid:" + TinyCounty.WestGrid, "site:" + TinyCounty.Checkpoint], opened);
            }

            // Registered again through A and online through B: each gap closes once.
            await Registry(a).RegisterDeviceAsync(checkpointCamera, a.Auth(vendorKey));
            await Eventually.WaitAsync(() => TryGetAsync(b, vendorKey, checkpointCamera.DeviceId), "B knows the camera again");
            await HeartbeatAsync(b, vendorKey, checkpointCamera.DeviceId);
            await AgreeAsync(a, b, "both replicas without gaps again", gaps => gaps.Count == 0);
            last = Math.Max(a.LastSequence, b.LastSequence);
            await Eventually.TrueAsync(() => feedA.Events[^1].Sequence >= last && feedB.Events[^1].Sequence >= last, "both feeds read to the end again");
            Assert.Equal(2, feedA.Events.Count(e => e.Kind == FeedEventKind.CoverageGapClosed));
            Assert.Equal(feedA.Events.Select(e => e.Sequence), feedB.Events.Select(e => e.Sequence));
        }
    }

    [Fact]
    public async Task A_device_heard_only_through_one_replica_stays_online_and_a_silent_one_goes_offline_once_though_both_replicas_sweep()
    {
        var store = await cluster.CreateDatabaseAsync();
        var (a, b, vendorKey, centreKey) = await StartPairAsync(store);
        await using (a)
        await using (b)
        {
            var (alive, silent) = (TestDevices.AlarmId(1), TestDevices.AlarmId(2));
            await Registry(a).RegisterDeviceAsync(TestDevices.Alarm(1), a.Auth(vendorKey));
            await Registry(a).RegisterDeviceAsync(TestDevices.Alarm(2), a.Auth(vendorKey));
            await Eventually.WaitAsync(() => TryGetAsync(b, vendorKey, silent), "B knows both devices");
            var before = Math.Max(a.LastSequence, b.LastSequence);
            await using var feedA = new FeedReader(a, centreKey, afterSequence: before);
            await using var feedB = new FeedReader(b, centreKey, afterSequence: before);

            await HeartbeatAsync(b, vendorKey, alive, silent);
            await Eventually.TrueAsync(async () => (await TryGetAsync(a, vendorKey, silent))?.Status == DeviceStatus.Online, "A sees both online");

            // Four minutes (the timeout is 3 × 60 s) in 30 s steps; only B hears the live device; both replicas sweep at once.
            var sweepA = a.Services.GetRequiredService<Liveness.KeepaliveMonitor>();
            var sweepB = b.Services.GetRequiredService<Liveness.KeepaliveMonitor>();
            for (var step = 0; step < 8; step++)
            {
                a.Time.Advance(TimeSpan.FromSeconds(30));
                b.Time.Advance(TimeSpan.FromSeconds(30));
                await HeartbeatAsync(b, vendorKey, alive);
                await Task.WhenAll(sweepA.SweepAsync(TestContext.Current.CancellationToken), sweepB.SweepAsync(TestContext.Current.CancellationToken));
            }

            foreach (var host in new[] { a, b })
            {
                await Eventually.TrueAsync(async () => (await TryGetAsync(host, vendorKey, silent))?.Status == DeviceStatus.Offline, "the silent device offline");
                Assert.Equal(DeviceStatus.Online, (await TryGetAsync(host, vendorKey, alive))!.Status);
            }

            var last = Math.Max(a.LastSequence, b.LastSequence);
            await Eventually.TrueAsync(() => feedA.Events.LastOrDefault()?.Sequence >= last && feedB.Events.LastOrDefault()?.Sequence >= last, "both feeds read to the end");
            foreach (var feed in new[] { feedA.Events, feedB.Events })
            {
                var offline = feed.Where(e => e.Kind == FeedEventKind.DeviceOffline).ToList();
                var once = Assert.Single(offline);
                Assert.Equal((silent, "keepalive-timeout"), (once.Device.DeviceId, once.Reason));
            }

            Assert.Equal(feedA.Events.Select(e => e.Sequence), feedB.Events.Select(e => e.Sequence));
        }
    }

    /// <summary>Waits until both replicas answer the same open gaps (satisfying <paramref name="expected"/>), coverage report and key sites.</summary>
    internal static async Task AgreeAsync(GatewayHost a, GatewayHost b, string what, Func<IReadOnlyList<CoverageGap>, bool> expected)
    {
        static async Task<string> ViewAsync(GatewayHost host)
        {
            var coverage = new V1.Coverage.CoverageClient(host.Channel);
            var gaps = await coverage.ListCoverageGapsAsync(new ListCoverageGapsRequest(), host.AdminAuth);
            var report = await coverage.GetCoverageReportAsync(new CoverageReportRequest(), host.AdminAuth);
            report.ComputedAt = null;
            var sites = await coverage.ListKeySiteCoverageAsync(new ListKeySiteCoverageRequest(), host.AdminAuth);
            var grids = await coverage.ListGridCoverageAsync(new ListGridCoverageRequest(), host.AdminAuth);
            return string.Join("\n", gaps.Gaps.Select(g => $"{g.GapId} opened {g.OpenedAt}")) + "\n" + report + "\n" + sites + "\n" + grids;
        }

        await Eventually.TrueAsync(async () =>
        {
            var gaps = (await new V1.Coverage.CoverageClient(a.Channel).ListCoverageGapsAsync(new ListCoverageGapsRequest(), a.AdminAuth)).Gaps;
            return expected(gaps) && await ViewAsync(a) == await ViewAsync(b);
        }, what);
    }

    [Fact]
    public async Task A_device_registered_through_one_replica_is_answered_by_the_other_within_milliseconds()
    {
        const int Devices = 200;
        var store = await cluster.CreateDatabaseAsync();
        var (a, b, vendorKey, _) = await StartPairAsync(store);
        await using (a)
        await using (b)
        {
            var delays = new List<double>(Devices);
            for (var i = 1; i <= Devices; i++)
            {
                var id = TestDevices.AlarmId(i);
                await Registry(a).RegisterDeviceAsync(TestDevices.Alarm(i), a.Auth(vendorKey));
                var clock = Stopwatch.StartNew();
                var deadline = TimeSpan.FromSeconds(10);
                while (await TryGetAsync(b, vendorKey, id) is null)
                {
                    Assert.True(clock.Elapsed < deadline, $"B did not know {id} within {deadline}");
                    await Task.Yield();
                }

                delays.Add(clock.Elapsed.TotalMilliseconds);
            }

            delays.Sort();
            double At(double q) => delays[Math.Min(delays.Count - 1, (int)Math.Ceiling(q * delays.Count) - 1)];
            TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"follow delay over {Devices} registrations (answer on A to GetDevice on B): min {delays[0]:F1} ms, median {At(0.5):F1} ms, p99 {At(0.99):F1} ms, max {delays[^1]:F1} ms"));
            Assert.True(At(0.5) < 1000, $"median follow delay {At(0.5)} ms"); // the listener polls every second even when a notification is lost
        }
    }
}
