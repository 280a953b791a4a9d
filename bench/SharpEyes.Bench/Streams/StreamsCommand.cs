using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.Bench.Reporting;
using SharpEyes.V1;

namespace SharpEyes.Bench.Streams;

/// <summary>
/// <c>sharpeyes-bench streams --grpc-port G --gateway-pid PID --admin-key K --rtsp-ports P1,P2,.. --rtsp-pids Q1,Q2,..
/// --mounts-per-server N [--out latest.md]</c>: stream health at county scale against real gst-rtsp-servers (bench/run.sh
/// starts them and the gateway). Rows: a bare DESCRIBE loop from this process (baseline), one full liveness cycle over
/// every camera through the gateway (CheckNow), the schedule's first pass after bulk registration and its steady state
/// over one liveness interval, and the cost of a deep probe and of a frame grab per camera, against a bare ffprobe run.
/// </summary>
internal static class StreamsCommand
{
    public static async Task<int> RunAsync(Options options, CancellationToken ct)
    {
        var log = Console.Error;
        var ports = options.Get("rtsp-ports", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        var serverPids = options.Get("rtsp-pids", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        var perServer = options.Int("mounts-per-server", 250);
        var gatewayPid = options.Int("gateway-pid", 0);
        var urls = ports.SelectMany(p => Enumerable.Range(0, perServer).Select(i => $"rtsp://127.0.0.1:{p}/cam/{i:D4}")).ToList();
        var rows = new List<(string Measurement, string Result)>();
        log.WriteLine($"[streams] {urls.Count} cameras on {ports.Length} RTSP servers");

        // 1. Baseline: the same DESCRIBEs straight from this process, 64 at a time (the gateway's default limit).
        var sw = Stopwatch.StartNew();
        var bareOk = 0;
        await Parallel.ForEachAsync(urls, new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = ct }, async (url, token) =>
        {
            if (await BareDescribeAsync(new Uri(url), token))
            {
                Interlocked.Increment(ref bareOk);
            }
        });
        var bareSeconds = sw.Elapsed.TotalSeconds;
        rows.Add(("baseline: bare RTSP DESCRIBE of every camera from the bench process, 64 at a time", $"{bareSeconds:F2} s, {bareOk}/{urls.Count} answered"));
        log.WriteLine($"[streams] baseline {bareSeconds:F2} s");

        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{options.Int("grpc-port", 50051)}");
        var headers = new Metadata { { "authorization", "Bearer " + options.Get("admin-key", "") } };
        var registry = new DeviceRegistry.DeviceRegistryClient(channel);
        var health = new StreamHealth.StreamHealthClient(channel);

        // 2. Bulk registration; the schedule's first DESCRIBE of each new camera comes within 5 s of it.
        var registeredAt = DateTimeOffset.UtcNow;
        using (var call = registry.RegisterDevices(headers, cancellationToken: ct))
        {
            for (var i = 0; i < urls.Count; i++)
            {
                await call.RequestStream.WriteAsync(Camera(i, urls[i]), ct);
            }

            await call.RequestStream.CompleteAsync();
            var result = await call;
            if (result.Rejected > 0)
            {
                log.WriteLine($"[streams] {result.Rejected} cameras rejected: {result.RejectedResults.FirstOrDefault()?.Message}");
                return 1;
            }
        }

        var firstPass = await WaitAllCheckedAsync(health, headers, urls.Count, registeredAt, TimeSpan.FromSeconds(90), ct);
        rows.Add(("schedule: bulk registration → every camera's first DESCRIBE recorded (first checks spread over 5 s)", firstPass is { } f ? $"{f:F1} s" : "not within 90 s"));

        // 3. One full liveness cycle, all cameras at once through the gateway.
        var cpu = Cpu.Take(gatewayPid, serverPids);
        sw.Restart();
        var check = await health.CheckNowAsync(new CheckNowRequest { Depth = CheckDepth.Liveness }, headers, deadline: DateTime.UtcNow.AddMinutes(5), cancellationToken: ct);
        var cycle = sw.Elapsed.TotalSeconds;
        var used = cpu.Since();
        rows.Add(("one full liveness cycle (CheckNow, DESCRIBE + record) over every camera", $"{cycle:F2} s ({check.Ok}/{check.Checked} ok); target ≤ 60 s; {cycle / bareSeconds:F1}× the bare loop"));
        rows.Add(("  CPU during that cycle: gateway / RTSP servers / ffprobe processes (100 % = one core)", $"{used.Gateway:F0} % / {used.Servers:F0} % / {check.PeakConcurrentProcesses} processes"));
        log.WriteLine($"[streams] cycle {cycle:F2} s, gateway {used.Gateway:F0} %");

        // 4. Steady state: one liveness interval (60 s) of the schedule alone.
        var windowStart = DateTimeOffset.UtcNow;
        cpu = Cpu.Take(gatewayPid, serverPids);
        await Task.Delay(TimeSpan.FromSeconds(options.Int("steady-s", 65)), ct);
        used = cpu.Since();
        var checkedInWindow = await CountCheckedSinceAsync(health, headers, windowStart, ct);
        rows.Add(($"steady state: cameras DESCRIBEd by the schedule in {options.Int("steady-s", 65)} s (interval 60 s ± 10 %)", $"{checkedInWindow}/{urls.Count}; gateway CPU {used.Gateway:F1} %, servers {used.Servers:F1} %"));

        // 5. Deep checks: ffprobe on 20 cameras, frame grabs on 10, against a bare ffprobe run of the same stream.
        var bare = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            bare.Add(await BareFfprobeAsync(urls[i], ct));
        }

        foreach (var (depth, count) in new[] { (CheckDepth.Probe, 20), (CheckDepth.Quality, 10) })
        {
            var request = new CheckNowRequest { Depth = depth };
            request.DeviceIds.Add(Enumerable.Range(0, count).Select(i => Id(i * 37 % urls.Count)));
            var children = Cpu.ChildrenSeconds(gatewayPid);
            sw.Restart();
            var deep = await health.CheckNowAsync(request, headers, deadline: DateTime.UtcNow.AddMinutes(5), cancellationToken: ct);
            var seconds = sw.Elapsed.TotalSeconds;
            var cpuPerCamera = (Cpu.ChildrenSeconds(gatewayPid) - children) / count;
            var probeMs = deep.Cameras.Where(c => c.Measured is not null).Select(c => (double)c.Measured.ProbeMs).DefaultIfEmpty().Average();
            var grabMs = deep.Cameras.Where(c => c.LastQuality is not null).Select(c => (double)c.LastQuality.ElapsedMs).DefaultIfEmpty().Average();
            rows.Add(depth == CheckDepth.Probe
                ? ($"deep probe (DESCRIBE + ffprobe) of {count} cameras", $"{seconds:F1} s wall, {seconds / count:F2} s per camera at {deep.PeakConcurrentProcesses} processes at once; ffprobe {probeMs / 1000:F2} s and {cpuPerCamera:F2} s CPU per camera (bare ffprobe CLI: {bare.Average():F2} s)")
                : ($"frame grab + picture check (DESCRIBE + ffprobe + ffmpeg) of {count} cameras", $"{seconds:F1} s wall, {seconds / count:F2} s per camera; grab {grabMs / 1000:F2} s, {cpuPerCamera:F2} s CPU per camera (ffprobe + ffmpeg)"));
            log.WriteLine($"[streams] {depth}: {seconds:F1} s for {count}");
        }

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"\n## Stream health ({DateTimeOffset.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores; {urls.Count} cameras = {ports.Length} gst-rtsp-servers × {perServer} mount points sharing one 640×360 5 fps H.264 pipeline each)\n\n");
        text.Append("| measurement | result |\n|---|---|\n");
        foreach (var (m, r) in rows)
        {
            text.Append(CultureInfo.InvariantCulture, $"| {m} | {r} |\n");
        }

