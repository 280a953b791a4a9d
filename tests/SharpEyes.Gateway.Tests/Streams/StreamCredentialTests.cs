using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Streams;

/// <summary>
/// RTSP credentials in every form a vendor gives them (userinfo, the camera's fields, a query-string token, a sub
/// stream's URL) against the real gst-rtsp-server's protected mounts (/auth: Basic or Digest; /token: a token in the
/// query): the gateway authenticates with them, keeps them across a read-modify-write registration, and shows them
/// nowhere — not in an answer, the feed, the log, nor on the command line of the ffprobe/ffmpeg processes it starts.
/// </summary>
public sealed class StreamCredentialTests(RtspServerFixture fixture) : StreamGatewayTests(fixture)
{
    private const string SubPassword = "sub-pa55word";
    private const string ThirdToken = "third-t0ken";

    /// <summary>Every secret any camera here was registered with, in each spelling it could leak in.</summary>
    private static readonly string[] Secrets =
        [RtspTestServer.AuthPassword, Uri.EscapeDataString(RtspTestServer.AuthPassword), RtspTestServer.AuthToken, SubPassword, ThirdToken];

    private static void AssertNoSecret(string text, string where)
    {
        foreach (var secret in Secrets)
        {
            Assert.False(text.Contains(secret, StringComparison.Ordinal), $"{where} contains the secret '{secret}':\n{text}");
        }
    }

