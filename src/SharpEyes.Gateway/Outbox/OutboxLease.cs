using System.Data.Common;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;

namespace SharpEyes.Gateway.Outbox;

/// <summary>
/// Whether this replica pushes to one endpoint. On a store shared by replicas (PostgreSQL) one replica at a time holds
/// the endpoint's lease row (<see cref="LeaseRepository"/>): it takes or renews it every <see cref="OutboxOptions.LeaseRenewInterval"/>
/// with one atomic upsert whose expiry is computed and compared in the database server's clock (one clock for every
/// replica), and a standby replica tries the same statement, which succeeds only once the lease has expired or was
/// released. The holder's right to push ends by itself <see cref="OutboxOptions.LeaseMargin"/> before the lease could
/// expire, counted on this process's clock from when the last successful renewal was sent, so a holder that cannot
/// renew (the database is unreachable, the process was paused) stops before another may take over. On SQLite the
/// one process always holds it. The statements run on a pooled reader connection, each in its own implicit
/// transaction, not through the journal: a renewal must not wait behind a queue of alarms.
/// <para>
/// The same row and statements elect the leader of other work that one replica at a time should do: the row's name
/// is then not an endpoint's but the duty's (<c>leader:streams</c>, Streams/StreamHealthMonitor.cs), and
/// <see cref="LeaseWording"/> says what the holder does in the log.
/// </para>
/// </summary>
public sealed partial class OutboxLease : IAsyncDisposable
{
    private readonly string _endpoint;
    private readonly LeaseWording _wording;
    private readonly OutboxOptions _options;
    private readonly string _me;
    private readonly GatewayStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource<CancellationToken> _held = NewSignal();
    private CancellationTokenSource? _term;
    private Task? _loop;
    private string? _holder;
    private string? _lastError;
    private long _takeovers;
    private long _observedCursor = -1;

    public OutboxLease(string endpoint, OutboxOptions options, string replicaId, GatewayStore store, TimeProvider time, ILogger logger, LeaseWording? wording = null)
    {
        _endpoint = endpoint;
        _wording = wording ?? new LeaseWording($"Outbox {endpoint}", "pushes", "pushes from the stored cursor");
        _options = options;
        _me = replicaId;
        _store = store;
        _time = time;
        _logger = logger;
    }

    /// <summary>Whether other replicas may push to this endpoint too, so that the lease is taken in the store.</summary>
    public bool Shared => _store.Engine.SharedByReplicas;

    /// <summary>This replica may push to the endpoint now.</summary>
    public bool Held
    {
        get
        {
            lock (_lock)
            {
                return _term is { IsCancellationRequested: false };
            }
        }
    }

    /// <summary>The replica that held the lease when this one last looked (this one while it holds it); null before the first look.</summary>
    public string? Holder => Volatile.Read(ref _holder);

    /// <summary>Times this replica took the lease over from another replica (after it died or released it), since start.</summary>
    public long Takeovers => Interlocked.Read(ref _takeovers);

    /// <summary>The endpoint's stored cursor as a standby replica last read it (the holder moves it); null before the first read.</summary>
    public long? ObservedCursor => Interlocked.Read(ref _observedCursor) is >= 0 and var c ? c : null;

    /// <summary>For health: "holder", or "standby (held by X)", or why the lease could not be looked at.</summary>
    public string State => Held ? "holder"
        : Volatile.Read(ref _lastError) is { } error ? $"standby (the lease cannot be read: {error})"
        : $"standby (held by {Holder ?? "nobody yet"})";

