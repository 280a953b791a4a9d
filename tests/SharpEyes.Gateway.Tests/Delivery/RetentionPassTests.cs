using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Delivery;

/// <summary>Retention passes do not pile up: a tick while the last pass is still queued or running is skipped.</summary>
public sealed class RetentionPassTests
{
    [Fact]
    public async Task A_clock_that_jumps_a_year_queues_one_retention_pass_not_one_per_interval_missed()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var journal = host.Services.GetRequiredService<Journal>();

        // The prune timer's 10-minute interval is missed 52,560 times; FakeTimeProvider fires it for each, at once.
        host.Time.Advance(TimeSpan.FromDays(365));

        Assert.InRange(journal.QueueLength, 0, 10);
        await Eventually.TrueAsync(() => journal.QueueLength == 0, "the journal's queue drained");
    }
}
