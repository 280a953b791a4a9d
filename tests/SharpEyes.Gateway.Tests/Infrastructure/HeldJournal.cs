using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Storage;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// Holds the journal's single writer inside an item of its own, so that everything queued meanwhile commits in one
/// group commit after <see cref="ReleaseAsync"/> (up to <c>Alarms:MaxBatch</c> items). Disposing releases it too.
/// </summary>
public sealed class HeldJournal : IDisposable
{
    private readonly ManualResetEventSlim _gate = new();
    private readonly Journal _journal;
    private readonly Task<bool> _held;

    private HeldJournal(Journal journal, ManualResetEventSlim started)
    {
        _journal = journal;
        _held = journal.ExecuteAsync(_ =>
        {
            started.Set();
            return _gate.Wait(TimeSpan.FromMinutes(1));
        });
    }

    /// <summary>Returns once the writer is inside the holding item.</summary>
    public static async Task<HeldJournal> HoldAsync(GatewayHost host)
    {
        var started = new ManualResetEventSlim();
        var held = new HeldJournal(host.Services.GetRequiredService<Journal>(), started);
        await Eventually.TrueAsync(() => started.IsSet, "the journal's writer held");
        return held;
    }

    /// <summary>Waits until at least <paramref name="count"/> items wait behind the held writer.</summary>
    public Task QueuedAsync(int count, string what) => Eventually.TrueAsync(() => _journal.QueueLength >= count, what);

    public async Task ReleaseAsync()
    {
        _gate.Set();
        Assert.True(await _held, "the writer was held until released");
    }

    public void Dispose() => _gate.Set(); // not disposed: the writer may be waking on it
}