    public void Start()
    {
        if (!Shared)
        {
            lock (_lock)
            {
                _holder = _me;
                _term = new CancellationTokenSource(); // the one process of a SQLite store: held until it stops
                _held.TrySetResult(_term.Token);
            }

            return;
        }

        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>
    /// Waits until this replica holds the lease; returns a token cancelled when it must stop pushing (the lease lapsed
    /// without renewal, another replica holds it, or the lease is released).
    /// </summary>
    public async Task<CancellationToken> WaitHeldAsync(CancellationToken stop)
    {
        while (true)
        {
            Task<CancellationToken> signal;
            lock (_lock)
            {
                signal = _held.Task;
            }

            var term = await signal.WaitAsync(stop).ConfigureAwait(false);
            if (!term.IsCancellationRequested)
            {
                return term;
            }

            lock (_lock)
            {
                if (_held.Task == signal)
                {
                    _held = NewSignal(); // the term ended before its callback replaced the signal
                }
            }
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var sent = _time.GetTimestamp();
            try
            {
                var (holder, previous, cursor) = await TakeAsync(stop).ConfigureAwait(false);
                if (Volatile.Read(ref _lastError) is not null)
                {
                    Volatile.Write(ref _lastError, null);
                    LogLeaseReadable(_logger, _wording.Subject);
                }

                if (holder == _me)
                {
                    Hold(sent, previous);
                }
                else
                {
                    Standby(holder, cursor);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A held term ends by itself at its fence if no renewal succeeds before; the loop goes on whatever failed.
                var error = e is DbException db ? _store.Engine.Describe(db) : e.Message;
                if (Volatile.Read(ref _lastError) != error)
                {
                    LogLeaseFailed(_logger, _wording.Subject, error);
                }

                Volatile.Write(ref _lastError, error);
            }

            try
            {
                await Task.Delay(_options.LeaseRenewInterval, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>
    /// Takes or renews the lease in one statement; returns who holds it now, who held it before (when this replica
    /// got it), and the stored cursor (when another replica holds it).
    /// </summary>
    private async Task<(string Holder, string? Previous, long Cursor)> TakeAsync(CancellationToken ct)
    {
        var connection = _store.OpenRead();
        await using (connection.ConfigureAwait(false))
        {
            if (await LeaseRepository.TakeAsync(connection, _endpoint, _me, (long)_options.LeaseTtl.TotalMilliseconds, ct).ConfigureAwait(false) is { } taken)
            {
                return (_me, taken.PreviousHolder, -1);
            }

            // No row: released and deleted by hand between the two statements; the next try takes it.
            return await LeaseRepository.HolderAndCursorAsync(connection, _endpoint, ct).ConfigureAwait(false) is { } held
                ? (held.Holder, null, held.Cursor)
                : ("nobody", null, 0);
        }
    }

    /// <summary>This replica holds the lease until <see cref="OutboxOptions.LeaseTtl"/> after the renewal was sent, less the margin.</summary>
    private void Hold(long sent, string? previous)
    {
        var valid = _options.LeaseTtl - _options.LeaseMargin - _time.GetElapsedTime(sent);
        if (valid <= TimeSpan.Zero)
        {
            return; // the answer took too long to rely on: the next renewal decides
        }

        CancellationToken started;
        lock (_lock)
        {
            Volatile.Write(ref _holder, _me);
            if (_term is { IsCancellationRequested: false } current)
            {
                current.CancelAfter(valid);
                return;
            }

            _term = new CancellationTokenSource(valid, _time);
            started = _term.Token;
        }

        started.Register(() => Ended(started));
        lock (_lock)
        {
            _held.TrySetResult(started);
        }

        if (previous is not null && previous != _me)
        {
            Interlocked.Increment(ref _takeovers);
            LogTookOver(_logger, _wording.Subject, previous, _me, _wording.Resuming);
        }
        else
        {
            LogTook(_logger, _wording.Subject, _me, _wording.Doing);
        }
    }

    private void Standby(string holder, long cursor)
    {
        Interlocked.Exchange(ref _observedCursor, cursor);
        CancellationTokenSource? lost = null;
        var changed = Volatile.Read(ref _holder) != holder;
        lock (_lock)
        {
            Volatile.Write(ref _holder, holder);
            if (_term is { IsCancellationRequested: false } current)
            {
                lost = current; // this replica's lease expired unrenewed and another took it: stop at once
            }
        }

        if (changed)
        {
            LogStandby(_logger, _wording.Subject, holder, _wording.Doing);
        }

        lost?.Cancel();
    }

    /// <summary>A term ended (its fence passed, another replica took the lease, or it was released): waiters wait for the next.</summary>
    private void Ended(CancellationToken term)
    {
        lock (_lock)
        {
            if (_held.Task.IsCompletedSuccessfully && _held.Task.Result == term)
            {
                _held = NewSignal();
            }
        }

        if (!_stop.IsCancellationRequested)
        {
            LogLapsed(_logger, _wording.Subject, _wording.Doing, _options.LeaseMargin);
        }
    }

    /// <summary>Stops renewing and releases a held lease at once (so that a standby replica takes over at its next try).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        bool held;
        CancellationTokenSource? term;
        lock (_lock)
        {
            term = _term;
            held = term is { IsCancellationRequested: false };
        }

        if (Shared && held)
        {
            try
            {
                var connection = _store.OpenRead();
                await using (connection.ConfigureAwait(false))
                {
                    await LeaseRepository.ReleaseAsync(connection, _endpoint, _me).ConfigureAwait(false);
                }

                LogReleased(_logger, _wording.Subject, _me);
            }
            catch (DbException e)
            {
                LogLeaseFailed(_logger, _wording.Subject, _store.Engine.Describe(e)); // it expires by itself
            }
        }

        if (term is not null)
        {
            await term.CancelAsync().ConfigureAwait(false);
            term.Dispose();
        }

        _stop.Dispose();
    }

    private static TaskCompletionSource<CancellationToken> NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Subject}: this replica ({Replica}) holds the lease and {Doing}")]
    private static partial void LogTook(ILogger logger, string subject, string replica, string doing);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Subject}: this replica ({Replica}) took the lease over from {Previous} (it stopped or did not renew) and {Resuming}")]
    private static partial void LogTookOver(ILogger logger, string subject, string previous, string replica, string resuming);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Subject}: standby, replica {Holder} holds the lease and {Doing}")]
    private static partial void LogStandby(ILogger logger, string subject, string holder, string doing);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Subject}: this replica no longer {Doing}: the lease was not renewed in time (this replica stops {Margin} before it could expire) or another replica holds it")]
    private static partial void LogLapsed(ILogger logger, string subject, string doing, TimeSpan margin);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Subject}: lease released by {Replica}; another replica takes over at its next try")]
    private static partial void LogReleased(ILogger logger, string subject, string replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Subject}: cannot take or renew the lease ({Error}); trying again")]
    private static partial void LogLeaseFailed(ILogger logger, string subject, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Subject}: the lease can be read again")]
    private static partial void LogLeaseReadable(ILogger logger, string subject);
}

/// <summary>
/// How the log names a lease and what its holder does: <c>{Subject}: this replica (r) holds the lease and {Doing}</c>;
/// <see cref="Resuming"/> after a takeover.
/// </summary>
public sealed record LeaseWording(string Subject, string Doing, string Resuming);
