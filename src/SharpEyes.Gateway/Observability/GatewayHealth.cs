using SharpEyes.Gateway.Mqtt;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Polly.CircuitBreaker;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Outbox;
using SharpEyes.Gateway.Storage;

namespace SharpEyes.Gateway.Observability;

/// <summary>
/// Unhealthy while the store refuses writes (disk full, read-only, I/O error): alarms are then not acknowledged, so
/// publishers keep them and retry. Healthy again after the next successful commit.
/// </summary>
public sealed class StoreHealthCheck(Journal journal) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["last_sequence"] = journal.LastSequence, ["queue"] = journal.QueueLength };
        return Task.FromResult(journal.Failure is { } f
            ? HealthCheckResult.Unhealthy($"the store refuses writes since {f.Since:O}: {f.Message}; alarms are not acknowledged until it recovers", data: data)
            : HealthCheckResult.Healthy($"writable, last sequence {journal.LastSequence}", data));
    }
}

/// <summary>Degraded while an endpoint is backed up (over the backlog limit), its circuit is open, or its last attempt failed.</summary>
public sealed class OutboxHealthCheck(OutboxService outbox) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (outbox.Endpoints.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy("no push endpoints configured (pull only)"));
        }

        var problems = new List<string>();
        var lines = new List<string>();
        var data = new Dictionary<string, object>();
        foreach (var e in outbox.Endpoints)
        {
            var depth = e.Depth;
            var lag = e.Lag();
            if (!e.Lease.Held)
            {
                // Another replica pushes to it: nothing here to be degraded about (the holder reports its own state).
                lines.Add($"{e.Name}: {e.Lease.State}, acked {e.AckedSequence}");
                data[e.Name + ".lease"] = "standby";
                continue;
            }

            var failing = e.LastErrorAt is { } failedAt && (e.LastAckAt is not { } ackAt || failedAt > ackAt);
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{e.Name}: acked {e.AckedSequence}, depth {depth}, lag {lag.TotalSeconds:0.#} s, circuit {e.Circuit}{(e.Lease.Shared ? ", lease held by this replica" : "")}{(failing ? ", last error: " + e.LastError : "")}"));
            data[e.Name + ".depth"] = depth;
            data[e.Name + ".lag_seconds"] = lag.TotalSeconds;
            if (depth > outbox.BacklogLimit)
            {
                problems.Add($"{e.Name} is backed up: {depth} unacknowledged events (limit {outbox.BacklogLimit})");
            }
            else if (e.Circuit != CircuitState.Closed || failing)
            {
                problems.Add($"{e.Name} is failing: {e.LastError}");
            }
        }

        var description = string.Join("; ", lines);
        return Task.FromResult(problems.Count > 0
            ? HealthCheckResult.Degraded(string.Join("; ", problems) + " — " + description, data: data)
            : HealthCheckResult.Healthy(description, data));
    }
}

/// <summary>Always Healthy: names this replica (the holder id of its outbox leases) and whether the store is shared.</summary>
public sealed class ReplicaHealthCheck(Hosting.ReplicaIdentity replica, GatewayStore store) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(HealthCheckResult.Healthy(store.Engine.SharedByReplicas
            ? $"id {replica.Id}, on the {store.Engine.Name} store shared by replicas"
            : $"id {replica.Id}, the only replica of its {store.Engine.Name} store"));
}

/// <summary>
/// Always Healthy: whether this replica runs the stream probing schedule ("leader: this replica probes N cameras"),
/// stands by ("standby (held by X)"), or checks are off. A standby is not degraded: the leader probes.
/// </summary>
public sealed class StreamProbingHealthCheck(Streams.StreamHealthMonitor streams) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(HealthCheckResult.Healthy(streams.LeaderState));
}

/// <summary>Unhealthy when the embedded MQTT broker is not running (unless an external broker replaces it).</summary>
public sealed class BrokerHealthCheck(MqttBroker broker) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(!broker.Serves ? HealthCheckResult.Healthy("off: the external broker replaces the embedded one")
            : broker.IsRunning
            ? HealthCheckResult.Healthy($"running, {broker.ConnectedClients} clients")
            : HealthCheckResult.Unhealthy("the embedded MQTT broker is not running"));
}

/// <summary>
/// The external broker's link: Degraded while disconnected (alarms wait at the broker, in this gateway's session, so
/// nothing is lost while the session lives), with the last error; Healthy with the counts when connected.
/// </summary>
public sealed class ExternalBrokerHealthCheck(ExternalBrokerIntake intake) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!intake.Enabled)
        {
            return Task.FromResult(HealthCheckResult.Healthy("none configured"));
        }

        var counts = string.Create(CultureInfo.InvariantCulture,
            $"received {intake.Received}, acked {intake.Acked}, redelivered {intake.Redelivered}, duplicates {intake.Duplicates}, not acked {intake.NotAcked}, reconnects {intake.Reconnects}");
        return Task.FromResult(intake.Connected
            ? HealthCheckResult.Healthy($"connected to {intake.Endpoint}; {counts}")
            : HealthCheckResult.Degraded($"not connected to {intake.Endpoint}{(intake.LastError is { } e ? ": " + e : "")}; alarms wait in the broker's session; {counts}"));
    }
}

/// <summary>/healthz: a line per check in plain text; 200 when Healthy or Degraded, 503 when Unhealthy.</summary>
public static class HealthText
{
    public static HealthCheckOptions Options { get; } = new()
    {
        ResultStatusCodes =
        {
            [HealthStatus.Healthy] = StatusCodes.Status200OK,
            [HealthStatus.Degraded] = StatusCodes.Status200OK,
            [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
        },
        ResponseWriter = WriteAsync,
    };

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var text = new StringBuilder();
        text.Append("status: ").Append(report.Status).Append('\n');
        foreach (var (name, entry) in report.Entries)
        {
            text.Append(name).Append(": ").Append(entry.Status).Append(" — ").Append(entry.Description).Append('\n');
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text.ToString());
    }
}
