using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Feeds;
using SharpEyes.Gateway.Storage;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Outbox;

/// <summary>
/// Pushes the feed to one endpoint: reads the events after the endpoint's acknowledged sequence (from memory or
/// the store), sends them as one batch through a Polly pipeline (retry forever with exponential backoff and jitter,
/// a circuit breaker, a timeout per attempt), and moves its cursor to what the endpoint acknowledged. One batch at a
/// time, so events arrive in sequence order. It only reads the feed: a slow or dead endpoint never holds up intake.
/// It pushes only while this replica holds the endpoint's <see cref="OutboxLease"/>; each time it gets the lease it
/// starts from the cursor stored in the store (which the previous holder moved), so nothing is skipped.
/// </summary>
public sealed partial class OutboxEndpoint : IAsyncDisposable
{
    private readonly CentreEndpointOptions _options;
    private readonly ICentreTransport _transport;
    private readonly FeedLog _log;
    private readonly OutboxCursors _cursors;
    private readonly Journal _journal;
    private readonly GatewayStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly OutboxLease _lease;
    private readonly string _replica;
    private readonly ResiliencePipeline<long> _pipeline;
    private readonly CircuitBreakerStateProvider _circuit = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private long _acked;
    private long _delivered;
    private long _batches;
    private long _failures;
    private long _lostToRetention;
    private bool _warnedAhead;
    private long _persistWanted;
    private long _persisted;
    private int _persisting;
    private string? _lastError;
    private string? _lastCause;
    private DateTimeOffset? _lastErrorAt;
    private DateTimeOffset? _lastAckAt;

    public OutboxEndpoint(CentreEndpointOptions options, ICentreTransport transport, FeedLog log, OutboxCursors cursors, Journal journal,
        GatewayStore store, TimeProvider time, ILogger logger, OutboxLease lease, string replica)
    {
        _lease = lease;
        _replica = replica;
        _options = options;
        _transport = transport;
        _log = log;
        _cursors = cursors;
        _journal = journal;
        _store = store;
        _time = time;
        _logger = logger;
        _acked = _persisted = _persistWanted = cursors.Stored(options.Name);
        _pipeline = BuildPipeline();
    }

    public string Name => _options.Name;

    public CentreEndpointOptions Options => _options;

    /// <summary>Whether this replica pushes to the endpoint (holds its lease) or stands by.</summary>
    public OutboxLease Lease => _lease;

    /// <summary>The endpoint holds every event up to here (on a standby replica: as last read from the store).</summary>
    public long AckedSequence => !_lease.Held && _lease.ObservedCursor is { } stored ? stored : Interlocked.Read(ref _acked);

    /// <summary>Committed events the endpoint has not acknowledged yet (including ones its region filter will skip).</summary>
    public long Depth => Math.Max(0, _journal.LastSequence - AckedSequence);

    public long DeliveredEvents => Interlocked.Read(ref _delivered);

    public long Batches => Interlocked.Read(ref _batches);

    public long FailedAttempts => Interlocked.Read(ref _failures);

    /// <summary>Sequences the endpoint lost after retention had deleted them (they could not be sent again), since start.</summary>
    public long LostToRetention => Interlocked.Read(ref _lostToRetention);

    public string? LastError => Volatile.Read(ref _lastError);

    public DateTimeOffset? LastErrorAt => _lastErrorAt;

    public DateTimeOffset? LastAckAt => _lastAckAt;

    public CircuitState Circuit => _circuit.CircuitState;

    public bool Connected => _transport.Connected;

    /// <summary>The TLS side of an https:// or mqtts:// endpoint (refused certificates by reason); null in clear text.</summary>
    public CentreTls? Tls => _transport.Tls;

    /// <summary>Set by the outbox monitor while the depth is over the backlog limit (logged once per crossing).</summary>
    public bool BacklogExceeded { get; internal set; }

