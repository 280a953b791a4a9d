using System.Buffers.Binary;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using Polly;

namespace SharpEyes.Gateway.Storage.Postgres;

/// <summary>
/// A PostgreSQL database as the store (Npgsql): readers take pooled connections from one data source. The journal's
/// writer and the feed listener each hold a connection of their own, opened outside that pool (a second data source
/// without pooling), so readers that take every pooled connection (the pool's <c>Maximum Pool Size</c>) never hold up
/// a commit or the listener; the writer runs each group commit as one transaction on its connection.
/// </summary>
public sealed partial class PostgresEngine : StoreEngine
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly NpgsqlDataSource _unpooled;
    private readonly TimeSpan _startTimeout;

    /// <param name="startTimeout">How long <see cref="Migrate"/> keeps trying to reach the server (<see cref="Configuration.GatewayOptions.StoreStartTimeout"/>).</param>
    public PostgresEngine(string store, TimeSpan startTimeout = default)
    {
        _startTimeout = startTimeout;
        var builder = ParseConnectionString(store);
        builder.ApplicationName ??= "sharpeyes";
        Location = $"{builder.Host}:{builder.Port}/{builder.Database}";
        _dataSource = NpgsqlDataSource.Create(builder);
        var own = new NpgsqlConnectionStringBuilder(builder.ConnectionString) { Pooling = false };
        _unpooled = NpgsqlDataSource.Create(own);
    }

    public override string Name => "PostgreSQL";

    public override string Location { get; }

    public override bool SharedByReplicas => true;

    public override DbConnection OpenRead() => _dataSource.OpenConnection();

    public override DbConnection OpenWriter() => _unpooled.OpenConnection();

    public override DbTransaction BeginWrite(DbConnection connection) => ((NpgsqlConnection)connection).BeginTransaction();

    public override void Migrate(TimeProvider time, ILogger logger)
    {
        using var connection = OpenAtStart(time, logger);
        // Start-up is synchronous (the store is a singleton built before the host runs); nothing here has a sync context.
        foreach (var step in PostgresSchema.RunAsync(connection, PostgresSchema.All, time).GetAwaiter().GetResult())
        {
            GatewayStore.LogMigrated(logger, step.Version, step.Name);
        }
    }

    /// <summary>
    /// The first connection, tried again while the server is not reached or not ready (<see cref="Unreachable"/>) and
    /// the start timeout has not passed, with a growing pause (0.2 s doubling to 5 s) and a warning per failure; a
    /// refused login or a missing database is thrown at once. A gateway started beside its database (systemd, Kubernetes) or while PostgreSQL is busy
    /// waits for it instead of exiting on the first refusal.
    /// </summary>
    private NpgsqlConnection OpenAtStart(TimeProvider time, ILogger logger)
    {
        var started = time.GetTimestamp();
        var attempts = 0;
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new Polly.Retry.RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(Unreachable(args.Outcome.Exception) && time.GetElapsedTime(started) < _startTimeout),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                Delay = TimeSpan.FromMilliseconds(200),
                MaxDelay = TimeSpan.FromSeconds(5),
                OnRetry = args =>
                {
                    attempts = args.AttemptNumber + 1;
                    var reason = args.Outcome.Exception is DbException db ? Describe(db) : args.Outcome.Exception!.Message;
                    LogNotReachable(logger, Location, reason, attempts, args.RetryDelay.TotalSeconds, _startTimeout.TotalSeconds);
                    return default;
                },
            })
            .Build();
        string Tried(string reason) => $"{reason} (tried {attempts + 1} times in {time.GetElapsedTime(started).TotalSeconds:0.#} s; StoreStartTimeout {_startTimeout})";
        try
        {
            return pipeline.Execute(() => _dataSource.OpenConnection());
        }
        catch (Exception e) when (StreamError(e))
        {
            // Npgsql wraps what happens on the wire in NpgsqlException; should a stream error escape unwrapped, it is
            // still the server not being reached, said as such.
            throw new NpgsqlException(Tried(e.Message), e);
        }
        catch (NpgsqlException e) when (attempts > 0 && e is not PostgresException)
        {
            // The last failure's reason (what Describe shows) with how long it was tried; the reason alone is what matters.
            throw new NpgsqlException(Tried(e.InnerException?.Message ?? e.Message));
        }
    }

    /// <summary>
    /// Whether <paramref name="e"/> says the server was not reached or cannot take a session yet: anything on the way to
    /// it (a refused, reset or timed-out connection, wrapped by Npgsql or not), or an answer Npgsql itself calls
    /// transient (starting up, too many connections). Any other answer from the server (a refused login, a missing
    /// database) is final.
    /// </summary>
    private static bool Unreachable(Exception? e) => e switch
    {
        PostgresException p => p.IsTransient,
        NpgsqlException => true,
        _ => StreamError(e),
    };

    /// <summary>An error on the way to the server that Npgsql did not wrap: an I/O, socket or timeout error.</summary>
    private static bool StreamError(Exception? e) => e is IOException or System.Net.Sockets.SocketException or TimeoutException;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Store: {Location} not reachable yet ({Reason}), attempt {Attempt}; trying again in {Delay:0.0} s, for up to {Timeout:0} s from start (StoreStartTimeout)")]
    private static partial void LogNotReachable(ILogger logger, string location, string reason, int attempt, double delay, double timeout);

    public override string Describe(DbException exception) => exception switch
    {
        PostgresException { SqlState: PostgresErrorCodes.DiskFull } => "the PostgreSQL server's disk is full",
        PostgresException { SqlState: PostgresErrorCodes.ReadOnlySqlTransaction } => "the PostgreSQL server accepts no writes (a standby, or read-only)",
        PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification } e =>
            $"PostgreSQL refused the login ({e.SqlState}): check the user and its password (PGPASSWORD or ~/.pgpass)",
        PostgresException e => $"PostgreSQL error {e.SqlState}: {e.MessageText}",
        NpgsqlException e => $"cannot reach the PostgreSQL server at {Location}: {e.InnerException?.Message ?? e.Message}",
        _ => exception.Message,
    };

    /// <summary>The advisory lock a transaction that appends feed events holds until it ends: "FEEDSEQ" in ASCII.</summary>
    public const long FeedLockKey = 0x0046_4545_4453_4551;

    /// <summary>The channel a commit with feed events notifies (payload: its last sequence); every replica listens.</summary>
    public const string FeedChannel = "sharpeyes_feed";

    public override long LockFeed(JournalTransaction tx, long journalLast)
    {
        // Held until commit or rollback: the next writer (of any replica) reads MAX(seq) only after this one's rows are
        // committed, so sequences follow commit order and no event becomes visible after a later one.
        tx.Execute("SELECT pg_advisory_xact_lock(@p0)", FeedLockKey);
        return Repositories.FeedRepository.LastSequence(tx);
    }

    /// <summary>
    /// The top 16 bits of every <see cref="LockShared"/> key: "NL" in ASCII. The gateway's other advisory keys start
    /// otherwise (<see cref="FeedLockKey"/> 0x0046, <see cref="PostgresSchema.MigrationLockKey"/> 0x5348), so a named lock
    /// never takes theirs; the low 48 bits are a hash of the name.
    /// </summary>
    public const long NamedLockTag = 0x4E4C_0000_0000_0000;

    /// <summary>
    /// The advisory key of the lock named <paramref name="name"/>: <see cref="NamedLockTag"/> and the first 48 bits of the
    /// SHA-256 of its UTF-8 bytes (stable across processes and versions, unlike <see cref="string.GetHashCode()"/>; two names
    /// sharing a key would only wait for each other).
    /// </summary>
    public static long NamedLockKey(string name)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(name), hash);
        return NamedLockTag | (BinaryPrimitives.ReadInt64BigEndian(hash) & 0x0000_FFFF_FFFF_FFFF);
    }

    public override bool Shared => true;

    public override void LockShared(JournalTransaction tx, string name) =>
        tx.Execute("SELECT pg_advisory_xact_lock(@p0)", NamedLockKey(name));

    /// <summary>
    /// One statement for all of a batch's locks (a round trip per lock made them the alarm path's largest cost): the
    /// function runs once per array element, in the array's order, which is the names' order on every replica.
    /// </summary>
    public override void LockSharedAll(JournalTransaction tx, IReadOnlyList<string> names)
    {
        if (names.Count == 1)
        {
            LockShared(tx, names[0]);
            return;
        }

        tx.Execute("SELECT pg_advisory_xact_lock(k) FROM unnest(@p0) AS k", names.Select(NamedLockKey).ToArray());
    }

    public override void FeedWritten(JournalTransaction tx, long last) =>
        tx.Execute("SELECT pg_notify(@p0, @p1)", FeedChannel, last.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>"&lt;replica&gt; &lt;transaction id&gt; &lt;what&gt;" on <paramref name="channel"/>, delivered when the transaction commits.</summary>
    public override void Announce(JournalTransaction tx, string channel, string replicaId, string what) =>
        tx.Execute("SELECT pg_notify(@p0, @p1 || ' ' || pg_current_xact_id()::text || ' ' || @p2)", channel, replicaId, what);

    /// <summary>The connection the feed listener holds open for LISTEN (its own, outside the readers' pool; kept while it waits).</summary>
    internal NpgsqlConnection OpenListener() => _unpooled.OpenConnection();

    public override void Dispose()
    {
        _unpooled.Dispose();
        _dataSource.Dispose();
        base.Dispose();
    }

    /// <summary>Whether <paramref name="store"/> names a PostgreSQL database (a URI or an Npgsql connection string).</summary>
    public static bool Names(string store) =>
        store.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
        || store.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
        || store.Contains('=', StringComparison.Ordinal);

    /// <summary>
    /// An Npgsql connection string from a <c>postgres://user:password@host:port/database?param=value</c> URI (libpq's
    /// form, which Npgsql does not read itself) or from an Npgsql connection string. Throws <see cref="FormatException"/>
    /// with a message that never repeats the password.
    /// </summary>
    public static NpgsqlConnectionStringBuilder ParseConnectionString(string store)
    {
        if (!store.Contains("://", StringComparison.Ordinal))
        {
            try
            {
                return new NpgsqlConnectionStringBuilder(store);
            }
            catch (ArgumentException e)
            {
                throw new FormatException("the store's connection string is not an Npgsql connection string: " + WithoutValues(e.Message), e);
            }
        }

        if (!Uri.TryCreate(store, UriKind.Absolute, out var uri) || uri.Scheme is not ("postgres" or "postgresql") || uri.Host.Length == 0)
        {
            throw new FormatException("the store's URI must look like postgres://user@host:5432/database");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')) is { Length: > 0 } database ? database : "sharpeyes",
        };
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var name = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            try
            {
                builder[LibpqNames.GetValueOrDefault(name, name)] = value;
            }
            catch (ArgumentException e)
            {
                throw new FormatException($"the store's URI has a parameter '{name}' that Npgsql does not take: {WithoutValues(e.Message)}", e);
            }
        }

        return builder;
    }

    /// <summary>libpq's parameter names where Npgsql's differ.</summary>
    private static readonly Dictionary<string, string> LibpqNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["sslmode"] = "SSL Mode",
        ["sslrootcert"] = "Root Certificate",
        ["sslcert"] = "SSL Certificate",
        ["sslkey"] = "SSL Key",
        ["connect_timeout"] = "Timeout",
        ["application_name"] = "Application Name",
        ["target_session_attrs"] = "Target Session Attributes",
    };

    /// <summary>An Npgsql parser message with nothing after '=' or ':' that could be a value (a password).</summary>
    private static string WithoutValues(string message)
    {
        var cut = message.IndexOfAny(['\'', '"']);
        return cut < 0 ? message : message[..cut].TrimEnd();
    }
}
