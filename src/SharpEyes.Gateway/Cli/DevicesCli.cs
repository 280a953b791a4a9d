using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Cli;

/// <summary>
/// <c>sharpeyes devices ...</c>: register devices from protobuf JSON (the <c>RegisterDeviceRequest</c> message, as a
/// vendor's own client would send it), read, list, heartbeat and deregister them.
/// </summary>
internal static class DevicesCli
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default);
    public static async Task<int> RunAsync(string command, List<string> args, Dictionary<string, string> flags, CallInvoker channel, Metadata headers, TextWriter stdout, TextWriter stderr)
    {
        var client = new DeviceRegistry.DeviceRegistryClient(channel);
        switch (command)
        {
            case "register" when args.Count == 1:
                {
                    List<RegisterDeviceRequest> requests;
                    bool bulk;
                    try
                    {
                        (requests, bulk) = ReadRequests(args[0] == "-" ? await Console.In.ReadToEndAsync().ConfigureAwait(false) : await File.ReadAllTextAsync(args[0]).ConfigureAwait(false));
                    }
                    catch (Exception e) when (e is InvalidDataException or JsonException or IOException)
                    {
                        await stderr.WriteLineAsync($"{args[0]}: {e.Message}").ConfigureAwait(false);
                        return 2;
                    }

                    if (!bulk)
                    {
                        var response = await client.RegisterDeviceAsync(requests[0], headers).ConfigureAwait(false);
                        var what = response.Created ? "created" : response.Changed ? "changed" : "unchanged";
                        await stdout.WriteLineAsync($"{what} {response.Device.DeviceId} in {Region(response.Device)}").ConfigureAwait(false);
                        return 0;
                    }

                    using var call = client.RegisterDevices(headers);
                    foreach (var request in requests)
                    {
                        await call.RequestStream.WriteAsync(request).ConfigureAwait(false);
                    }

                    await call.RequestStream.CompleteAsync().ConfigureAwait(false);
                    var answer = await call.ResponseAsync.ConfigureAwait(false);
                    foreach (var r in answer.RejectedResults)
                    {
                        await stdout.WriteLineAsync($"rejected #{r.Index} {r.DeviceId}: {(StatusCode)r.Code}: {r.Message}").ConfigureAwait(false);
                    }

                    await stdout.WriteLineAsync($"accepted {answer.Accepted} (created {answer.Created}, changed {answer.Changed}), rejected {answer.Rejected}{(answer.RejectedNotListed > 0 ? $" ({answer.RejectedNotListed} not listed)" : "")}").ConfigureAwait(false);
                    return answer.Rejected == 0 ? 0 : 1;
                }

            case "get" when args.Count == 1:
                {
                    var device = await client.GetDeviceAsync(new GetDeviceRequest { DeviceId = args[0] }, headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync(CliText.IndentedJson.Format(device)).ConfigureAwait(false);
                    return 0;
                }

            case "list" when args.Count == 0:
                {
                    var request = new ListDevicesRequest
                    {
                        RegionPrefix = flags.GetValueOrDefault("region") ?? "",
                        VendorId = flags.GetValueOrDefault("vendor-id") ?? "",
                        PageSize = 1000,
                    };
                    if (flags.TryGetValue("kind", out var kind))
                    {
                        request.Kind = kind switch
                        {
                            "camera" => DeviceKind.Camera,
                            "alarm" or "alarm-device" => DeviceKind.AlarmDevice,
                            _ => DeviceKind.Unspecified,
                        };
                        if (request.Kind == DeviceKind.Unspecified)
                        {
                            await stderr.WriteLineAsync("--kind must be camera or alarm").ConfigureAwait(false);
                            return 2;
                        }
                    }

                    if (flags.TryGetValue("status", out var status))
                    {
                        request.Status = status switch
                        {
                            "online" => DeviceStatus.Online,
                            "offline" => DeviceStatus.Offline,
                            "unknown" => DeviceStatus.Unknown,
                            _ => DeviceStatus.Unspecified,
                        };
                        if (request.Status == DeviceStatus.Unspecified)
                        {
                            await stderr.WriteLineAsync("--status must be online, offline or unknown").ConfigureAwait(false);
                            return 2;
                        }
                    }

                    var text = new StringBuilder("device\tkind\tstatus\tfaults\tvendor\tregion\tname\n");
                    do
                    {
                        var page = await client.ListDevicesAsync(request, headers).ConfigureAwait(false);
                        foreach (var d in page.Devices)
                        {
                            text.Append(System.Globalization.CultureInfo.InvariantCulture,
                                $"{d.DeviceId}\t{(d.Kind == DeviceKind.Camera ? "camera" : "alarm")}\t{d.Status.ToString().ToLowerInvariant()}\t{(d.Faults.Count == 0 ? "-" : string.Join(",", d.Faults))}\t{d.VendorId}\t{d.RegionCode}\t{d.Name}\n");
                        }

                        request.PageToken = page.NextPageToken;
                    }
                    while (request.PageToken.Length > 0);
                    await stdout.WriteAsync(text.ToString()).ConfigureAwait(false);
                    return 0;
                }

            case "heartbeat" when args.Count > 0:
                {
                    var request = new HeartbeatRequest();
                    request.DeviceIds.AddRange(args);
                    var response = await client.HeartbeatAsync(request, headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync($"accepted {response.Accepted}; next within {response.KeepaliveIntervalS} s").ConfigureAwait(false);
                    foreach (var id in response.UnknownDeviceIds)
                    {
                        await stdout.WriteLineAsync($"unknown {id}").ConfigureAwait(false);
                    }

                    return response.UnknownDeviceIds.Count == 0 ? 0 : 1;
                }

            case "deregister" when args.Count == 1:
                {
                    var response = await client.DeregisterDeviceAsync(new DeregisterDeviceRequest { DeviceId = args[0] }, headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync(response.Removed ? "removed" : "already removed").ConfigureAwait(false);
                    return 0;
                }

            default:
                await stderr.WriteLineAsync(GatewayCli.Usage).ConfigureAwait(false);
                return 2;
        }
    }

    /// <summary>
    /// One <c>RegisterDeviceRequest</c> as protobuf JSON, a JSON array of them, or one per line (NDJSON). Unknown
    /// fields are errors, so a misspelt field is not silently dropped. An array or several lines are one bulk
    /// registration (<c>RegisterDevices</c>); a single object is <c>RegisterDevice</c>.
    /// </summary>
    internal static (List<RegisterDeviceRequest> Requests, bool Bulk) ReadRequests(string text)
    {
        var trimmed = text.TrimStart();
        if (trimmed.StartsWith('['))
        {
            using var array = JsonDocument.Parse(trimmed);
            return ([.. array.RootElement.EnumerateArray().Select((e, i) => Parse(e.GetRawText(), $"item {i}"))], true);
        }

        try
        {
            return ([Parse(text, "the document")], false);
        }
        catch (InvalidDataException) when (text.Split('\n').Count(l => l.TrimStart().StartsWith('{')) > 1)
        {
            // Several objects: one per line (NDJSON); errors name the line.
            return ([.. text.Split('\n').Select((l, i) => (Text: l.Trim(), Line: i + 1)).Where(l => l.Text.Length > 0).Select(l => Parse(l.Text, $"line {l.Line}"))], true);
        }
    }

    private static RegisterDeviceRequest Parse(string json, string where)
    {
        try
        {
            return Parser.Parse<RegisterDeviceRequest>(json);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException)
        {
            throw new InvalidDataException($"{where}: {e.Message}", e);
        }
    }

    private static string Region(Device d) => d.Region?.GridCode is { Length: > 0 } grid ? $"grid {grid}" : $"county {d.RegionCode}";
}
