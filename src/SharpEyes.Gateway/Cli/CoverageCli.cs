using System.Globalization;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Cli;

/// <summary><c>sharpeyes coverage ...</c>: the planners' and operators' coverage queries from a shell.</summary>
internal static class CoverageCli
{
    public static async Task<int> RunAsync(string command, List<string> args, Dictionary<string, string> flags, CallInvoker channel, Metadata headers, TextWriter stdout, TextWriter stderr)
    {
        var client = new V1.Coverage.CoverageClient(channel);
        var region = flags.GetValueOrDefault("region") ?? "";
        var datum = Geography.GeoConvert.Parse(flags.GetValueOrDefault("datum") ?? "wgs84");
        if (datum is null)
        {
            await stderr.WriteLineAsync("--datum must be wgs84, gcj02 or bd09").ConfigureAwait(false);
            return 2;
        }

        switch (command)
        {
            case "report":
                {
                    var by = ParseLevel(flags.GetValueOrDefault("by"));
                    var format = flags.GetValueOrDefault("format") ?? "table";
                    if (by is null || format is not ("table" or "csv" or "geojson"))
                    {
                        await stderr.WriteLineAsync("--by must be county, township, village or grid; --format table, csv or geojson").ConfigureAwait(false);
                        return 2;
                    }

                    if (format == "table")
                    {
                        var report = await client.GetCoverageReportAsync(new CoverageReportRequest { RegionPrefix = region, GroupBy = by.Value }, headers).ConfigureAwait(false);
                        await stdout.WriteAsync(ReportTable(report)).ConfigureAwait(false);
                        return 0;
                    }

                    var export = await client.ExportCoverageReportAsync(new ExportCoverageReportRequest
                    {
                        RegionPrefix = region,
                        GroupBy = by.Value,
                        Format = format == "csv" ? ExportFormat.Csv : ExportFormat.Geojson,
                        Datum = datum.Value,
                    }, headers).ConfigureAwait(false);
                    return await WriteAsync(export.Content, flags, stdout, stderr).ConfigureAwait(false);
                }

            case "blind-spots":
                {
                    var response = await client.ListBlindSpotsAsync(new ListBlindSpotsRequest
                    {
                        RegionPrefix = region,
                        IncidentDays = Int(flags, "days", 0),
                        Limit = Int(flags, "limit", 20),
                        IncludeGrids = flags.ContainsKey("grids"),
                    }, headers).ConfigureAwait(false);
                    var text = new StringBuilder();
                    text.Append(CultureInfo.InvariantCulture, $"rank\tscore\tkind\tcode\tname\tcategory\tpriority\tincidents({response.IncidentDays}d)\treason\tworking/declared/required\tlon,lat\n");
                    int rank = 0;
                    foreach (var b in response.BlindSpots)
                    {
                        text.Append(CultureInfo.InvariantCulture,
                            $"{++rank}\t{b.Score:0.##}\t{(b.Kind == BlindSpotKind.Grid ? "grid" : "key-site")}\t{b.Code}\t{b.Name}\t{b.Category}\t{b.Priority}\t{b.Incidents}\t{b.Reason}\t{b.CamerasWorking}/{b.CamerasDeclared}/{b.RequiredCameras}\t{b.Position.Lon:0.000000},{b.Position.Lat:0.000000}\n");
                    }

                    await stdout.WriteAsync(text.ToString()).ConfigureAwait(false);
                    return 0;
                }

            case "uncovered":
                {
                    var truth = (flags.GetValueOrDefault("truth") ?? "real") switch
                    {
                        "real" => CoverageTruth.Real,
                        "declared" => CoverageTruth.Declared,
                        "potential" => CoverageTruth.Potential,
                        _ => CoverageTruth.Unspecified,
                    };
                    if (truth == CoverageTruth.Unspecified)
                    {
                        await stderr.WriteLineAsync("--truth must be real, declared or potential").ConfigureAwait(false);
                        return 2;
                    }

                    var map = await client.GetCoverageMapAsync(new CoverageMapRequest { RegionPrefix = region, Truth = truth, Uncovered = true, Datum = datum.Value }, headers).ConfigureAwait(false);
                    return await WriteAsync(map.Geojson, flags, stdout, stderr).ConfigureAwait(false);
                }

            case "suggest":
                {
                    var request = new SuggestPlacementsRequest
                    {
                        RegionPrefix = region,
                        Count = Int(flags, "count", 0),
                        HfovDeg = Double(flags, "hfov"),
                        RangeM = Double(flags, "range"),
                        AreaWeightPerHa = Double(flags, "area-weight"),
                        IncidentDays = Int(flags, "days", 0),
                        Datum = datum.Value,
                    };
                    var response = await client.SuggestPlacementsAsync(request, headers).ConfigureAwait(false);
                    var text = new StringBuilder();
                    text.Append(CultureInfo.InvariantCulture, $"camera model: hfov {response.HfovDeg}°, range {response.RangeM} m; {response.Candidates} candidates, {response.DemandPoints} demand points\n");
                    text.Append("rank\tlon\tlat\tazimuth\tgain\tgain_m2\tgrid\tcompletes\timproves\tsource\n");
                    foreach (var s in response.Suggestions)
                    {
                        text.Append(CultureInfo.InvariantCulture,
                            $"{s.Rank}\t{s.Position.Lon:0.0000000}\t{s.Position.Lat:0.0000000}\t{s.AzimuthDeg:0.#}\t{s.Gain:0.###}\t{s.GainAreaM2:0}\t{s.GridCode}\t{string.Join(' ', s.SitesCompleted)}\t{string.Join(' ', s.SitesImproved)}\t{s.Source}\n");
                    }

                    text.Append(CultureInfo.InvariantCulture, $"uncovered weight {response.UncoveredWeightBefore:0.###} -> {response.UncoveredWeightAfter:0.###}\n");
                    await stdout.WriteAsync(text.ToString()).ConfigureAwait(false);
                    return 0;
                }

            case "gaps":
                {
                    var response = await client.ListCoverageGapsAsync(new ListCoverageGapsRequest { RegionPrefix = region }, headers).ConfigureAwait(false);
                    foreach (var g in response.Gaps)
                    {
                        var causes = string.Join(' ', g.Causes.Select(c => c.CameraId.Length > 0 ? $"{c.CameraId}:{c.Change}" : c.Change.ToString()));
                        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                            $"{g.GapId}\t{g.Name}\t{g.RealFraction:0.####}<{g.Threshold:0.####}\tworking {g.CamerasWorking}/{g.CamerasDeclared}\topened {g.OpenedAt.ToDateTimeOffset():u}\t{causes}")).ConfigureAwait(false);
                    }

                    return 0;
                }

