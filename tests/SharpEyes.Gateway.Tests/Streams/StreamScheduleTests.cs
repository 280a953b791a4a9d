using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Liveness;
using SharpEyes.Gateway.Streams;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Streams;

/// <summary>
/// Liveness from heartbeats and stream checks together, on the schedule, with a fake clock moved by the tests and a
/// real RTSP server whose stream stops in the middle of the test.
/// </summary>
public sealed class StreamScheduleTests(RtspServerFixture fixture) : IClassFixture<RtspServerFixture>, IAsyncLifetime
{
    private const string Mount = "stoppable";
    private const string SlowMount = "h264-360p";
    private GatewayHost _host = null!;
    private string _vendor = null!;
    private string _centre = null!;
    private string _operator = null!;

    private DeviceRegistry.DeviceRegistryClient Registry => new(_host.Channel);

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync(extraArgs:
        [
            "--SharpEyes:Streams:Enabled=true",
            "--SharpEyes:Streams:RetryBaseDelay=00:00:10",
            "--SharpEyes:Streams:RetryMaxDelay=00:01:00",
            "--SharpEyes:Streams:ProbeInterval=1.00:00:00",
            "--SharpEyes:Streams:QualityInterval=1.00:00:00",
        ]);
        _vendor = await _host.CreateKeyAsync(Role.Vendor, "acme");
        _centre = await _host.CreateKeyAsync(Role.Centre);
        _operator = await _host.CreateKeyAsync(Role.Operator);
    }

    public async ValueTask DisposeAsync()
    {
        await fixture.Server.StartMountAsync("/" + Mount);
        await fixture.Server.ReleaseAsync("/" + SlowMount);
        await _host.DisposeAsync();
        await StreamGatewayTests.NoProcessLeftAsync(fixture.Server.RtspPort);
    }

    private async Task<DeviceEntry> RegisterAsync(int serial, string mount = Mount)
    {
        var request = TestDevices.Camera(serial);
        request.Camera.RtspUrl = fixture.Server.Url(mount).ToString();
        var response = await Registry.RegisterDeviceAsync(request, _host.Auth(_vendor));
        return _host.Services.GetRequiredService<DeviceCatalog>().Find(response.Device.DeviceId)!;
    }

    private Task HeartbeatAsync(string id) => Registry.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { id } }, _host.Auth(_vendor)).ResponseAsync;

    /// <summary>Moves the fake clock a step at a time until the condition holds (each step lets the due checks run for real).</summary>
    private Task AdvanceUntilAsync(Func<bool> condition, TimeSpan step, string what) =>
        Eventually.TrueAsync(() =>
        {
            if (condition())
            {
                return true;
            }

            _host.Time.Advance(step);
            return false;
        }, what, TimeSpan.FromSeconds(60));

    [Fact]
    public async Task A_camera_known_only_by_its_stream_goes_offline_when_the_stream_stops_and_back_online_when_it_returns()
    {
        await using var feed = new FeedReader(_host, _centre, afterSequence: _host.LastSequence);
        var camera = await RegisterAsync(400);

        // The first check comes within 5 s of registration; a DESCRIBE that answers is evidence of life.
        await AdvanceUntilAsync(() => camera.Status == DeviceStatus.Online, TimeSpan.FromSeconds(1), "online from the stream");
        var online = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOnline, "DEVICE_ONLINE");
        Assert.Equal(StatusReasons.Stream, online.Reason);

        await fixture.Server.StopMountAsync("/" + Mount);
        var stoppedAt = _host.Time.GetUtcNow();
        await AdvanceUntilAsync(() => camera.Status == DeviceStatus.Offline, TimeSpan.FromSeconds(5), "offline after the stream stopped");

        var offline = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOffline, "DEVICE_OFFLINE");
        Assert.Equal(StatusReasons.StreamUnreachable, offline.Reason);
        var health = camera.Health;
        Assert.Equal(3, health.ConsecutiveFailures);
        Assert.Equal("not-found", health.LastLiveness?.Failure);
        Assert.Equal([PictureFaults.NoSignal], health.Faults);
        // One scheduled check (≤ 66 s) and two retries with backoff from 10 s: well inside the 3-minute keepalive timeout.
        var detectedAfter = offline.OccurredAt.ToDateTimeOffset() - stoppedAt;
        Assert.InRange(detectedAfter, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(170));
        Assert.False(_host.Services.GetRequiredService<CoverageTracker>().Model.Camera(camera.Id)!.Working);

        await fixture.Server.StartMountAsync("/" + Mount);
        await AdvanceUntilAsync(() => camera.Status == DeviceStatus.Online && !camera.Faulty, TimeSpan.FromSeconds(5), "back online after the stream returned");
        var back = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOnline && e.Sequence > offline.Sequence, "DEVICE_ONLINE again");
        Assert.Equal(StatusReasons.Stream, back.Reason);
        await feed.WaitForAsync(e => e.Kind == FeedEventKind.CameraRepaired && e.CameraHealth.DeviceId == camera.Id, "CAMERA_REPAIRED");
        Assert.Equal(0, camera.Health.ConsecutiveFailures);
    }

    [Fact]
    public async Task CheckNow_during_a_slow_first_check_waits_for_it_then_answers_a_check_of_its_own()
    {
        // The camera's first scheduled DESCRIBE meets a stream slow to start (its media is held: no answer at all).
        await fixture.Server.HoldAsync("/" + SlowMount);
        var camera = await RegisterAsync(402, SlowMount);
        var held = fixture.Server.WaitHeldAsync("/" + SlowMount, TimeSpan.FromSeconds(60));
        await AdvanceUntilAsync(() => held.IsCompleted, TimeSpan.FromSeconds(1), "the first scheduled DESCRIBE, held by the server");
        await held;
        var monitor = _host.Services.GetRequiredService<StreamHealthMonitor>();
        long Timeouts() => monitor.Checks.Snapshot().Where(c => c.Key == ("describe", "timeout")).Sum(c => c.Value);
        Assert.Equal(0, Timeouts());

        // An operator checks now, while that DESCRIBE waits for its answer (it times out after 5 s, then its retry
        // waits out a 10 s backoff on the fake clock, which this test never moves again).
        var health = new StreamHealth.StreamHealthClient(_host.Channel);
        var response = await health.CheckNowAsync(new CheckNowRequest { DeviceIds = { camera.Id } }, _host.Auth(_operator),
            deadline: DateTime.UtcNow.AddMinutes(1));

        var timeoutsWhenAnswered = Timeouts();

        // The answer is a real, passing DESCRIBE (the hold applied to the first media only)...
        Assert.Equal((1, 1), (response.Checked, response.Ok));
        var answered = response.Cameras.Single();
        Assert.True(answered.LastLiveness.Ok, answered.LastLiveness.ToString());
        Assert.Equal(0, answered.ConsecutiveFailures);
        Assert.Equal(DeviceStatus.Online, answered.Status);
        // ...and it stays the camera's state once the slow check has ended: that older check did not land after it...
        await Eventually.TrueAsync(() => Timeouts() == 1, "the slow first DESCRIBE to time out");
        Assert.True(camera.Health.LastLiveness?.Ok, camera.Health.LastLiveness?.ToString());
        Assert.Equal(0, camera.Health.ConsecutiveFailures);
        // ...because CheckNow waited for it to end before running its own (and not for the retry's backoff after it).
        Assert.Equal(1, timeoutsWhenAnswered);
        Assert.Equal(0, monitor.ChecksInFlight);
    }

    [Fact]
    public async Task A_heartbeating_camera_whose_stream_fails_stays_online_but_turns_faulty_and_stops_counting_toward_coverage()
    {
        await using var feed = new FeedReader(_host, _centre, afterSequence: _host.LastSequence);
        var camera = await RegisterAsync(401);
        await HeartbeatAsync(camera.Id);
        await AdvanceUntilAsync(() => camera.Health.LastLiveness is { Ok: true }, TimeSpan.FromSeconds(1), "a first passing check");
        var tracker = _host.Services.GetRequiredService<CoverageTracker>();
        Assert.True(tracker.Model.Camera(camera.Id)!.Working);

        await fixture.Server.StopMountAsync("/" + Mount);
        var lastBeat = _host.Time.GetUtcNow();
        await Eventually.TrueAsync(async () =>
        {
            if (camera.Faulty)
            {
                return true;
            }

            _host.Time.Advance(TimeSpan.FromSeconds(5));
            if (_host.Time.GetUtcNow() - lastBeat >= TimeSpan.FromSeconds(60))
            {
                await HeartbeatAsync(camera.Id);
                lastBeat = _host.Time.GetUtcNow();
            }

            return false;
        }, "faulty while heartbeating", TimeSpan.FromSeconds(60));

        // The health record turns faulty first in the journal item, the coverage model follows in the same item (after
        // the store's round trips on PostgreSQL): the committed CAMERA_FAULTY says the item is done.
        var faulty = await feed.WaitForAsync(e => e.Kind == FeedEventKind.CameraFaulty, "CAMERA_FAULTY");
        Assert.Equal(DeviceStatus.Online, camera.Status);
        Assert.Equal([PictureFaults.NoSignal], camera.Health.Faults);
        Assert.False(tracker.Model.Camera(camera.Id)!.Working);
        Assert.Equal(PictureFaults.NoSignal, faulty.Reason);
        Assert.Equal(DeviceStatus.Online, faulty.CameraHealth.Status);
        Assert.DoesNotContain(feed.Events, e => e.Kind == FeedEventKind.DeviceOffline);

        await fixture.Server.StartMountAsync("/" + Mount);
        await AdvanceUntilAsync(() => !camera.Faulty, TimeSpan.FromSeconds(5), "repaired");
        await feed.WaitForAsync(e => e.Kind == FeedEventKind.CameraRepaired, "CAMERA_REPAIRED");
        Assert.True(tracker.Model.Camera(camera.Id)!.Working);
    }
}

