namespace SharpEyes.Gateway.Configuration;

/// <summary>Maps the documented command-line switches and environment variables onto the "SharpEyes" section.</summary>
public static class GatewayConfiguration
{
    /// <summary>
    /// Switch, environment variable, configuration key. docs/configuration.md lists them (ConfigurationDocTests), with
    /// the meaning of each from the XML comment of the option it sets.
    /// </summary>
    public static readonly IReadOnlyList<(string Switch, string Env, string Key)> Settings =
    [
        ("--grpc-port", "SHARPEYES_GRPC_PORT", "SharpEyes:GrpcPort"),
        ("--mqtt-port", "SHARPEYES_MQTT_PORT", "SharpEyes:MqttPort"),
        ("--http-port", "SHARPEYES_HTTP_PORT", "SharpEyes:HttpPort"),
        ("--sip-port", "SHARPEYES_SIP_PORT", "SharpEyes:Sip:Port"),
        ("--data-dir", "SHARPEYES_DATA_DIR", "SharpEyes:DataDir"),
        ("--store", "SHARPEYES_STORE", "SharpEyes:Store"),
        ("--store-start-timeout", "SHARPEYES_STORE_START_TIMEOUT", "SharpEyes:StoreStartTimeout"),
        ("--replica-id", "SHARPEYES_REPLICA_ID", "SharpEyes:ReplicaId"),
        ("--bind", "SHARPEYES_BIND", "SharpEyes:BindAddress"),
        ("--tls-cert", "SHARPEYES_TLS_CERT", "SharpEyes:Tls:CertificatePath"),
        ("--tls-key", "SHARPEYES_TLS_KEY", "SharpEyes:Tls:KeyPath"),
        ("--tls-client-ca", "SHARPEYES_TLS_CLIENT_CA", "SharpEyes:Tls:ClientCaPath"),
        ("--insecure-listeners", "SHARPEYES_INSECURE_LISTENERS", "SharpEyes:InsecureListeners"),
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
        ("--centre-ca", "SHARPEYES_CENTRE_CA", "SharpEyes:Outbox:Endpoints:0:CaPath"),
        ("--centre-client-cert", "SHARPEYES_CENTRE_CLIENT_CERT", "SharpEyes:Outbox:Endpoints:0:ClientCertificatePath"),
        ("--centre-client-key", "SHARPEYES_CENTRE_CLIENT_KEY", "SharpEyes:Outbox:Endpoints:0:ClientKeyPath"),
        ("--outbox-backlog-limit", "SHARPEYES_OUTBOX_BACKLOG_LIMIT", "SharpEyes:Outbox:BacklogLimit"),
        ("--feed-retention", "SHARPEYES_FEED_RETENTION", "SharpEyes:Outbox:FeedRetention"),
        ("--alarm-retention", "SHARPEYES_ALARM_RETENTION", "SharpEyes:Alarms:Retention"),
        ("--external-broker", "SHARPEYES_EXTERNAL_BROKER", "SharpEyes:ExternalBroker:Url"),
        ("--otlp-endpoint", "SHARPEYES_OTLP_ENDPOINT", "SharpEyes:Telemetry:OtlpEndpoint"),
    ];

    /// <summary>
    /// Adds the SHARPEYES_* environment variables, then the command line (which wins). Added after the host's own
    /// sources (appsettings.json, then every environment variable such as <c>SharpEyes__Alarms__MaxBatch</c>), so both
    /// win over those. A bare flag such as --demo means true.
    /// </summary>
    public static void AddGatewaySettings(this IConfigurationBuilder configuration, string[] args) =>
        configuration.AddGatewaySettings(args, Environment.GetEnvironmentVariable);

    /// <summary>As <see cref="AddGatewaySettings(IConfigurationBuilder, string[])"/>, reading the variables through <paramref name="environment"/>.</summary>
    public static void AddGatewaySettings(this IConfigurationBuilder configuration, string[] args, Func<string, string?> environment)
    {
        var fromEnv = new Dictionary<string, string?>();
        foreach (var (_, env, key) in Settings)
        {
            var value = environment(env);
            if (!string.IsNullOrEmpty(value))
            {
                fromEnv[key] = value;
            }
        }

        configuration.AddInMemoryCollection(fromEnv);
        configuration.AddInMemoryCollection(ParseArgs(args));
    }

    /// <summary>
    /// The settings given on the command line, by configuration key: each switch (<c>--grpc-port 6000</c> or
    /// <c>--grpc-port=6000</c>) and any setting by its path (<c>--SharpEyes:Alarms:MaxBatch=500</c> or
    /// <c>--SharpEyes:Alarms:MaxBatch 500</c>). Other arguments are ignored.
    /// </summary>
    public static Dictionary<string, string?> ParseArgs(string[] args)
    {
        var values = new Dictionary<string, string?>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? arg[..eq] : arg;
            // A switch, or any other setting by its configuration path: --SharpEyes:Alarms:MaxBatch=500
            var key = Settings.FirstOrDefault(s => s.Switch == name).Key
                ?? (name.Contains(':', StringComparison.Ordinal) && (eq > 0 || name.StartsWith("--", StringComparison.Ordinal)) ? name.TrimStart('-') : null);
            if (key is null)
            {
                continue;
            }

            if (eq > 0)
            {
                values[key] = arg[(eq + 1)..];
            }
            else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                values[key] = args[++i];
            }
            else
            {
                values[key] = "true";
            }
        }

        return values;
    }

    /// <summary>
    /// The reasons, when <paramref name="e"/> (or an exception inside it) is a failed options validation: the gateway
    /// reports them in one line and exits 2 rather than crashing with a stack trace.
    /// </summary>
    public static string? InvalidConfiguration(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is Microsoft.Extensions.Options.OptionsValidationException invalid)
            {
                return string.Join("; ", invalid.Failures);
            }

            // A value of the wrong type ("Failed to convert configuration value 'abc' at 'SharpEyes:GrpcPort' to type
            // 'System.Int32'."): the configuration binder's own message names the setting and the value.
            if (x is InvalidOperationException && x.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
            {
                return x.Message;
            }

            if (x is AggregateException aggregate && aggregate.InnerExceptions.Select(InvalidConfiguration).FirstOrDefault(r => r is not null) is { } inner)
            {
                return inner;
            }
        }

        return null;
    }
}
