using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Feeds;
using SharpEyes.Gateway.Observability;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Storage;

/// <summary>
/// The single writer. Every change to the store is a work item run on one thread; items queued while a
/// transaction commits are gathered into the next one ("group commit"), so alarms from many MQTT connections
/// share a commit. A caller's task completes only after its item's transaction committed: that is what lets
/// the broker hold a PUBACK until the alarm is durable. Feed events get their sequence numbers here, so the
/// sequence is strictly increasing and gap-free in commit order.
/// </summary>
public sealed partial class Journal : IHostedService, IDisposable
{
    private readonly Channel<IJournalItem> _queue = Channel.CreateBounded<IJournalItem>(
        new BoundedChannelOptions(100_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly GatewayStore _store;
    private readonly FeedHub _hub;
    private readonly ILogger<Journal> _logger;
    private readonly int _maxBatch;
    private readonly IServiceProvider _services;
    private readonly IReadOnlyList<JournalParticipantRegistration> _registrations;
    private readonly List<IJournalParticipant> _participants = [];
    private readonly List<IReplicaFollower> _followers = [];
    private readonly Lock _ownLock = new();
    private readonly List<(long First, long Last)> _own = [];
    private readonly Dictionary<string, DbCommand> _commands = [];
    private DbConnection? _connection;
    private Task? _loop;
    private long _lastSequence;

    private readonly TimeProvider _time;
    private StoreFailure? _failure;
    private long _failedBatches;
    private long _splitBatches;

    public Journal(GatewayStore store, FeedHub hub, IOptions<GatewayOptions> options, ILogger<Journal> logger,
        IServiceProvider services, IEnumerable<JournalParticipantRegistration> registrations, TimeProvider time,
        Hosting.ReplicaIdentity? replica = null)
    {
        ReplicaId = replica?.Id ?? Hosting.ReplicaIdentity.Generate();
        _time = time;
        _services = services;
        _registrations = [.. registrations];
        _store = store;
        _hub = hub;
        _logger = logger;
        _maxBatch = options.Value.Alarms.MaxBatch;
    }

    public long LastSequence => Interlocked.Read(ref _lastSequence);

    /// <summary>
    /// This replica's id, which <see cref="JournalTransaction.NotifyReplicas"/> puts before every announcement so that
    /// the listener can drop the replica's own (<see cref="Postgres.PostgresFeedListener"/>).
    /// </summary>
    public string ReplicaId { get; }

    /// <summary>Set while the store refuses writes (disk full, read-only, I/O error): from the first failed commit until the next one succeeds.</summary>
    public StoreFailure? Failure => Volatile.Read(ref _failure);

    /// <summary>Batches rolled back because the store refused them, since start.</summary>
    public long FailedBatches => Interlocked.Read(ref _failedBatches);

    /// <summary>Batches of several items rolled back and committed again item by item, since start.</summary>
    public long SplitBatches => Interlocked.Read(ref _splitBatches);

    /// <summary>Items waiting for the writer.</summary>
    public int QueueLength => _queue.Reader.Count;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _connection = _store.OpenWriter();
        _lastSequence = Repositories.FeedRepository.LastSequence(_connection);
        _hub.Initialize(_lastSequence);
        foreach (var registration in _registrations)
        {
            var participant = (IJournalParticipant)_services.GetRequiredService(registration.Type);
            _participants.Add(participant);
            participant.Load(_connection);
            if (participant is IReplicaFollower follower)
            {
                _followers.Add(follower);
            }
        }

        _loop = Task.Run(RunLoop); // async: it runs on pool threads between batches, so no dedicated thread
        return Task.CompletedTask;
    }

    /// <summary>Completes the queue and waits until every accepted item is committed.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        LogStopped(_logger, LastSequence);
    }

    public void Dispose() => _connection?.Dispose();

