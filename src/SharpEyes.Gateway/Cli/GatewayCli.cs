using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Cli;

/// <summary>
/// The command line. <c>sharpeyes [serve] [--grpc-port N ...]</c> runs the gateway; the other commands are clients
/// of a running gateway's gRPC API (<c>--server</c>, default http://127.0.0.1:50051; <c>--key</c>, default
/// $SHARPEYES_API_KEY, then $SHARPEYES_ADMIN_KEY, then initial-admin-key in --data-dir, $SHARPEYES_DATA_DIR or ./data).
/// </summary>
public static class GatewayCli
{
    private static readonly string[] ClientCommands = ["keys", "devices", "incidents", "feed", "geo", "coverage", "streams", "stats", "secrets", "audit", "backup", "broker", "help", "--help", "-h"];

    public const string Usage = """
        usage:
          sharpeyes [serve] [--grpc-port 50051] [--mqtt-port 1883] [--http-port 8080] [--data-dir ./data]
                            [--bind 0.0.0.0] [--demo] [--sqlite-synchronous NORMAL|FULL]
          sharpeyes keys create --role vendor|operator|planner|centre|admin [--vendor-id ID] [--description TEXT]
                                [--expires 2027-06-30T00:00Z|90d|12h]   (a UTC time, or a lifetime in days, hours or minutes)
          sharpeyes keys list     (id, role, vendor, active|revoked|expired, created, expires or never, description)
          sharpeyes keys revoke KEY_ID
          sharpeyes keys set-expiry KEY_ID --expires 2027-06-30T00:00Z|90d|12h|never
          sharpeyes secrets rotate   (a new key for the RTSP credentials in the store; every one re-encrypted with it)
          sharpeyes devices register FILE.json|-      (RegisterDeviceRequest as protobuf JSON: one object, an array, or one per line)
          sharpeyes devices get DEVICE_ID
          sharpeyes devices list [--region CODE] [--kind camera|alarm] [--status online|offline|unknown] [--vendor-id ID]
          sharpeyes devices heartbeat DEVICE_ID ...
          sharpeyes devices deregister DEVICE_ID
          sharpeyes incidents list [--region CODE] [--open|--closed]
          sharpeyes incidents show INCIDENT_ID                (with all its alarms, as JSON)
          sharpeyes incidents close INCIDENT_ID --reason TEXT
          sharpeyes incidents ack INCIDENT_ID [--note TEXT]    (records who acknowledged it and when)
          sharpeyes feed watch [--after SEQUENCE] [--region CODE] [--kind incident-opened,...] [--count N] [--json]
          sharpeyes geo import-grids FILE.geojson [--datum wgs84|gcj02|bd09]
          sharpeyes geo import-sites FILE.geojson [--datum wgs84|gcj02|bd09]
          sharpeyes geo validate FILE.geojson [--sites] [--datum wgs84|gcj02|bd09]   (every error, one per line; imports nothing)
          sharpeyes geo load-demo
          sharpeyes geo locate LON LAT [--datum wgs84|gcj02|bd09]
          sharpeyes coverage report [--region CODE] [--by township|village|grid] [--format table|csv|geojson] [--datum D] [--out FILE]
          sharpeyes coverage blind-spots [--region CODE] [--days 30] [--limit 20] [--grids]
          sharpeyes coverage uncovered [--region CODE] [--truth real|declared|potential] [--datum D] [--out FILE]
          sharpeyes coverage suggest --count K --hfov DEG --range M [--region CODE] [--area-weight W] [--datum D]
          sharpeyes coverage gaps [--region CODE]
          sharpeyes coverage camera DEVICE_ID [--datum D]
          sharpeyes coverage history [--region CODE] [--days 30]
          sharpeyes streams report [--region CODE] [--by township|village|grid] [--window-hours 24]
          sharpeyes streams list [--region CODE] [--faulty] [--mismatched]
          sharpeyes streams show DEVICE_ID
          sharpeyes streams snapshot DEVICE_ID --out FILE.jpg
          sharpeyes streams check [DEVICE_ID ...] [--region CODE] [--depth liveness|probe|quality]
          sharpeyes stats
          sharpeyes audit [--since TIME|24h] [--until TIME] [--actor KEY_ID] [--vendor-id ID] [--target ID] [--action A]
                          [--outcome OK|PERMISSION_DENIED|refused|...] [--limit 100]   (the audit log, newest first; admin keys)
          sharpeyes broker mosquitto --out DIR [--group sharpeyes]   (mosquitto password file, per-vendor topic ACL and settings from the vendors and devices; admin key)
          sharpeyes backup --out FILE [--data-dir ./data] [--secret-keys DIR]   (a consistent copy of the store and its secret key ring while the gateway runs; local, not over gRPC)
        client options: --server URL (default http://127.0.0.1:50051, or $SHARPEYES_SERVER)
                        --key KEY (default $SHARPEYES_API_KEY, $SHARPEYES_ADMIN_KEY, or initial-admin-key in
                                   --data-dir, $SHARPEYES_DATA_DIR or ./data)
                        --timeout SECONDS (default 300: a call the gateway has not answered by then fails as DeadlineExceeded)
        """;

