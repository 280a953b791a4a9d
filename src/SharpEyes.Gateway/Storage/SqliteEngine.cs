using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace SharpEyes.Gateway.Storage;

/// <summary>
/// The embedded SQLite file (WAL mode). One writer connection belongs to <see cref="Journal"/>; readers open pooled
/// connections of their own, which WAL lets run beside the writer.
/// </summary>
public sealed partial class SqliteEngine(string databasePath, string synchronous) : StoreEngine
{
    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = databasePath,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    public override string Name => "SQLite";

    public override string Location => databasePath;

    /// <summary>
    /// 16, not 64: Microsoft.Data.Sqlite binds each parameter by its name, and SQLite finds a name by a linear scan of the
    /// statement's parameters (sqlite3_bind_parameter_index), so binding a statement of P parameters costs O(P²) string
    /// comparisons. At 64 rows of 8 columns that was a tenth of a bulk registration's journal time; a statement costs
    /// SQLite no round trip, so more, smaller ones are cheaper.
    /// </summary>
    public override int MaxRowsPerStatement => 16;

    public override DbConnection OpenRead()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    public override DbConnection OpenWriter()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        // WAL checkpoints stay SQLite's automatic ones, inside the writer's commits (every 1,000 pages). Measured with
        // bench/run.sh: a separate checkpointing connection did not raise throughput, and its fsyncs of a large WAL
        // stalled the writer's appends (publish-to-feed p99 24-100 ms against 20 ms).
        connection.Execute($"PRAGMA synchronous={synchronous}; PRAGMA temp_store=MEMORY;");
        return connection;
    }

    public override DbTransaction BeginWrite(DbConnection connection) => ((SqliteConnection)connection).BeginTransaction(deferred: false);

    public override void Migrate(TimeProvider time, ILogger logger)
    {
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        SchemaMigrations.EnsureNotNewer(connection, SchemaMigrations.All); // before WAL mode, which rewrites the file's header
        connection.Execute("PRAGMA journal_mode=WAL;");
        foreach (var step in SchemaMigrations.Run(connection, SchemaMigrations.All, time))
        {
            GatewayStore.LogMigrated(logger, step.Version, step.Name);
        }
    }

    public override string Describe(DbException exception) => exception is SqliteException e
        ? $"SQLite error {e.SqliteErrorCode}: " + Describe(e)
        : exception.Message;

    internal static string Describe(SqliteException e) => e.SqliteErrorCode switch
    {
        13 => "the disk holding the data directory is full",
        8 => "the data directory is read-only",
        14 => "the database file cannot be opened (is the data directory read-only or missing?)",
        10 => "disk I/O error (" + e.Message + ")",
        _ => e.Message,
    };
}