    /// <summary>Age of the oldest event the endpoint has not acknowledged; zero when it is caught up.</summary>
    public TimeSpan Lag()
    {
        if (Depth == 0)
        {
            return TimeSpan.Zero;
        }

        using var connection = _store.OpenRead();
        return Storage.Repositories.FeedRepository.CommittedAtOfNext(connection, AckedSequence) is { } committed
            ? TimeSpan.FromMilliseconds(Math.Max(0, _time.GetUtcNow().ToUnixTimeMilliseconds() - committed))
            : TimeSpan.Zero;
    }

    public void Start()
    {
        _lease.Start();
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>Waits for the lease, pushes while it is held, and waits again when it ends.</summary>
    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            CancellationToken term;
            try
            {
                term = await _lease.WaitHeldAsync(stop).ConfigureAwait(false);
                // Where the previous holder (or this replica's last life) left the cursor: at worst a little behind what
                // the endpoint holds, so a few events may arrive twice, never a gap.
                var stored = _cursors.Read(Name, _store);
                Interlocked.Exchange(ref _acked, stored);
                Interlocked.Exchange(ref _persisted, stored);
                Interlocked.Exchange(ref _persistWanted, stored);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (System.Data.Common.DbException ex)
            {
                LogCursorNotRead(_logger, Name, _store.Engine.Describe(ex));
                await Task.Delay(_options.RetryBaseDelay, _time, stop).ConfigureAwait(false);
                continue;
            }

            using var held = CancellationTokenSource.CreateLinkedTokenSource(stop, term);
            try
            {
                await PushAsync(held.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (held.IsCancellationRequested)
            {
                // The lease ended (or the gateway stops) during a pause after a failure: wait for the next term.
            }
        }
    }

    /// <summary>Delivers batch after batch until <paramref name="stop"/> is cancelled (the lease ended, or the gateway stops).</summary>
    private async Task PushAsync(CancellationToken stop)
    {
        var events = new List<FeedEvent>(_options.BatchSize);
        var warnedPruned = false;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                events.Clear();
                var after = AckedSequence;
                var through = _log.Read(after, _options.BatchSize, _options.RegionPrefix, events, out var newer);
                if (through == after)
                {
                    await newer.WaitAsync(stop).ConfigureAwait(false);
                    continue;
                }

                if (!warnedPruned && after < _log.PrunedThrough)
                {
                    warnedPruned = true;
                    LogStartsAfterPruned(_logger, Name, after, _log.PrunedThrough);
                }

                var batch = new OutboxBatch(_cursors.SourceId, after, through, [.. events], _log.PrunedThrough);
                var answer = await _pipeline.ExecuteAsync(static async (state, ct) =>
                {
                    using var span = OutboxTracing.StartAttempt(state.Name, state.Batch); // null unless traces are recorded
                    long acked;
                    try
                    {
                        acked = await state.Transport.DeliverAsync(state.Batch, ct).ConfigureAwait(false);
                    }
                    catch (Exception e) when (span is not null)
                    {
                        OutboxTracing.Failed(span, Describe(e));
                        throw;
                    }

                    if (span is not null)
                    {
                        OutboxTracing.Answered(span, state.Name, state.Batch, acked);
                    }

                    if (acked == state.Batch.After)
                    {
                        throw new CentreNoProgressException($"the endpoint acknowledged {acked}, the sequence before the batch: nothing was stored");
                    }

                    // The batch starts at the oldest event still kept and the endpoint still holds less: what it misses
                    // was deleted by retention, and resending at once would loop. Retried with backoff, as a failure.
                    if (acked < state.Batch.After && state.Batch.After <= state.Batch.PrunedThrough)
                    {
                        throw new CentreNoProgressException(
                            $"the endpoint holds only through {acked}, but events up to {state.Batch.PrunedThrough} were deleted by retention and cannot be sent again: it must record them as lost (DeliverRequest.pruned_through) to go on");
                    }

                    return acked;
                }, (Transport: _transport, Batch: batch, Name), stop).ConfigureAwait(false);
                Acknowledge(batch, answer);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Only a bug gets here (the pipeline retries every failure forever): report it and carry on.
                LogLoopFailed(_logger, Name, ex);
                await Task.Delay(_options.RetryBaseDelay, _time, stop).ConfigureAwait(false);
            }
        }
    }

