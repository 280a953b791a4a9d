using SharpEyes.V1;

namespace SharpEyes.Gateway.Feeds;

/// <summary>
/// Recently committed feed events, kept in memory so live subscribers read them without touching the store,
/// and a signal that wakes subscribers when new ones commit. Older events are read from the store. Every subscriber
/// reads the one ring at its own pace (nothing is copied per subscriber); the hub also counts the open subscriptions.
/// </summary>
public sealed class FeedHub
{
    private readonly Lock _lock = new();
    private readonly FeedEvent?[] _ring;
    private long _last;
    private TaskCompletionSource _signal = NewSignal();
    private readonly SubscriberSlots _subscribers = new();

    public FeedHub(int capacity = 1 << 16) => _ring = new FeedEvent?[capacity];

    internal void Initialize(long lastSequence)
    {
        lock (_lock)
        {
            _last = lastSequence;
            Array.Clear(_ring);
        }
    }

    internal void Publish(IReadOnlyList<FeedEvent> events)
    {
        TaskCompletionSource signal;
        lock (_lock)
        {
            foreach (var e in events)
            {
                _ring[e.Sequence % _ring.Length] = e;
                _last = e.Sequence;
            }

            signal = _signal;
            _signal = NewSignal();
        }

        signal.TrySetResult();
    }

    /// <summary>Feeds.Subscribe streams open now.</summary>
    public int Subscribers => _subscribers.Open;

    /// <summary>The last committed sequence, and a task that completes when more events commit.</summary>
    public (long Last, Task Newer) Head()
    {
        lock (_lock)
        {
            return (_last, _signal.Task);
        }
    }

    /// <summary>Counts one more open subscription unless <paramref name="limit"/> are open already.</summary>
    internal bool TryAddSubscriber(int limit) => _subscribers.TryTake(limit);

    internal void RemoveSubscriber() => _subscribers.Release();

    /// <summary>
    /// Events after <paramref name="afterSequence"/> (up to <paramref name="max"/>) when all of them are still in memory;
    /// false when the caller must read the store because the oldest wanted event has left the ring.
    /// </summary>
    public bool TryRead(long afterSequence, int max, List<FeedEvent> into, out Task newer)
    {
        lock (_lock)
        {
            newer = _signal.Task;
            if (afterSequence >= _last)
            {
                return true;
            }

            var oldestHeld = Math.Max(1, _last - _ring.Length + 1);
            if (afterSequence + 1 < oldestHeld)
            {
                return false;
            }

            for (var seq = afterSequence + 1; seq <= _last && into.Count < max; seq++)
            {
                var e = _ring[seq % _ring.Length];
                if (e is null || e.Sequence != seq)
                {
                    into.Clear();
                    return false;
                }

                into.Add(e);
            }

            return true;
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
