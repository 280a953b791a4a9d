using System.Collections.Concurrent;

namespace SharpEyes.Gateway.Sip;

/// <summary>RFC 3261's timers for non-INVITE transactions (§17.1.2, §17.2.2), as settings.</summary>
public sealed record SipTimers(TimeSpan T1, TimeSpan T2)
{
    public static SipTimers Default { get; } = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(4));

    /// <summary>Timer F (a client gives up) and Timer J (a server forgets a completed transaction): 64·T1.</summary>
    public TimeSpan Timeout => T1 * 64;
}

/// <summary>
/// The server side of non-INVITE transactions over UDP (RFC 3261 §17.2.2): a request retransmitted by its sender (same
/// top Via branch and sent-by, same method) is absorbed, and answered again with the final response already sent, for
/// Timer J after it. At most <see cref="Capacity"/> are remembered; past that a retransmission is handled as a new
/// request (every handler is idempotent by its own keys: an alarm by its event, a registration by its device) and
/// <see cref="Overflows"/> counts it.
/// </summary>
public sealed class SipServerTransactions(TimeProvider time, SipTimers timers, int capacity = 100_000)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _overflows;

    public int Capacity => capacity;

    public int Count => _entries.Count;

    /// <summary>Requests handled as new because the table was full.</summary>
    public long Overflows => Interlocked.Read(ref _overflows);

    /// <summary>
    /// Whether <paramref name="request"/> continues a transaction already seen: then <paramref name="response"/> is the final
    /// response to send again, or null while the first copy is still being handled (the retransmission is dropped). False:
    /// a new transaction, now remembered.
    /// </summary>
    public bool TryAbsorb(SipMessage request, out SipMessage? response)
    {
        response = null;
        if (Key(request) is not { } key)
        {
            return false; // no branch: RFC 2543 peers; matched by nothing, handled as new
        }

        Sweep();
        var now = time.GetUtcNow();
        if (_entries.TryGetValue(key, out var entry) && entry.Expires > now)
        {
            response = entry.Response;
            return true;
        }

        if (_entries.Count >= capacity)
        {
            Interlocked.Increment(ref _overflows);
            return false;
        }

        _entries[key] = new Entry(null, now + timers.Timeout);
        return false;
    }

    /// <summary>Records the final response to <paramref name="request"/>, to answer its retransmissions with until Timer J.</summary>
    public void Completed(SipMessage request, SipMessage response)
    {
        if (Key(request) is { } key && _entries.ContainsKey(key))
        {
            _entries[key] = new Entry(response, time.GetUtcNow() + timers.Timeout);
        }
    }

    /// <summary>The transaction key of a request: top Via's branch and sent-by, and the method (ACK as INVITE).</summary>
    internal static string? Key(SipMessage request) => Key(request, request.Method == "ACK" ? "INVITE" : request.Method!);

    /// <summary>
    /// The key of <paramref name="message"/>'s transaction of method <paramref name="method"/> (a request's own, a
    /// response's CSeq method): top Via's RFC 3261 branch (z9hG4bK...) and sent-by; null without such a branch.
    /// </summary>
    internal static string? Key(SipMessage message, string method)
    {
        var via = message.Values("Via").FirstOrDefault();
        return via is not null && SipParser.Parameter(via, "branch") is { } branch && branch.StartsWith("z9hG4bK", StringComparison.Ordinal)
            ? branch + "|" + SipParser.SentBy(via) + "|" + method
            : null;
    }

    private void Sweep()
    {
        if (_entries.Count < 1024 && _entries.Count < capacity)
        {
            return; // forgetting is only needed where memory is
        }

        // At most once a second (or when full): a scan per request made a busy second's requests quadratic.
        var now = time.GetUtcNow();
        var next = Interlocked.Read(ref _nextSweepTicks);
        if ((now.UtcTicks < next && _entries.Count < capacity) || Interlocked.CompareExchange(ref _nextSweepTicks, now.UtcTicks + TimeSpan.TicksPerSecond, next) != next)
        {
            return;
        }

        foreach (var (key, entry) in _entries)
        {
            if (entry.Expires <= now)
            {
                _entries.TryRemove(key, out _);
            }
        }
    }

    private long _nextSweepTicks;

    private sealed record Entry(SipMessage? Response, DateTimeOffset Expires);
}

/// <summary>
/// The client side of non-INVITE transactions (RFC 3261 §17.1.2): a request is sent, over UDP sent again at Timer E
/// (T1, doubling up to T2) until a final response, and given up at Timer F (64·T1). Provisional responses (1xx) stop
/// nothing but move the retransmissions to T2. Over TCP it is sent once and waits for Timer F.
/// </summary>
public sealed class SipClientTransactions(TimeProvider time, SipTimers timers)
{
    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);

    /// <summary>Transactions waiting for their final response.</summary>
    public int Count => _pending.Count;

    /// <summary>
    /// Sends <paramref name="request"/> through <paramref name="send"/> (again and again over UDP) and completes with its
    /// final response, or null at Timer F. The request's top Via needs a branch (z9hG4bK...).
    /// </summary>
    public async Task<SipMessage?> SendAsync(SipMessage request, Func<byte[], CancellationToken, ValueTask> send, bool reliable, CancellationToken ct = default)
    {
        var key = SipServerTransactions.Key(request) ?? throw new ArgumentException("the request's top Via needs a z9hG4bK branch", nameof(request));
        var pending = new Pending();
        if (!_pending.TryAdd(key, pending))
        {
            throw new InvalidOperationException($"a transaction with branch {key} is already pending");
        }

        try
        {
            var bytes = request.ToBytes();
            var started = time.GetUtcNow();
            var interval = timers.T1;
            await send(bytes, ct).ConfigureAwait(false);
            while (true)
            {
                var left = started + timers.Timeout - time.GetUtcNow();
                if (left <= TimeSpan.Zero)
                {
                    return null; // Timer F
                }

                var next = reliable ? left : pending.Provisional ? timers.T2 : interval;
                var wait = next < left ? next : left;
                var final = pending.Final.Task;
                var timer = Task.Delay(wait, time, ct);
                if (await Task.WhenAny(final, timer).ConfigureAwait(false) == final)
                {
                    return await final.ConfigureAwait(false);
                }

                await timer.ConfigureAwait(false); // throws when cancelled
                if (!reliable && time.GetUtcNow() < started + timers.Timeout)
                {
                    await send(bytes, ct).ConfigureAwait(false); // Timer E
                    interval = interval * 2 < timers.T2 ? interval * 2 : timers.T2;
                }
            }
        }
        finally
        {
            _pending.TryRemove(key, out _);
        }
    }

    /// <summary>A response arrived: it completes its transaction (false when none matches, e.g. a late retransmission).</summary>
    public bool OnResponse(SipMessage response)
    {
        if (SipServerTransactions.Key(response, response.CSeq.Method) is not { } key || !_pending.TryGetValue(key, out var pending))
        {
            return false;
        }

        if (response.StatusCode < 200)
        {
            pending.Provisional = true;
            return true;
        }

        return pending.Final.TrySetResult(response);
    }

    private sealed class Pending
    {
        public TaskCompletionSource<SipMessage> Final { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private int _provisional;

        /// <summary>A 1xx arrived: retransmit at T2 from now on.</summary>
        public bool Provisional
        {
            get => Volatile.Read(ref _provisional) == 1;
            set => Volatile.Write(ref _provisional, value ? 1 : 0);
        }
    }
}
