using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Streams;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Streams;

/// <summary>One real gst-rtsp-server for the class (tests/rtsp/rtsp_server.py on 127.0.0.1).</summary>
public sealed class RtspServerFixture : IAsyncLifetime
{
    public RtspTestServer Server { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        RtspTestServer.RequireTools();
        Server = await RtspTestServer.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }
}

/// <summary>
/// Stream health against a real RTSP server, through the gateway on real Kestrel: measured metadata, the picture
/// check, declared-versus-measured mismatches, failures of every kind, and that no ffprobe/ffmpeg process outlives a test.
/// Checks run through StreamHealth.CheckNow here (the schedule is off); <see cref="StreamScheduleTests"/> runs the schedule.
/// </summary>
public sealed class StreamHealthTests(RtspServerFixture fixture) : StreamGatewayTests(fixture)
{
    private static StreamProfile MainStream(string codec, int width, int height, double fps) =>
        new() { Role = StreamRole.Main, Codec = codec, Width = width, Height = height, FrameRate = fps, BitrateKbps = 2048 };

    [Fact]
    public async Task Probes_measure_every_mount_and_the_picture_check_finds_black_frozen_and_low_detail()
    {
        // This test measures streams; the limits have tests of their own (failures, hard timeout). So they are
        // generous here: a mount builds its encoder for each client, and with the two cores far oversubscribed (the
        // suite and more in parallel) x265's first 1080p frame, which the DESCRIBE waits for, took over 5 s, and a
        // grab of /h265-1080p over 20 s.
        await UseHostAsync("--SharpEyes:Streams:DescribeTimeout=00:00:15", "--SharpEyes:Streams:ProcessTimeout=00:01:00");
        await using var feed = new FeedReader(Host, Centre, afterSequence: Host.LastSequence);
        var cameras = new (string Mount, StreamProfile Declared, string Codec, int W, int H, double Fps, string[] Faults, string[] Mismatches)[]
        {
            ("h264-1080p", MainStream("H.264", 1920, 1080, 15), "H.264", 1920, 1080, 15, [], []),
            ("h264-720p", MainStream("hevc", 1920, 1080, 25), "H.264", 1280, 720, 25, [], ["codec", "resolution"]),
            ("h265-1080p", MainStream("H.265", 1920, 1080, 5), "H.265", 1920, 1080, 5, [], []),
            ("h264-360p", MainStream("avc", 640, 360, 25), "H.264", 640, 360, 30, [], ["frame_rate"]),
            ("black", MainStream("H.264", 1280, 720, 10), "H.264", 1280, 720, 10, [PictureFaults.Black], []),
            ("frozen", MainStream("H.264", 1280, 720, 10), "H.264", 1280, 720, 10, [PictureFaults.Frozen], []),
            ("lowdetail", MainStream("H.264", 1280, 720, 10), "H.264", 1280, 720, 10, [PictureFaults.LowDetail], []),
        };
        var ids = new List<string>();
        for (var i = 0; i < cameras.Length; i++)
        {
            var r = await Registry.RegisterDeviceAsync(CameraAt(100 + i, Rtsp.Url(cameras[i].Mount), cameras[i].Declared), Host.Auth(Vendor));
            ids.Add(r.Device.DeviceId);
        }

        var response = await CheckAsync(CheckDepth.Quality, [.. ids]);

        Assert.Equal(cameras.Length, response.Checked);
        Assert.True(cameras.Length == response.Ok, $"{response.Ok} of {cameras.Length} cameras passed:\n" + string.Join("\n", response.Cameras.Select(Outcomes)));
        // Never more ffprobe/ffmpeg processes at once than configured (default: one per core, at least two).
        var limit = Host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Configuration.GatewayOptions>>().Value.Streams.MaxConcurrentProcesses;
        Assert.InRange(response.PeakConcurrentProcesses, 1, limit);
        var tracker = Host.Services.GetRequiredService<CoverageTracker>();
        for (var i = 0; i < cameras.Length; i++)
        {
            var c = cameras[i];
            var h = response.Cameras.Single(x => x.DeviceId == ids[i]);
            Assert.True(h.LastLiveness.Ok, $"{c.Mount}: {h.LastLiveness}");
            Assert.Equal(Host.Time.GetUtcNow(), h.LastLiveness.At.ToDateTimeOffset());
            Assert.Equal(DeviceStatus.Online, h.Status);
            Assert.Equal(c.Codec, h.Measured.Codec);
            Assert.Equal((c.W, c.H), (h.Measured.Width, h.Measured.Height));
            Assert.InRange(h.Measured.FrameRate, c.Fps * 0.9, c.Fps * 1.1);
            Assert.InRange(h.Measured.ProbeMs, 1, 60_000); // within the process limit set above
            Assert.Equal(c.Faults, h.Faults);
            Assert.Equal(c.Faults.Length > 0, h.Faulty);
            Assert.Equal(c.Mismatches, h.Mismatches.Select(m => m.Field));
            Assert.Equal("measured", h.HdSource);
            Assert.Equal(c.H >= 1080, h.Hd);
            Assert.True(h.LastQuality.Frames >= 2, $"{c.Mount}: {h.LastQuality}");
            // Faulty cameras are online but not working: real coverage leaves them out.
            Assert.Equal(c.Faults.Length == 0, tracker.Model.Camera(ids[i])!.Working);

            var snapshot = await Health.GetSnapshotAsync(new GetSnapshotRequest { DeviceId = ids[i] }, Host.Auth(Operator));
            Assert.True(snapshot.Jpeg.Length > 500 && snapshot.Jpeg[0] == 0xFF && snapshot.Jpeg[1] == 0xD8, $"{c.Mount}: not a JPEG");
            Assert.Equal(h.LastQuality, snapshot.Quality);
        }

        // Each faulty camera is announced once, with its faults as the reason, after the camera's DEVICE_ONLINE.
        foreach (var i in Enumerable.Range(0, cameras.Length).Where(i => cameras[i].Faults.Length > 0))
        {
            var faulty = await feed.WaitForAsync(e => e.Kind == FeedEventKind.CameraFaulty && e.CameraHealth.DeviceId == ids[i], "CAMERA_FAULTY " + cameras[i].Mount);
            Assert.Equal(string.Join(",", cameras[i].Faults), faulty.Reason);
            var online = feed.Events.Single(e => e.Kind == FeedEventKind.DeviceOnline && e.Device.DeviceId == ids[i]);
            Assert.Equal(StatusReasons.Stream, online.Reason);
            Assert.True(online.Sequence < faulty.Sequence);
        }

        Assert.Equal(3, feed.Events.Count(e => e.Kind == FeedEventKind.CameraFaulty));

        // The KPIs use what was measured: 3 of 7 at 1080p (the vendor declared 4), 4 of 7 working.
        var report = await Health.GetHealthReportAsync(new HealthReportRequest(), Host.Auth(Operator));
        var kpi = report.Summary.Kpis.ToDictionary(k => k.Name);
        Assert.Equal((2L, 7L), (kpi["hd_rate"].Numerator, kpi["hd_rate"].Denominator));
        Assert.Equal(3L, kpi["hd_rate_declared"].Numerator);
        Assert.Equal((4L, 7L), (kpi["serviceability"].Numerator, kpi["serviceability"].Denominator));
        Assert.False(kpi["serviceability"].Met);
        Assert.Equal(7L, kpi["online_rate"].Numerator);
        Assert.Equal(2, report.Summary.CamerasMismatched);
        Assert.Equal(7, report.Summary.CamerasMeasured);

        var mismatched = await Health.ListCameraHealthAsync(new ListCameraHealthRequest { MismatchedOnly = true }, Host.Auth(Operator));
        Assert.Equal([ids[1], ids[3]], mismatched.Cameras.Select(c => c.DeviceId).Order(StringComparer.Ordinal));
        var faultyOnly = await Health.ListCameraHealthAsync(new ListCameraHealthRequest { FaultyOnly = true }, Host.Auth(Operator));
        Assert.Equal(ids.Skip(4).Order(StringComparer.Ordinal), faultyOnly.Cameras.Select(c => c.DeviceId));
    }

