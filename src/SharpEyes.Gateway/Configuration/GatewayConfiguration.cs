namespace SharpEyes.Gateway.Configuration;

/// <summary>Maps the documented command-line switches and environment variables onto the "SharpEyes" section.</summary>
public static class GatewayConfiguration
{
    /// <summary>switch, environment variable, configuration key.</summary>
    public static readonly IReadOnlyList<(string Switch, string Env, string Key)> Settings =
    [
        ("--grpc-port", "SHARPEYES_GRPC_PORT", "SharpEyes:GrpcPort"),
        ("--mqtt-port", "SHARPEYES_MQTT_PORT", "SharpEyes:MqttPort"),
        ("--http-port", "SHARPEYES_HTTP_PORT", "SharpEyes:HttpPort"),
        ("--data-dir", "SHARPEYES_DATA_DIR", "SharpEyes:DataDir"),
        ("--bind", "SHARPEYES_BIND", "SharpEyes:BindAddress"),
        ("--demo", "SHARPEYES_DEMO", "SharpEyes:Demo"),
        ("--sqlite-synchronous", "SHARPEYES_SQLITE_SYNCHRONOUS", "SharpEyes:SqliteSynchronous"),
        ("--incident-window", "SHARPEYES_INCIDENT_WINDOW", "SharpEyes:Incidents:CorrelationWindow"),
        ("--incident-quiet", "SHARPEYES_INCIDENT_QUIET", "SharpEyes:Incidents:QuietPeriod"),
        ("--keysite-radius", "SHARPEYES_KEYSITE_RADIUS", "SharpEyes:Alarms:KeySiteRadiusMeters"),
        ("--grid-target", "SHARPEYES_GRID_TARGET", "SharpEyes:Coverage:GridTarget"),
        ("--site-area-fraction", "SHARPEYES_SITE_AREA_FRACTION", "SharpEyes:Coverage:SiteAreaFraction"),
        ("--demo-cameras", "SHARPEYES_DEMO_CAMERAS", "SharpEyes:DemoCameras"),
        ("--stream-checks", "SHARPEYES_STREAM_CHECKS", "SharpEyes:Streams:Enabled"),
        ("--probe-concurrency", "SHARPEYES_PROBE_CONCURRENCY", "SharpEyes:Streams:MaxConcurrentProcesses"),
        ("--keepalive-interval", "SHARPEYES_KEEPALIVE_INTERVAL", "SharpEyes:Liveness:KeepaliveInterval"),
        ("--missed-keepalives", "SHARPEYES_MISSED_KEEPALIVES", "SharpEyes:Liveness:MissedKeepalives"),
        ("--centre-url", "SHARPEYES_CENTRE_URL", "SharpEyes:Outbox:Endpoints:0:Url"),
        ("--centre-key", "SHARPEYES_CENTRE_KEY", "SharpEyes:Outbox:Endpoints:0:ApiKey"),
        ("--outbox-backlog-limit", "SHARPEYES_OUTBOX_BACKLOG_LIMIT", "SharpEyes:Outbox:BacklogLimit"),
        ("--feed-retention", "SHARPEYES_FEED_RETENTION", "SharpEyes:Outbox:FeedRetention"),
        ("--alarm-retention", "SHARPEYES_ALARM_RETENTION", "SharpEyes:Alarms:Retention"),
    ];

    /// <summary>Adds environment variables, then the command line (which wins). A bare flag such as --demo means true.</summary>
    public static void AddGatewaySettings(this IConfigurationBuilder configuration, string[] args)
    {
        var fromEnv = new Dictionary<string, string?>();
        foreach (var (_, env, key) in Settings)
        {
            var value = Environment.GetEnvironmentVariable(env);
            if (!string.IsNullOrEmpty(value))
            {
                fromEnv[key] = value;
            }
        }

        configuration.AddInMemoryCollection(fromEnv);
        configuration.AddInMemoryCollection(ParseArgs(args));
    }

    public static Dictionary<string, string?> ParseArgs(string[] args)
    {
        var values = new Dictionary<string, string?>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? arg[..eq] : arg;
            var setting = Settings.FirstOrDefault(s => s.Switch == name);
            if (setting.Key is null)
            {
                // Any other setting by its configuration path: --SharpEyes:Alarms:MaxBatch=500
                if (eq > 0 && name.Contains(':', StringComparison.Ordinal))
                {
                    values[name.TrimStart('-')] = arg[(eq + 1)..];
                }

                continue;
            }

            if (eq > 0)
            {
                values[setting.Key] = arg[(eq + 1)..];
            }
            else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                values[setting.Key] = args[++i];
            }
            else
            {
                values[setting.Key] = "true";
            }
        }

        return values;
    }
}