    private void Acknowledge(OutboxBatch batch, long answer)
    {
        if (answer > batch.Through)
        {
            if (answer > _journal.LastSequence && !_warnedAhead)
            {
                // It holds sequences this store never issued: the store went back in time (restored from a backup), and
                // the endpoint will take the new events numbered up to its answer for ones it already holds.
                _warnedAhead = true;
                LogAheadOfFeed(_logger, Name, answer, _journal.LastSequence);
            }

            answer = batch.Through; // it holds more than it was sent (from an earlier delivery): resume after this batch
        }

        if (answer < batch.After)
        {
            var floor = Math.Max(answer, _log.PrunedThrough);
            LogRewind(_logger, Name, answer, batch.After, floor);
            if (floor > answer)
            {
                // The endpoint lost events the gateway no longer has: say exactly which, once, and count them.
                Interlocked.Add(ref _lostToRetention, floor - answer);
                LogLostToRetention(_logger, Name, answer + 1, floor);
            }

            answer = floor;
        }

        var delivered = batch.Events.Count(e => e.Sequence <= answer);
        Interlocked.Add(ref _delivered, delivered);
        Interlocked.Increment(ref _batches);
        Interlocked.Exchange(ref _acked, answer);
        _lastAckAt = _time.GetUtcNow();
        Persist(answer);
    }

    /// <summary>Stores the cursor through the journal, coalescing: at most one write in flight, always the latest value.</summary>
    private void Persist(long acked)
    {
        Interlocked.Exchange(ref _persistWanted, acked);
        if (Interlocked.CompareExchange(ref _persisting, 1, 0) == 0)
        {
            _ = PersistLoopAsync();
        }
    }

    private async Task PersistLoopAsync()
    {
        while (true)
        {
            var wanted = Interlocked.Read(ref _persistWanted);
            if (wanted != Interlocked.Read(ref _persisted))
            {
                try
                {
                    await SaveCursorAsync(wanted).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    // The store refuses writes (its health says why); the cursor in memory is still right, and the
                    // next acknowledgement tries again. A crash meanwhile only means redelivery, which the centre absorbs.
                    LogCursorNotSaved(_logger, Name, ex.Message);
                    Interlocked.Exchange(ref _persisting, 0);
                    return;
                }

                continue;
            }

            Interlocked.Exchange(ref _persisting, 0);
            if (Interlocked.Read(ref _persistWanted) == wanted || Interlocked.CompareExchange(ref _persisting, 1, 0) != 0)
            {
                return;
            }
        }
    }

    private async Task SaveCursorAsync(long acked)
    {
        await _journal.ExecuteAsync(tx =>
        {
            _cursors.Save(tx, Name, acked, _replica);
            return true;
        }).ConfigureAwait(false);
        Interlocked.Exchange(ref _persisted, acked);
    }

