using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Audit;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Demo;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Feeds;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Incidents;
using SharpEyes.Gateway.Liveness;
using SharpEyes.Gateway.Mqtt;
using Microsoft.Extensions.DependencyInjection.Extensions;
using MQTTnet.AspNetCore;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Outbox;
using Prometheus;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Streams;

namespace SharpEyes.Gateway.Hosting;

public static class GatewayServiceCollectionExtensions
{
    /// <summary>Everything the gateway runs: options, store, journal, domain services, broker, gRPC and Kestrel listeners.</summary>
    public static WebApplicationBuilder AddSharpEyesGateway(this WebApplicationBuilder builder, string[] args)
    {
        builder.Configuration.AddGatewaySettings(args);
        var services = builder.Services;
        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        services.TryAddSingletonTimeProvider();

        services.AddSingleton<GatewayStore>();
        services.AddSingleton(sp => new FeedHub(sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Limits.FeedRingEvents));
        services.AddSingleton<Journal>();
        services.AddJournalParticipant<FeedLog>();
        services.AddSingleton<FeedFollower>();
        services.AddJournalParticipant<OutboxCursors>();
        services.AddJournalParticipant<ApiKeyStore>();
        services.AddSingleton<IReplicaChangeFollower>(sp => sp.GetRequiredService<ApiKeyStore>()); // keys follow other replicas
        services.AddJournalParticipant<GeographyState>();
        services.AddSingleton<CoverageTracker>(); // loaded by the device catalog, from its cameras
        services.AddSingleton<UptimeLedger>(); // loaded by the device catalog
        services.AddSingleton<RtspSecretProtector>(); // the RTSP credentials' own key ring, read by the device catalog
        services.AddJournalParticipant<DeviceCatalog>();
        services.AddSingleton<IReplicaChangeFollower>(sp => sp.GetRequiredService<DeviceCatalog>()); // stream health follows other replicas
        services.AddJournalParticipant<IncidentCorrelator>();
        services.AddJournalParticipant<AlarmStats>();
        services.AddSingleton<IReplicaChangeFollower>(sp => sp.GetRequiredService<AlarmStats>()); // counts follow other replicas
        services.AddJournalParticipant<AuditLog>();
        services.AddSingleton<AuditTrail>();
        services.AddSingleton<AuditInterceptor>();
        services.AddSingleton<DeviceValidator>();
        services.AddSingleton<GeographyImporter>();
        services.AddSingleton<IReplicaChangeFollower>(sp => sp.GetRequiredService<GeographyImporter>()); // imports follow other replicas
        services.AddSingleton<CoverageReports>();
        services.AddSingleton<PlacementPlanner>();
        services.AddSingleton<KpiSnapshots>();
        services.AddSingleton<DemoDataset>();
        services.AddSingleton<IncidentQueries>();
        services.AddSingleton<DeadLetterSink>();
        services.AddSingleton<IReplicaChangeFollower>(sp => sp.GetRequiredService<DeadLetterSink>()); // dead letters reach subscribers on every replica
        services.AddSingleton<AlarmIntake>();
        services.AddSingleton<MqttBroker>();
        services.AddSingleton<ExternalBrokerIntake>();
        services.AddSingleton<MqttConnectionHandler>();
        services.AddSingleton<MqttConnectionGuard>();
        services.AddSingleton<MqttRateLimits>();
        services.AddSingleton<GatewayTls>(); // the listeners' certificates (GatewayListeners), reloaded when their files change
        services.AddSingleton<ClientCertificateIdentities>();
        services.AddSingleton<MqttSessionPolicy>();
        services.AddSingleton<AuthFailureLimiter>();
        services.TryAddKeyedSingleton(MqttConnectionGuard.ClockKey, TimeProvider.System);
        services.AddSingleton<IncidentSweeper>();
        services.AddSingleton<KeepaliveMonitor>();
        services.AddSingleton<FfmpegRunner>();
        services.AddSingleton<StreamHealthMonitor>();
        services.AddSingleton<ReplicaIdentity>();
        services.AddSingleton<OutboxService>();
        services.AddSingleton<RetentionPruner>();
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<ClientRefusals>();
        services.AddSingleton<Sip.SipStats>();
        services.AddSingleton<Sip.SipDirectory>();
        services.AddSingleton<Sip.SipGateway>();
        services.AddSingleton<Sip.SipCatalogSync>();
        services.AddSingleton<Sip.SipAlarmIntake>();
        services.AddSingleton<Sip.SipService>();
        services.AddSingleton<Sip.SipUpstreams>();
        builder.AddSharpEyesTelemetry(); // OpenTelemetry over OTLP, only when an endpoint is configured
        services.PostConfigure<GatewayOptions>(o =>
        {
            foreach (var e in o.Outbox.Endpoints)
            {
                // --centre-url mqtt://broker:1883 (or mqtts://) means an MQTT endpoint without saying so twice.
                if (e.Url.StartsWith("mqtt://", StringComparison.OrdinalIgnoreCase) || e.Url.StartsWith("mqtts://", StringComparison.OrdinalIgnoreCase))
                {
                    e.Kind = CentreEndpointKind.Mqtt;
                }
                else if (e.Url.StartsWith("sip://", StringComparison.OrdinalIgnoreCase))
                {
                    e.Kind = CentreEndpointKind.Gb28181; // an upper platform: sip://{server ID}@host:port
                }
            }
        });

        // Start order: the journal (opens the store, loads state), the outbox, bootstrap (admin key, demo), the broker,
        // timers. Hosts stop in reverse: the broker stops taking alarms, then the outbox stores its cursors, before the
        // journal drains and closes.
        services.AddHostedService(sp => sp.GetRequiredService<Journal>());
        services.AddHostedService<Storage.Postgres.PostgresFeedListener>(); // does nothing on SQLite
        services.AddHostedService(sp => sp.GetRequiredService<OutboxService>());
        services.AddHostedService(sp => sp.GetRequiredService<RetentionPruner>());
        services.AddHostedService(sp => sp.GetRequiredService<AuditLog>()); // stops before the journal: its last folded refusals are written
        services.AddHostedService<GatewayBootstrap>();
        services.AddHostedService(sp => sp.GetRequiredService<KpiSnapshots>()); // after bootstrap: the demo's regions are loaded
        services.AddHostedService(sp => sp.GetRequiredService<MqttBroker>());
        services.AddHostedService(sp => sp.GetRequiredService<Sip.SipService>()); // GB/T 28181 devices, beside MQTT's
        services.AddHostedService(sp => sp.GetRequiredService<ExternalBrokerIntake>());
        services.AddHostedService(sp => sp.GetRequiredService<IncidentSweeper>());
        services.AddHostedService(sp => sp.GetRequiredService<KeepaliveMonitor>());
        services.AddHostedService(sp => sp.GetRequiredService<StreamHealthMonitor>());
        services.AddHostedService<DemoHeartbeats>();

        // Authentication and authorization run in the HTTP pipeline, before a request body is read (AccessEnforcement).
        services.AddSharpEyesAuthorization();
        services.AddSharpEyesSessions(); // the HTTP port's session cookie, its CSRF protection and the event stream
        services.AddSingleton<EventStreamEndpoint>();
        // ASP.NET Core logs every failed authentication and authorization at Information, two lines a request: a caller
        // could make the gateway log as fast as it can send. Refusals are counted and logged once per interval by
        // ClientRefusals instead.
        builder.Logging.AddFilter(typeof(ApiKeyAuthenticationHandler).FullName, LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Authorization", LogLevel.Warning);
        services.AddGrpc(o =>
        {
            o.Interceptors.Add<StatusMessageLimit>(); // outermost: bounds what goes on the wire
            o.Interceptors.Add<AuditInterceptor>();
        }).AnswerUnparsableRequests().AddSharpEyesJsonApi();
        // Per-message limits for client streams (unary calls are checked on their frame header first, naming the setting).
        services.AddOptions<Grpc.AspNetCore.Server.GrpcServiceOptions>()
            .Configure<IOptions<GatewayOptions>>((o, g) => o.MaxReceiveMessageSize = g.Value.Limits.GrpcMaxRequestBytes);
        services.AddOptions<Grpc.AspNetCore.Server.GrpcServiceOptions<GeographyService>>()
            .Configure<IOptions<GatewayOptions>>((o, g) => o.MaxReceiveMessageSize = g.Value.Limits.GrpcMaxImportBytes);
        // One set of checks behind both the gRPC health service and /healthz.
        services.AddGrpcHealthChecks()
            .AddCheck<StoreHealthCheck>("store")
            .AddCheck<BrokerHealthCheck>("mqtt")
            .AddCheck<ExternalBrokerHealthCheck>("external-broker")
            .AddCheck<OutboxHealthCheck>("outbox")
            .AddCheck<ReplicaHealthCheck>("replica")
            .AddCheck<StreamProbingHealthCheck>("stream-probing");
        services.AddGrpcReflection();

        var listeners = new GatewayListeners();
        services.AddSingleton(listeners);
        builder.WebHost.ConfigureKestrel((context, kestrel) => listeners.Configure(kestrel,
            context.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions()));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        return builder;
    }

    public static WebApplication MapSharpEyesGateway(this WebApplication app)
    {
        var o = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value;
        var listeners = app.Services.GetRequiredService<GatewayListeners>();
        // Who may call what is AccessTable's: authentication and authorization come before the gRPC services read a
        // request body, then one size limit per method.
        app.UseRouting();
        app.Use((context, next) =>
        {
            // Each endpoint is served on its own listener only: the connection's local port decides, not the Host header.
            var wanted = context.GetEndpoint()?.Metadata.GetMetadata<ListenerMetadata>()?.Listener;
            if (wanted is not null && listeners.ListenerOf(context.Connection.LocalPort) != wanted)
            {
                context.SetEndpoint(null);
            }

            return next(context);
        });
        // Every change is audited, refused ones too: the trail wraps authentication, authorization and the limits.
        app.Use(app.Services.GetRequiredService<AuditTrail>().InvokeAsync);
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseSharpEyesCsrfProtection();
        app.Use(app.Services.GetRequiredService<KeyRateLimits>().InvokeAsync);
        var limits = app.Services.GetRequiredService<GrpcRequestLimits>();
        app.Use(limits.InvokeAsync);
        app.MapGrpcService<DeviceRegistryService>().OnListener(GatewayListeners.Grpc);
        app.MapGrpcService<AdminService>().OnListener(GatewayListeners.Grpc);
        app.MapGrpcService<Sip.SipAccountsService>().OnListener(GatewayListeners.Grpc);
        app.MapGrpcService<GeographyService>().OnListener(GatewayListeners.Grpc);
        app.MapGrpcService<IncidentsService>().OnListener(GatewayListeners.Grpc);
        app.MapGrpcService<FeedsService>().OnListener(GatewayListeners.Grpc);
        app.MapGrpcService<CoverageService>().OnListener(GatewayListeners.Grpc);
        app.MapGrpcService<StreamHealthService>().OnListener(GatewayListeners.Grpc);
        app.MapGrpcHealthChecksService().OnListener(GatewayListeners.Grpc);
        app.MapGrpcReflectionService().OnListener(GatewayListeners.Grpc);
        app.MapHealthChecks("/healthz", HealthText.Options).OnListener(GatewayListeners.Http);
        app.MapMetrics("/metrics", app.Services.GetRequiredService<GatewayMetrics>().Registry).OnListener(GatewayListeners.Http);
        app.MapSharpEyesSessions();
        app.MapSharpEyesEventStream();
        app.MapSharpEyesConsole().OnListener(GatewayListeners.Http);
        app.MapSharpEyesConsoleConfig().OnListener(GatewayListeners.Http);
        AccessEnforcement.CheckEveryEndpointHasARule(app);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("SharpEyes.Gateway");
            if (!listeners.IsTls)
            {
                GatewayLog.PlainText(logger, o.InsecureListeners ? "--insecure-listeners" : "--demo without SharpEyes:Tls");
            }

            foreach (var listener in new[] { GatewayListeners.Grpc, GatewayListeners.Http, GatewayListeners.Mqtt })
            {
                GatewayLog.Listening(logger, listener, $"{listeners.Scheme(listener)}://{o.BindAddress}:{listeners.Port(listener)}");
            }

            // Where a newcomer points the browser: what scripts/run.sh prints last before the gateway's own lines.
            if (Directory.Exists(ConsoleFiles.DefaultDirectory))
            {
                GatewayLog.Console(logger, $"{listeners.Scheme(GatewayListeners.Http)}://{o.BindAddress}:{listeners.Port(GatewayListeners.Http)}/");
            }

            GatewayLog.DataDir(logger, Path.GetFullPath(o.DataDir));
            GatewayLog.GarbageCollector(logger, GarbageCollectorSummary());
            GatewayLog.Jit(logger, JitSummary());
        });
        return app;
    }

    /// <summary>
    /// Serves the endpoints on one listener only, with their rules from <see cref="AccessTable"/>. A gRPC method's
    /// transcoded JSON route (<see cref="JsonApi"/>) is served on the HTTP listener instead.
    /// </summary>
    internal static TBuilder OnListener<TBuilder>(this TBuilder builder, string listener) where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint => endpoint.Metadata.Add(new ListenerMetadata(JsonApi.IsTranscoded(endpoint) ? GatewayListeners.Http : listener)));
        return builder.WithAccessTable();
    }

    private sealed record ListenerMetadata(string Listener);

    public static IServiceCollection AddJournalParticipant<T>(this IServiceCollection services) where T : class, IJournalParticipant
    {
        services.AddSingleton<T>();
        services.AddSingleton(new JournalParticipantRegistration(typeof(T)));
        return services;
    }

    /// <summary>
    /// The GC's mode and gen0 budget cap as the runtime resolved them (runtimeconfig.json, then DOTNET_ variables), so an
    /// operator comparing latency across machines sees which budget the process runs with.
    /// </summary>
    internal static string GarbageCollectorSummary()
    {
        var gc = GC.GetConfigurationVariables();
        var mode = (System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")
            + (gc.TryGetValue("ConcurrentGC", out var concurrent) && concurrent is true ? ", concurrent" : "");
        var cap = gc.TryGetValue("GCGen0MaxBudget", out var value) && value is long bytes && bytes > 0
            ? $"at most {bytes / (1024.0 * 1024.0):0.#} MiB (System.GC.Gen0MaxBudget; DOTNET_GCGen0MaxBudget overrides)"
            : "not capped (the runtime's default, sized from the CPU cache)";
        return $"{mode}; gen0 budget {cap}";
    }

    /// <summary>
    /// The tiered JIT's call-counting delay as configured (DOTNET_TC_CallCountingDelayMs, else runtimeconfig.json, else
    /// the runtime's 100 ms): how soon a hot method gets optimised code while others are still being compiled. With
    /// tiered compilation off (DOTNET_TieredCompilation=0, an operator's choice for a mass registration) there is no
    /// delay to speak of, and the line says so.
    /// </summary>
    internal static string JitSummary() => JitSummary(Environment.GetEnvironmentVariable, AppContext.GetData);

    /// <summary>As <see cref="JitSummary()"/>, reading the environment and the runtimeconfig's values through the given lookups.</summary>
    internal static string JitSummary(Func<string, string?> environment, Func<string, object?> runtimeConfig)
    {
        const string TieredKnob = "System.Runtime.TieredCompilation";
        const string DelayKnob = "System.Runtime.TieredCompilation.CallCountingDelayMs";
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        // The runtime reads DOTNET_ values as hexadecimal numbers; the environment wins over runtimeconfig.json.
        static bool IsZero(string text) =>
            uint.TryParse(text, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out uint n) && n == 0;
        bool tiered = environment("DOTNET_TieredCompilation") is { Length: > 0 } flag
            ? !IsZero(flag)
            : !string.Equals(Convert.ToString(runtimeConfig(TieredKnob), invariant), "false", StringComparison.OrdinalIgnoreCase);
        if (!tiered)
        {
            return "not tiered, every method optimised at its first call (DOTNET_TieredCompilation or System.Runtime.TieredCompilation)";
        }

        var (value, source) = environment("DOTNET_TC_CallCountingDelayMs") is { Length: > 0 } env
            ? (uint.TryParse(env, System.Globalization.NumberStyles.HexNumber, invariant, out uint ms) ? ms.ToString(invariant) : env, "DOTNET_TC_CallCountingDelayMs, hexadecimal")
            : runtimeConfig(DelayKnob) is { } data ? (Convert.ToString(data, invariant), DelayKnob) : ("100", "the runtime's default");
        return $"tiered, call counting delay {value} ms ({source})";
    }

    private static void TryAddSingletonTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }
}