            case "history":
                {
                    // Without --days the gateway's own clock sets the span (its last 30 days); with it, this machine's.
                    var request = new KpiHistoryRequest { RegionCode = region };
                    if (flags.ContainsKey("days"))
                    {
                        var until = DateTimeOffset.UtcNow;
                        request.Until = Timestamp.FromDateTimeOffset(until);
                        request.Since = Timestamp.FromDateTimeOffset(until - TimeSpan.FromDays(Int(flags, "days", 30)));
                    }

                    var response = await client.GetKpiHistoryAsync(request, headers).ConfigureAwait(false);
                    await stdout.WriteAsync(HistoryTable(response)).ConfigureAwait(false);
                    return 0;
                }

            case "camera" when args.Count == 1:
                {
                    var response = await client.GetCameraCoverageAsync(new GetCameraCoverageRequest { DeviceId = args[0], Datum = datum.Value }, headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync(response.ToString()).ConfigureAwait(false);
                    return 0;
                }

            default:
                await stderr.WriteLineAsync(GatewayCli.Usage).ConfigureAwait(false);
                return 2;
        }
    }

    private static string ReportTable(CoverageReport report)
    {
        var text = new StringBuilder();
        text.Append("code\tname\tgrids\tarea_km2\treal%\tdeclared%\tpotential%\tkey sites real/declared/all\tcameras working/online/all\tgrid gaps\n");
        foreach (var r in report.Rows.Prepend(report.Summary))
        {
            text.Append(CultureInfo.InvariantCulture,
                $"{(r.Code.Length == 0 ? "(all)" : r.Code)}\t{r.Name}\t{r.Grids}\t{r.AreaM2 / 1e6:0.###}\t{r.RealFraction * 100:0.###}\t{r.DeclaredFraction * 100:0.###}\t{r.PotentialFraction * 100:0.###}\t{r.KeySitesCoveredReal}/{r.KeySitesCoveredDeclared}/{r.KeySites}\t{r.CamerasWorking}/{r.CamerasOnline}/{r.Cameras}\t{r.GridGaps}\n");
        }

        text.Append("\nKPIs (").Append(report.Summary.Code.Length == 0 ? "all" : report.Summary.Code).Append("):\n");
        foreach (var k in report.Summary.Kpis)
        {
            var target = k.Target > 0 ? string.Create(CultureInfo.InvariantCulture, $"target {k.Target:P0} {(k.Met ? "met" : "NOT met")}") : "no national target";
            text.Append(CultureInfo.InvariantCulture, $"  {k.Name,-28} {k.Value:P2} ({k.Numerator}/{k.Denominator})  {target}\n");
        }

        return text.ToString();
    }

    /// <summary>One line per snapshot: its time (UTC) and each KPI in percent, the columns named by the first point's KPIs.</summary>
    private static string HistoryTable(KpiHistory history)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"{(history.RegionCode.Length == 0 ? "(all)" : history.RegionCode)} {history.Name}: {history.Points.Count} snapshots, every {history.Interval.ToTimeSpan():g}, kept {history.Retention.ToTimeSpan().TotalDays:0.##} days\n");
        if (history.Points.Count == 0)
        {
            return text.ToString();
        }

        text.Append("at (UTC)\t").AppendJoin('\t', history.Points[0].Kpis.Select(k => k.Name)).Append('\n');
        foreach (var point in history.Points)
        {
            text.Append(point.At.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)).Append('\t')
                .AppendJoin('\t', point.Kpis.Select(k => (k.Value * 100).ToString("0.##", CultureInfo.InvariantCulture))).Append('\n');
        }

        return text.ToString();
    }

    private static async Task<int> WriteAsync(string content, Dictionary<string, string> flags, TextWriter stdout, TextWriter stderr)
    {
        if (flags.TryGetValue("out", out var file))
        {
            await File.WriteAllTextAsync(file, content).ConfigureAwait(false);
            await stderr.WriteLineAsync($"wrote {file}").ConfigureAwait(false);
        }
        else
        {
            await stdout.WriteLineAsync(content).ConfigureAwait(false);
        }

        return 0;
    }

    internal static RegionLevel? ParseLevel(string? text) => text switch
    {
        null => RegionLevel.Unspecified,
        "county" => RegionLevel.County,
        "township" => RegionLevel.Township,
        "village" => RegionLevel.Village,
        "grid" => RegionLevel.Grid,
        _ => null,
    };

    internal static int Int(Dictionary<string, string> flags, string name, int fallback) =>
        flags.TryGetValue(name, out var v) && int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : fallback;

    private static double Double(Dictionary<string, string> flags, string name) =>
        flags.TryGetValue(name, out var v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : 0;
}
