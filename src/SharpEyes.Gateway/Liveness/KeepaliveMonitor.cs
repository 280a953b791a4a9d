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
public sealed class KeepaliveMonitor(DeviceCatalog devices, Journal journal, TimeProvider time, IOptions<GatewayOptions> options) : BackgroundService
{
    private readonly LivenessOptions _options = options.Value.Liveness;

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
        var changed = 0;
        foreach (var entry in devices.All)
        {
            var lastHeard = Math.Max(entry.LastSeenMs, devices.EvidenceFloorMs);
            if (entry.Status == DeviceStatus.Online && now.ToUnixTimeMilliseconds() - lastHeard > timeoutMs)
            {
                devices.SetStatus(tx, entry, DeviceStatus.Offline, now, StatusReasons.KeepaliveTimeout);
                changed++;
            }
        }

        return changed;
    }, ct);
}
