using Google.Protobuf;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using SharpEyes.V1;

namespace SharpEyes.CentreSink;

/// <summary>What one <see cref="SinkStore.Apply"/> did with a batch.</summary>
/// <param name="Acked">The highest sequence up to which the source's events are all held, after the batch.</param>
/// <param name="Stored">Events newly stored.</param>
/// <param name="Duplicates">Events skipped because their sequence was already held.</param>
/// <param name="Rejected">Events refused because the batch starts after a gap (see <paramref name="Gap"/>).</param>
/// <param name="Gap">The batch's after_sequence was above the held sequence: nothing was stored.</param>
/// <param name="LostFrom">When the batch started after a gap the source had pruned (pruned_through): the first sequence
/// of the range recorded as lost, up to the batch's after_sequence; 0 otherwise.</param>
public readonly record struct DeliverResult(long Acked, int Stored, int Duplicates, int Rejected, bool Gap, long LostFrom = 0);

/// <summary>
/// The centre's durable store: one SQLite file holding, per source, the highest contiguous sequence held and the
/// events themselves. <see cref="Apply"/> runs each batch as one transaction on a single connection behind a lock
/// (one writer), and commits before it returns, so an acknowledgement is never ahead of the disk.
/// </summary>
public sealed class SinkStore : IDisposable
{
    private readonly Lock _lock = new();
    private readonly SqliteConnection _connection;
    private readonly TimeProvider _time;
    private long _receivedEvents;
    private long _duplicates;
    private long _stored;
    private long _rejected;
    private long _lost;
    private long _calls;
    private bool _disposed;

    /// <summary>Opens (or creates) the store at <paramref name="path"/>.</summary>
    public SinkStore(string path, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        _time = time ?? TimeProvider.System;
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        // No pooling: disposing the store closes the file, so a restarted server can open it again at once.
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        _connection.Open();
        Execute("""
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            PRAGMA busy_timeout = 5000;
            CREATE TABLE IF NOT EXISTS sources (
                source_id TEXT PRIMARY KEY,
                held INTEGER NOT NULL
            );
            CREATE TABLE IF NOT EXISTS events (
                source_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                kind INTEGER NOT NULL,
                region_code TEXT NOT NULL,
                received_at INTEGER NOT NULL,
                data BLOB NOT NULL,
                PRIMARY KEY (source_id, seq)
            ) WITHOUT ROWID;
            """);
    }

    /// <summary>Every event of every batch that passed validation, gap batches and redeliveries included.</summary>
    public long ReceivedEvents => Interlocked.Read(ref _receivedEvents);

    /// <summary>Events skipped because their sequence was already held.</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Events stored.</summary>
    public long Stored => Interlocked.Read(ref _stored);

    /// <summary>Events refused because their batch started after a gap.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Calls to <see cref="Apply"/>, invalid ones included.</summary>
    public long Calls => Interlocked.Read(ref _calls);

