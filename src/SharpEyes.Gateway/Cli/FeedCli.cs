using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Cli;

/// <summary>
/// <c>sharpeyes feed watch</c>: the centre's pull feed (<c>Feeds.Subscribe</c>) in a terminal, one line per event
/// (or its protobuf JSON with <c>--json</c>). It runs until interrupted, or until <c>--count</c> events were shown.
/// </summary>
internal static class FeedCli
{
    public static async Task<int> RunAsync(string command, List<string> args, Dictionary<string, string> flags, CallInvoker channel, Metadata headers, TextWriter stdout, TextWriter stderr)
    {
        if (command != "watch" || args.Count > 0)
        {
            await stderr.WriteLineAsync(GatewayCli.Usage).ConfigureAwait(false);
            return 2;
        }

        var kinds = new HashSet<FeedEventKind>();
        foreach (var name in (flags.GetValueOrDefault("kind") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Enum.TryParse<FeedEventKind>(name.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal), ignoreCase: true, out var kind)
                || kind == FeedEventKind.Unspecified || !Enum.IsDefined(kind))
            {
                await stderr.WriteLineAsync($"--kind: unknown kind '{name}'; kinds: {string.Join(", ", Enum.GetValues<FeedEventKind>().Skip(1).Select(KindName))}").ConfigureAwait(false);
                return 2;
            }

            kinds.Add(kind);
        }

        var count = CoverageCli.Int(flags, "count", 0);
        var after = long.TryParse(flags.GetValueOrDefault("after") ?? "0", NumberStyles.None, CultureInfo.InvariantCulture, out var a) ? a : -1;
        if (after < 0 || count < 0)
        {
            await stderr.WriteLineAsync("--after and --count take whole numbers").ConfigureAwait(false);
            return 2;
        }

        // A watch is meant to run: it has a deadline only when --timeout is given.
        var deadline = flags.ContainsKey("timeout") ? (DateTime?)null : DateTime.MaxValue;
        using var call = new V1.Feeds.FeedsClient(channel).Subscribe(
            new SubscribeRequest { RegionPrefix = flags.GetValueOrDefault("region") ?? "", AfterSequence = after },
            new CallOptions(headers, deadline));
        var json = flags.ContainsKey("json");
        var shown = 0;
        while (await call.ResponseStream.MoveNext(CancellationToken.None).ConfigureAwait(false))
        {
            var e = call.ResponseStream.Current;
            if (kinds.Count > 0 && !kinds.Contains(e.Kind))
            {
                continue;
            }

            await stdout.WriteLineAsync(json ? JsonFormatter.Default.Format(e) : Line(e)).ConfigureAwait(false);
            await stdout.FlushAsync().ConfigureAwait(false);
            if (++shown == count)
            {
                return 0;
            }
        }

        return 0;
    }

    /// <summary>IncidentOpened → incident-opened.</summary>
    private static string KindName(FeedEventKind kind) =>
        string.Concat(kind.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    /// <summary>sequence, time, kind, region, then what the event is about.</summary>
    private static string Line(FeedEvent e)
    {
        var subject = e.DataCase switch
        {
            FeedEvent.DataOneofCase.Incident => $"{e.Incident.IncidentId} {e.Incident.TypeClass} priority {e.Incident.HighestPriority}, {e.Incident.AlarmCount} alarm(s)"
                + (e.Incident.Alarms.Count > 0 && e.Incident.Alarms[^1].Description.Length > 0 ? $": {e.Incident.Alarms[^1].Description}" : "")
                + (e.Incident.CloseReason.Length > 0 ? $" ({e.Incident.CloseReason})" : ""),
            FeedEvent.DataOneofCase.Device => $"{e.Device.DeviceId} {e.Device.Name}",
            FeedEvent.DataOneofCase.CoverageGap => string.Create(CultureInfo.InvariantCulture, $"{e.CoverageGap.GapId} {e.CoverageGap.Name}: seen {e.CoverageGap.RealFraction:P0}, needs {e.CoverageGap.Threshold:P0}; {e.CoverageGap.CamerasWorking} working of {e.CoverageGap.CamerasDeclared} cameras")
                + (e.CoverageGap.RequiredCameras > 1 ? $", {e.CoverageGap.RequiredCameras} required" : ""),
            FeedEvent.DataOneofCase.CameraHealth => $"{e.CameraHealth.DeviceId} {string.Join(",", e.CameraHealth.Faults)}",
            _ => "",
        };
        return $"{e.Sequence}\t{CliText.Time(e.OccurredAt)}\t{KindName(e.Kind)}\t{e.RegionCode}\t{(e.Reason.Length > 0 ? e.Reason + "\t" : "")}{subject}";
    }
}
