using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.V1;

namespace SharpEyes.Bench.Coverage;

/// <summary>
/// A centre's Feeds.Subscribe stream from a given sequence. A caller registers what it waits for (a kind and the
/// gap's site/grid code or the device id) <b>before</b> causing it, and gets the Stopwatch ticks at which it arrived.
/// Events nobody waits for are counted and dropped. Reconnects (bounded) from the last sequence seen.
/// </summary>
public sealed class CoverageFeedWatcher(GrpcChannel channel, Metadata headers) : IAsyncDisposable
{
    private const int MaxReconnects = 5;
    private readonly Dictionary<(FeedEventKind Kind, string Key), TaskCompletionSource<long>> _waiting = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private long _lastSequence;
    private long _events;

    public long Events => Interlocked.Read(ref _events);

    public int Reconnects { get; private set; }

    public string? Error { get; private set; }

    public void Start(long afterSequence)
    {
        _lastSequence = afterSequence;
        _loop = Task.Run(RunAsync);
    }

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

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException)
            {
                // The stream did not notice the cancellation in time; the process exit ends it.
            }
        }

        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var client = new Feeds.FeedsClient(channel);
        for (var attempt = 0; attempt <= MaxReconnects && !_stop.IsCancellationRequested; attempt++)
        {
            try
            {
                using var call = client.Subscribe(new SubscribeRequest { AfterSequence = _lastSequence }, headers, cancellationToken: _stop.Token);
                while (await call.ResponseStream.MoveNext(_stop.Token))
                {
                    Handle(call.ResponseStream.Current);
                }

                Error = "the gateway ended the feed stream";
            }
            catch (RpcException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (RpcException e)
            {
                Error = $"{e.StatusCode}: {e.Status.Detail}";
            }

            Reconnects++;
            try
            {
                await Task.Delay(500, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Handle(FeedEvent e)
    {
        var now = Stopwatch.GetTimestamp();
        _lastSequence = e.Sequence;
        Interlocked.Increment(ref _events);
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

        waiter?.TrySetResult(now);
    }
}
