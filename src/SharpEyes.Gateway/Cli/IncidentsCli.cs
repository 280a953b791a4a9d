using System.Globalization;
using System.Text;
using Grpc.Core;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Cli;

/// <summary><c>sharpeyes incidents ...</c>: list incidents, show one with all its alarms, close one with a reason, acknowledge one.</summary>
internal static class IncidentsCli
{
    public static async Task<int> RunAsync(string command, List<string> args, Dictionary<string, string> flags, CallInvoker channel, Metadata headers, TextWriter stdout, TextWriter stderr)
    {
        var client = new V1.Incidents.IncidentsClient(channel);
        switch (command)
        {
            case "list" when args.Count == 0:
                {
                    var request = new ListIncidentsRequest
                    {
                        RegionPrefix = flags.GetValueOrDefault("region") ?? "",
                        State = flags.ContainsKey("open") ? IncidentState.Open : flags.ContainsKey("closed") ? IncidentState.Closed : IncidentState.Unspecified,
                        PageSize = 1000,
                    };
                    var text = new StringBuilder("incident\tstate\tclass\tpriority\talarms\tgrid\topened\tupdated\tkey sites\tacknowledged\tclosed by\n");
                    do
                    {
                        var page = await client.ListIncidentsAsync(request, headers).ConfigureAwait(false);
                        foreach (var i in page.Incidents)
                        {
                            text.Append(CultureInfo.InvariantCulture,
                                $"{i.IncidentId}\t{(i.State == IncidentState.Open ? "open" : "closed")}\t{i.TypeClass}\t{i.HighestPriority}\t{i.AlarmCount}\t{i.Region?.GridCode}\t{CliText.Time(i.OpenedAt)}\t{CliText.Time(i.UpdatedAt)}\t{string.Join(",", i.KeySites.Select(k => k.Code))}\t{Acknowledged(i)}\t{(i.CloseReason.Length > 0 ? i.CloseReason : "-")}\n");
                        }

                        request.PageToken = page.NextPageToken;
                    }
                    while (request.PageToken.Length > 0);
                    await stdout.WriteAsync(text.ToString()).ConfigureAwait(false);
                    return 0;
                }

            case "show" when args.Count == 1:
                {
                    var incident = await client.GetIncidentAsync(new GetIncidentRequest { IncidentId = args[0] }, headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync(CliText.IndentedJson.Format(incident)).ConfigureAwait(false);
                    return 0;
                }

            case "close" when args.Count == 1:
                {
                    var reason = flags.GetValueOrDefault("reason");
                    if (string.IsNullOrWhiteSpace(reason) || reason == "true")
                    {
                        await stderr.WriteLineAsync("--reason TEXT is required: it is recorded with the incident").ConfigureAwait(false);
                        return 2;
                    }

                    var incident = await client.CloseIncidentAsync(new CloseIncidentRequest { IncidentId = args[0], Reason = reason }, headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync($"closed {incident.IncidentId} ({incident.CloseReason})").ConfigureAwait(false);
                    return 0;
                }

            case "ack" when args.Count == 1:
                {
                    var note = flags.GetValueOrDefault("note");
                    if (note == "true")
                    {
                        await stderr.WriteLineAsync("--note needs a TEXT").ConfigureAwait(false);
                        return 2;
                    }

                    var incident = await client.AcknowledgeIncidentAsync(new AcknowledgeIncidentRequest { IncidentId = args[0], Note = note ?? "" }, headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync($"acknowledged {incident.IncidentId} ({Acknowledged(incident)})").ConfigureAwait(false);
                    return 0;
                }

            default:
                await stderr.WriteLineAsync(GatewayCli.Usage).ConfigureAwait(false);
                return 2;
        }
    }

    /// <summary>"key KEY_ID at TIME", or "-" when nobody acknowledged it.</summary>
    private static string Acknowledged(Incident i) =>
        i.AcknowledgedAt is null ? "-" : $"key {i.AcknowledgedBy?.KeyId} at {CliText.Time(i.AcknowledgedAt)}";
}