    public static bool IsClientCommand(string[] args) => args.Length > 0 && ClientCommands.Contains(args[0]);

    public static string[] ServeArgs(string[] args) => args.Length > 0 && args[0] == "serve" ? args[1..] : args;

    public static async Task<int> RunAsync(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        if (args[0] is "help" or "--help" or "-h")
        {
            await stdout.WriteLineAsync(Usage).ConfigureAwait(false);
            return 0;
        }

        var (positional, flags) = Split(args);
        if (positional is ["backup"])
        {
            return await BackupCli.RunAsync(flags, stdout, stderr).ConfigureAwait(false); // local: no server, no key
        }

        // An empty variable counts as unset, as in a shell's ${VAR:-default}.
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
        var server = flags.GetValueOrDefault("server") ?? Env("SHARPEYES_SERVER") ?? "http://127.0.0.1:50051";
        var key = flags.GetValueOrDefault("key") ?? Env("SHARPEYES_API_KEY")
            ?? Env("SHARPEYES_ADMIN_KEY") ?? ReadInitialKey(flags.GetValueOrDefault("data-dir") ?? Env("SHARPEYES_DATA_DIR") ?? "./data");
        if (string.IsNullOrEmpty(key))
        {
            await stderr.WriteLineAsync("no API key: pass --key or set SHARPEYES_API_KEY").ConfigureAwait(false);
            return 2;
        }

        if (!int.TryParse(flags.GetValueOrDefault("timeout") ?? "300", System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) || seconds < 1)
        {
            await stderr.WriteLineAsync("--timeout: a whole number of seconds, at least 1").ConfigureAwait(false);
            return 2;
        }

        // A validate-only report lists every error of a file and may exceed gRPC's default 4 MB receive limit.
        using var channel = GrpcChannel.ForAddress(server, new GrpcChannelOptions { MaxReceiveMessageSize = 256 << 20 });
        // Every call has a deadline: a command never waits for ever on a gateway that does not answer.
        var invoker = channel.Intercept(new DefaultDeadline(TimeSpan.FromSeconds(seconds)));
        var headers = new Metadata { { "authorization", "Bearer " + key } };
        try
        {
            return await Dispatch(positional, flags, invoker, headers, stdout, stderr).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            await stderr.WriteLineAsync($"error: {e.StatusCode}: {e.Status.Detail}").ConfigureAwait(false);
            return 1;
        }
    }

