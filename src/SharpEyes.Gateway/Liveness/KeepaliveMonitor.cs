using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Streams;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Liveness;

/// <summary>
/// Marks an online device offline after <c>MissedKeepalives × KeepaliveInterval</c> without evidence of life: a
/// heartbeat, an alarm or a stream check that answered (GB/T 28181: 3 × 60 s). After a restart every device keeps its
/// stored status for the restart grace (default one timeout), so a restart does not flip the county offline.
/// </summary>
/// <remarks>
/// With several replicas on one PostgreSQL store every replica sweeps: each first writes the last-seen times of the
/// devices it heard since its previous sweep (<see cref="DeviceCatalog.StoreLastSeen"/>), and a timeout changes the
/// device's row only while the row too says online and silent (<see cref="DeviceCatalog.TimeOut"/>), so a device heard
/// through any replica stays online and a silent one goes offline once, whichever replica's sweep comes first.
/// </remarks>
public sealed class KeepaliveMonitor(DeviceCatalog devices, Journal journal, GatewayStore store, TimeProvider time, IOptions<GatewayOptions> options) : BackgroundService
{
    private readonly LivenessOptions _options = options.Value.Liveness;
    private long _storedThroughMs;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.SweepInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await SweepAsync(stoppingToken).ConfigureAwait(false);
        }
    }

    public Task<int> SweepAsync(CancellationToken ct = default) => journal.ExecuteAsync(tx =>
    {
        var now = time.GetUtcNow();
        var timeoutMs = (long)_options.Timeout.TotalMilliseconds;
        var nowMs = now.ToUnixTimeMilliseconds();
        if (store.IsPostgres)
        {
            devices.StoreLastSeen(tx, _storedThroughMs);
            _storedThroughMs = nowMs; // a rollback reloads the catalog from the rows, and the next sweep writes anew
        }

        var changed = 0;
        foreach (var entry in devices.All)
        {
            var lastHeard = Math.Max(entry.LastSeenMs, devices.EvidenceFloorMs);
            if (entry.Status == DeviceStatus.Online && nowMs - lastHeard > timeoutMs && devices.TimeOut(tx, entry, now, nowMs - timeoutMs))
            {
                changed++;
            }
        }

        return changed;
    }, ct);
}