    [Fact]
    public async Task Each_kind_of_failure_is_named_and_bounded_and_credentials_never_leak()
    {
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var closedPort = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        const string password = "s3cret!";
        var cases = new (RegisterDeviceRequest Request, string Failure)[]
        {
            (CameraAt(200, new Uri($"rtsp://127.0.0.1:{closedPort}/nothing")), "connection-refused"),
            (CameraAt(201, new Uri($"rtsp://127.0.0.1:{Rtsp.SilentPort}/never-answers")), "timeout"),
            (CameraAt(202, Rtsp.Url("no-such-mount")), "not-found"),
            (CameraAt(203, Rtsp.Url("auth")), "auth-failed"),
            (CameraAt(204, Rtsp.Url("auth"), user: "viewer", password: "wrong-" + password), "auth-failed"),
            (CameraAt(205, Rtsp.Url("auth"), user: "viewer", password: password), ""),
        };
        foreach (var (request, _) in cases)
        {
            await Registry.RegisterDeviceAsync(request, Host.Auth(Vendor));
        }

        var started = Stopwatch.GetTimestamp();
        var response = await CheckAsync(CheckDepth.Probe, [.. cases.Select(c => c.Request.DeviceId)]);
        var elapsed = Stopwatch.GetElapsedTime(started);

        Assert.Equal(1, response.Ok);
        foreach (var (request, failure) in cases)
        {
            var h = response.Cameras.Single(c => c.DeviceId == request.DeviceId);
            Assert.Equal(failure, h.LastLiveness.Failure);
            Assert.Equal(failure.Length == 0, h.LastLiveness.Ok);
            Assert.Equal(failure.Length == 0 ? 0 : 1, h.ConsecutiveFailures);
            // One failure is not yet a fault (3 in a row are), and a device never heard from stays unknown.
            Assert.False(h.Faulty);
            Assert.Equal(failure.Length == 0 ? DeviceStatus.Online : DeviceStatus.Unknown, h.Status);
        }

        // The silent server is given up on at the DESCRIBE timeout (2 s here), not left hanging.
        var silent = response.Cameras.Single(c => c.DeviceId == cases[1].Request.DeviceId);
        Assert.InRange(silent.LastLiveness.ElapsedMs, 1_500, 5_000);
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"the checks took {elapsed}");