    private ResiliencePipeline<long> BuildPipeline()
    {
        static bool Failed(Outcome<long> outcome, ResilienceContext context) =>
            outcome.Exception is { } e && !(e is OperationCanceledException && context.CancellationToken.IsCancellationRequested);

        return new ResiliencePipelineBuilder<long> { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions<long>
            {
                ShouldHandle = args => ValueTask.FromResult(Failed(args.Outcome, args.Context)),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryBaseDelay,
                MaxDelay = _options.RetryMaxDelay,
                OnRetry = args =>
                {
                    Interlocked.Increment(ref _failures);
                    var ex = args.Outcome.Exception!;
                    // While the circuit is open the attempt fails fast; keep the real cause in view.
                    var error = ex is BrokenCircuitException && Volatile.Read(ref _lastCause) is { } cause
                        ? $"circuit open (last failure: {cause})"
                        : Describe(ex);
                    if (ex is not BrokenCircuitException)
                    {
                        Volatile.Write(ref _lastCause, error);
                    }

                    Volatile.Write(ref _lastError, error);
                    _lastErrorAt = _time.GetUtcNow();
                    LogAttemptFailed(_logger, Name, args.AttemptNumber + 1, error, args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<long>
            {
                ShouldHandle = args => ValueTask.FromResult(Failed(args.Outcome, args.Context)),
                FailureRatio = _options.BreakerFailureRatio,
                MinimumThroughput = 5,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = _options.BreakDuration,
                StateProvider = _circuit,
                OnOpened = args =>
                {
                    LogCircuitOpened(_logger, Name, args.BreakDuration);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    LogCircuitClosed(_logger, Name);
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(_options.Timeout)
            .Build();
    }

    private static string Describe(Exception e) => e switch
    {
        Grpc.Core.RpcException rpc => $"{rpc.StatusCode}: {rpc.Status.Detail}",
        TimeoutRejectedException => "timed out",
        BrokenCircuitException => "circuit open",
        _ => e.Message,
    };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        // Keep the last acknowledgement (the journal is still running: the outbox stops first).
        var acked = AckedSequence;
        if (acked != Interlocked.Read(ref _persisted))
        {
            try
            {
                await SaveCursorAsync(acked).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                LogCursorNotSaved(_logger, Name, ex.Message);
            }
        }

        await _lease.DisposeAsync().ConfigureAwait(false); // after the last cursor is stored: the next holder starts from it
        await _transport.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox {Endpoint}: delivery attempt {Attempt} failed ({Error}); retrying in {Delay}")]
    private static partial void LogAttemptFailed(ILogger logger, string endpoint, int attempt, string error, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox {Endpoint}: circuit opened for {Duration}")]
    private static partial void LogCircuitOpened(ILogger logger, string endpoint, TimeSpan duration);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox {Endpoint}: circuit closed, delivering again")]
    private static partial void LogCircuitClosed(ILogger logger, string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox {Endpoint}: the endpoint acknowledged {Answer}, below the {After} it had acknowledged before (it lost events); resending after {From}")]
    private static partial void LogRewind(ILogger logger, string endpoint, long answer, long after, long from);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox {Endpoint}: the endpoint lost events {From}..{Through}, which retention had already deleted (--feed-retention): they cannot be sent again. It gets everything after them, marked pruned_through={Through} so that it can record the loss")]
    private static partial void LogLostToRetention(ILogger logger, string endpoint, long from, long through);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox {Endpoint}: the endpoint holds this source through {Answer}, but this gateway's feed ends at {Last}: was its store restored from a backup? The endpoint will skip new events numbered up to {Answer} as already held; it must forget what it holds above {Last} (docs/operations.md, after a restore)")]
    private static partial void LogAheadOfFeed(ILogger logger, string endpoint, long answer, long last);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox {Endpoint}: its cursor {Cursor} is behind what retention kept (events up to {Pruned} are deleted); it gets everything still kept")]
    private static partial void LogStartsAfterPruned(ILogger logger, string endpoint, long cursor, long pruned);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox {Endpoint}: could not store the cursor ({Error}); it stays in memory and is stored with the next acknowledgement")]
    private static partial void LogCursorNotSaved(ILogger logger, string endpoint, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox {Endpoint}: could not read the stored cursor after taking the lease ({Error}); trying again")]
    private static partial void LogCursorNotRead(ILogger logger, string endpoint, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox {Endpoint}: the delivery loop failed; it keeps going")]
    private static partial void LogLoopFailed(ILogger logger, string endpoint, Exception exception);
}

/// <summary>The endpoint answered without storing anything from the batch; retried like any failure.</summary>
public sealed class CentreNoProgressException(string message) : Exception(message);
