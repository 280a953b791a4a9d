using System.Globalization;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Cli;

/// <summary>
/// <c>sharpeyes audit [--since T] [--until T] [--actor KEY_ID] [--vendor-id ID] [--target ID] [--action A]
/// [--outcome O] [--limit N]</c>: the audit log through Admin.QueryAudit, newest first, one entry per line
/// (tab-separated; texts escaped as in the logs). Times are ISO 8601 (2026-11-22T08:00:00Z) or a duration back from
/// now: 30m, 24h, 7d.
/// </summary>
internal static class AuditCli
{
    public const int DefaultLimit = 100;

    public static async Task<int> RunAsync(List<string> args, Dictionary<string, string> flags, CallInvoker channel, Metadata headers, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count > 0)
        {
            await stderr.WriteLineAsync(GatewayCli.Usage).ConfigureAwait(false);
            return 2;
        }

        var request = new QueryAuditRequest
        {
            ActorKeyId = flags.GetValueOrDefault("actor") ?? "",
            VendorId = flags.GetValueOrDefault("vendor-id") ?? "",
            TargetId = flags.GetValueOrDefault("target") ?? "",
            Action = flags.GetValueOrDefault("action") ?? "",
            Outcome = flags.GetValueOrDefault("outcome") ?? "",
        };
        foreach (var (flag, set) in new (string, Action<Timestamp>)[] { ("since", t => request.Since = t), ("until", t => request.Until = t) })
        {
            if (flags.GetValueOrDefault(flag) is not { } given)
            {
                continue;
            }

            if (ParseTime(given, DateTimeOffset.UtcNow) is not { } time)
            {
                await stderr.WriteLineAsync($"--{flag}: an ISO 8601 time (2026-11-22T08:00:00Z) or a duration back from now (30m, 24h, 7d), got '{given}'").ConfigureAwait(false);
                return 2;
            }

            set(Timestamp.FromDateTimeOffset(time));
        }

        var limit = DefaultLimit;
        if (flags.GetValueOrDefault("limit") is { } l && (!int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1))
        {
            await stderr.WriteLineAsync("--limit: a whole number of entries, at least 1").ConfigureAwait(false);
            return 2;
        }

        var client = new V1.Admin.AdminClient(channel);
        var text = new StringBuilder("id\tat\toutcome\taction\tkey\trole\tvendor\tclient\ttargets\tsummary\tmessage\tcount\n");
        var shown = 0;
        do
        {
            request.PageSize = Math.Min(limit - shown, Auth.AdminService.MaxAuditPage);
            var page = await client.QueryAuditAsync(request, headers).ConfigureAwait(false);
            foreach (var e in page.Entries)
            {
                text.Append(CultureInfo.InvariantCulture,
                    $"{e.Id}\t{CliText.Time(e.At)}\t{e.Outcome}\t{e.Action}\t{Dash(e.KeyId)}\t{(e.Role == Role.Unspecified ? "-" : e.Role.ToString())}\t{Dash(e.VendorId)}\t{Dash(e.ClientAddress)}\t{Dash(string.Join(",", e.TargetIds))}\t{Cell(e.Summary)}\t{Cell(e.Message)}\t{e.Count}\n");
                shown++;
            }

            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0 && shown < limit);
        await stdout.WriteAsync(text.ToString()).ConfigureAwait(false);
        await stderr.WriteLineAsync(request.PageToken.Length > 0 ? $"{shown} entries shown; more match (--limit)" : $"{shown} entries").ConfigureAwait(false);
        return 0;
    }

    /// <summary>An ISO 8601 time, or now minus a duration such as 30m, 24h or 7d; null for anything else.</summary>
    public static DateTimeOffset? ParseTime(string text, DateTimeOffset now)
    {
        if (text.Length >= 2 && int.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            TimeSpan? back = text[^1] switch
            {
                's' => TimeSpan.FromSeconds(n),
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                _ => null,
            };
            if (back is { } b)
            {
                return now - b;
            }
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null;
    }

    private static string Dash(string text) => text.Length == 0 ? "-" : text;

    /// <summary>A text as one cell: tabs and line breaks escaped (LogText), "-" when empty.</summary>
    private static string Cell(string text) => Dash(Observability.LogText.Client(text, 4096));
}