        // With the right credentials the stream is measured; the password is in no answer, no log, no feed.
        var ok = response.Cameras.Single(c => c.DeviceId == cases[5].Request.DeviceId);
        Assert.Equal((640, 360), (ok.Measured.Width, ok.Measured.Height));
        Assert.DoesNotContain(password, response.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(password, Host.Logs.All, StringComparison.Ordinal);
        var feedText = string.Join("\n", (await ReadFeedAsync()).Select(e => e.ToString()));
        Assert.DoesNotContain(password, feedText, StringComparison.Ordinal);
    }

    /// <summary>One line per camera: its URL and its last DESCRIBE, ffprobe and grab outcomes, for a failure message.</summary>
    private string Outcomes(CameraHealth h) =>
        $"{Host.Services.GetRequiredService<SharpEyes.Gateway.Devices.DeviceCatalog>().Find(h.DeviceId)?.Device.Camera?.RtspUrl}: describe {h.LastLiveness}, probe {h.LastProbe}, grab {h.LastGrab}";

    private async Task<List<FeedEvent>> ReadFeedAsync()
    {
        await using var feed = new FeedReader(Host, Centre);
        var last = Host.LastSequence;
        await Eventually.TrueAsync(() => feed.Events.Count > 0 && feed.Events[^1].Sequence >= last, "the feed up to now");
        return [.. feed.Events];
    }

    [Fact]
    public async Task A_hard_timeout_kills_ffprobe_and_ffmpeg_on_a_server_that_never_answers()
    {
        // ffmpeg's own socket timeout is set far beyond the hard limit, so only the hard limit can end these runs.
        var options = Microsoft.Extensions.Options.Options.Create(new Configuration.GatewayOptions
        {
            DataDir = Host.DataDir,
            Streams = { ProcessTimeout = TimeSpan.FromSeconds(2), DescribeTimeout = TimeSpan.FromSeconds(60) },
        });
        var runner = new FfmpegRunner(options, Microsoft.Extensions.Logging.Abstractions.NullLogger<FfmpegRunner>.Instance);
        var url = new Uri($"rtsp://viewer:pw-not-logged@127.0.0.1:{Rtsp.SilentPort}/hard-timeout");

        var started = Stopwatch.GetTimestamp();
        var probe = await runner.ProbeAsync(url, CancellationToken.None);
        var grab = await runner.GrabAsync(url, Path.Combine(Host.DataDir, "grab-test"), CancellationToken.None);
        var elapsed = Stopwatch.GetElapsedTime(started);

        Assert.Equal(("timeout", "timeout"), (probe.Failure, grab.Failure));
        Assert.InRange(probe.Elapsed.TotalSeconds, 1.9, 6);
        Assert.InRange(grab.Elapsed.TotalSeconds, 1.9, 6);
        Assert.True(elapsed < TimeSpan.FromSeconds(12), $"took {elapsed}");
        Assert.DoesNotContain("pw-not-logged", probe.Detail + grab.Detail, StringComparison.Ordinal);
        Assert.Equal(0, runner.Running);
        await NoProcessLeftAsync(Rtsp.SilentPort);
        Assert.Empty(Directory.GetFiles(Path.Combine(Host.DataDir, "grab-test")));
    }

