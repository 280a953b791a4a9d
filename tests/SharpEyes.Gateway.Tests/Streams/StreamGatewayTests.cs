using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Streams;

/// <summary>
/// An in-process gateway per test (real Kestrel, the schedule off, DESCRIBE timeout 2 s) against the class's real RTSP
/// server, with a vendor ("acme"), an operator and a centre key. After each test, no ffprobe or ffmpeg process it
/// started may be left: neither one naming the server's ports nor one naming an input script in the data directory.
/// </summary>
public abstract class StreamGatewayTests(RtspServerFixture fixture) : IClassFixture<RtspServerFixture>, IAsyncLifetime
{
    protected GatewayHost Host { get; private set; } = null!;

    protected string Vendor { get; private set; } = null!;

    protected string Operator { get; private set; } = null!;

    protected string Centre { get; private set; } = null!;

    protected RtspTestServer Rtsp => fixture.Server;

    protected DeviceRegistry.DeviceRegistryClient Registry => new(Host.Channel);

    protected StreamHealth.StreamHealthClient Health => new(Host.Channel);

    public ValueTask InitializeAsync() => new(StartHostAsync("--SharpEyes:Streams:DescribeTimeout=00:00:02"));

    /// <summary>Replaces this test's gateway with one started with other settings (the stream limits a test is about).</summary>
    protected async Task UseHostAsync(params string[] extraArgs)
    {
        await Host.DisposeAsync();
        await StartHostAsync(extraArgs);
    }

    private async Task StartHostAsync(params string[] extraArgs)
    {
        Host = await GatewayHost.StartAsync(extraArgs: extraArgs);
        Vendor = await Host.CreateKeyAsync(Role.Vendor, "acme");
        Operator = await Host.CreateKeyAsync(Role.Operator);
        Centre = await Host.CreateKeyAsync(Role.Centre);
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await NoProcessLeftAsync(Rtsp.RtspPort);
        await NoProcessLeftAsync(Rtsp.SilentPort);
        await FfProcesses.NoneLeftAsync(Host.DataDir); // runs whose URL had credentials name only their input script
        GC.SuppressFinalize(this);
    }

    /// <summary>Waits until no ffprobe or ffmpeg process has the port on its command line.</summary>
    internal static Task NoProcessLeftAsync(int port) => FfProcesses.NoneLeftAsync(":" + port + "/");

    /// <summary>A camera on a mount of the test server; <paramref name="main"/> is its declared main stream (with a sub stream beside it).</summary>
    protected static RegisterDeviceRequest CameraAt(int serial, Uri url, StreamProfile? main = null, string user = "", string password = "")
    {
        var request = TestDevices.Camera(serial, lon: TestDevices.SeatLon + serial * 0.0005);
        request.Camera.RtspUrl = url.ToString();
        request.Camera.RtspUsername = user;
        request.Camera.RtspPassword = password;
        request.Camera.ResolutionWidth = 0;
        request.Camera.ResolutionHeight = 0;
        if (main is not null)
        {
            request.Camera.Streams.Add(main);
            request.Camera.Streams.Add(new StreamProfile { Role = StreamRole.Sub, Codec = "h264", Width = 640, Height = 360, FrameRate = 15, BitrateKbps = 512 });
        }

        return request;
    }

    /// <summary>StreamHealth.CheckNow for the given cameras, as the operator.</summary>
    protected async Task<CheckNowResponse> CheckAsync(CheckDepth depth, params string[] ids)
    {
        var request = new CheckNowRequest { Depth = depth };
        request.DeviceIds.Add(ids);
        return await Health.CheckNowAsync(request, Host.Auth(Operator), deadline: DateTime.UtcNow.AddMinutes(3));
    }
}
