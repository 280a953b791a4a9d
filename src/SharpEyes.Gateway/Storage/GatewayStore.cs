using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;

namespace SharpEyes.Gateway.Storage;

/// <summary>
/// The store, on the engine configuration names (<see cref="GatewayOptions.Store"/>): the embedded SQLite file
/// (the default) or a PostgreSQL database. Its schema is brought up to date when it is made, at start.
/// For SQLite, the data directory is private to the gateway's user (see <see cref="PrivateFiles"/>): created 0700, the
/// database created 0600 before SQLite opens it (SQLite gives its -wal and -shm files the database file's mode), and an
/// existing looser directory or file tightened at start, with a warning naming it.
/// </summary>
public sealed partial class GatewayStore : IDisposable
{
    /// <summary>The schema version this gateway writes: the last of <see cref="SchemaMigrations.All"/>.</summary>
    public static int SchemaVersion => SchemaMigrations.Latest;

    public GatewayStore(IOptions<GatewayOptions> options, ILogger<GatewayStore> logger, TimeProvider time)
    {
        var o = options.Value;
        if (Postgres.PostgresEngine.Names(o.Store))
        {
            try
            {
                Engine = new Postgres.PostgresEngine(o.Store, o.StoreStartTimeout);
            }
            catch (FormatException e)
            {
                throw new Hosting.StartupFailureException($"SharpEyes:Store (--store): {e.Message}.", e);
            }

            DatabasePath = "";
        }
        else if (o.Store is "" or "sqlite")
        {
            DatabasePath = Path.GetFullPath(Path.Combine(o.DataDir, "sharpeyes.db"));
            SecureDataDirectory(Path.GetFullPath(o.DataDir), DatabasePath, logger);
            Engine = new SqliteEngine(DatabasePath, o.SqliteSynchronous);
        }
        else
        {
            throw new Hosting.StartupFailureException(
                "SharpEyes:Store (--store) must be empty (the embedded SQLite file in --data-dir), postgres://user@host:5432/database, " +
                "or an Npgsql connection string (Host=...;Database=...).");
        }

        try
        {
            Engine.Migrate(time, logger);
        }
        catch (DbException e)
        {
            Engine.Dispose();
            throw new Hosting.StartupFailureException(
                $"Cannot write the store {Location}: {Engine.Describe(e)}. " + (IsPostgres
                    ? "The PostgreSQL database must exist and its user must be allowed to create tables in it."
                    : "The data directory (--data-dir) must be writable by this user and have free space."), e);
        }
        catch (NewerStoreException e)
        {
            Engine.Dispose();
            throw new Hosting.StartupFailureException(
                $"The store {Location} cannot be opened by this gateway: {e.Message}. It is left as it is: run that newer " +
                "version (or a later one), or restore a backup made with this one (docs/operations.md#backup-and-restore).", e);
        }
        catch (MigrationFailedException e)
        {
            Engine.Dispose();
            throw new Hosting.StartupFailureException(
                $"The store {Location} could not be brought to schema version {SchemaVersion}: {e.Message}. The step was rolled back; " +
                "the store stays at the version before it.", e);
        }

        LogOpened(logger, Engine.Name, Location, SchemaVersion);
    }

    /// <summary>The engine the store runs on.</summary>
    public StoreEngine Engine { get; }

    /// <summary>Whether the store is a PostgreSQL database (else the embedded SQLite file).</summary>
    public bool IsPostgres => Engine is Postgres.PostgresEngine;

    /// <summary>Where the store is, for messages: the SQLite file's path or PostgreSQL's <c>host:port/database</c> (no password).</summary>
    public string Location => Engine.Location;

    /// <summary>The SQLite file; empty for PostgreSQL.</summary>
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

    /// <summary>A pooled connection for reading, open; dispose it.</summary>
    public DbConnection OpenRead() => Engine.OpenRead();

    internal DbConnection OpenWriter() => Engine.OpenWriter();

    public void Dispose() => Engine.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Store schema: step {Version} applied ({Name})")]
    internal static partial void LogMigrated(ILogger logger, int version, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Store: {Engine} at {Location}, schema version {Version}")]
    private static partial void LogOpened(ILogger logger, string engine, string location, int version);
}
