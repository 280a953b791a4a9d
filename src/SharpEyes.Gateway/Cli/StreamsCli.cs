using System.Globalization;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Cli;

/// <summary><c>sharpeyes streams ...</c>: stream health, snapshots, checks on demand and the camera KPIs from a shell.</summary>
internal static class StreamsCli
{
    public static async Task<int> RunAsync(string command, List<string> args, Dictionary<string, string> flags, CallInvoker channel, Metadata headers, TextWriter stdout, TextWriter stderr)
    {
        var client = new StreamHealth.StreamHealthClient(channel);
        var region = flags.GetValueOrDefault("region") ?? "";
        switch (command)
        {
            case "report":
                {
                    var by = CoverageCli.ParseLevel(flags.GetValueOrDefault("by"));
                    if (by is null)
                    {
                        await stderr.WriteLineAsync("--by must be county, township, village or grid").ConfigureAwait(false);
                        return 2;
                    }

                    var report = await client.GetHealthReportAsync(new HealthReportRequest
                    {
                        RegionPrefix = region,
                        GroupBy = by.Value,
                        WindowHours = CoverageCli.Int(flags, "window-hours", 0),
                    }, headers).ConfigureAwait(false);
                    await stdout.WriteAsync(ReportTable(report)).ConfigureAwait(false);
                    return 0;
                }

            case "list":
                {
                    var text = new StringBuilder("device\tstatus\tfaults\tmeasured\tdeclared main\tmismatches\tlast check\n");
                    var request = new ListCameraHealthRequest
                    {
                        RegionPrefix = region,
                        FaultyOnly = flags.ContainsKey("faulty"),
                        MismatchedOnly = flags.ContainsKey("mismatched"),
                        PageSize = 1000,
                    };
                    do
                    {
                        var page = await client.ListCameraHealthAsync(request, headers).ConfigureAwait(false);
                        foreach (var c in page.Cameras)
                        {
                            text.Append(CultureInfo.InvariantCulture, $"{c.DeviceId}\t{Status(c.Status)}\t{(c.Faults.Count == 0 ? "-" : string.Join(",", c.Faults))}\t{Measured(c.Measured)}\t{Declared(c)}\t{string.Join("; ", c.Mismatches.Select(m => $"{m.Field} {m.Declared}→{m.Measured}"))}\t{Check(c.LastLiveness)}\n");
                        }

                        request.PageToken = page.NextPageToken;
                    }
                    while (request.PageToken.Length > 0);
                    await stdout.WriteAsync(text.ToString()).ConfigureAwait(false);
                    return 0;
                }

            case "show" when args.Count == 1:
                {
                    var health = await client.GetCameraHealthAsync(new GetCameraHealthRequest { DeviceId = args[0] }, headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync(health.ToString()).ConfigureAwait(false);
                    return 0;
                }

            case "snapshot" when args.Count == 1 && flags.ContainsKey("out"):
                {
                    var snapshot = await client.GetSnapshotAsync(new GetSnapshotRequest { DeviceId = args[0] }, headers).ConfigureAwait(false);
                    await File.WriteAllBytesAsync(flags["out"], snapshot.Jpeg.ToByteArray()).ConfigureAwait(false);
                    var q = snapshot.Quality;
                    await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"{flags["out"]}: {snapshot.Jpeg.Length} bytes taken {snapshot.TakenAt?.ToDateTimeOffset():u}; picture {(q is null ? "unchecked" : q.Ok ? "ok" : string.Join(",", q.Faults))} (luma {q?.MeanLuma:0.#}, detail {q?.Detail:0.##}, motion {q?.Motion:0.##})")).ConfigureAwait(false);
                    return 0;
                }

            case "check":
                {
                    CheckDepth? depth = (flags.GetValueOrDefault("depth") ?? "liveness") switch
                    {
                        "liveness" => CheckDepth.Liveness,
                        "probe" => CheckDepth.Probe,
                        "quality" => CheckDepth.Quality,
                        _ => null,
                    };
                    if (depth is null)
                    {
                        await stderr.WriteLineAsync("--depth must be liveness, probe or quality").ConfigureAwait(false);
                        return 2;
                    }

                    var request = new CheckNowRequest { RegionPrefix = region, Depth = depth.Value };
                    request.DeviceIds.Add(args);
                    var response = await client.CheckNowAsync(request, new CallOptions(headers, deadline: DateTime.UtcNow.AddMinutes(30))).ConfigureAwait(false);
                    var text = new StringBuilder();
                    text.Append(CultureInfo.InvariantCulture,
                        $"checked {response.Checked}: {response.Ok} ok, {response.Failed} failed in {response.ElapsedMs} ms; at most {response.PeakConcurrentProcesses} ffprobe/ffmpeg processes at once\n");
                    foreach (var c in response.Cameras.Where(c => c.LastLiveness is { Ok: false } || c.Faulty || c.Mismatches.Count > 0))
                    {
                        text.Append(CultureInfo.InvariantCulture, $"{c.DeviceId}\t{Status(c.Status)}\t{(c.Faults.Count == 0 ? "-" : string.Join(",", c.Faults))}\t{Check(c.LastLiveness)}\t{string.Join("; ", c.Mismatches.Select(m => $"{m.Field} {m.Declared}→{m.Measured}"))}\n");
                    }

                    await stdout.WriteAsync(text.ToString()).ConfigureAwait(false);
                    return 0;
                }

            default:
                await stderr.WriteLineAsync(GatewayCli.Usage).ConfigureAwait(false);
                return 2;
        }
    }

    private static string ReportTable(HealthReport report)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"code\tname\tcameras\tonline\tfaulty\tworking\tmeasured\tHD\tmismatched\tonline rate\tonline rate ({report.WindowHours} h)\tserviceability\tHD rate\n");
        foreach (var row in report.Rows.Append(report.Summary))
        {
            string Kpi(string name) => row.Kpis.FirstOrDefault(k => k.Name == name) is { } k
                ? string.Create(CultureInfo.InvariantCulture, $"{k.Value * 100:0.0} %{(k.Target > 0 ? k.Met ? " ✓" : $" ✗ (≥ {k.Target * 100:0} %)" : "")}")
                : "-";
            text.Append(CultureInfo.InvariantCulture,
                $"{(row == report.Summary ? "total" : row.Code)}\t{row.Name}\t{row.Cameras}\t{row.CamerasOnline}\t{row.CamerasFaulty}\t{row.CamerasWorking}\t{row.CamerasMeasured}/{row.CamerasProbed}\t{row.CamerasHd}\t{row.CamerasMismatched}\t{Kpi("online_rate")}\t{Kpi("online_rate_time")}\t{Kpi("serviceability")}\t{Kpi("hd_rate")}\n");
        }

        text.Append("\nKPIs:\n");
        foreach (var k in report.Summary.Kpis)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {k.Name}: {k.Numerator}/{k.Denominator} = {k.Value * 100:0.00} %{(k.Target > 0 ? $" (target ≥ {k.Target * 100:0} %: {(k.Met ? "met" : "not met")})" : "")} — {k.Definition}\n");
        }

        return text.ToString();
    }

    private static string Status(DeviceStatus s) => s switch
    {
        DeviceStatus.Online => "online",
        DeviceStatus.Offline => "offline",
        _ => "unknown",
    };

    private static string Measured(MeasuredStream? m) => m is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{m.Codec} {m.Width}x{m.Height} {m.FrameRate:0.#} fps");

    private static string Declared(CameraHealth c) => c.Declared.FirstOrDefault(s => s.Role == StreamRole.Main) is { } s
        ? string.Create(CultureInfo.InvariantCulture, $"{s.Codec} {s.Width}x{s.Height} {s.FrameRate:0.#} fps")
        : "-";

    private static string Check(CheckOutcome? o) => o is null ? "never" : o.Ok ? $"ok {o.ElapsedMs} ms" : $"{o.Failure}: {o.Detail}";
}
