using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.Bench.Gateway;
using SharpEyes.V1;

namespace SharpEyes.Bench.Coverage;

/// <summary>
/// A centre's Feeds.Subscribe stream from a given sequence. A caller registers what it waits for (a kind and the
/// gap's site/grid code or the device id) <b>before</b> causing it, and gets the Stopwatch ticks at which it arrived.
/// Events nobody waits for are counted and dropped.
/// </summary>
public sealed class CoverageFeedWatcher(GrpcChannel channel, Metadata headers) : FeedSubscription(channel, headers)
{
    private readonly Dictionary<(FeedEventKind Kind, string Key), TaskCompletionSource<long>> _waiting = [];
    private readonly Lock _lock = new();

    /// <summary>The arrival (Stopwatch ticks) of the next event of that kind for that key.</summary>
    public Task<long> Expect(FeedEventKind kind, string key)
    {
        var tcs = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _waiting[(kind, key)] = tcs;
        }

        return tcs.Task;
    }

    /// <summary>Forgets a wait that timed out.</summary>
    public void Forget(FeedEventKind kind, string key)
    {
        lock (_lock)
        {
            _waiting.Remove((kind, key));
        }
    }

    protected override void Handle(FeedEvent e, long arrivedTicks)
    {
        string? key = e.DataCase switch
        {
            FeedEvent.DataOneofCase.CoverageGap => e.CoverageGap.Code,
            FeedEvent.DataOneofCase.Device => e.Device.DeviceId,
            _ => null,
        };
        if (key is null)
        {
            return;
        }

        TaskCompletionSource<long>? waiter;
        lock (_lock)
        {
            _waiting.Remove((e.Kind, key), out waiter);
        }

        waiter?.TrySetResult(arrivedTicks);
    }
}