    [Fact]
    public async Task Every_credential_form_authenticates_and_appears_in_no_answer_feed_log_or_command_line()
    {
        await using var feed = new FeedReader(Host, Centre);
        var port = Rtsp.RtspPort;
        var withStreams = CameraAt(504, new Uri($"rtsp://127.0.0.1:{port}/auth"), user: RtspTestServer.AuthUser, password: RtspTestServer.AuthPassword);
        withStreams.Camera.Streams.Add(new StreamProfile
        {
            Role = StreamRole.Sub, Codec = "H.264", Width = 640, Height = 360, FrameRate = 30,
            RtspUrl = $"rtsp://viewer:{SubPassword}@127.0.0.1:{port}/h264-360p?channel=1&subtype=1&password={SubPassword}",
        });
        withStreams.Camera.Streams.Add(new StreamProfile
        {
            Role = StreamRole.Third, Codec = "H.264", Width = 640, Height = 360, FrameRate = 30,
            RtspUrl = $"rtsp://127.0.0.1:{port}/h264-360p?Token={ThirdToken}&subtype=2",
        });
        var cameras = new (RegisterDeviceRequest Request, string StoredUrl, string Form)[]
        {
            (CameraAt(501, new Uri($"rtsp://{RtspTestServer.AuthUser}:{Uri.EscapeDataString(RtspTestServer.AuthPassword)}@127.0.0.1:{port}/auth")), $"rtsp://127.0.0.1:{port}/auth", "userinfo"),
            (CameraAt(502, new Uri($"rtsp://127.0.0.1:{port}/auth"), user: RtspTestServer.AuthUser, password: RtspTestServer.AuthPassword), $"rtsp://127.0.0.1:{port}/auth", "fields"),
            (CameraAt(503, new Uri($"rtsp://127.0.0.1:{port}/token?channel=1&token={RtspTestServer.AuthToken}")), $"rtsp://127.0.0.1:{port}/token?channel=1", "query"),
            (withStreams, $"rtsp://127.0.0.1:{port}/auth", "sub-stream URLs"),
        };
        var ids = new List<string>();
        foreach (var (request, storedUrl, form) in cameras)
        {
            // The secret was really in what the gateway was given.
            Assert.Contains(Secrets, s => request.ToString().Contains(s, StringComparison.Ordinal));
            var registered = await Registry.RegisterDeviceAsync(request, Host.Auth(Vendor));
            Assert.True(registered.Device.HasRtspCredentials, form);
            Assert.Equal(storedUrl, registered.Device.Camera.RtspUrl);
            AssertNoSecret(registered.ToString(), $"RegisterDevice ({form})");
            ids.Add(registered.Device.DeviceId);
        }

        var sub = (await Registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = ids[3] }, Host.Auth(Vendor))).Camera.Streams;
        Assert.Equal([$"rtsp://127.0.0.1:{port}/h264-360p?channel=1&subtype=1", $"rtsp://127.0.0.1:{port}/h264-360p?subtype=2"], sub.Select(s => s.RtspUrl));

        // Every check authenticates (DESCRIBE, ffprobe and the frame grab) while no process shows a secret.
        CheckNowResponse response;
        IReadOnlyCollection<FfProcesses.Info> processes;
        await using (var watcher = new FfProcessWatcher())
        {
            response = await CheckAsync(CheckDepth.Quality, [.. ids]);
            processes = watcher.Seen;
        }

        Assert.Equal(4, response.Ok);
        foreach (var h in response.Cameras)
        {
            Assert.True(h.LastLiveness.Ok && h.LastProbe.Ok && h.LastGrab.Ok, h.ToString());
            Assert.Equal((640, 360), (h.Measured.Width, h.Measured.Height));
            Assert.True(h.LastQuality.Frames >= 2, h.ToString());
        }

        // No process shows a secret (other test classes' gateways run in this process too: all are checked). This
        // gateway's runs — one ffprobe and one ffmpeg per camera, besides FFMpegCore's "ffprobe -version" — name
        // only an input script in its data directory, never the camera's URL.
        foreach (var p in processes)
        {
            AssertNoSecret(p.CommandLine, $"/proc/{p.Pid}/cmdline");
        }

        Assert.DoesNotContain(processes, p => p.CommandLine.Contains($":{port}/", StringComparison.Ordinal));
        var ours = processes.Where(p => p.CommandLine.Contains(Path.Combine(Host.DataDir, "stream-inputs"), StringComparison.Ordinal)).ToList();
        var probes = ours.Count(p => p.CommandLine.Contains("-show_streams", StringComparison.Ordinal));
        var grabs = ours.Count(p => p.CommandLine.Contains(" -i ", StringComparison.Ordinal));
        Assert.True(probes >= 4 && grabs >= 4, $"saw {probes} ffprobe and {grabs} ffmpeg runs of this gateway:\n{string.Join('\n', processes)}");
        Assert.All(ours, p => Assert.Contains("-f concat -safe 0 -protocol_whitelist file,rtsp,rtsps,tcp,udp,rtp,tls", p.CommandLine, StringComparison.Ordinal));

        // The scripts that carried the URLs are gone.
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(Host.DataDir, "stream-inputs")));

        // Nothing answered, announced or logged holds a secret.
        foreach (var id in ids)
        {
            AssertNoSecret((await Registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = id }, Host.Auth(Vendor))).ToString(), "GetDevice");
            AssertNoSecret((await Health.GetCameraHealthAsync(new GetCameraHealthRequest { DeviceId = id }, Host.Auth(Vendor))).ToString(), "GetCameraHealth");
        }

        AssertNoSecret(response.ToString(), "CheckNow");
        AssertNoSecret((await Registry.ListDevicesAsync(new ListDevicesRequest(), Host.Auth(Vendor))).ToString(), "ListDevices");
        AssertNoSecret((await Registry.ListDevicesAsync(new ListDevicesRequest(), Host.Auth(Operator))).ToString(), "ListDevices (operator)");
        AssertNoSecret((await Health.ListCameraHealthAsync(new ListCameraHealthRequest(), Host.Auth(Operator))).ToString(), "ListCameraHealth");
        var last = Host.LastSequence;
        await Eventually.TrueAsync(() => feed.Events.Count > 0 && feed.Events[^1].Sequence >= last, "the feed up to now");
        Assert.Equal(4, feed.Events.Count(e => e.Kind == FeedEventKind.DeviceRegistered));
        AssertNoSecret(string.Join("\n", feed.Events), "the feed");
        AssertNoSecret(Host.Logs.All, "the log");
    }

    [Fact]
    public async Task Failure_texts_name_the_failure_without_the_credentials_that_failed()
    {
        var port = Rtsp.RtspPort;
        var wrongPassword = CameraAt(511, new Uri($"rtsp://viewer:{SubPassword}@127.0.0.1:{port}/auth"));
        var wrongToken = CameraAt(512, new Uri($"rtsp://127.0.0.1:{port}/token?token={ThirdToken}"));
        var ids = new[] { wrongPassword.DeviceId, wrongToken.DeviceId };
        await Registry.RegisterDeviceAsync(wrongPassword, Host.Auth(Vendor));
        await Registry.RegisterDeviceAsync(wrongToken, Host.Auth(Vendor));

        var response = await CheckAsync(CheckDepth.Liveness, ids);

        Assert.Equal(0, response.Ok);
        Assert.All(response.Cameras, h => Assert.Equal("auth-failed", h.LastLiveness.Failure));
        AssertNoSecret(response.ToString(), "CheckNow");
        AssertNoSecret(Host.Logs.All, "the log");

        // ffmpeg prints the URL it failed to open, credentials and all: its text is redacted too.
        var runner = new SharpEyes.Gateway.Streams.FfmpegRunner(Microsoft.Extensions.Options.Options.Create(new Configuration.GatewayOptions { DataDir = Host.DataDir }),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<SharpEyes.Gateway.Streams.FfmpegRunner>.Instance);
        var probe = await runner.ProbeAsync(new Uri($"rtsp://viewer:{SubPassword}@127.0.0.1:{port}/auth?password={ThirdToken}"), CancellationToken.None);
        Assert.Equal("auth-failed", probe.Failure);
        Assert.Contains("401", probe.Detail, StringComparison.Ordinal);
        AssertNoSecret(probe.Detail, "ffprobe's failure");
    }

    [Fact]
    public async Task A_camera_read_back_changed_and_registered_again_keeps_its_credentials_until_an_update_clears_them()
    {
        var port = Rtsp.RtspPort;
        var registered = await Registry.RegisterDeviceAsync(
            CameraAt(520, new Uri($"rtsp://127.0.0.1:{port}/auth"), user: RtspTestServer.AuthUser, password: RtspTestServer.AuthPassword), Host.Auth(Vendor));
        var token = await Registry.RegisterDeviceAsync(CameraAt(521, new Uri($"rtsp://127.0.0.1:{port}/token?channel=1&token={RtspTestServer.AuthToken}")), Host.Auth(Vendor));
        string[] ids = [registered.Device.DeviceId, token.Device.DeviceId];
        Assert.Equal(2, (await CheckAsync(CheckDepth.Liveness, ids)).Ok);

        // The steps: GetDevice, change only the azimuth, send it back with RegisterDevice.
        foreach (var id in ids)
        {
            var device = await Registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = id }, Host.Auth(Vendor));
            device.Camera.AzimuthDeg = 200;
            var again = await Registry.RegisterDeviceAsync(new RegisterDeviceRequest
            {
                DeviceId = device.DeviceId, Kind = device.Kind, Name = device.Name, Model = device.Model, Position = device.Position, Camera = device.Camera,
            }, Host.Auth(Vendor));
            Assert.True(again.Changed);
            Assert.Equal(200, again.Device.Camera.AzimuthDeg);
            Assert.True(again.Device.HasRtspCredentials, id);
        }

        var check = await CheckAsync(CheckDepth.Liveness, ids);
        Assert.True(check.Ok == 2, check.ToString()); // not auth-failed 401

        // Clearing is an explicit update; naming the password drops the query token too.
        var cleared = await Registry.UpdateDeviceAsync(new UpdateDeviceRequest
        {
            Device = new Device { DeviceId = ids[0] },
            UpdateMask = new FieldMask { Paths = { "camera.rtsp_username", "camera.rtsp_password" } },
        }, Host.Auth(Vendor));
        var tokenCleared = await Registry.UpdateDeviceAsync(new UpdateDeviceRequest
        {
            Device = new Device { DeviceId = ids[1] },
            UpdateMask = new FieldMask { Paths = { "camera.rtsp_password" } },
        }, Host.Auth(Vendor));
        Assert.False(cleared.HasRtspCredentials);
        Assert.False(tokenCleared.HasRtspCredentials);
        Assert.Equal(200, cleared.Camera.AzimuthDeg);
        check = await CheckAsync(CheckDepth.Liveness, ids);
        Assert.All(check.Cameras, h => Assert.Equal("auth-failed", h.LastLiveness.Failure));

        // Set again by an update: the stored URL and azimuth stay, the checks pass.
        var restored = await Registry.UpdateDeviceAsync(new UpdateDeviceRequest
        {
            Device = new Device { DeviceId = ids[0], Camera = new CameraSpec { RtspUsername = RtspTestServer.AuthUser, RtspPassword = RtspTestServer.AuthPassword } },
            UpdateMask = new FieldMask { Paths = { "camera.rtsp_username", "camera.rtsp_password" } },
        }, Host.Auth(Vendor));
        Assert.True(restored.HasRtspCredentials);
        Assert.Equal($"rtsp://127.0.0.1:{port}/auth", restored.Camera.RtspUrl);
        Assert.True((await CheckAsync(CheckDepth.Liveness, ids[0])).Ok == 1);

        // Credentials never follow a URL to another host: a registration pointing elsewhere without any drops them.
        var device0 = await Registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = ids[0] }, Host.Auth(Vendor));
        device0.Camera.RtspUrl = $"rtsp://127.0.0.2:{port}/auth";
        var moved = await Registry.RegisterDeviceAsync(new RegisterDeviceRequest
        {
            DeviceId = device0.DeviceId, Kind = device0.Kind, Name = device0.Name, Model = device0.Model, Position = device0.Position, Camera = device0.Camera,
        }, Host.Auth(Vendor));
        Assert.False(moved.Device.HasRtspCredentials);
        AssertNoSecret(Host.Logs.All, "the log");
    }
}
