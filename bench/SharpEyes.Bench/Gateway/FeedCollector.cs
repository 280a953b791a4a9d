using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.Bench.Mqtt;
using SharpEyes.V1;

namespace SharpEyes.Bench.Gateway;

/// <summary>Arrival times of the feed events that carry one phase's alarms.</summary>
public sealed class FeedPhase(int expected)
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _count;
    private long _last;

    public int Expected { get; } = expected;

    /// <summary>Stopwatch ticks at which the incident event carrying alarm i arrived; 0 = not (yet).</summary>
    public long[] ArrivalTicks { get; } = new long[expected];

    public int Count => Volatile.Read(ref _count);

    public long LastArrivalTicks => Volatile.Read(ref _last);

    internal void Mark(int index, long now)
    {
        if ((uint)index >= (uint)ArrivalTicks.Length || ArrivalTicks[index] != 0)
        {
            return;
        }

        ArrivalTicks[index] = now;
        Volatile.Write(ref _last, now);
        if (Interlocked.Increment(ref _count) == Expected)
        {
            _done.TrySetResult();
        }
    }

    /// <summary>
    /// Waits until every expected event arrived (true), or — when some publishes failed — until at least
    /// <paramref name="acked"/> did, or until <paramref name="timeout"/> (false unless all arrived).
    /// </summary>
    public async Task<bool> WaitAsync(int acked, TimeSpan timeout)
    {
        if (timeout < TimeSpan.FromSeconds(1))
        {
            timeout = TimeSpan.FromSeconds(1);
        }

        if (acked >= Expected)
        {
            try
            {
                await _done.Task.WaitAsync(timeout);
                return true;
            }
            catch (TimeoutException)
            {
                return false;
            }
        }

        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Count < acked && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(50);
        }

        return Count >= Expected;
    }
}

/// <summary>
/// A centre's feed, read for the whole run. Each INCIDENT_OPENED/UPDATED event carries the alarms that joined its
/// incident in one commit (incident.alarms); each alarm's event id names the bench phase and message index.
/// </summary>
public sealed class FeedCollector(GrpcChannel channel, Metadata headers) : FeedSubscription(channel, headers)
{
    private readonly FeedPhase?[] _phases = new FeedPhase?[10];

    public FeedPhase Track(int phase, int expected)
    {
        var tracked = new FeedPhase(expected);
        Volatile.Write(ref _phases[phase], tracked);
        return tracked;
    }

    protected override void Handle(FeedEvent e, long arrivedTicks)
    {
        if (e.DataCase != FeedEvent.DataOneofCase.Incident || e.Kind is not (FeedEventKind.IncidentOpened or FeedEventKind.IncidentUpdated))
        {
            return;
        }

        foreach (var alarm in e.Incident.Alarms)
        {
            if (AlarmMessages.TryParseEventId(alarm.EventId, out var phase, out var index) && Volatile.Read(ref _phases[phase]) is { } tracked)
            {
                tracked.Mark(index, arrivedTicks);
            }
        }
    }
}
