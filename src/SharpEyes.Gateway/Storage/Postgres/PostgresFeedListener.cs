using Npgsql;
using Polly;
using SharpEyes.Gateway.Feeds;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Storage.Postgres;

/// <summary>
/// On a PostgreSQL store several replicas write one feed: this replica's subscribers must also get what the others
/// commit. Each commit with feed events notifies <see cref="PostgresEngine.FeedChannel"/> with its last sequence;
/// this service listens on a connection of its own and reads what it has not seen, in sequence order, into the feed
/// hub (and moves <see cref="Journal.LastSequence"/>). Its own commits reach the hub directly, so only the others'
/// events are read. A notification lost while the connection was down is made up by reading at every reconnect and
/// at least every <see cref="PollInterval"/>.
/// </summary>
public sealed partial class PostgresFeedListener(
    GatewayStore store, FeedHub hub, Journal journal, IEnumerable<IReplicaChangeFollower> changeFollowers, TimeProvider time,
    ILogger<PostgresFeedListener> logger) : BackgroundService
{
    /// <summary>How often the listener reads even without a notification.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private const int Page = 1000;

    private long _reads;
    private long _followed;

    /// <summary>Other replicas' events applied to this replica's state, since start.</summary>
    public long Followed => Interlocked.Read(ref _followed);

    /// <summary>Reads of the store that brought other replicas' events, since start.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>
    /// Listening now: its LISTENs are in effect and what was committed before them is read. A change another replica
    /// announces before this (just after this replica started, or while it reconnects) is not heard as an announcement
    /// (a dead letter is not published here); the state it changed is read all the same.
    /// </summary>
    public bool Listening => Volatile.Read(ref _listening) == 1;

    private int _listening;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (store.Engine is not PostgresEngine engine)
        {
            return;
        }

        // Reconnects after any failure (the server restarted, the network dropped), backing off to 5 s, forever.
        var reconnect = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new Polly.Retry.RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<NpgsqlException>().Handle<IOException>().Handle<TimeoutException>(),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                Delay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(5),
                OnRetry = args =>
                {
                    LogListenFailed(logger, args.Outcome.Exception?.Message ?? "", args.RetryDelay);
                    return default;
                },
            })
            .Build();
        try
        {
            await reconnect.ExecuteAsync(ct => ListenAsync(engine, ct), stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async ValueTask ListenAsync(PostgresEngine engine, CancellationToken ct)
    {
        await using var connection = engine.OpenListener();
        var notified = 0L;
        var followers = changeFollowers.ToDictionary(f => f.Channel, StringComparer.Ordinal);
        var changes = new List<(IReplicaChangeFollower Follower, ReplicaAnnouncement? Announced)>();
        connection.Notification += (_, e) =>
        {
            if (e.Channel == PostgresEngine.FeedChannel)
            {
                if (long.TryParse(e.Payload, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var last))
                {
                    Interlocked.Exchange(ref notified, Math.Max(Interlocked.Read(ref notified), last));
                }
            }
            else if (followers.TryGetValue(e.Channel, out var follower) && Parse(e.Payload) is ({ } replica, { } announced)
                && replica != journal.ReplicaId)
            {
                // "<replica> <transaction> <what>" (PostgresEngine.Announce); this replica's own announcements are dropped
                // here, so a follower hears only the others' changes. One without a transaction id (a gateway before this
                // version) is not understood: upgrade every replica together.
                changes.Add((follower, announced)); // raised inside WaitAsync, on this loop's own turn
            }
        };
        foreach (var channel in followers.Keys.Prepend(PostgresEngine.FeedChannel))
        {
            await using var listen = new NpgsqlCommand($"LISTEN {channel}", connection);
            await listen.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        // What was committed while not listening: every change follower re-reads everything, the feed is read on.
        changes.AddRange(followers.Values.Select(f => (f, (ReplicaAnnouncement?)null)));
        await ApplyChangesAsync(changes, ct).ConfigureAwait(false);
        await CatchUpAsync(connection, long.MaxValue, ct).ConfigureAwait(false);
        Volatile.Write(ref _listening, 1);
        try
        {
            await FollowAsync(connection, changes, () => Interlocked.Read(ref notified), ct).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _listening, 0);
        }
    }

    private async Task FollowAsync(NpgsqlConnection connection, List<(IReplicaChangeFollower Follower, ReplicaAnnouncement? Announced)> changes, Func<long> notifiedSoFar,
        CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var woken = await connection.WaitAsync(PollInterval, ct).ConfigureAwait(false);
            await ApplyChangesAsync(changes, ct).ConfigureAwait(false);
            var last = notifiedSoFar();
            if (!woken)
            {
                await CatchUpAsync(connection, long.MaxValue, ct).ConfigureAwait(false); // quiet for a while: make sure nothing was missed
            }
            else if (last > hub.Contiguous)
            {
                await CatchUpAsync(connection, last, ct).ConfigureAwait(false); // another replica's commit (this replica's own are in the hub already)
            }
        }
    }

    /// <summary>Has each change follower re-read what other replicas announced, on the writer, and clears the list.</summary>
    private async Task ApplyChangesAsync(List<(IReplicaChangeFollower Follower, ReplicaAnnouncement? Announced)> changes, CancellationToken ct)
    {
        if (changes.Count == 0)
        {
            return;
        }

        var batch = changes.ToList(); // every one: two batches' "accepted 5" are ten alarms, not five
        changes.Clear();
        try
        {
            await journal.ExecuteAsync(tx =>
            {
                foreach (var (follower, announced) in batch)
                {
                    follower.Changed(announced, tx);
                }

                return true;
            }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFollowFailed(logger, batch.Count, e);
        }
    }

    /// <summary>An announcement's sender and content ("&lt;replica&gt; &lt;transaction&gt; &lt;what&gt;"), or nulls when it is not one.</summary>
    internal static (string? Replica, ReplicaAnnouncement? Announced) Parse(string payload)
    {
        var first = payload.IndexOf(' ', StringComparison.Ordinal);
        var second = first > 0 ? payload.IndexOf(' ', first + 1) : -1;
        return second > first + 1
            && ulong.TryParse(payload.AsSpan(first + 1, second - first - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var transaction)
            ? (payload[..first], new ReplicaAnnouncement(payload[(second + 1)..], transaction))
            : (null, null);
    }

    /// <summary>
    /// Reads the events after the hub's first hole, up to <paramref name="through"/>, into the hub, and has the journal
    /// apply those other replicas wrote to this replica's state (<see cref="IReplicaFollower"/>).
    /// </summary>
    private async Task CatchUpAsync(NpgsqlConnection connection, long through, CancellationToken ct)
    {
        var events = new List<FeedEvent>(Page);
        while (true)
        {
            var after = hub.Contiguous;
            if (after >= through)
            {
                return;
            }

            journal.ForgetOwnThrough(after); // nothing at or before it is read again
            events.Clear();
            Repositories.FeedRepository.ReadAfter(connection, after, Page, "", events);

            if (events.Count == 0)
            {
                return;
            }

            Interlocked.Increment(ref _reads);
            var foreign = events.Where(e => !journal.IsOwn(e.Sequence)).ToList();
            journal.Advance(events[^1].Sequence);
            hub.Publish(events);
            try
            {
                await journal.FollowAsync(foreign, ct).ConfigureAwait(false);
                Interlocked.Add(ref _followed, foreign.Count);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Committed elsewhere already; this replica's view of it is what failed. Logged, and the next read goes on.
                LogFollowFailed(logger, foreign.Count, e);
            }

            if (events.Count < Page || hub.Contiguous <= after)
            {
                return; // read to the end, or the rows after the hole are not committed yet (the next notification brings them)
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Applying {Count} changes of other replicas (feed events, or announced changes such as API keys) to this replica's state failed")]
    private static partial void LogFollowFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot follow the other replicas' feed events ({Reason}); trying again in {Delay}")]
    private static partial void LogListenFailed(ILogger logger, string reason, TimeSpan delay);
}
