using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Storage;

namespace SharpEyes.Gateway.Incidents;

/// <summary>Closes quiet incidents on a timer driven by the injected <see cref="TimeProvider"/>.</summary>
public sealed class IncidentSweeper(IncidentCorrelator correlator, Journal journal, TimeProvider time, IOptions<GatewayOptions> options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Incidents.SweepInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await SweepAsync(stoppingToken).ConfigureAwait(false);
        }
    }

    public Task<int> SweepAsync(CancellationToken ct = default) => journal.ExecuteAsync(correlator.CloseQuiet, ct);
}