    /// <summary>Runs <paramref name="work"/> inside a transaction on the writer thread; completes after commit.</summary>
    public async Task<T> ExecuteAsync<T>(Func<JournalTransaction, T> work, CancellationToken cancellationToken = default)
    {
        var committed = await SubmitAsync(work, cancellationToken).ConfigureAwait(false);
        return await committed.ConfigureAwait(false);
    }

    /// <summary>
    /// Queues <paramref name="work"/> and returns as soon as it is queued (waiting only while the queue is full);
    /// the returned task completes after its transaction committed. Lets a caller keep several items in flight.
    /// </summary>
    /// <param name="lockName">A lock the work will take (<see cref="JournalTransaction.LockShared"/>): on a shared store the
    /// batch takes its items' locks first, in one order, so two replicas' batches never wait for each other in a cycle.</param>
    /// <param name="tag">What the work is about, for the batch's other items to see (<see cref="JournalTransaction.ItemTags"/>):
    /// an alarm's key, so the first alarm of a batch can look up every alarm's in one statement.</param>
    public ValueTask<Task<T>> SubmitAsync<T>(Func<JournalTransaction, T> work, CancellationToken cancellationToken = default, string? lockName = null,
        object? tag = null)
    {
        // The caller's span (an alarm's MQTT receive), so its trace shows the commit; read only while traces are recorded.
        var item = new JournalItem<T>(work, GatewayTracing.Source.HasListeners() ? Activity.Current?.Context ?? default : default, lockName, tag);
        return _queue.Writer.TryWrite(item) ? ValueTask.FromResult(item.Task) : Slow(item, cancellationToken);

        async ValueTask<Task<T>> Slow(JournalItem<T> queued, CancellationToken ct)
        {
            await _queue.Writer.WriteAsync(queued, ct).ConfigureAwait(false);
            return queued.Task;
        }
    }

