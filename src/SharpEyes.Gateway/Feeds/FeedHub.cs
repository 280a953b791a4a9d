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
    private long _contiguous;
    private TaskCompletionSource _signal = NewSignal();
    private readonly SubscriberSlots _subscribers = new();

    /// <param name="capacity">Events held (<see cref="Configuration.LimitOptions.FeedRingEvents"/>).</param>
    public FeedHub(int capacity) => _ring = new FeedEvent?[capacity];

    /// <summary>Events this ring holds at most (<see cref="Configuration.LimitOptions.FeedRingEvents"/>).</summary>
    public int Capacity => _ring.Length;

    internal void Initialize(long lastSequence)
    {
        lock (_lock)
        {
            _last = lastSequence;
            _contiguous = lastSequence;
            Array.Clear(_ring);
        }
    }

    /// <summary>
    /// Takes committed events into the ring and wakes readers. Events may come out of order when several replicas
    /// write one feed (this replica's own commit before another's earlier one reached it): the head moves to the
    /// highest sequence, a reader that meets a missing one reads the store instead (<see cref="TryRead"/>), and the
    /// missing ones fill their slots when they arrive (<see cref="Contiguous"/> says how far there is no hole).
    /// </summary>
    internal void Publish(IReadOnlyList<FeedEvent> events)
    {
        TaskCompletionSource signal;
        lock (_lock)
        {
            foreach (var e in events)
            {
                if (e.Sequence <= _contiguous || e.Sequence <= _last - _ring.Length)
                {
                    continue; // already here, or too old for the ring
                }

                _ring[e.Sequence % _ring.Length] = e;
                _last = Math.Max(_last, e.Sequence);
            }

            while (_contiguous < _last && _ring[(_contiguous + 1) % _ring.Length] is { } next && next.Sequence == _contiguous + 1)
            {
                _contiguous++;
            }

            if (_last - _contiguous >= _ring.Length)
            {
                _contiguous = _last - _ring.Length + 1; // a hole older than the ring: readers of it read the store
            }

            signal = _signal;
            _signal = NewSignal();
        }

        signal.TrySetResult();
    }

    /// <summary>Every sequence up to this one is in the ring or was: the first hole is after it.</summary>
    internal long Contiguous
    {
        get
        {
            lock (_lock)
            {
                return _contiguous;
            }
        }
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
