using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Feeds;
using SharpEyes.Gateway.Storage;

namespace SharpEyes.Gateway.Outbox;

/// <summary>
/// Runs one <see cref="OutboxEndpoint"/> per configured endpoint and watches their backlogs: an endpoint whose
/// unacknowledged events pass <see cref="OutboxOptions.BacklogLimit"/> is logged once as a warning (and again when it
/// drains below 90 % of the limit); metrics and health report it all the while. Nothing is ever trimmed for it.
/// </summary>
public sealed partial class OutboxService(
    IOptions<GatewayOptions> options,
    FeedLog log,
    OutboxCursors cursors,
    Journal journal,
    GatewayStore store,
    TimeProvider time,
    Hosting.ReplicaIdentity replica,
    IServiceProvider services,
    ILoggerFactory loggers) : IHostedService
{
    private readonly List<OutboxEndpoint> _endpoints = [];
    private readonly ILogger _logger = loggers.CreateLogger<OutboxService>();
    private ITimer? _monitor;

    public IReadOnlyList<OutboxEndpoint> Endpoints => _endpoints;

    public long BacklogLimit => options.Value.Outbox.BacklogLimit;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var endpointLogger = loggers.CreateLogger<OutboxEndpoint>();
        var leaseLogger = loggers.CreateLogger<OutboxLease>();
        if (options.Value.Outbox.Endpoints.Count > 0)
        {
            LogReplica(_logger, replica.Id, store.Engine.SharedByReplicas ? "one replica at a time pushes to each endpoint (a lease in the store)" : "this process pushes to every endpoint");
        }

        foreach (var o in options.Value.Outbox.Endpoints)
        {
            var tls = CentreTls.For(o, endpointLogger);
            if (tls is null && o.Kind != CentreEndpointKind.Gb28181) // GB/T 28181 platforms speak SIP in clear text (digest-authenticated)
            {
                LogClearText(_logger, o.Name, Redact(o.Url), o.Kind == CentreEndpointKind.Mqtt ? "mqtts" : "https");
            }

            ICentreTransport transport = o.Kind switch
            {
                CentreEndpointKind.Mqtt => new MqttCentreTransport(o, new ExternalMqttConnection(new Uri(o.Url), $"{cursors.SourceId}-{o.Name}", o.UserName, o.ApiKey,
                    o.RetryBaseDelay, o.RetryMaxDelay, time, loggers.CreateLogger<ExternalMqttConnection>(), tls)),
                CentreEndpointKind.Gb28181 => new Sip.SipUpstreamTransport(o, services.GetRequiredService<Sip.SipGateway>(), services.GetRequiredService<Sip.SipService>(),
                    services.GetRequiredService<Devices.DeviceCatalog>(), services.GetRequiredService<Sip.SipUpstreams>(), options.Value.Sip, time,
                    loggers.CreateLogger<Sip.SipUpstreamTransport>()),
                _ => new GrpcCentreTransport(o, tls),
            };
            var lease = new OutboxLease(o.Name, options.Value.Outbox, replica.Id, store, time, leaseLogger);
            var endpoint = new OutboxEndpoint(o, transport, log, cursors, journal, store, time, endpointLogger, lease, replica.Id);
            _endpoints.Add(endpoint);
            endpoint.Start();
            LogEndpoint(_logger, o.Name, o.Kind.ToString(), Redact(o.Url), endpoint.AckedSequence, journal.LastSequence);
        }

        if (_endpoints.Count > 0)
        {
            _monitor = time.CreateTimer(_ => CheckBacklogs(), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_monitor is not null)
        {
            await _monitor.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var endpoint in _endpoints)
        {
            await endpoint.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Flags and logs endpoints crossing the backlog limit (and back under 90 % of it).</summary>
    public void CheckBacklogs()
    {
        var limit = BacklogLimit;
        foreach (var endpoint in _endpoints)
        {
            var depth = endpoint.Depth;
            if (!endpoint.Lease.Held)
            {
                continue; // the replica holding the lease reports its backlog
            }

            if (!endpoint.BacklogExceeded && depth > limit)
            {
                endpoint.BacklogExceeded = true;
                LogBacklog(_logger, endpoint.Name, depth, limit, endpoint.Lag(), endpoint.LastError ?? "none");
            }
            else if (endpoint.BacklogExceeded && depth < limit * 0.9)
            {
                endpoint.BacklogExceeded = false;
                LogDrained(_logger, endpoint.Name, depth, limit);
            }
        }
    }

    /// <summary>A URL without its user-info part (credentials never reach the log).</summary>
    public static string Redact(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0
            ? url.Replace(uri.UserInfo + "@", "", StringComparison.Ordinal)
            : url;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox {Endpoint}: the feed to the centre at {Url} goes in clear text: anyone on the path can read it, and a host posing as the centre receives it. Use {Scheme}:// (docs/security.md, the centre feed over TLS)")]
    private static partial void LogClearText(ILogger logger, string endpoint, string url, string scheme);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox: replica {Replica}; {Mode}")]
    private static partial void LogReplica(ILogger logger, string replica, string mode);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox {Endpoint} ({Kind}, {Url}): acknowledged through {Acked}, feed at {Last}")]
    private static partial void LogEndpoint(ILogger logger, string endpoint, string kind, string url, long acked, long last);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox {Endpoint} is backed up: {Depth} unacknowledged events (limit {Limit}), oldest {Lag} old; last error: {Error}. Nothing is dropped; intake goes on")]
    private static partial void LogBacklog(ILogger logger, string endpoint, long depth, long limit, TimeSpan lag, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox {Endpoint} is draining: {Depth} unacknowledged events (limit {Limit})")]
    private static partial void LogDrained(ILogger logger, string endpoint, long depth, long limit);
}