internal static partial class GatewayLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "{Listener} listening on {Address}")]
    public static partial void Listening(ILogger logger, string listener, string address);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Plain-text listeners ({Why}): API keys, MQTT passwords, alarms and the feed cross the network unencrypted. "
        + "Serve TLS with SharpEyes:Tls:CertificatePath and KeyPath (--tls-cert, --tls-key); see docs/security.md#tls-and-client-certificates")]
    public static partial void PlainText(ILogger logger, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "Browser console at {Url} (sign in with an operator, planner or admin key)")]
    public static partial void Console(ILogger logger, string url);

    [LoggerMessage(Level = LogLevel.Information, Message = "Data directory {DataDir}")]
    public static partial void DataDir(ILogger logger, string dataDir);

    [LoggerMessage(Level = LogLevel.Information, Message = "Garbage collector: {Summary}")]
    public static partial void GarbageCollector(ILogger logger, string summary);

    [LoggerMessage(Level = LogLevel.Information, Message = "JIT: {Summary}")]
    public static partial void Jit(ILogger logger, string summary);
}

/// <summary>Checks what data annotations cannot: the bind address parses, ports do not collide, windows are positive.</summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions o)
    {
        var failures = new List<string>();
        if (!IPAddress.TryParse(o.BindAddress, out _))
        {
            failures.Add($"BindAddress '{o.BindAddress}' is not an IP address");
        }

        var ports = new[] { o.GrpcPort, o.ServesEmbeddedBroker ? o.MqttListenPort : 0, o.HttpPort }.Where(p => p != 0).ToList();
        if (ports.Distinct().Count() != ports.Count)
        {
            failures.Add($"grpc, mqtt and http ports must differ (got {o.GrpcPort}, {o.MqttListenPort}, {o.HttpPort})");
        }

        failures.AddRange(GatewayTls.Problems(o));
        failures.AddRange(o.ExternalBroker.Problems());
        if (o.Telemetry.OtlpEndpoint.Length > 0 && GatewayTelemetry.Endpoint(o.Telemetry) is null)
        {
            failures.Add("Telemetry: OtlpEndpoint must be an absolute http:// or https:// URL such as http://127.0.0.1:4318 (--otlp-endpoint)");
        }

        if (o.Incidents.CorrelationWindow <= TimeSpan.Zero || o.Incidents.QuietPeriod <= TimeSpan.Zero || o.Incidents.SweepInterval <= TimeSpan.Zero)
        {
            failures.Add("Incidents: CorrelationWindow, QuietPeriod and SweepInterval must be positive");
        }

        if (o.Liveness.KeepaliveInterval <= TimeSpan.Zero || o.Liveness.SweepInterval <= TimeSpan.Zero)
        {
            failures.Add("Liveness: KeepaliveInterval and SweepInterval must be positive");
        }

        var sip = o.Sip;
        if (new[] { sip.MinExpires, sip.NonceLifetime, sip.TcpIdleTimeout, sip.CatalogTimeout }.Any(t => t <= TimeSpan.Zero) || sip.MaxExpires < sip.MinExpires
            || sip.CatalogRefresh < TimeSpan.Zero || sip.DeviceUtcOffset.Duration() > TimeSpan.FromHours(14))
        {
            failures.Add("Sip: MinExpires, NonceLifetime, TcpIdleTimeout and CatalogTimeout must be positive, MaxExpires at least MinExpires, CatalogRefresh not negative, DeviceUtcOffset within ±14 h");
        }

        if (o.StoreStartTimeout < TimeSpan.Zero)
        {
            failures.Add("StoreStartTimeout must not be negative (--store-start-timeout)");
        }

        if (o.Liveness.RestartGrace is { } grace && grace < TimeSpan.Zero)
        {
            failures.Add("Liveness: RestartGrace must not be negative");
        }

        var s = o.Streams;
        if (new[] { s.LivenessInterval, s.ProbeInterval, s.QualityInterval, s.DescribeTimeout, s.ProcessTimeout, s.AnalyzeDuration, s.RetryBaseDelay, s.HostBreakDuration, s.UptimeRetention }
            .Any(t => t <= TimeSpan.Zero) || s.RetryMaxDelay < s.RetryBaseDelay)
        {
            failures.Add("Streams: intervals, timeouts and delays must be positive, and RetryMaxDelay at least RetryBaseDelay");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in o.Outbox.Endpoints)
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(e.Name, "^[a-z0-9][a-z0-9_-]{0,39}$"))
            {
                failures.Add($"Outbox:Endpoints: Name '{e.Name}' must be 1-40 lower-case letters, digits, '-' or '_' (it labels metrics)");
            }

            if (!names.Add(e.Name))
            {
                failures.Add($"Outbox:Endpoints: the name '{e.Name}' is used twice; give each endpoint its own Name");
            }

            failures.AddRange(CentreTls.Problems(e));

            if (e.Timeout <= TimeSpan.Zero || e.RetryBaseDelay <= TimeSpan.Zero || e.RetryMaxDelay < e.RetryBaseDelay || e.BreakDuration < TimeSpan.FromSeconds(0.5))
            {
                failures.Add($"Outbox:Endpoints '{e.Name}': Timeout and RetryBaseDelay must be positive, RetryMaxDelay at least RetryBaseDelay, BreakDuration at least 0.5 s");
            }

            if (e.Kind == CentreEndpointKind.Mqtt && (e.Topic.Length == 0 || e.Topic.Contains('#') || e.Topic.Contains('+')))
            {
                failures.Add($"Outbox:Endpoints '{e.Name}': Topic must be a non-empty topic name without wildcards");
            }
        }

        if (o.Outbox.FeedRetention <= TimeSpan.Zero || o.Alarms.Retention <= TimeSpan.Zero)
        {
            failures.Add("Outbox:FeedRetention and Alarms:Retention must be positive");
        }

        if (o.Audit.Retention <= TimeSpan.Zero || o.Audit.RefusalInterval < TimeSpan.FromSeconds(1))
        {
            failures.Add("Audit: Retention must be positive and RefusalInterval at least 1 second");
        }

        if (o.Outbox.PruneInterval < TimeSpan.FromSeconds(1) || o.Outbox.PruneInterval > TimeSpan.FromDays(45))
        {
            failures.Add("Outbox:PruneInterval must be between 1 second and 45 days");
        }

        if (o.Outbox.LeaseRenewInterval < TimeSpan.FromMilliseconds(100) || o.Outbox.LeaseMargin < TimeSpan.FromMilliseconds(500)
            || o.Outbox.LeaseRenewInterval * 2 > o.Outbox.LeaseTtl - o.Outbox.LeaseMargin)
        {
            failures.Add("Outbox: LeaseRenewInterval must be at least 100 ms, LeaseMargin at least 500 ms, and LeaseRenewInterval at most " +
                "(LeaseTtl - LeaseMargin) / 2, so that a failed renewal is tried again before the holder must stop");
        }

        // Data annotations of the nested sections ([Range] on Limits, Alarms, Streams...): ValidateDataAnnotations checks
        // only the top level.
        foreach (var (section, value) in new (string, object)[]
        {
            ("Alarms", o.Alarms), ("Incidents", o.Incidents), ("Liveness", o.Liveness), ("Coverage", o.Coverage), ("Streams", o.Streams),
            ("Outbox", o.Outbox), ("Limits", o.Limits), ("Tls", o.Tls), ("Sessions", o.Sessions), ("Audit", o.Audit), ("Console:BaseLayer", o.Console.BaseLayer),
            ("RateLimits:Vendor", o.RateLimits.Vendor), ("RateLimits:Operator", o.RateLimits.Operator), ("RateLimits:Planner", o.RateLimits.Planner),
            ("RateLimits:Centre", o.RateLimits.Centre), ("RateLimits:Admin", o.RateLimits.Admin), ("RateLimits:MqttVendor", o.RateLimits.MqttVendor),
            ("Keys", o.Keys), ("Telemetry", o.Telemetry), ("ExternalBroker", o.ExternalBroker), ("Sip", o.Sip),
        }.Concat(o.Outbox.Endpoints.Select((e, i) => ($"Outbox:Endpoints:{i}", (object)e))))
        {
            var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
            if (!System.ComponentModel.DataAnnotations.Validator.TryValidateObject(value, new System.ComponentModel.DataAnnotations.ValidationContext(value), results, validateAllProperties: true))
            {
                failures.AddRange(results.Select(r => $"{section}: {r.ErrorMessage}"));
            }
        }

        failures.AddRange(ConsoleConfig.Problems(o.Console.BaseLayer));
        if (o.Coverage.KpiHistoryRetention < o.Coverage.KpiHistoryInterval)
        {
            failures.Add("Coverage: KpiHistoryRetention must be at least KpiHistoryInterval");
        }

        var l = o.Limits;
        if (l.LogInterval <= TimeSpan.Zero || l.MqttConnectTimeout <= TimeSpan.Zero || l.FailedAuthWindow <= TimeSpan.Zero)
        {
            failures.Add("Limits: LogInterval, MqttConnectTimeout and FailedAuthWindow must be positive");
        }

        if (l.MqttMaxConnectionsPerAddress > l.MqttMaxConnections || l.MqttMaxConnectPacketBytes > l.MqttMaxPacketBytes)
        {
            failures.Add("Limits: MqttMaxConnectionsPerAddress must not exceed MqttMaxConnections, nor MqttMaxConnectPacketBytes MqttMaxPacketBytes");
        }

        foreach (var county in o.CountyCodes)
        {
            if (county.Length != 6 || !county.All(char.IsAsciiDigit))
            {
                failures.Add($"CountyCodes: '{county}' is not a 6-digit GB/T 2260 county code");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