    /// <summary>Sequences recorded as lost: deleted at the source (pruned_through) before this centre held them.</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>
    /// Applies one batch in one transaction and answers the sequence the centre now holds through. A batch whose
    /// after_sequence is above what is held stores nothing (the centre is missing the range in between) and answers
    /// the held sequence, so the gateway resends from there, unless the source says it deleted that range
    /// (after_sequence not above pruned_through): then the range is recorded as lost and the batch is stored.
    /// Events already held are skipped.
    /// </summary>
    /// <exception cref="RpcException">INVALID_ARGUMENT when the sequences are out of order or out of range.</exception>
    public DeliverResult Apply(DeliverRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Interlocked.Increment(ref _calls);
        Validate(request);
        var count = request.Events.Count;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var transaction = _connection.BeginTransaction();
            var held = ReadHeld(request.SourceId, transaction);
            var lostFrom = 0L;
            if (request.AfterSequence > held && request.AfterSequence <= request.PrunedThrough)
            {
                // The source deleted what this centre is missing: it can never come. Record the loss and go on.
                lostFrom = held + 1;
                Interlocked.Add(ref _lost, request.AfterSequence - held);
                held = request.AfterSequence;
            }
            else if (request.AfterSequence > held)
            {
                transaction.Commit();
                Interlocked.Add(ref _receivedEvents, count);
                Interlocked.Add(ref _rejected, count);
                return new DeliverResult(held, 0, 0, count, Gap: true);
            }

            var stored = 0;
            var duplicates = 0;
            using (var insert = _connection.CreateCommand())
            {
                insert.Transaction = transaction;
                insert.CommandText = """
                    INSERT OR IGNORE INTO events (source_id, seq, kind, region_code, received_at, data)
                    VALUES ($source, $seq, $kind, $region, $received, $data)
                    """;
                var seq = insert.Parameters.Add("$seq", SqliteType.Integer);
                var kind = insert.Parameters.Add("$kind", SqliteType.Integer);
                var region = insert.Parameters.Add("$region", SqliteType.Text);
                var data = insert.Parameters.Add("$data", SqliteType.Blob);
                insert.Parameters.AddWithValue("$source", request.SourceId);
                insert.Parameters.AddWithValue("$received", _time.GetUtcNow().ToUnixTimeMilliseconds());
                foreach (var feedEvent in request.Events)
                {
                    if (feedEvent.Sequence <= held)
                    {
                        duplicates++;
                        continue;
                    }

                    seq.Value = feedEvent.Sequence;
                    kind.Value = (int)feedEvent.Kind;
                    region.Value = feedEvent.RegionCode;
                    data.Value = feedEvent.ToByteArray();
                    insert.ExecuteNonQuery();
                    stored++;
                }
            }

            var newHeld = Math.Max(held, request.ThroughSequence);
            if (count > 0)
            {
                newHeld = Math.Max(newHeld, request.Events[count - 1].Sequence);
            }

            if (newHeld != held)
            {
                using var upsert = _connection.CreateCommand();
                upsert.Transaction = transaction;
                upsert.CommandText = """
                    INSERT INTO sources (source_id, held) VALUES ($source, $held)
                    ON CONFLICT (source_id) DO UPDATE SET held = excluded.held
                    """;
                upsert.Parameters.AddWithValue("$source", request.SourceId);
                upsert.Parameters.AddWithValue("$held", newHeld);
                upsert.ExecuteNonQuery();
            }

            transaction.Commit();
            Interlocked.Add(ref _receivedEvents, count);
            Interlocked.Add(ref _duplicates, duplicates);
            Interlocked.Add(ref _stored, stored);
            return new DeliverResult(newHeld, stored, duplicates, 0, Gap: false, lostFrom);
        }
    }

    /// <summary>The highest sequence up to which every event of <paramref name="source"/> is held (0: none).</summary>
    public long Held(string source)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return ReadHeld(source, transaction: null);
        }
    }

    /// <summary>The stored events of <paramref name="source"/>, in sequence order.</summary>
    public IReadOnlyList<FeedEvent> Events(string source)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT data FROM events WHERE source_id = $source ORDER BY seq";
            command.Parameters.AddWithValue("$source", source);
            using var reader = command.ExecuteReader();
            var events = new List<FeedEvent>();
            while (reader.Read())
            {
                events.Add(FeedEvent.Parser.ParseFrom((byte[])reader.GetValue(0)));
            }

            return events;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _connection.Dispose();
        }
    }

    /// <summary>
    /// Checks the batch against the contract before anything is written: after_sequence not negative,
    /// through_sequence not below it, and event sequences strictly ascending within (after_sequence, through_sequence].
    /// </summary>
    private static void Validate(DeliverRequest request)
    {
        if (request.AfterSequence < 0)
        {
            throw Invalid($"after_sequence: {request.AfterSequence} is negative");
        }

        if (request.ThroughSequence < request.AfterSequence)
        {
            throw Invalid($"through_sequence: {request.ThroughSequence} is below after_sequence {request.AfterSequence}");
        }

        var previous = request.AfterSequence;
        for (var i = 0; i < request.Events.Count; i++)
        {
            var sequence = request.Events[i].Sequence;
            if (sequence <= previous)
            {
                throw Invalid(i == 0
                    ? $"events[0].sequence: {sequence} is not above after_sequence {request.AfterSequence}"
                    : $"events[{i}].sequence: {sequence} is not above events[{i - 1}].sequence {previous}");
            }

            if (sequence > request.ThroughSequence)
            {
                throw Invalid($"events[{i}].sequence: {sequence} is above through_sequence {request.ThroughSequence}");
            }

            previous = sequence;
        }
    }

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private long ReadHeld(string source, SqliteTransaction? transaction)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT held FROM sources WHERE source_id = $source";
        command.Parameters.AddWithValue("$source", source);
        return command.ExecuteScalar() is long held ? held : 0;
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
