using System.Diagnostics;
using System.Globalization;
using FFMpegCore;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Timeout;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Streams;

public sealed record ProbeOutcome(bool Ok, string Failure, string Detail, StreamMeasurement? Measured, TimeSpan Elapsed);

public sealed record GrabOutcome(bool Ok, string Failure, string Detail, byte[]? Jpeg, FrameVerdict? Verdict, TimeSpan Elapsed);

/// <summary>
/// Runs ffprobe (measurement) and ffmpeg (frame grabs) through FFMpegCore, at most
/// <see cref="StreamOptions.MaxConcurrentProcesses"/> at a time. Every run has two limits: ffmpeg's own socket
/// timeout (<c>-timeout</c>, µs) ends a run whose server goes silent, and a Polly timeout on the wall clock cancels the
/// run's token, which makes FFMpegCore kill the process: no run outlives <see cref="StreamOptions.ProcessTimeout"/>.
/// The schedule runs on the injected clock; these limits bound real I/O, so they use the real one.
/// <para>
/// A URL with credentials never goes on a command line, where any local user reads it (<c>ps</c>,
/// <c>/proc/&lt;pid&gt;/cmdline</c>): it is written to an ffconcat script (<see cref="StreamInput"/>) of mode 0600 in
/// {data-dir}/stream-inputs (0700), which ffmpeg opens with the concat demuxer, <c>-safe 0</c> and a protocol whitelist
/// (file, RTSP and what RTSP runs over); the script is deleted when the run ends, and leftovers of a crash at start.
/// </para>
/// </summary>
public sealed partial class FfmpegRunner
{
    public const int AnalysisWidth = 320;
    public const int AnalysisHeight = 180;

    private readonly StreamOptions _options;
    private readonly QualityThresholds _thresholds;
    private readonly SemaphoreSlim _slots;
    private readonly ResiliencePipeline _hardTimeout;
    private readonly ILogger<FfmpegRunner> _logger;
    private readonly string _inputDirectory;
    private int _running;
    private int _peak;

    public FfmpegRunner(IOptions<GatewayOptions> options, ILogger<FfmpegRunner> logger)
    {
        _options = options.Value.Streams;
        _logger = logger;
        _thresholds = new QualityThresholds(_options.BlackMaxLuma, _options.FrozenMaxMotion, _options.LowDetailMaxEdgeShare);
        _slots = new SemaphoreSlim(_options.MaxConcurrentProcesses);
        _hardTimeout = new ResiliencePipelineBuilder().AddTimeout(_options.ProcessTimeout).Build();
        _inputDirectory = Path.Combine(options.Value.DataDir, "stream-inputs");
        StreamInput.DeleteLeftovers(_inputDirectory);
        FfprobeAvailable = OnPath("ffprobe");
        FfmpegAvailable = OnPath("ffmpeg");
        if (!FfprobeAvailable || !FfmpegAvailable)
        {
            LogToolsMissing(_logger, FfprobeAvailable, FfmpegAvailable);
        }
    }

    public bool FfprobeAvailable { get; }

    public bool FfmpegAvailable { get; }

    /// <summary>ffprobe/ffmpeg processes running now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Most processes at once since the last <see cref="ResetPeak"/>.</summary>
    public int Peak => Volatile.Read(ref _peak);

    public void ResetPeak() => Interlocked.Exchange(ref _peak, Running);