    [Fact]
    public async Task Bad_requests_get_field_level_errors_and_roles_are_enforced()
    {
        async Task<RpcException> Register(Action<RegisterDeviceRequest> change)
        {
            var request = CameraAt(300, Rtsp.Url("h264-360p"), MainStream("H.264", 640, 360, 30));
            change(request);
            return await Assert.ThrowsAsync<RpcException>(async () => await Registry.RegisterDeviceAsync(request, Host.Auth(Vendor)));
        }

        var cases = new (Action<RegisterDeviceRequest> Change, string Field)[]
        {
            (r => r.Camera.Streams[0].Role = StreamRole.Unspecified, "camera.streams[0].role"),
            (r => r.Camera.Streams[1].Role = StreamRole.Main, "camera.streams[1].role"),
            (r => r.Camera.Streams[0].Codec = "realvideo", "camera.streams[0].codec"),
            (r => r.Camera.Streams[0].Width = 8, "camera.streams[0].width"),
            (r => r.Camera.Streams[0].FrameRate = 0, "camera.streams[0].frame_rate"),
            (r => r.Camera.Streams[1].BitrateKbps = -1, "camera.streams[1].bitrate_kbps"),
            (r => r.Camera.Streams[1].RtspUrl = "rtsp://127.0.0.1/user=admin&password=x&channel=1&stream=1.sdp", "camera.streams[1].rtsp_url"),
            (r => (r.Camera.ResolutionWidth, r.Camera.ResolutionHeight) = (1920, 1080), "camera.streams[0].width"),
        };
        foreach (var (change, field) in cases)
        {
            var e = await Register(change);
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
            Assert.StartsWith(field + ":", e.Status.Detail, StringComparison.Ordinal);
        }

        var camera = await Registry.RegisterDeviceAsync(CameraAt(301, Rtsp.Url("h264-360p"), MainStream("H.264", 640, 360, 30)), Host.Auth(Vendor));
        var id = camera.Device.DeviceId;
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(async () =>
            await Health.GetSnapshotAsync(new GetSnapshotRequest { DeviceId = id }, Host.Auth(Operator)))).StatusCode);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(async () =>
            await Health.GetCameraHealthAsync(new GetCameraHealthRequest { DeviceId = "13012700001320999999" }, Host.Auth(Operator)))).StatusCode);
        var alarm = await Registry.RegisterDeviceAsync(TestDevices.Alarm(302), Host.Auth(Vendor));
        var notCamera = await Assert.ThrowsAsync<RpcException>(async () =>
            await Health.GetCameraHealthAsync(new GetCameraHealthRequest { DeviceId = alarm.Device.DeviceId }, Host.Auth(Operator)));
        Assert.StartsWith("device_id:", notCamera.Status.Detail, StringComparison.Ordinal);

        var both = new CheckNowRequest { RegionPrefix = "130127", DeviceIds = { id } };
        Assert.StartsWith("region_prefix:", (await Assert.ThrowsAsync<RpcException>(async () =>
            await Health.CheckNowAsync(both, Host.Auth(Operator)))).Status.Detail, StringComparison.Ordinal);
        Assert.StartsWith("depth:", (await Assert.ThrowsAsync<RpcException>(async () =>
            await Health.CheckNowAsync(new CheckNowRequest { Depth = (CheckDepth)9 }, Host.Auth(Operator)))).Status.Detail, StringComparison.Ordinal);
        Assert.StartsWith("window_hours:", (await Assert.ThrowsAsync<RpcException>(async () =>
            await Health.GetHealthReportAsync(new HealthReportRequest { WindowHours = 721 }, Host.Auth(Operator)))).Status.Detail, StringComparison.Ordinal);
        Assert.StartsWith("region_prefix:", (await Assert.ThrowsAsync<RpcException>(async () =>
            await Health.ListCameraHealthAsync(new ListCameraHealthRequest { RegionPrefix = "13x" }, Host.Auth(Operator)))).Status.Detail, StringComparison.Ordinal);

        // Vendors read their own cameras' health and snapshots, nobody else's (answered as for an unregistered id), and
        // may not trigger checks.
        var other = await Host.CreateKeyAsync(Role.Vendor, "other-vendor");
        var foreign = await Assert.ThrowsAsync<RpcException>(async () =>
            await Health.GetCameraHealthAsync(new GetCameraHealthRequest { DeviceId = id }, Host.Auth(other)));
        Assert.Equal((StatusCode.NotFound, $"device_id: {id} is not registered"), (foreign.StatusCode, foreign.Status.Detail));
        Assert.Empty((await Health.ListCameraHealthAsync(new ListCameraHealthRequest(), Host.Auth(other))).Cameras);
        Assert.Single((await Health.ListCameraHealthAsync(new ListCameraHealthRequest(), Host.Auth(Vendor))).Cameras);
        Assert.Equal(StatusCode.PermissionDenied, (await Assert.ThrowsAsync<RpcException>(async () =>
            await Health.CheckNowAsync(new CheckNowRequest { DeviceIds = { id } }, Host.Auth(Vendor)))).StatusCode);
        Assert.Equal($"device_id: {id} is not registered", (await Assert.ThrowsAsync<RpcException>(async () =>
            await Health.GetSnapshotAsync(new GetSnapshotRequest { DeviceId = id }, Host.Auth(other)))).Status.Detail);
    }
}