    private static async Task<int> Dispatch(List<string> p, Dictionary<string, string> flags, CallInvoker channel, Metadata headers, TextWriter stdout, TextWriter stderr)
    {
        var command = string.Join(' ', p.Take(2));
        switch (command)
        {
            case "keys create":
                {
                    var role = ParseRole(flags.GetValueOrDefault("role"));
                    if (role is null)
                    {
                        await stderr.WriteLineAsync("--role must be vendor, operator, planner, centre or admin").ConfigureAwait(false);
                        return 2;
                    }

                    var request = new CreateApiKeyRequest
                    {
                        Role = role.Value,
                        VendorId = flags.GetValueOrDefault("vendor-id") ?? "",
                        Description = flags.GetValueOrDefault("description") ?? "",
                    };
                    if (flags.GetValueOrDefault("expires") is { } expires
                        && !KeyExpiry.Apply(expires, t => request.ExpiresAt = t, d => request.ExpiresIn = d, never: null))
                    {
                        await stderr.WriteLineAsync(KeyExpiry.Problem(expires, allowNever: false)).ConfigureAwait(false);
                        return 2;
                    }

                    var response = await new V1.Admin.AdminClient(channel).CreateApiKeyAsync(request, headers).ConfigureAwait(false);
                    await stderr.WriteLineAsync($"created {response.Info.Role} key {response.Info.KeyId}{(response.Info.VendorId.Length > 0 ? " for vendor " + response.Info.VendorId : "")}{KeyExpiry.Describe(response.Info)}; it is shown once:").ConfigureAwait(false);
                    await stdout.WriteLineAsync(response.ApiKey).ConfigureAwait(false);
                    return 0;
                }

            case "keys list":
                {
                    var response = await new V1.Admin.AdminClient(channel).ListApiKeysAsync(new ListApiKeysRequest(), headers).ConfigureAwait(false);
                    foreach (var k in response.Keys)
                    {
                        var state = k.Revoked ? "revoked" : k.Expired ? "expired" : "active";
                        var expires = k.ExpiresAt is null ? "never" : $"{k.ExpiresAt.ToDateTimeOffset():u}";
                        await stdout.WriteLineAsync($"{k.KeyId}\t{k.Role}\t{k.VendorId}\t{state}\t{k.CreatedAt.ToDateTimeOffset():u}\t{expires}\t{k.Description}").ConfigureAwait(false);
                    }

                    return 0;
                }

            case "keys revoke" when p.Count == 3:
                {
                    var response = await new V1.Admin.AdminClient(channel).RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = p[2] }, headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync(response.Revoked ? "revoked" : "no such active key").ConfigureAwait(false);
                    return response.Revoked ? 0 : 1;
                }

            case "keys set-expiry" when p.Count == 3:
                {
                    var expires = flags.GetValueOrDefault("expires") ?? "";
                    var request = new SetApiKeyExpiryRequest { KeyId = p[2] };
                    if (!KeyExpiry.Apply(expires, t => request.ExpiresAt = t, d => request.ExpiresIn = d, never: () => request.NeverExpires = true))
                    {
                        await stderr.WriteLineAsync(KeyExpiry.Problem(expires, allowNever: true)).ConfigureAwait(false);
                        return 2;
                    }

                    var response = await new V1.Admin.AdminClient(channel).SetApiKeyExpiryAsync(request, headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync($"key {response.Info.KeyId}{KeyExpiry.Describe(response.Info)}").ConfigureAwait(false);
                    return 0;
                }

            case "secrets rotate" when p.Count == 2:
                {
                    var response = await new V1.Admin.AdminClient(channel).RotateSecretKeysAsync(new RotateSecretKeysRequest(), headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"new key {response.KeyId}, default since {response.ActivatedAt.ToDateTimeOffset():O}: {response.Reencrypted} cameras' credentials re-encrypted, {response.Unreadable} unreadable left as they were"))
                        .ConfigureAwait(false);
                    return 0;
                }

            case "geo import-grids" when p.Count == 3:
            case "geo import-sites" when p.Count == 3:
            case "geo validate" when p.Count == 3:
                {
                    var datum = Geography.GeoConvert.Parse(flags.GetValueOrDefault("datum") ?? "wgs84");
                    if (datum is null)
                    {
                        await stderr.WriteLineAsync("--datum must be wgs84, gcj02 or bd09").ConfigureAwait(false);
                        return 2;
                    }

                    var validate = p[1] == "validate";
                    var request = new ImportGeoJsonRequest { Geojson = await File.ReadAllTextAsync(p[2]).ConfigureAwait(false), Datum = datum.Value, ValidateOnly = validate };
                    var client = new V1.Geography.GeographyClient(channel);
                    var response = p[1] == "import-sites" || (validate && flags.ContainsKey("sites"))
                        ? await client.ImportKeySitesAsync(request, headers).ConfigureAwait(false)
                        : await client.ImportGridsAsync(request, headers).ConfigureAwait(false);
                    if (!validate)
                    {
                        await stdout.WriteLineAsync($"imported {response.Imported} features").ConfigureAwait(false);
                        return 0;
                    }

                    // Every error, one per line (tab-separated; control characters in codes and messages are escaped).
                    foreach (var e in response.Errors)
                    {
                        await stdout.WriteLineAsync($"{e.FeatureIndex}\t{e.Code}\t{e.Reason}\t{e.Message}").ConfigureAwait(false);
                    }

                    await stderr.WriteLineAsync(response.Errors.Count == 0
                        ? $"valid: {response.Imported} features would be imported"
                        : $"{Geography.ImportErrorReport.Summary([.. response.Errors.Select(e => e.FeatureIndex)])} (index, code, reason, message per line); nothing was imported").ConfigureAwait(false);
                    return response.Errors.Count == 0 ? 0 : 1;
                }

            case "geo load-demo":
                {
                    var response = await new V1.Geography.GeographyClient(channel).LoadDemoAsync(new V1.Empty(), headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync($"loaded the 高邑县 demo dataset: {response.Imported} features").ConfigureAwait(false);
                    return 0;
                }

            case "geo locate" when p.Count == 4:
                {
                    var datum = Geography.GeoConvert.Parse(flags.GetValueOrDefault("datum") ?? "wgs84") ?? V1.Datum.Wgs84;
                    var response = await new V1.Geography.GeographyClient(channel).LocateAsync(new GeoPoint
                    {
                        Lon = double.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture),
                        Lat = double.Parse(p[3], System.Globalization.CultureInfo.InvariantCulture),
                        Datum = datum,
                    }, headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync(response.ToString()).ConfigureAwait(false);
                    return 0;
                }

            case var c when c.StartsWith("devices ", StringComparison.Ordinal):
                return await DevicesCli.RunAsync(p[1], p.Skip(2).ToList(), flags, channel, headers, stdout, stderr).ConfigureAwait(false);

            case var c when c.StartsWith("incidents ", StringComparison.Ordinal):
                return await IncidentsCli.RunAsync(p[1], p.Skip(2).ToList(), flags, channel, headers, stdout, stderr).ConfigureAwait(false);

            case var c when c.StartsWith("feed ", StringComparison.Ordinal):
                return await FeedCli.RunAsync(p[1], p.Skip(2).ToList(), flags, channel, headers, stdout, stderr).ConfigureAwait(false);

            case var c when c.StartsWith("coverage ", StringComparison.Ordinal):
                return await CoverageCli.RunAsync(p[1], p.Skip(2).ToList(), flags, channel, headers, stdout, stderr).ConfigureAwait(false);

            case var c when c.StartsWith("streams ", StringComparison.Ordinal):
                return await StreamsCli.RunAsync(p[1], p.Skip(2).ToList(), flags, channel, headers, stdout, stderr).ConfigureAwait(false);

            case "broker mosquitto":
                return await BrokerCli.RunAsync(flags, channel, headers, stdout, stderr).ConfigureAwait(false);

            case "audit":
                return await AuditCli.RunAsync(p.Skip(1).ToList(), flags, channel, headers, stdout, stderr).ConfigureAwait(false);

            case "stats":
                {
                    var response = await new V1.Admin.AdminClient(channel).GetStatsAsync(new GetStatsRequest(), headers).ConfigureAwait(false);
                    await stdout.WriteLineAsync(response.ToString()).ConfigureAwait(false);
                    return 0;
                }

            default:
                await stderr.WriteLineAsync(Usage).ConfigureAwait(false);
                return 2;
        }
    }