    private async Task RunLoop()
    {
        var batch = new List<IJournalItem>(_maxBatch);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < _maxBatch && reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            if (batch.Count > 0)
            {
                try
                {
                    CommitBatch(batch);
                }
                catch (Exception ex)
                {
                    // Even the rollback or the reload failed (the store is unusable right now): fail the batch,
                    // so no caller is acknowledged, and keep serving the next one.
                    Failed(ex);
                    LogItemFailed(_logger, ex);
                    foreach (var item in batch)
                    {
                        item.Fail(ex);
                    }
                }
            }
        }
    }

    private void CommitBatch(List<IJournalItem> batch)
    {
        EnsureOpen();
        var tx = new JournalTransaction(_store.Engine, _connection!, _commands, _lastSequence, _time.GetUtcNow().ToUnixTimeMilliseconds())
        {
            ReplicaId = ReplicaId,
            FeedNumbered = _store.Engine.Shared ? RecordOwn : null, // only a shared store's listener asks IsOwn
        };
        var spans = GatewayTracing.Source.HasListeners() ? new CommitSpans(batch.Count) : null;
        try
        {
            tx.Begin();
            tx.LockInOrder(batch.Select(i => i.LockName));
            if (_store.Engine.Shared)
            {
                tx.ItemTags = [.. batch.Select(i => i.Tag).OfType<object>()]; // read only where a lookup is a round trip
            }
            foreach (var item in batch)
            {
                if (spans is null)
                {
                    item.Run(tx);
                }
                else
                {
                    spans.Run(item, tx);
                }
            }

            tx.Commit();
        }
        catch (Exception ex)
        {
            spans?.End(ex);
            tx.Rollback();
            ForgetOwn(tx);
            Reload();
            if (batch.Count == 1)
            {
                Failed(ex);
                LogItemFailed(_logger, ex);
                batch[0].Fail(ex);
                return;
            }

            // Isolate the failing item: each gets a transaction of its own.
            Interlocked.Increment(ref _splitBatches);
            foreach (var item in batch)
            {
                CommitBatch([item]);
            }

            return;
        }

        if (Volatile.Read(ref _failure) is { } failure)
        {
            Volatile.Write(ref _failure, null);
            LogRecovered(_logger, failure.Message, _time.GetUtcNow() - failure.Since);
        }

        spans?.End(null);
        Published(tx);
        foreach (var item in batch)
        {
            item.Complete();
        }
    }

    /// <summary>
    /// Whether an item failed because of the store (SQLite or the file system), rather than because its own work threw.
    /// A store failure may pass (disk space freed); an item's own exception happens again when it is retried.
    /// </summary>
    public static bool IsStoreFailure(Exception ex) => ex is DbException or IOException;

    /// <summary>
    /// Opens the writer connection again when the last one broke (PostgreSQL's server restarted or the network
    /// dropped; SQLite's file connection does not break this way), with its prepared commands, which belonged to it.
    /// </summary>
    private void EnsureOpen()
    {
        if (_connection is { State: ConnectionState.Open })
        {
            return;
        }

        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
        _connection?.Dispose();
        _connection = null;
        _connection = _store.OpenWriter();
        Reload();
    }

    /// <summary>Records a store failure (not an item's own exception, such as a validation error thrown from its work).</summary>
    private void Failed(Exception ex)
    {
        if (!IsStoreFailure(ex))
        {
            return;
        }

        Interlocked.Increment(ref _failedBatches);
        var message = ex is DbException db ? _store.Engine.Describe(db) : ex.Message;
        var since = Volatile.Read(ref _failure)?.Since ?? _time.GetUtcNow();
        Volatile.Write(ref _failure, new StoreFailure(message + $" (store {_store.Location})", since, _time.GetUtcNow()));
    }

    /// <summary>Moves <see cref="LastSequence"/> up to <paramref name="sequence"/> (never down): commits of this replica, or of others (PostgreSQL).</summary>
    internal void Advance(long sequence)
    {
        var current = Interlocked.Read(ref _lastSequence);
        while (sequence > current)
        {
            var seen = Interlocked.CompareExchange(ref _lastSequence, sequence, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>
    /// Whether this replica's journal wrote the feed event <paramref name="sequence"/> (asked by
    /// <see cref="Postgres.PostgresFeedListener"/> for what it reads, to tell other replicas' events from its own).
    /// Ranges are recorded when numbered, before the commit can notify anyone, and forgotten if it rolls back.
    /// </summary>
    public bool IsOwn(long sequence)
    {
        lock (_ownLock)
        {
            foreach (var (first, last) in _own)
            {
                if (sequence >= first && sequence <= last)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// Applies other replicas' committed feed events to this replica's in-memory state (every <see cref="IReplicaFollower"/>
    /// participant, in load order), on the writer, in sequence order, between this replica's own batches.
    /// </summary>
    public Task FollowAsync(IReadOnlyList<FeedEvent> foreign, CancellationToken cancellationToken = default)
    {
        if (foreign.Count == 0 || _followers.Count == 0)
        {
            return Task.CompletedTask;
        }

        return ExecuteAsync(tx =>
        {
            foreach (var e in foreign)
            {
                foreach (var follower in _followers)
                {
                    follower.Follow(e, tx);
                }
            }

            return true;
        }, cancellationToken);
    }

    private void RecordOwn(long first, long last)
    {
        lock (_ownLock)
        {
            _own.Add((first, last));
        }
    }

    /// <summary>
    /// Forgets this replica's feed ranges up to <paramref name="sequence"/>: the listener will read only after it. Only
    /// the listener prunes, before it reads: a range pruned by the hub's progress alone could vanish between the
    /// listener's read and its <see cref="IsOwn"/> check, and an own event would be followed as another replica's.
    /// </summary>
    internal void ForgetOwnThrough(long sequence)
    {
        lock (_ownLock)
        {
            _own.RemoveAll(r => r.Last <= sequence);
        }
    }

    private void ForgetOwn(JournalTransaction tx)
    {
        if (tx.FeedEvents.Count == 0 || tx.FeedEvents[0].Sequence == 0)
        {
            return;
        }

        var first = tx.FeedEvents[0].Sequence;
        lock (_ownLock)
        {
            _own.RemoveAll(r => r.First == first);
        }
    }

    private void Published(JournalTransaction tx)
    {
        Advance(tx.LastSequence);
        foreach (var action in tx.AfterCommitActions)
        {
            try
            {
                action();
            }
            catch (Exception ex)
            {
                // The transaction is committed; a failing in-memory follow-up must not stop the writer.
                LogAfterCommitFailed(_logger, ex);
            }
        }

        if (tx.FeedEvents.Count > 0)
        {
            _hub.Publish(tx.FeedEvents);
        }
    }

    private void Reload()
    {
        _lastSequence = Repositories.FeedRepository.LastSequence(_connection!);
        foreach (var participant in _participants)
        {
            participant.Load(_connection!);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A journal item failed and was rolled back")]
    private static partial void LogItemFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "An after-commit action failed")]
    private static partial void LogAfterCommitFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The store accepts writes again after {Downtime} ({Failure})")]
    private static partial void LogRecovered(ILogger logger, string failure, TimeSpan downtime);

    [LoggerMessage(Level = LogLevel.Information, Message = "Journal stopped; every accepted change is committed (last feed sequence {Sequence})")]
    private static partial void LogStopped(ILogger logger, long sequence);

    /// <summary>
    /// One <c>journal commit</c> span per traced item of a batch, each a child of that item's caller (an alarm's MQTT
    /// receive span), all spanning the same group commit: a trace viewer shows the commit inside the alarm's own trace,
    /// with the feed sequence it gave and the batch's size. While an item runs its span is current, so the item's own
    /// spans (incident correlation) nest under it; the feed events it appended remember it, for the outbox.
    /// </summary>
    private sealed class CommitSpans(int batchSize)
    {
        private readonly DateTimeOffset _start = DateTimeOffset.UtcNow; // a span's clock is the wall clock, as Activity's own
        private readonly List<(Activity Span, List<FeedEvent> Events, int First, int Count, List<FeedEvent> Joined)> _spans = [];

        public void Run(IJournalItem item, JournalTransaction tx)
        {
            if (item.Parent == default)
            {
                item.Run(tx);
                return;
            }

            var span = GatewayTracing.Source.StartActivity(GatewayTracing.JournalCommit, ActivityKind.Internal, item.Parent, startTime: _start);
            if (span is null)
            {
                item.Run(tx);
                return;
            }

            var first = tx.FeedEvents.Count;
            tx.ItemJoinedEvents = [];
            try
            {
                item.Run(tx);
            }
            finally
            {
                Activity.Current = null; // the writer has no span of its own; the span stays open until the commit
                _spans.Add((span, tx.FeedEvents, first, tx.FeedEvents.Count - first, tx.ItemJoinedEvents));
                tx.ItemJoinedEvents = null;
            }
        }

        /// <summary>Ends every span: committed (with the sequences) or rolled back with <paramref name="failure"/>.</summary>
        public void End(Exception? failure)
        {
            foreach (var (span, events, first, count, joined) in _spans)
            {
                span.SetTag(GatewayTracing.BatchSizeTag, batchSize);
                if (failure is not null)
                {
                    span.SetStatus(ActivityStatusCode.Error, "rolled back: " + failure.GetType().Name);
                }
                else if (count + joined.Count > 0)
                {
                    // The events the item appended, else the first it joined (an alarm on its incident's event of the batch).
                    span.SetTag(GatewayTracing.FeedSequenceTag, count > 0 ? events[first].Sequence : joined[0].Sequence)
                        .SetTag(GatewayTracing.FeedEventsTag, count + joined.Count);
                    for (var i = first; i < first + count; i++)
                    {
                        GatewayTracing.Remember(events[i], span.Context);
                    }

                    foreach (var e in joined)
                    {
                        GatewayTracing.Remember(e, span.Context);
                    }
                }

                span.Stop();
            }

            _spans.Clear();
            Activity.Current = null;
        }
    }

    private interface IJournalItem
    {
        /// <summary>The span of the caller that queued the item; default when none or when traces are not recorded.</summary>
        ActivityContext Parent { get; }

        /// <summary>The lock the item will take, taken with the batch's others before any item runs; null when none.</summary>
        string? LockName { get; }

        /// <summary>What the item is about (<see cref="JournalTransaction.ItemTags"/>); null when nothing.</summary>
        object? Tag { get; }

        void Run(JournalTransaction tx);

        void Complete();

        void Fail(Exception exception);
    }

    private sealed class JournalItem<T>(Func<JournalTransaction, T> work, ActivityContext parent, string? lockName, object? tag) : IJournalItem
    {
        public ActivityContext Parent => parent;

        public string? LockName => lockName;

        public object? Tag => tag;

        private readonly TaskCompletionSource<T> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;

        public Task<T> Task => _tcs.Task;

        public void Run(JournalTransaction tx) => _result = work(tx);

        public void Complete() => _tcs.TrySetResult(_result!);

        public void Fail(Exception exception) => _tcs.TrySetException(exception);
    }
}

/// <summary>Why the store refuses writes, since when, and when it last failed.</summary>
public sealed record StoreFailure(string Message, DateTimeOffset Since, DateTimeOffset LastAt);


/// <summary>Registered in load order (<c>AddJournalParticipant</c>): a participant may use those loaded before it.</summary>
public sealed record JournalParticipantRegistration(Type Type);

/// <summary>A component whose in-memory state is rebuilt from the store at start and after a rolled-back transaction.</summary>
public interface IJournalParticipant
{
    void Load(DbConnection connection);
}

/// <summary>
/// A participant whose in-memory state follows what other replicas commit to a shared store (PostgreSQL): it gets every
/// feed event another replica wrote, in sequence order, inside a transaction on this replica's writer (so it reads the
/// committed rows it needs and changes its state between this replica's own batches). It must not append feed events
/// for what it follows: the replica that made the change did.
/// </summary>
public interface IReplicaFollower
{
    void Follow(FeedEvent foreign, JournalTransaction tx);
}

/// <summary>
/// State that is not on the feed but must follow other replicas' changes (API keys): a change is announced on
/// <see cref="Channel"/> (<see cref="JournalTransaction.NotifyReplicas"/>) and each replica's listener has this
/// participant re-read what it names, on its writer. Null names everything: after the listener (re)connects, when
/// notifications may have been missed.
/// </summary>
public interface IReplicaChangeFollower
{
    string Channel { get; }

    void Changed(ReplicaAnnouncement? announced, JournalTransaction tx);
}

/// <summary>
/// What another replica announced (<see cref="JournalTransaction.NotifyReplicas"/>): its text, and the id of the
/// PostgreSQL transaction that committed it (<c>pg_current_xact_id()</c>), by which a follower that rebuilt its state
/// from a snapshot tells an announcement that snapshot already holds (<see cref="Postgres.PgSnapshot"/>).
/// </summary>
public sealed record ReplicaAnnouncement(string What, ulong Transaction);

/// <summary>One batch's transaction on the writer connection, with cached prepared commands.</summary>
public sealed class JournalTransaction
{
    private readonly StoreEngine _engine;
    private readonly DbConnection _connection;
    private readonly Dictionary<string, DbCommand> _commands;
    private DbTransaction? _transaction;
    private Dictionary<object, Action<JournalTransaction>>? _beforeCommit;
    private Dictionary<object, object>? _shared;
    private HashSet<string>? _locks;

    internal JournalTransaction(StoreEngine engine, DbConnection connection, Dictionary<string, DbCommand> commands, long lastSequence, long nowMs)
    {
        _engine = engine;
        NowMs = nowMs;
        _connection = connection;
        _commands = commands;
        LastSequence = lastSequence;
    }

    public long LastSequence { get; private set; }

    /// <summary>When this batch began, Unix milliseconds on the gateway clock (feed events' commit time).</summary>
    public long NowMs { get; }

    internal List<FeedEvent> FeedEvents { get; } = [];

    /// <summary>
    /// The tags of the batch's items (<see cref="Journal.SubmitAsync"/>), in queue order, those without one left out; on a
    /// shared store only (<see cref="SharedStore"/>), empty on SQLite.
    /// </summary>
    public IReadOnlyList<object> ItemTags { get; internal set; } = [];

    /// <summary>Whether other replicas write the store too (PostgreSQL): a read is then a round trip to another process.</summary>
    public bool SharedStore => _engine.Shared;

    /// <summary>Told the sequences of this batch's feed events when they are numbered (before the commit).</summary>
    internal Action<long, long>? FeedNumbered { get; init; }

    internal List<Action> AfterCommitActions { get; } = [];

    public DbConnection Connection => _connection;

    /// <summary>The transaction of this batch, for commands made on <see cref="Connection"/> by hand.</summary>
    public DbTransaction? Transaction => _transaction;

    /// <summary>A prepared command for <paramref name="sql"/>, reused across batches; parameters are named @p0, @p1, ...</summary>
    public DbCommand Command(string sql, int parameterCount)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = sql;
            for (var i = 0; i < parameterCount; i++)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = "@p" + i;
                command.Parameters.Add(parameter);
            }

            _commands[sql] = command;
        }

        command.Transaction = _transaction;
        return command;
    }

    public int Execute(string sql, params object?[] values) => Bound(sql, values).ExecuteNonQuery();

    /// <summary>The first column of the first row, as a 64-bit integer (0 for NULL).</summary>
    public long Scalar(string sql, params object?[] values) =>
        Bound(sql, values).ExecuteScalar() is { } value and not DBNull ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) : 0;

    /// <summary>The cached command for <paramref name="sql"/> with @p0, @p1, ... set to <paramref name="values"/>.</summary>
    public DbCommand Bound(string sql, params object?[] values)
    {
        var command = Command(sql, values.Length);
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i] ?? DBNull.Value;
        }

        return command;
    }

    /// <summary>Adds <paramref name="delta"/> to a persisted counter (table <c>counters</c>), creating it at <paramref name="delta"/>.</summary>
    public void AddToCounter(string name, long delta) => Repositories.CounterRepository.Add(this, name, delta);

    /// <summary>
    /// Appends a feed event. It is numbered and written at commit, after every item of the batch and every
    /// before-commit action (<see cref="Commit"/>): its <see cref="FeedEvent.Sequence"/> is 0 until then. Published to
    /// subscribers after commit.
    /// </summary>
    public FeedEvent AppendFeedEvent(FeedEvent feedEvent)
    {
        FeedEvents.Add(feedEvent);
        return feedEvent;
    }

    /// <summary>
    /// Says that the running item's change went into <paramref name="feedEvent"/>, which an earlier item of the batch
    /// appended (an alarm joining its incident's event of this commit): the item's trace span records that event as it
    /// records the events the item appended.
    /// </summary>
    public void JoinFeedEvent(FeedEvent feedEvent) => ItemJoinedEvents?.Add(feedEvent);

    /// <summary>While a traced item runs, the events it joined (<see cref="JoinFeedEvent"/>); null otherwise.</summary>
    internal List<FeedEvent>? ItemJoinedEvents { get; set; }

    public void AfterCommit(Action action) => AfterCommitActions.Add(action);

    /// <summary>The most rows a multi-row write statement carries on this engine (<see cref="StoreEngine.MaxRowsPerStatement"/>).</summary>
    internal int MaxRowsPerStatement => _engine.MaxRowsPerStatement;

    /// <summary>This replica's id (<see cref="Journal.ReplicaId"/>).</summary>
    internal string ReplicaId { get; init; } = "";

    /// <summary>
    /// Tells other replicas, at commit, that <paramref name="what"/> on <paramref name="channel"/> changed (nothing on
    /// SQLite). The announcement carries this replica's id, and this replica's listener drops it: a follower hears only
    /// other replicas' changes.
    /// </summary>
    public void NotifyReplicas(string channel, string what) => _engine.Announce(this, channel, ReplicaId, what);

    /// <summary>State that the items of one batch share, made on first use per <paramref name="key"/> (a per-batch tally).</summary>
    public T Shared<T>(object key, Func<T> create) where T : class
    {
        _shared ??= [];
        if (!_shared.TryGetValue(key, out var value))
        {
            value = create();
            _shared[key] = value;
        }

        return (T)value;
    }

    /// <summary>
    /// Runs <paramref name="action"/> once, after every item of the batch and before the commit (registered once per
    /// <paramref name="key"/>): for writes that many items share, such as an incident several alarms updated.
    /// </summary>
    public void BeforeCommitOnce(object key, Action<JournalTransaction> action)
    {
        _beforeCommit ??= [];
        _beforeCommit.TryAdd(key, action);
    }

    /// <summary>
    /// Takes the lock named <paramref name="name"/> until the transaction ends, once (<see cref="StoreEngine.LockShared"/>):
    /// true on a shared store, where the caller must read the state it guards again under it; false on SQLite.
    /// </summary>
    public bool LockShared(string name)
    {
        if (!_engine.Shared)
        {
            return false;
        }

        _locks ??= new HashSet<string>(StringComparer.Ordinal);
        if (_locks.Add(name))
        {
            _engine.LockShared(this, name);
        }

        return true;
    }

    /// <summary>Takes the batch's named locks in ordinal order (a shared store only): every replica's writer takes them in the same order.</summary>
    internal void LockInOrder(IEnumerable<string?> names)
    {
        if (!_engine.Shared)
        {
            return;
        }

        _locks ??= new HashSet<string>(StringComparer.Ordinal);
        var fresh = names.OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        fresh.RemoveAll(name => !_locks.Add(name));
        if (fresh.Count > 0)
        {
            _engine.LockSharedAll(this, fresh);
        }
    }

    /// <summary>The named locks this transaction holds (<see cref="LockShared"/>, <see cref="LockInOrder"/>); none on SQLite.</summary>
    internal IReadOnlyCollection<string> HeldLocks => (IReadOnlyCollection<string>?)_locks ?? [];

    internal void Begin() => _transaction = _engine.BeginWrite(_connection);

    internal void Commit()
    {
        if (_beforeCommit is not null)
        {
            foreach (var action in _beforeCommit.Values)
            {
                action(this);
            }
        }

        if (FeedEvents.Count > 0)
        {
            WriteFeed();
        }

        _transaction!.Commit();
        _transaction.Dispose();
        _transaction = null;
    }

    /// <summary>Numbers the batch's feed events after the last one taken (<see cref="StoreEngine.LockFeed"/>) and writes them.</summary>
    private void WriteFeed()
    {
        var last = _engine.LockFeed(this, LastSequence);
        foreach (var feedEvent in FeedEvents)
        {
            feedEvent.Sequence = ++last;
        }

        Repositories.FeedRepository.AppendAll(this, FeedEvents, NowMs);

        LastSequence = last;
        FeedNumbered?.Invoke(FeedEvents[0].Sequence, last);
        _engine.FeedWritten(this, last);
    }

    internal void Rollback()
    {
        try
        {
            _transaction?.Rollback();
        }
        catch (Exception e) when (e is DbException or InvalidOperationException)
        {
            // The connection may already have rolled back (for example on SQLITE_FULL), or be broken (PostgreSQL).
        }

        _transaction?.Dispose();
        _transaction = null;
    }
}
