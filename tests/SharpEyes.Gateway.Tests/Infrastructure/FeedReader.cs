using System.Collections.Concurrent;
using Grpc.Core;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>Subscribes to the feed in the background and keeps every event, in arrival order.</summary>
public sealed class FeedReader : IAsyncDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly ConcurrentQueue<FeedEvent> _events = new();
    private readonly Task _loop;
    private int _disposed;

    public FeedReader(GatewayHost host, string key, string regionPrefix = "", long afterSequence = 0)
        : this(host.Channel, host.Auth(key), regionPrefix, afterSequence)
    {
    }

    /// <summary>Reads the feed of any gateway (a <see cref="GatewayProcess"/>'s channel, say) with the given credentials.</summary>
    public FeedReader(ChannelBase channel, Metadata auth, string regionPrefix = "", long afterSequence = 0)
    {
        var call = new V1.Feeds.FeedsClient(channel).Subscribe(
            new SubscribeRequest { RegionPrefix = regionPrefix, AfterSequence = afterSequence }, auth, cancellationToken: _cts.Token);
        _loop = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in call.ResponseStream.ReadAllAsync(_cts.Token))
                {
                    _events.Enqueue(e);
                }
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled || _cts.IsCancellationRequested)
            {
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                call.Dispose();
            }
        });
    }

    public IReadOnlyList<FeedEvent> Events => [.. _events];

    public Task<FeedEvent> WaitForAsync(Func<FeedEvent, bool> match, string what, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(() => Task.FromResult(_events.FirstOrDefault(match)), what, timeout);

    public Task WaitForCountAsync(Func<FeedEvent, bool> match, int count, string what, TimeSpan? timeout = null) =>
        Eventually.TrueAsync(() => _events.Count(match) >= count, what, timeout);

    /// <summary>
    /// The alarms of the INCIDENT_OPENED and INCIDENT_UPDATED events so far, in feed order (an incident's event carries
    /// every alarm that joined it in one commit).
    /// </summary>
    public IReadOnlyList<Alarm> Alarms => [.. _events.Where(CarriesAlarms).SelectMany(e => e.Incident.Alarms)];

    /// <summary>Waits until the incident events carry at least <paramref name="count"/> alarms.</summary>
    public Task WaitForAlarmsAsync(int count, string what, TimeSpan? timeout = null) =>
        Eventually.TrueAsync(() => _events.Where(CarriesAlarms).Sum(e => e.Incident.Alarms.Count) >= count, what, timeout);

    public static bool CarriesAlarms(FeedEvent e) => e.Kind is FeedEventKind.IncidentOpened or FeedEventKind.IncidentUpdated;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return; // a test may end the subscription early (before stopping its gateway) and leave the rest to its using
        }

        await _cts.CancelAsync();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // The stream's end is all we wait for.
        }

        _cts.Dispose();
    }
}
