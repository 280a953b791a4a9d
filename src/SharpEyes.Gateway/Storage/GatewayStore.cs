using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;

namespace SharpEyes.Gateway.Storage;

/// <summary>
/// The embedded SQLite file (WAL mode). One writer connection belongs to <see cref="Journal"/>;
/// readers open pooled connections of their own, which WAL lets run beside the writer.
/// </summary>
public sealed class GatewayStore
{
    public const int SchemaVersion = 4;

    private readonly string _connectionString;
    private readonly string _synchronous;

    public GatewayStore(IOptions<GatewayOptions> options)
    {
        var o = options.Value;
        Directory.CreateDirectory(o.DataDir);
        DatabasePath = Path.GetFullPath(Path.Combine(o.DataDir, "sharpeyes.db"));
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
            Migrate();
        }
        catch (SqliteException e)
        {
            throw new InvalidOperationException(
                $"Cannot write the store {DatabasePath}: {StoreFailure.Describe(e)} (SQLite error {e.SqliteErrorCode}). " +
                "The data directory (--data-dir) must be writable by this user and have free space.", e);
        }
    }

    public string DatabasePath { get; }

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

    private void Migrate()
    {
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        Execute(connection, "PRAGMA journal_mode=WAL;");
        Execute(connection, $$"""
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS api_keys(
                key_id TEXT PRIMARY KEY, secret_hash BLOB NOT NULL, role INTEGER NOT NULL,
                vendor_id TEXT, description TEXT, created_at INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS devices(
                id TEXT PRIMARY KEY, vendor_id TEXT NOT NULL, kind INTEGER NOT NULL, status INTEGER NOT NULL,
                region_code TEXT NOT NULL, last_seen_at INTEGER, data BLOB NOT NULL, rtsp_secret TEXT);
            CREATE INDEX IF NOT EXISTS devices_vendor ON devices(vendor_id, id);
            CREATE TABLE IF NOT EXISTS grids(
                code TEXT PRIMARY KEY, name TEXT NOT NULL, level INTEGER NOT NULL, parent_code TEXT, geometry BLOB NOT NULL,
                coverage_target REAL);
            CREATE TABLE IF NOT EXISTS key_sites(
                code TEXT PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, priority INTEGER NOT NULL, geometry BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS alarms(
                vendor_id TEXT NOT NULL, event_id TEXT NOT NULL, device_id TEXT NOT NULL, incident_id TEXT,
                received_at INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(vendor_id, event_id)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS alarms_incident ON alarms(incident_id);
            CREATE TABLE IF NOT EXISTS incidents(
                id TEXT PRIMARY KEY, state INTEGER NOT NULL, correlation_key TEXT NOT NULL, region_code TEXT NOT NULL,
                opened_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, data BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS incidents_state ON incidents(state, id);
            CREATE TABLE IF NOT EXISTS feed_events(
                seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, region_code TEXT NOT NULL, data BLOB NOT NULL, committed_at INTEGER);
            CREATE TABLE IF NOT EXISTS outbox_cursors(endpoint TEXT PRIMARY KEY, acked_seq INTEGER NOT NULL, updated_at INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS dead_letters(
                id INTEGER PRIMARY KEY, vendor_id TEXT NOT NULL, reason TEXT NOT NULL, received_at INTEGER NOT NULL, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS coverage_gaps(gap_id TEXT PRIMARY KEY, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS stream_health(device_id TEXT PRIMARY KEY, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS status_log(device_id TEXT NOT NULL, at INTEGER NOT NULL, online INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS status_log_device ON status_log(device_id, at);
            """);
        // Version 1 files (issue 2) lack the grids' coverage target.
        if (!HasColumn(connection, "grids", "coverage_target"))
        {
            Execute(connection, "ALTER TABLE grids ADD COLUMN coverage_target REAL");
        }

        // Version 3 files lack the feed events' commit time (retention and delivery lag); their events count as old.
        if (!HasColumn(connection, "feed_events", "committed_at"))
        {
            Execute(connection, "ALTER TABLE feed_events ADD COLUMN committed_at INTEGER");
        }

        Execute(connection, "CREATE INDEX IF NOT EXISTS alarms_received ON alarms(received_at); CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters(received_at);");
        Execute(connection, $"INSERT INTO meta(key, value) VALUES('schema_version', '{SchemaVersion}') ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    }

    private static bool HasColumn(SqliteConnection connection, string table, string column)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = $c";
        command.Parameters.AddWithValue("$c", column);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    internal static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