    private static Role? ParseRole(string? text) => text?.ToLowerInvariant() switch
    {
        "vendor" => Role.Vendor,
        "operator" => Role.Operator,
        "planner" => Role.Planner,
        "centre" or "center" => Role.Centre,
        "admin" => Role.Admin,
        _ => null,
    };

    private static string? ReadInitialKey(string dataDir)
    {
        var file = Path.Combine(dataDir, "initial-admin-key");
        return File.Exists(file) ? File.ReadAllText(file).Trim() : null;
    }

    private static (List<string> Positional, Dictionary<string, string> Flags) Split(string[] args)
    {
        var positional = new List<string>();
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                var name = args[i][2..];
                var eq = name.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    flags[name[..eq]] = name[(eq + 1)..];
                }
                else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    flags[name] = args[++i];
                }
                else
                {
                    flags[name] = "true";
                }
            }
            else
            {
                positional.Add(args[i]);
            }
        }

        return (positional, flags);
    }
}

/// <summary>Gives a call without a deadline one (the CLI's --timeout).</summary>
internal sealed class DefaultDeadline(TimeSpan timeout) : Interceptor
{
    private ClientInterceptorContext<TRequest, TResponse> Bounded<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context)
        where TRequest : class
        where TResponse : class =>
        context.Options.Deadline is null
            ? new(context.Method, context.Host, context.Options.WithDeadline(DateTime.UtcNow + timeout))
            : context;

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation) => continuation(request, Bounded(context));

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
        AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation) => continuation(request, Bounded(context));

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context,
        AsyncClientStreamingCallContinuation<TRequest, TResponse> continuation) => continuation(Bounded(context));
}
