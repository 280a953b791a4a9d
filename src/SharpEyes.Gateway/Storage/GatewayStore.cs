using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;

namespace SharpEyes.Gateway.Storage;

/// <summary>
/// The embedded SQLite file (WAL mode). One writer connection belongs to <see cref="Journal"/>;
/// readers open pooled connections of their own, which WAL lets run beside the writer.
/// The data directory is private to the gateway's user (see <see cref="PrivateFiles"/>): created 0700, the database
/// created 0600 before SQLite opens it (SQLite gives its -wal and -shm files the database file's mode), and an
/// existing looser directory or file tightened at start, with a warning naming it.
/// </summary>
public sealed partial class GatewayStore
{
    /// <summary>The schema version this gateway writes: the last of <see cref="SchemaMigrations.All"/>.</summary>
    public static int SchemaVersion => SchemaMigrations.Latest;

    private readonly string _connectionString;
    private readonly string _synchronous;

    public GatewayStore(IOptions<GatewayOptions> options, ILogger<GatewayStore> logger, TimeProvider time)
    {
        var o = options.Value;
        DatabasePath = Path.GetFullPath(Path.Combine(o.DataDir, "sharpeyes.db"));
        SecureDataDirectory(Path.GetFullPath(o.DataDir), DatabasePath, logger);
        _synchronous = o.SqliteSynchronous;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        try
        {
            Migrate(time, logger);
        }
        catch (SqliteException e)
        {
            throw new Hosting.StartupFailureException(
                $"Cannot write the store {DatabasePath}: {StoreFailure.Describe(e)} (SQLite error {e.SqliteErrorCode}). " +
                "The data directory (--data-dir) must be writable by this user and have free space.", e);
        }
    }

    public string DatabasePath { get; }

    /// <summary>
    /// Creates the data directory 0700 and an empty database file 0600 (SQLite takes an empty file as a new database),
    /// or tightens what an earlier version or an operator left readable by others: the directory, the database and its
    /// -wal and -shm files, the first admin key, the snapshots directory and its pictures.
    /// </summary>
    private static void SecureDataDirectory(string dataDir, string databasePath, ILogger logger)
    {
        try
        {
            if (!Directory.Exists(dataDir))
            {
                PrivateFiles.CreateDirectory(dataDir);
            }

            if (!File.Exists(databasePath))
            {
                PrivateFiles.Create(databasePath, FileMode.CreateNew).Dispose();
            }

            var snapshots = Path.Combine(dataDir, "snapshots");
            var paths = new[] { dataDir, databasePath, databasePath + "-wal", databasePath + "-shm", Path.Combine(dataDir, "initial-admin-key"), snapshots }
                .Concat(Directory.Exists(snapshots) ? Directory.EnumerateFiles(snapshots) : []);
            foreach (var path in paths)
            {
                if (PrivateFiles.Tighten(path) is (var was, var now))
                {
                    LogTightened(logger, path, PrivateFiles.Octal(was), PrivateFiles.Octal(now));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not ours to change (another owner) or not writable: Migrate below says what the store needs.
            LogCannotSecure(logger, dataDir, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Path} was readable by other users (mode {Was}); tightened to {Now}: the data directory holds RTSP credentials, key hashes and camera pictures")]
    private static partial void LogTightened(ILogger logger, string path, string was, string now);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot make the data directory {DataDir} private to this user: {Reason}")]
    private static partial void LogCannotSecure(ILogger logger, string dataDir, string reason);

    public SqliteConnection OpenRead()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    internal SqliteConnection OpenWriter()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        // WAL checkpoints stay SQLite's automatic ones, inside the writer's commits (every 1,000 pages). Measured with
        // bench/run.sh: a separate checkpointing connection did not raise throughput, and its fsyncs of a large WAL
        // stalled the writer's appends (publish-to-feed p99 24-100 ms against 20 ms).
        Execute(connection, $"PRAGMA synchronous={_synchronous}; PRAGMA temp_store=MEMORY;");
        return connection;
    }

    private void Migrate(TimeProvider time, ILogger logger)
    {
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        try
        {
            SchemaMigrations.EnsureNotNewer(connection, SchemaMigrations.All); // before WAL mode, which rewrites the file's header
            Execute(connection, "PRAGMA journal_mode=WAL;");
            foreach (var step in SchemaMigrations.Run(connection, SchemaMigrations.All, time))
            {
                LogMigrated(logger, step.Version, step.Name);
            }
        }
        catch (NewerStoreException e)
        {
            throw new Hosting.StartupFailureException(
                $"The store {DatabasePath} cannot be opened by this gateway: {e.Message}. It is left as it is: run that newer " +
                "version (or a later one), or restore a backup made with this one (docs/operations.md#backup-and-restore).", e);
        }
        catch (MigrationFailedException e)
        {
            throw new Hosting.StartupFailureException(
                $"The store {DatabasePath} could not be brought to schema version {SchemaVersion}: {e.Message}. The step was rolled back; " +
                "the store stays at the version before it.", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Store schema: step {Version} applied ({Name})")]
    private static partial void LogMigrated(ILogger logger, int version, string name);

    internal static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
