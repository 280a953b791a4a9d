using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.V1;

namespace SharpEyes.Bench.Gateway;

/// <summary>
/// A centre's Feeds.Subscribe stream, read in the background from a given sequence; reconnects (bounded) from the
/// last sequence seen if the stream breaks. Subclasses say what each event means to them.
/// </summary>
public abstract class FeedSubscription(GrpcChannel channel, Metadata headers) : IAsyncDisposable
{
    private const int MaxReconnects = 5;
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

    /// <summary>One event, with the Stopwatch ticks at which it arrived.</summary>
    protected abstract void Handle(FeedEvent e, long arrivedTicks);

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
        GC.SuppressFinalize(this);
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
                    var e = call.ResponseStream.Current;
                    var now = Stopwatch.GetTimestamp();
                    _lastSequence = e.Sequence;
                    Interlocked.Increment(ref _events);
                    Handle(e, now);
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
}