    /// <summary>Measures a stream with ffprobe: codec, size, frame rate, bit rate when the stream says.</summary>
    public async Task<ProbeOutcome> ProbeAsync(Uri url, CancellationToken ct)
    {
        // Timed from when a process slot is free: queueing behind other probes is not the stream's cost.
        var started = Stopwatch.GetTimestamp();
        try
        {
            var analysis = await RunAsync(async token =>
            {
                started = Stopwatch.GetTimestamp();
                using var input = StreamInput.For(url, _inputDirectory, InputOptions());
                return input.IsScript
                    ? await FFProbe.AnalyseAsync(input.Path, ffOptions: null, customArguments: input.Arguments, cancellationToken: token).ConfigureAwait(false)
                    : await FFProbe.AnalyseAsync(url, ffOptions: null, customArguments: input.Arguments, cancellationToken: token).ConfigureAwait(false);
            }, ct).ConfigureAwait(false);
            var elapsed = Stopwatch.GetElapsedTime(started);
            var video = analysis.PrimaryVideoStream;
            if (video is null)
            {
                return new ProbeOutcome(false, "no-video", "ffprobe found no video stream", null, elapsed);
            }

            double fps = video.AverageFrameRate is > 0 and < 1000 ? video.AverageFrameRate : video.RealFrameRate is > 0 and < 1000 ? video.RealFrameRate : 0;
            // Measured now; the monitor stamps the time it records it.
            return new ProbeOutcome(true, "", "", new StreamMeasurement(
                StreamCodecs.NormalizeMeasured(video.CodecName ?? ""),
                video.Width ?? 0,
                video.Height ?? 0,
                Math.Round(fps, 3),
                video.BitRate is > 0 ? video.BitRate.Value : analysis.Format.BitRate is > 0 ? analysis.Format.BitRate.Value : 0,
                (int)elapsed.TotalMilliseconds,
                default), elapsed);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return new ProbeOutcome(false, FailureOf(e, "probe-failed"), Redact(e.Message, url), null, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>
    /// Grabs one JPEG for operators and <see cref="StreamOptions.GrabFrames"/> grey frames a second apart for the
    /// picture check, in one ffmpeg run with two outputs.
    /// </summary>
    public async Task<GrabOutcome> GrabAsync(Uri url, string workDirectory, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        PrivateFiles.CreateDirectory(workDirectory);
        var stem = Path.Combine(workDirectory, "grab-" + Guid.NewGuid().ToString("N"));
        var jpegPath = stem + ".jpg";
        var greyPath = stem + ".grey";
        try
        {
            await RunAsync(async token =>
            {
                started = Stopwatch.GetTimestamp();
                using var input = StreamInput.For(url, _inputDirectory, InputOptions());
                await FFMpegArguments
                    .FromFileInput(input.Path, verifyExists: false, o => o.WithCustomArgument(input.Arguments))
                    .OutputToMany(m => m
                        .OutputToFile(jpegPath, true, o => o.WithCustomArgument("-an -frames:v 1 -vf scale=960:-2 -q:v 5 -f image2"))
                        .OutputToFile(greyPath, true, o => o.WithCustomArgument(
                            $"-an -vf fps=1,scale={AnalysisWidth}:{AnalysisHeight},format=gray -frames:v {_options.GrabFrames} -f rawvideo")))
                    .CancellableThrough(token, TimeSpan.Zero) // kill at once: the default waits 5 s for ffmpeg to quit on its own
                    .ProcessAsynchronously(throwOnError: true)
                    .ConfigureAwait(false);
                token.ThrowIfCancellationRequested(); // a killed run returns normally; the hard timeout must still say so
                return true;
            }, ct).ConfigureAwait(false);

            var grey = await File.ReadAllBytesAsync(greyPath, ct).ConfigureAwait(false);
            var frameBytes = AnalysisWidth * AnalysisHeight;
            var frames = new List<byte[]>();
            for (var offset = 0; offset + frameBytes <= grey.Length; offset += frameBytes)
            {
                frames.Add(grey.AsSpan(offset, frameBytes).ToArray());
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            if (frames.Count == 0)
            {
                return new GrabOutcome(false, "grab-failed", "ffmpeg decoded no frame", null, null, elapsed);
            }

            var jpeg = File.Exists(jpegPath) ? await File.ReadAllBytesAsync(jpegPath, ct).ConfigureAwait(false) : null;
            return new GrabOutcome(true, "", "", jpeg, FrameQuality.Analyse(frames, AnalysisWidth, AnalysisHeight, _thresholds), elapsed);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return new GrabOutcome(false, FailureOf(e, "grab-failed"), Redact(e.Message, url), null, null, Stopwatch.GetElapsedTime(started));
        }
        finally
        {
            TryDelete(jpegPath);
            TryDelete(greyPath);
        }
    }

    /// <summary>Removes any URL credentials (and the secrets themselves) from text that may reach an answer or a log.</summary>
    public static string Redact(string text, Uri url)
    {
        // ffmpeg prints the URL it failed to open, credentials and all.
        var redacted = RtspCredentials.Redact(text, url);

        // ffmpeg's stderr can be long; the first lines say what went wrong.
        return redacted.Length > 400 ? redacted[..400] + "…" : redacted;
    }

    /// <summary>The input's options: RTSP over TCP, ffmpeg's own socket timeout, and how much to analyse.</summary>
    private IReadOnlyList<(string Name, string Value)> InputOptions() =>
    [
        ("rtsp_transport", "tcp"),
        ("timeout", ((long)_options.DescribeTimeout.TotalMicroseconds).ToString(CultureInfo.InvariantCulture)),
        ("analyzeduration", ((long)_options.AnalyzeDuration.TotalMicroseconds).ToString(CultureInfo.InvariantCulture)),
        ("probesize", _options.ProbeSizeBytes.ToString(CultureInfo.InvariantCulture)),
    ];

    private async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> run, CancellationToken ct)
    {
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        var now = Interlocked.Increment(ref _running);
        int peak;
        while (now > (peak = Volatile.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, peak) != peak)
        {
        }

        try
        {
            return await _hardTimeout.ExecuteAsync(async token => await run(token).ConfigureAwait(false), ct).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
            _slots.Release();
        }
    }

    private string FailureOf(Exception e, string fallback) => e switch
    {
        TimeoutRejectedException => "timeout",
        _ when e.Message.Contains("401", StringComparison.Ordinal) => "auth-failed",
        _ when e.Message.Contains("404", StringComparison.Ordinal) => "not-found",
        _ when e.Message.Contains("Connection refused", StringComparison.OrdinalIgnoreCase) => "connection-refused",
        _ when e.Message.Contains("timed out", StringComparison.OrdinalIgnoreCase) => "timeout",
        _ => fallback,
    };

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, tool)));

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream probing is limited: ffprobe found {Ffprobe}, ffmpeg found {Ffmpeg}. Run scripts/install-runtime-deps.sh (Debian: apt-get install ffmpeg); until then cameras are checked by RTSP DESCRIBE only")]
    private static partial void LogToolsMissing(ILogger logger, bool ffprobe, bool ffmpeg);
}
