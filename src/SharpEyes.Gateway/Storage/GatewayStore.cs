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
    public const int SchemaVersion = 9;

    private readonly string _connectionString;
    private readonly string _synchronous;

    public GatewayStore(IOptions<GatewayOptions> options, ILogger<GatewayStore> logger)
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
            Migrate();
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
                opened_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, data BLOB NOT NULL, acknowledged_at INTEGER);
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
            CREATE TABLE IF NOT EXISTS kpi_history(
                region_code TEXT NOT NULL, at INTEGER NOT NULL, kpis BLOB NOT NULL, PRIMARY KEY(region_code, at)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS audit_entries(
                id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, key_id TEXT, role INTEGER NOT NULL, vendor_id TEXT,
                client_address TEXT NOT NULL, certificate_subject TEXT, action TEXT NOT NULL, targets TEXT NOT NULL,
                summary TEXT NOT NULL, outcome TEXT NOT NULL, message TEXT NOT NULL, count INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS audit_entries_at ON audit_entries(at);
            CREATE TABLE IF NOT EXISTS audit_targets(
                target TEXT NOT NULL, entry_id INTEGER NOT NULL, PRIMARY KEY(target, entry_id)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS audit_targets_entry ON audit_targets(entry_id);
            CREATE TRIGGER IF NOT EXISTS audit_entries_append_only BEFORE UPDATE ON audit_entries
                BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: they cannot be changed'); END;
            """);
        // Version 7 files lack the audit log (issue 14, Audit/AuditLog.cs): the CREATE above adds it empty.
        // Version 6 files keep the RTSP credentials (devices.rtsp_secret) in clear JSON: the device catalog encrypts
        // them at its first load (Streams/RtspSecretProtector.cs), so the schema itself is unchanged.
        // Version 5 files lack the KPI history (issue 13, Coverage/KpiHistory.cs): the CREATE above adds it empty, and
        // the first snapshot is taken at start.
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

        // Version 4 files lack the incidents' acknowledgement time (issue 13); their incidents were never acknowledged.
        if (!HasColumn(connection, "incidents", "acknowledged_at"))
        {
            Execute(connection, "ALTER TABLE incidents ADD COLUMN acknowledged_at INTEGER");
        }

        // Version 8 files (and older) lack the API keys' expiry (issue 14, Auth/ApiKeyStore.cs): their keys never expire.
        // A step of its own, whatever else a version 8 added: it only adds a nullable column when it is missing.
        if (!HasColumn(connection, "api_keys", "expires_at"))
        {
            Execute(connection, "ALTER TABLE api_keys ADD COLUMN expires_at INTEGER");
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