/// <summary>Liveness across a restart, and the online rate by time, from heartbeats (no RTSP needed).</summary>
public sealed class LivenessKpiTests : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private string _vendor = null!;
    private string _centre = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync(extraArgs: ["--SharpEyes:Liveness:RestartGrace=00:10:00"]);
        _vendor = await _host.CreateKeyAsync(Role.Vendor, "acme");
        _centre = await _host.CreateKeyAsync(Role.Centre);
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private Task HeartbeatAsync(string id) =>
        new DeviceRegistry.DeviceRegistryClient(_host.Channel).HeartbeatAsync(new HeartbeatRequest { DeviceIds = { id } }, _host.Auth(_vendor)).ResponseAsync;

    private Task<int> SweepAsync() => _host.Services.GetRequiredService<KeepaliveMonitor>().SweepAsync();

    [Fact]
    public async Task After_a_restart_devices_keep_their_status_for_the_grace_period_then_time_out()
    {
        var registered = await new DeviceRegistry.DeviceRegistryClient(_host.Channel).RegisterDeviceAsync(TestDevices.Camera(500), _host.Auth(_vendor));
        var id = registered.Device.DeviceId;
        await HeartbeatAsync(id);

        // The gateway is down for two hours: far longer than the 3-minute keepalive timeout.
        var (dataDir, time) = (_host.DataDir, _host.Time);
        await _host.DisposeAsync();
        time.Advance(TimeSpan.FromHours(2));
        _host = await GatewayHost.StartAsync(demo: false, dataDir: dataDir, time: time, "--SharpEyes:Liveness:RestartGrace=00:10:00");
        var catalog = _host.Services.GetRequiredService<DeviceCatalog>();
        Assert.Equal(DeviceStatus.Online, catalog.Find(id)!.Status);

        // (The background sweep also runs as the fake clock moves; these explicit sweeps make the moment certain.)
        _host.Time.Advance(TimeSpan.FromMinutes(9));
        await SweepAsync();
        Assert.Equal(DeviceStatus.Online, catalog.Find(id)!.Status);

        _host.Time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        await SweepAsync();
        Assert.Equal(DeviceStatus.Offline, catalog.Find(id)!.Status);
        await using var feed = new FeedReader(_host, _centre);
        var offline = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOffline, "DEVICE_OFFLINE");
        Assert.Equal(StatusReasons.KeepaliveTimeout, offline.Reason);
    }

    [Fact]
    public async Task Online_rate_by_time_is_online_seconds_over_expected_seconds_since_registration()
    {
        var registry = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
        var id = (await registry.RegisterDeviceAsync(TestDevices.Camera(501), _host.Auth(_vendor))).Device.DeviceId;
        var other = (await registry.RegisterDeviceAsync(TestDevices.Camera(502, azimuth: 270), _host.Auth(_vendor))).Device.DeviceId;
        var start = _host.Time.GetUtcNow();

        // Silent for an hour, then heartbeats every minute for two hours, then silence until it times out.
        _host.Time.Advance(TimeSpan.FromHours(1));
        for (var minute = 0; minute <= 120; minute++)
        {
            await HeartbeatAsync(id);
            _host.Time.Advance(TimeSpan.FromMinutes(1));
            await SweepAsync();
        }

        _host.Time.Advance(TimeSpan.FromMinutes(3));
        await SweepAsync();
        Assert.Equal(DeviceStatus.Offline, _host.Services.GetRequiredService<DeviceCatalog>().Find(id)!.Status);
        _host.Time.Advance(start + TimeSpan.FromHours(6) - _host.Time.GetUtcNow());

        await using var feed = new FeedReader(_host, _centre);
        var online = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOnline && e.Device.DeviceId == id, "DEVICE_ONLINE");
        var offline = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOffline && e.Device.DeviceId == id, "DEVICE_OFFLINE");
        var onlineSeconds = (long)(offline.OccurredAt.ToDateTimeOffset() - online.OccurredAt.ToDateTimeOffset()).TotalSeconds;
        Assert.InRange(onlineSeconds, 121 * 60 + 180, 121 * 60 + 240);

        var health = new StreamHealth.StreamHealthClient(_host.Channel);
        var report = await health.GetHealthReportAsync(new HealthReportRequest { RegionPrefix = "130127", WindowHours = 24 }, _host.Auth(_centre));
        var byTime = report.Summary.Kpis.Single(k => k.Name == "online_rate_time");
        // Two cameras expected for 6 h each; only one was ever online.
        Assert.Equal(2 * 6 * 3600L, byTime.Denominator);
        Assert.Equal(onlineSeconds, byTime.Numerator);
        Assert.Equal(0, report.Summary.CamerasOnline);
        Assert.Equal((0L, 2L), (report.Summary.Kpis.Single(k => k.Name == "online_rate").Numerator, report.Summary.Kpis.Single(k => k.Name == "online_rate").Denominator));
        Assert.NotEmpty(report.Rows);
        Assert.Equal(2, report.Rows.Sum(r => r.Cameras));

        // A window of 4 h sees 2 h online of the camera's last 4 h (and 4 h of the other's).
        var recent = await health.GetHealthReportAsync(new HealthReportRequest { RegionPrefix = "130127", WindowHours = 4 }, _host.Auth(_centre));
        var recentKpi = recent.Summary.Kpis.Single(k => k.Name == "online_rate_time");
        Assert.Equal(2 * 4 * 3600L, recentKpi.Denominator);
        var windowStart = start + TimeSpan.FromHours(2);
        Assert.Equal((long)(offline.OccurredAt.ToDateTimeOffset() - windowStart).TotalSeconds, recentKpi.Numerator);
        _ = other;
    }
}
