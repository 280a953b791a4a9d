using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using SharpEyes.Gateway.Streams;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Streams;

/// <summary>One real gst-rtsp-server for <see cref="RtspDescribeTests"/>; null (and the reason) when its tools are missing.</summary>
public sealed class RtspDescribeServerFixture : IAsyncLifetime
{
    private RtspTestServer? _server;

    public RtspTestServer Server
    {
        get
        {
            RtspTestServer.RequireTools();
            return _server ?? throw new InvalidOperationException("the RTSP test server did not start");
        }
    }

    public async ValueTask InitializeAsync()
    {
        // Tools missing: no server, and each test skips (or fails under CI) through RequireTools.
        if (RtspTestServer.MissingTools is null)
        {
            _server = await RtspTestServer.StartAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>
/// The DESCRIBE liveness check against a real RTSP server (tests/rtsp/rtsp_server.py: gst-rtsp-server, x264/x265) and,
/// for what gst-rtsp-server never does (qop=auth, Connection: close after a 401, garbage), a scripted peer; plus the
/// SDP and SPS decoders on known inputs.
/// </summary>
public sealed class RtspDescribeTests(RtspDescribeServerFixture fixture) : IClassFixture<RtspDescribeServerFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private RtspTestServer Rtsp => fixture.Server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string, int, int, double> Mounts => new()
    {
        { "h264-1080p", "H.264", 1920, 1080, 15 },
        { "h264-720p", "H.264", 1280, 720, 25 },
        { "h265-1080p", "H.265", 1920, 1080, 5 },
        { "h264-360p", "H.264", 640, 360, 30 },
        { "black", "H.264", 1280, 720, 10 },
        { "frozen", "H.264", 1280, 720, 10 },
        { "lowdetail", "H.264", 1280, 720, 10 },
    };

    [Theory]
    [MemberData(nameof(Mounts))]
    public async Task Each_mount_is_described_with_its_codec_size_from_the_SPS_and_frame_rate(string mount, string codec, int width, int height, double fps)
    {
        var result = await RtspDescribe.DescribeAsync(Rtsp.Url(mount), null, null, Timeout, Ct);

        Assert.True(result.Ok, result.ToString());
        Assert.Equal((RtspFailure.None, 200), (result.Failure, result.StatusCode));
        var video = result.Video!;
        Assert.Equal(codec, video.Codec);
        Assert.Equal(codec == "H.265" ? "H265" : "H264", video.EncodingName);
        // gst-rtsp-server states no size: it comes from the SPS in sprop-parameter-sets / sprop-sps.
        Assert.Equal((width, height), (video.Width, video.Height));
        if (video.FrameRate is { } rate)
        {
            Assert.Equal(fps, rate);
        }

        Assert.InRange(result.Elapsed, TimeSpan.FromTicks(1), Timeout);
        Assert.StartsWith($"{codec} {width}x{height}", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_protected_mount_answers_AuthFailed_without_credentials_and_Ok_with_them_in_the_URL_or_as_arguments()
    {
        var anonymous = await RtspDescribe.DescribeAsync(Rtsp.Url("auth"), null, null, Timeout, Ct);
        Assert.Equal((false, RtspFailure.AuthFailed, 401), (anonymous.Ok, anonymous.Failure, anonymous.StatusCode));
        Assert.Null(anonymous.Video);

        var arguments = await RtspDescribe.DescribeAsync(Rtsp.Url("auth"), RtspTestServer.AuthUser, RtspTestServer.AuthPassword, Timeout, Ct);
        Assert.True(arguments.Ok, arguments.ToString());
        Assert.Equal(("H.264", 640, 360), (arguments.Video!.Codec, arguments.Video.Width, arguments.Video.Height));

        var inUrl = new Uri($"rtsp://{RtspTestServer.AuthUser}:{Uri.EscapeDataString(RtspTestServer.AuthPassword)}@127.0.0.1:{Rtsp.RtspPort}/auth");
        var fromUrl = await RtspDescribe.DescribeAsync(inUrl, null, null, Timeout, Ct);
        Assert.True(fromUrl.Ok, fromUrl.ToString());
        Assert.DoesNotContain("s3cret", fromUrl.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_is_AuthFailed_and_no_reason_ever_holds_the_password_or_userinfo()
    {
        const string wrong = "wrong-s3cret!";
        var asArgument = await RtspDescribe.DescribeAsync(Rtsp.Url("auth"), RtspTestServer.AuthUser, wrong, Timeout, Ct);
        var inUrl = await RtspDescribe.DescribeAsync(
            new Uri($"rtsp://{RtspTestServer.AuthUser}:{Uri.EscapeDataString(wrong)}@127.0.0.1:{Rtsp.RtspPort}/auth"), null, null, Timeout, Ct);
        // The userinfo of a URL pointing nowhere must not leak into a refused connection's reason either.
        var refused = await RtspDescribe.DescribeAsync(new Uri($"rtsp://{RtspTestServer.AuthUser}:{Uri.EscapeDataString(wrong)}@127.0.0.1:{ClosedPort()}/x"), null, null, Timeout, Ct);

        foreach (var result in new[] { asArgument, inUrl })
        {
            Assert.Equal((false, RtspFailure.AuthFailed, 401), (result.Ok, result.Failure, result.StatusCode));
            Assert.Contains("Digest", result.Reason, StringComparison.Ordinal); // Digest is chosen when offered beside Basic
        }

        Assert.Equal(RtspFailure.ConnectionRefused, refused.Failure);
        foreach (var result in new[] { asArgument, inUrl, refused })
        {
            Assert.DoesNotContain("s3cret", result.Reason, StringComparison.Ordinal);
            Assert.DoesNotContain(RtspTestServer.AuthUser + ":", result.Reason, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("basic")]
    [InlineData("digest")]
    public async Task Basic_alone_and_Digest_alone_both_authenticate(string method)
    {
        await using var server = await RtspTestServer.StartAsync(authMethods: method, readyMounts: ["/auth"]);

        var right = await RtspDescribe.DescribeAsync(server.Url("auth"), RtspTestServer.AuthUser, RtspTestServer.AuthPassword, Timeout, Ct);
        var wrong = await RtspDescribe.DescribeAsync(server.Url("auth"), RtspTestServer.AuthUser, "nope", Timeout, Ct);

        Assert.True(right.Ok, right.ToString());
        Assert.Equal(RtspFailure.AuthFailed, wrong.Failure);
        Assert.Contains(method, wrong.Reason, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task An_unknown_path_is_NotFound()
    {
        var result = await RtspDescribe.DescribeAsync(Rtsp.Url("no-such-mount"), null, null, Timeout, Ct);

        Assert.Equal((false, RtspFailure.NotFound, 404), (result.Ok, result.Failure, result.StatusCode));
    }

    [Fact]
    public async Task A_closed_port_is_ConnectionRefused()
    {
        var result = await RtspDescribe.DescribeAsync(new Uri($"rtsp://127.0.0.1:{ClosedPort()}/x"), null, null, Timeout, Ct);

        Assert.Equal((false, RtspFailure.ConnectionRefused), (result.Ok, result.Failure));
        Assert.Contains("connection refused", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_that_never_answers_is_a_Timeout_after_the_timeout()
    {
        var result = await RtspDescribe.DescribeAsync(new Uri($"rtsp://127.0.0.1:{Rtsp.SilentPort}/x"), null, null, TimeSpan.FromSeconds(1), Ct);

        Assert.Equal((false, RtspFailure.Timeout), (result.Ok, result.Failure));
        Assert.InRange(result.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(3));
        Assert.Contains("OPTIONS", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_callers_cancellation_throws_rather_than_reporting_a_timeout()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            RtspDescribe.DescribeAsync(new Uri($"rtsp://127.0.0.1:{Rtsp.SilentPort}/x"), null, null, TimeSpan.FromSeconds(30), cts.Token));
    }

    [Fact]
    public async Task A_stopped_mount_is_NotFound_until_it_is_started_again()
    {
        Assert.True((await RtspDescribe.DescribeAsync(Rtsp.Url("stoppable"), null, null, Timeout, Ct)).Ok);

        await Rtsp.StopMountAsync("/stoppable");
        var stopped = await RtspDescribe.DescribeAsync(Rtsp.Url("stoppable"), null, null, Timeout, Ct);
        await Rtsp.StartMountAsync("/stoppable");
        var restarted = await RtspDescribe.DescribeAsync(Rtsp.Url("stoppable"), null, null, Timeout, Ct);

        Assert.Equal(RtspFailure.NotFound, stopped.Failure);
        Assert.True(restarted.Ok, restarted.ToString());
        Assert.Equal((640, 360), (restarted.Video!.Width, restarted.Video.Height));
    }

    [Fact]
    public async Task Stopping_a_mount_ends_a_player_that_is_reading_it()
    {
        var ffmpeg = InteropPaths.FindOnPath("ffmpeg");
        if (ffmpeg is null)
        {
            InteropPaths.SkipUnlessCi("ffmpeg is not on PATH; run scripts/install-test-deps.sh");
        }

        // -progress prints "frame=N" lines on stdout as frames are decoded.
        await using var player = ExternalTool.Start(ffmpeg,
            ["-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", Rtsp.Url("stoppable").ToString(), "-f", "null", "-progress", "pipe:1", "-"]);
        try
        {
            await Eventually.TrueAsync(() => player.StdoutLines.Any(l => l.StartsWith("frame=", StringComparison.Ordinal) && l != "frame=0"),
                "ffmpeg to decode frames", TimeSpan.FromSeconds(20));

            await Rtsp.StopMountAsync("/stoppable");

            Assert.True(await player.WaitForExitOrAsync(TimeSpan.FromSeconds(10)), "ffmpeg still reads a stopped mount");
        }
        finally
        {
            await Rtsp.StartMountAsync("/stoppable");
        }
    }

    [Fact]
    public async Task The_test_server_is_not_ready_while_a_mount_does_not_answer_and_says_which_and_what_it_waited_for()
    {
        // 10 s: ample for /black on a busy machine; /h264-360p never answers, whatever the deadline.
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => RtspTestServer.StartAsync(
            readyMounts: ["/h264-360p", "/black"], held: ["/h264-360p"], readyTimeout: TimeSpan.FromSeconds(10)));

        Assert.Contains("was not ready within 10 s: 1 of 2 mounts", e.Message, StringComparison.Ordinal);
        Assert.Contains("/h264-360p: waited for a DESCRIBE answer: Timeout", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("/black:", e.Message, StringComparison.Ordinal);
        Assert.InRange(System.Diagnostics.Stopwatch.GetElapsedTime(started), TimeSpan.FromSeconds(9), TimeSpan.FromSeconds(25));
    }

    [Fact]
    public async Task Bench_mounts_share_one_pipeline_and_answer_a_run_of_DESCRIBEs()
    {
        await using var bench = await RtspTestServer.StartAsync(benchMounts: 50, readyMounts: [.. Enumerable.Range(0, 50).Select(i => $"/cam/{i:0000}")]);

        for (var i = 0; i < 100; i++)
        {
            var result = await RtspDescribe.DescribeAsync(bench.Url($"cam/{i % 50:0000}"), null, null, Timeout, Ct);
            Assert.True(result.Ok, $"#{i}: {result}");
            Assert.Equal(("H.264", 640, 360, 5.0), (result.Video!.Codec, result.Video.Width, result.Video.Height, result.Video.FrameRate));
        }
    }

    // --- What gst-rtsp-server never does: a scripted peer. ---

    [Fact]
    public async Task Digest_with_qop_auth_is_answered_correctly_and_preferred_to_Basic()
    {
        const string realm = "cam", nonce = "4f2a9c", opaque = "xyz", user = "admin", password = "p@ss:word";
        await using var peer = new ScriptedPeer(request =>
        {
            if (Header(request, "Authorization") is not { } auth)
            {
                return Answer(401, "Unauthorized", request,
                    $"WWW-Authenticate: Basic realm=\"{realm}\"\r\nWWW-Authenticate: Digest realm=\"{realm}\", qop=\"auth,auth-int\", nonce=\"{nonce}\", opaque=\"{opaque}\", algorithm=MD5\r\n");
            }

            return DigestIsValid(auth, Method(request), user, password, realm, nonce, opaque)
                ? Answer(200, "OK", request, Method(request) == "DESCRIBE" ? SdpHeaders(VideoSdp) : "")
                : Answer(401, "Unauthorized", request, $"WWW-Authenticate: Digest realm=\"{realm}\", nonce=\"{nonce}\", qop=\"auth\"\r\n");
        });

        var result = await RtspDescribe.DescribeAsync(peer.Url("/live"), user, password, Timeout, Ct);

        Assert.True(result.Ok, result.ToString());
        Assert.All(peer.Requests.Where(r => Header(r, "Authorization") is not null), r => Assert.StartsWith("Digest ", Header(r, "Authorization"), StringComparison.Ordinal));
        // OPTIONS challenged, answered; DESCRIBE reuses the challenge with the next nonce count.
        Assert.Equal(["OPTIONS", "OPTIONS", "DESCRIBE"], peer.Requests.Select(Method));
        Assert.Contains("nc=00000002", Header(peer.Requests.Last(), "Authorization"), StringComparison.Ordinal);
        Assert.All(peer.Requests, r => Assert.Equal("SharpEyes", Header(r, "User-Agent")));
        Assert.Equal("application/sdp", Header(peer.Requests.Last(), "Accept"));
        Assert.DoesNotContain("p@ss", string.Concat(peer.Requests), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_server_that_closes_after_its_401_is_asked_again_on_a_new_connection(bool announced)
    {
        var close = announced ? "Connection: close\r\n" : "";
        await using var peer = new ScriptedPeer(request => Header(request, "Authorization") == "Basic " + Convert.ToBase64String("u:p"u8.ToArray())
            ? Answer(200, "OK", request, Method(request) == "DESCRIBE" ? SdpHeaders(VideoSdp) : "")
            : Answer(401, "Unauthorized", request, "WWW-Authenticate: Basic realm=\"x\"\r\n" + close) + ScriptedPeer.Close);

        var result = await RtspDescribe.DescribeAsync(new Uri($"rtsp://u:p@127.0.0.1:{peer.Port}/s"), null, null, Timeout, Ct);

        Assert.True(result.Ok, result.ToString());
        Assert.Equal(2, peer.Connections);
        Assert.DoesNotContain("u:p@", peer.Requests[0], StringComparison.Ordinal); // the request URI never carries userinfo
    }

    [Theory]
    [InlineData("=x, =", "")]
    [InlineData("Digest", "Digest")]
    [InlineData("Digest realm=\"unterminated", "Digest")]
    [InlineData("NTLM, Negotiate abc==", "NTLM, Negotiate")]
    [InlineData("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256", "Digest")]
    public async Task Odd_or_unsupported_challenges_end_in_AuthFailed(string challenge, string named)
    {
        await using var peer = new ScriptedPeer(request => Answer(401, "Unauthorized", request, $"WWW-Authenticate: {challenge}\r\n"));

        var result = await RtspDescribe.DescribeAsync(peer.Url("/s"), "u", "p", Timeout, Ct);

        Assert.Equal((false, RtspFailure.AuthFailed, 401), (result.Ok, result.Failure, result.StatusCode));
        Assert.Contains(named, result.Reason, StringComparison.Ordinal);
        Assert.InRange(peer.Requests.Count, 1, 2); // at most one answer to the challenge
    }

    public static TheoryData<string, RtspFailure, int> Misbehaviours => new()
    {
        { "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", RtspFailure.ProtocolError, 0 },
        { "\u0016\u0003\u0001 garbage\r\n\r\n", RtspFailure.ProtocolError, 0 },
        { "RTSP/1.0 503 Service Unavailable\r\nCSeq: {cseq}\r\n\r\n", RtspFailure.RtspError, 503 },
        { "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n" + AudioSdp, RtspFailure.NoVideo, 200 },
        { "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\n<html>", RtspFailure.ProtocolError, 200 },
        { "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Length: 999999999\r\n\r\n", RtspFailure.ProtocolError, 0 },
        { "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Length: 100\r\n\r\nv=0 cut short", RtspFailure.ProtocolError, 0 },
    };

    [Theory]
    [MemberData(nameof(Misbehaviours))]
    public async Task A_misbehaving_DESCRIBE_answer_is_named(string describeAnswer, RtspFailure failure, int status)
    {
        await using var peer = new ScriptedPeer(request => Method(request) == "OPTIONS"
            ? Answer(200, "OK", request, "Public: OPTIONS, DESCRIBE\r\n")
            : describeAnswer.Replace("{cseq}", Header(request, "CSeq"), StringComparison.Ordinal)
                .Replace("{len}", AudioSdp.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal) + ScriptedPeer.Close);

        var result = await RtspDescribe.DescribeAsync(peer.Url("/s"), null, null, Timeout, Ct);

        Assert.Equal((false, failure, status), (result.Ok, result.Failure, result.StatusCode));
    }

    // --- The decoders on known inputs. ---

    /// <summary>SPS NAL units (base64, as in sprop-parameter-sets / sprop-sps) and the size ffprobe reports for their streams.</summary>
    public static TheoryData<string, string, int, int> SpsSamples => new()
    {
        // From rtsp_server.py's SDPs (x264/x265 via GStreamer): 1080 is coded as 1088 and cropped.
        { "H.264", "Z0LAKNoB4AiflwFqAgICgAAAAwCAAAAPR4wZUA==", 1920, 1080 },
        { "H.264", "Z0LAFtoCgL/lwFqDAwNSgAAAAwCAAAAFR4sXUA==", 640, 360 },
        { "H.265", "QgEBAWAAAAMAkAAAAwAAAwB4oAPAgBEHy5bpKTC//AAEAAWoCAgIIAAAAwAgAAADAUE=", 1920, 1080 },
        // From ffmpeg (libx264/libx265) encodes, sizes as ffprobe reads them back.
        { "H.264", "Z2QAH6zZQFAFuwEQAAADABAAAAMDIPGDGWA=", 1280, 720 }, // High
        { "H.264", "Z/QAH5GbKB+CrxM+AiAAAAMAIAAABkHjBjLA", 1000, 666 }, // High 4:4:4: cropping in luma samples
        { "H.264", "Z3oAH7zZQPwSeaPwEQAAAwABAAADADIPGDGW", 998, 562 }, // High 4:2:2: crop units 2 wide, 1 high
        { "H.264", "Z2QAKKzZQHgET94CIAAAAwAgAAAGQ+LFssA=", 1920, 1080 }, // interlaced: map units are field pairs
        { "H.265", "QgEBAWAAAAMAkAAAAwAAAwA8oAtIBKckmWVmkkyvAWgIAAADAAgAAAMAyEA=", 354, 290 }, // conformance window
        { "H.265", "QgEBBAgAAAMAnQgAAAMAAF2wAoCALR1eWVmkkyvAWgIAAAMAAgAAAwAyEA==", 1278, 718 }, // 4:2:2 (Rext)
        { "H.265", "QgECAWAAAAMAkAAAAwAAAwBdAACgAoCALRZZWUrLJJleAtAQAAADABAAAAMBkIA=", 1280, 720 }, // two temporal sub-layers
    };

    [Theory]
    [MemberData(nameof(SpsSamples))]
    public void The_SPS_decoder_gives_the_size_ffprobe_reports(string codec, string sps, int width, int height)
    {
        var nal = Convert.FromBase64String(sps);

        var size = codec == "H.264" ? H26xSps.DecodeH264(nal) : H26xSps.DecodeH265(nal);

        Assert.Equal((width, height), size);
    }

    [Fact]
    public void The_SPS_decoder_returns_null_for_other_NAL_units_and_cut_short_ones()
    {
        var sps = Convert.FromBase64String("Z0LAKNoB4AiflwFqAgICgAAAAwCAAAAPR4wZUA==");

        Assert.Null(H26xSps.DecodeH264(Convert.FromBase64String("aM48gA=="))); // the PPS beside it
        Assert.Null(H26xSps.DecodeH264(sps.AsSpan(0, 6)));
        Assert.Null(H26xSps.DecodeH265(sps));
        Assert.Null(H26xSps.DecodeH264([0x67, 0, 0, 0, 0, 0, 0, 0]));
    }

    [Fact]
    public void The_SDP_parser_reads_stated_sizes_and_rates_static_payload_types_and_the_first_video_stream()
    {
        var stated = Sdp.FirstVideo("v=0\r\na=x-framerate:12.5\r\nm=audio 0 RTP/AVP 0\r\nm=video 0 RTP/AVP 97\r\na=rtpmap:97 MP4V-ES/90000\r\n" +
            "a=x-dimensions:704,576\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n")!;
        var mjpeg = Sdp.FirstVideo("v=0\nm=video 0 RTP/AVP 26\na=framesize:26 640-480\na=framerate:8\n")!;
        var unknown = Sdp.FirstVideo("v=0\r\nm=video 0 RTP/AVP 98\r\na=rtpmap:98 svac/90000\r\na=fmtp:98 sprop-parameter-sets=Z0LAKNoB4AiflwFqAgICgAAAAwCAAAAPR4wZUA\r\n")!;
        var unpadded = Sdp.FirstVideo("v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1; sprop-parameter-sets=aM48gA,Z0LAKNoB4AiflwFqAgICgAAAAwCAAAAPR4wZUA\r\n")!;

        Assert.Equal(new SdpVideo("MPEG-4", "MP4V-ES", 704, 576, 12.5), stated); // the session-level rate applies
        Assert.Equal(new SdpVideo("MJPEG", "JPEG", 640, 480, 8), mjpeg);
        Assert.Equal(new SdpVideo("SVAC", "SVAC", null, null, null), unknown);
        Assert.Equal(new SdpVideo("H.264", "H264", 1920, 1080, null), unpadded); // PPS first, padding dropped
        Assert.Null(Sdp.FirstVideo(AudioSdp));
    }

    private const string VideoSdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" +
        "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAKNoB4AiflwFqAgICgAAAAwCAAAAPR4wZUA==,aM48gA==\r\na=control:stream=0\r\n";

    private const string AudioSdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string Method(string request) => request[..request.IndexOf(' ', StringComparison.Ordinal)];

    private static string? Header(string request, string name) =>
        Regex.Match(request, $@"^{Regex.Escape(name)}:\s*(.*?)\r?$", RegexOptions.Multiline | RegexOptions.IgnoreCase) is { Success: true } m ? m.Groups[1].Value : null;

    private static string SdpHeaders(string sdp) => $"Content-Type: application/sdp\r\nContent-Base: rtsp://127.0.0.1/live/\r\nContent-Length: {Encoding.UTF8.GetByteCount(sdp)}\r\n\r\n{sdp}";

    /// <summary>A whole answer; <paramref name="headersAndBody"/> may end with an SDP (headers + blank line + body) or just headers.</summary>
    private static string Answer(int status, string phrase, string request, string headersAndBody) =>
        $"RTSP/1.0 {status} {phrase}\r\nCSeq: {Header(request, "CSeq")}\r\n{headersAndBody}" + (headersAndBody.Contains("\r\n\r\n", StringComparison.Ordinal) ? "" : "\r\n");

    /// <summary>An independent RFC 2617 check of the client's Digest answer (qop=auth, MD5).</summary>
    private static bool DigestIsValid(string authorization, string method, string user, string password, string realm, string nonce, string opaque)
    {
        var p = Regex.Matches(authorization, @"(\w+)=(?:""([^""]*)""|([^,\s]+))").ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Success ? m.Groups[2].Value : m.Groups[3].Value);
#pragma warning disable CA5351 // RFC 2617 Digest is MD5.
        static string Md5(string s) => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(s)));
#pragma warning restore CA5351
        var expected = Md5($"{Md5($"{user}:{realm}:{password}")}:{nonce}:{p["nc"]}:{p["cnonce"]}:auth:{Md5($"{method}:{p["uri"]}")}");
        return p["username"] == user && p["realm"] == realm && p["nonce"] == nonce && p["opaque"] == opaque && p["qop"] == "auth" && p["response"] == expected;
    }

    /// <summary>
    /// A loopback peer that answers each request with what the script returns; an answer ending in <see cref="Close"/>
    /// closes the connection after it is sent.
    /// </summary>
    private sealed class ScriptedPeer : IAsyncDisposable
    {
        public const string Close = "\u0000close";

        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentQueue<string> _requests = new();
        private readonly Task _accepting;
        private int _connections;

        public ScriptedPeer(Func<string, string> script)
        {
            _listener.Start();
            _accepting = AcceptAsync(script);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Connections => Volatile.Read(ref _connections);

        public List<string> Requests => [.. _requests];

        public Uri Url(string path) => new($"rtsp://127.0.0.1:{Port}{path}");

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _stop.Dispose();
        }

        private async Task AcceptAsync(Func<string, string> script)
        {
            var served = new List<Task>();
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    Interlocked.Increment(ref _connections);
                    served.Add(ServeAsync(client, script));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }

            await Task.WhenAll(served).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        private async Task ServeAsync(TcpClient client, Func<string, string> script)
        {
            using (client)
            {
                var stream = client.GetStream();
                using var reader = new StreamReader(stream, Encoding.Latin1);
                while (true)
                {
                    var request = new StringBuilder();
                    string? line;
                    while (!string.IsNullOrEmpty(line = await reader.ReadLineAsync(_stop.Token)))
                    {
                        request.Append(line).Append("\r\n");
                    }

                    if (line is null)
                    {
                        return;
                    }

                    _requests.Enqueue(request.ToString());
                    var answer = script(request.ToString());
                    var close = answer.EndsWith(Close, StringComparison.Ordinal);
                    await stream.WriteAsync(Encoding.Latin1.GetBytes(close ? answer[..^Close.Length] : answer), _stop.Token);
                    if (close)
                    {
                        return;
                    }
                }
            }
        }
    }
}