        Console.WriteLine(text);
        if (options.Get("out", "") is { Length: > 0 } outPath)
        {
            var existing = File.Exists(outPath) ? await File.ReadAllTextAsync(outPath, ct) : "";
            var at = existing.IndexOf("\n## Stream health", StringComparison.Ordinal);
            await File.WriteAllTextAsync(outPath, (at >= 0 ? existing[..at] : existing) + text, ct);
        }

        return 0;
    }

    private static string Id(int i) => $"1301270000132{0}{200_000 + i:D6}";

    private static RegisterDeviceRequest Camera(int i, string url) => new()
    {
        DeviceId = Id(i),
        Kind = DeviceKind.Camera,
        Name = $"bench stream {i}",
        VendorId = "bench-streams",
        Position = new GeoPoint { Lon = 114.55 + i % 40 * 0.002, Lat = 37.58 + i / 40 * 0.002, Datum = Datum.Wgs84 },
        Camera = new CameraSpec { AzimuthDeg = i * 13 % 360, HfovDeg = 90, RangeM = 50, RtspUrl = url, Streams = { new StreamProfile { Role = StreamRole.Main, Codec = "H.264", Width = 640, Height = 360, FrameRate = 5 } } },
    };

    private static async Task<double?> WaitAllCheckedAsync(StreamHealth.StreamHealthClient health, Metadata headers, int count, DateTimeOffset since, TimeSpan limit, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < limit)
        {
            if (await CountCheckedSinceAsync(health, headers, since, ct) >= count)
            {
                return sw.Elapsed.TotalSeconds;
            }

            await Task.Delay(250, ct);
        }

        return null;
    }

    private static async Task<int> CountCheckedSinceAsync(StreamHealth.StreamHealthClient health, Metadata headers, DateTimeOffset since, CancellationToken ct)
    {
        var n = 0;
        var request = new ListCameraHealthRequest { PageSize = 1000 };
        do
        {
            var page = await health.ListCameraHealthAsync(request, headers, cancellationToken: ct);
            n += page.Cameras.Count(c => c.LastLiveness is { Ok: true, At: not null } l && l.At.ToDateTimeOffset() >= since);
            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);
        return n;
    }

    private static async Task<bool> BareDescribeAsync(Uri url, CancellationToken ct)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(url.Host, url.Port, ct);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n"), ct);
        var buffer = new byte[8192];
        var text = new StringBuilder();
        while (true)
        {
            var n = await stream.ReadAsync(buffer, ct);
            if (n == 0)
            {
                return false;
            }

            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            var s = text.ToString();
            var end = s.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end < 0)
            {
                continue;
            }

            var length = s.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) is { } h ? int.Parse(h[15..].Trim(), CultureInfo.InvariantCulture) : 0;
            if (s.Length >= end + 4 + length)
            {
                return s.StartsWith("RTSP/1.0 200", StringComparison.Ordinal);
            }
        }
    }

    private static async Task<double> BareFfprobeAsync(string url, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(new ProcessStartInfo("ffprobe", $"-v error -rtsp_transport tcp -timeout 5000000 -analyzeduration 1000000 -probesize 1000000 -show_streams -of json {url}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        await p.StandardOutput.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>CPU of the gateway and the RTSP servers between two readings (/proc), and the gateway's reaped children.</summary>
    private sealed class Cpu(int gatewayPid, int[] serverPids, CpuSnapshot? gateway, CpuSnapshot?[] servers)
    {
        public static Cpu Take(int gatewayPid, int[] serverPids) =>
            new(gatewayPid, serverPids, CpuSnapshot.Take(gatewayPid), serverPids.Select(CpuSnapshot.Take).ToArray());

        public (double Gateway, double Servers) Since()
        {
            var g = CpuSnapshot.Diff(gateway, CpuSnapshot.Take(gatewayPid))?.ProcessPercent ?? double.NaN;
            var s = serverPids.Select((pid, i) => CpuSnapshot.Diff(servers[i], CpuSnapshot.Take(pid))?.ProcessPercent ?? 0).Sum();
            return (g, s);
        }

        /// <summary>cutime + cstime of a process: CPU seconds of its children that have exited and been waited for.</summary>
        public static double ChildrenSeconds(int pid)
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) / 100.0;
        }
    }
}
