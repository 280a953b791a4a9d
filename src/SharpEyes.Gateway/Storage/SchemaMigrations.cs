using System.Globalization;
using Microsoft.Data.Sqlite;

namespace SharpEyes.Gateway.Storage;

/// <summary>One numbered step of the store's schema: what it adds, and the SQL that adds it.</summary>
public sealed record SchemaMigration(int Version, string Name, Action<SqliteConnection> Apply);

/// <summary>
/// The SQLite store's schema as numbered migrations, run at start in order, each in its own transaction together with
/// the version it reaches (<c>meta.schema_version</c>, and a row in <c>schema_migrations</c> with its name and time).
/// A store whose version is newer than the last one here was written by a newer gateway: it is refused, untouched.
/// </summary>
/// <remarks>
/// Versions 1 to <see cref="LastLegacyVersion"/> come from before the steps were numbered, when every start created
/// whatever was missing: a store from then may hold more than its version says (or, from a test or a hand-made file,
/// less), so those steps are written to be run again safely (IF NOT EXISTS, a column added only when missing), and a
/// store below <see cref="LastLegacyVersion"/> gets all of them. From version 10 on, a step runs exactly once.
/// </remarks>
public static class SchemaMigrations
{
    public const int LastLegacyVersion = 9;

    public static IReadOnlyList<SchemaMigration> All { get; } =
    [
        new(1, "API keys, devices, grids, key sites, alarms, incidents, the feed, outbox cursors, dead letters, counters", c => Sql(c, """
            CREATE TABLE IF NOT EXISTS api_keys(
                key_id TEXT PRIMARY KEY, secret_hash BLOB NOT NULL, role INTEGER NOT NULL,
                vendor_id TEXT, description TEXT, created_at INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS devices(
                id TEXT PRIMARY KEY, vendor_id TEXT NOT NULL, kind INTEGER NOT NULL, status INTEGER NOT NULL,
                region_code TEXT NOT NULL, last_seen_at INTEGER, data BLOB NOT NULL, rtsp_secret TEXT);
            CREATE INDEX IF NOT EXISTS devices_vendor ON devices(vendor_id, id);
            CREATE TABLE IF NOT EXISTS grids(
                code TEXT PRIMARY KEY, name TEXT NOT NULL, level INTEGER NOT NULL, parent_code TEXT, geometry BLOB NOT NULL);
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
            CREATE TABLE IF NOT EXISTS feed_events(seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, region_code TEXT NOT NULL, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS outbox_cursors(endpoint TEXT PRIMARY KEY, acked_seq INTEGER NOT NULL, updated_at INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS dead_letters(
                id INTEGER PRIMARY KEY, vendor_id TEXT NOT NULL, reason TEXT NOT NULL, received_at INTEGER NOT NULL, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """)),
        new(2, "grids' coverage targets", c => AddColumn(c, "grids", "coverage_target", "REAL")),
        new(3, "coverage gaps, stream health, the status log; retention indexes on alarms and dead letters", c => Sql(c, """
            CREATE TABLE IF NOT EXISTS coverage_gaps(gap_id TEXT PRIMARY KEY, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS stream_health(device_id TEXT PRIMARY KEY, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS status_log(device_id TEXT NOT NULL, at INTEGER NOT NULL, online INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS status_log_device ON status_log(device_id, at);
            CREATE INDEX IF NOT EXISTS alarms_received ON alarms(received_at);
            CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters(received_at);
            """)),
        // Events of older stores have no commit time: they count as old for retention and delivery lag.
        new(4, "feed events' commit time", c => AddColumn(c, "feed_events", "committed_at", "INTEGER")),
        // Incidents of older stores were never acknowledged.
        new(5, "incidents' acknowledgement time", c => AddColumn(c, "incidents", "acknowledged_at", "INTEGER")),
        // Empty; the first snapshot is taken at start (Coverage/KpiSnapshots.cs).
        new(6, "KPI history", c => Sql(c, """
            CREATE TABLE IF NOT EXISTS kpi_history(
                region_code TEXT NOT NULL, at INTEGER NOT NULL, kpis BLOB NOT NULL, PRIMARY KEY(region_code, at)) WITHOUT ROWID;
            """)),
        // The schema is unchanged: the device catalog encrypts clear rows of devices.rtsp_secret at its first load
        // (Streams/RtspSecretProtector.cs), whatever the version, so a store restored from an older backup is covered too.
        new(7, "RTSP credentials encrypted at rest (by the device catalog at its first load)", _ => { }),
        new(8, "the audit log, append-only", c => Sql(c, """
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
            """)),
        // Keys of older stores never expire.
        new(9, "API keys' expiry", c => AddColumn(c, "api_keys", "expires_at", "INTEGER")),
        // The uptime ledger read the status log in SQLite's hidden rowid order, which PostgreSQL has no equivalent of:
        // the rows get a visible id (their rowid), last so the column order is PostgreSQL's after its ALTER TABLE.
        new(10, "status log rows numbered in the order they were written", c => Sql(c, """
            CREATE TABLE status_log_v10(device_id TEXT NOT NULL, at INTEGER NOT NULL, online INTEGER NOT NULL, id INTEGER PRIMARY KEY);
            INSERT INTO status_log_v10(device_id, at, online, id) SELECT device_id, at, online, rowid FROM status_log;
            DROP TABLE status_log;
            ALTER TABLE status_log_v10 RENAME TO status_log;
            CREATE INDEX status_log_device ON status_log(device_id, at);
            """)),
        // Which replica pushes to each endpoint (Outbox/OutboxLease.cs). A single SQLite process never writes it: it is
        // the only replica there is; the table is here so that both engines have the same schema.
        new(11, "outbox leases: one replica pushes to each endpoint", c => Sql(c,
            "CREATE TABLE outbox_leases(endpoint TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL)")),
        // On a shared store every batch reads each correlation key's open incidents (IncidentCorrelator's lock): without
        // this index that read scanned every open incident and its dead row versions, 2.8 ms per key with 1,000 open.
        new(12, "open incidents found by correlation key", c => Sql(c,
            "CREATE INDEX IF NOT EXISTS incidents_open_by_key ON incidents(correlation_key) WHERE state = 1")),
        new(13, "GB/T 28181: SIP accounts, SIP devices and their channels", c => Sql(c, SipTables)),
    ];

    /// <summary>The GB/T 28181 tables (Storage/Repositories/SipRepository.cs), the same on both engines.</summary>
    public const string SipTables = """
        CREATE TABLE sip_accounts(
            account_id TEXT PRIMARY KEY, vendor_id TEXT NOT NULL, secret TEXT NOT NULL, auto_enrol INTEGER NOT NULL, created_at INTEGER NOT NULL);
        CREATE TABLE sip_devices(
            device_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, secret TEXT, registration TEXT, catalog TEXT, updated_at INTEGER NOT NULL);
        CREATE INDEX sip_devices_account ON sip_devices(account_id, device_id);
        CREATE TABLE sip_channels(channel_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, missing INTEGER NOT NULL);
        CREATE INDEX sip_channels_device ON sip_channels(device_id, channel_id);
        """;

    /// <summary>The version a store reaches with every step here: what this gateway writes.</summary>
    public static int Latest => All[^1].Version;

    /// <summary>
    /// Brings the store on <paramref name="connection"/> to the last of <paramref name="migrations"/> and returns the
    /// steps it ran. Each step commits with its version; a step that fails is rolled back and stops the start with
    /// its number and name, leaving the store at the version before it. Throws <see cref="NewerStoreException"/> for a
    /// store newer than the last step, before changing anything.
    /// </summary>
    public static IReadOnlyList<SchemaMigration> Run(SqliteConnection connection, IReadOnlyList<SchemaMigration> migrations, TimeProvider time)
    {
        var stored = EnsureNotNewer(connection, migrations);

        Sql(connection, """
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);
            """);
        var legacy = stored < LastLegacyVersion;
        var ran = new List<SchemaMigration>();
        foreach (var step in migrations)
        {
            if (step.Version <= stored && !(legacy && step.Version <= LastLegacyVersion))
            {
                continue;
            }

            using var transaction = connection.BeginTransaction();
            try
            {
                step.Apply(connection);
                using var record = connection.CreateCommand();
                record.CommandText = """
                    INSERT INTO schema_migrations(version, name, applied_at) VALUES($v, $n, $at)
                        ON CONFLICT(version) DO UPDATE SET name = excluded.name, applied_at = excluded.applied_at;
                    INSERT INTO meta(key, value) VALUES('schema_version', $version)
                        ON CONFLICT(key) DO UPDATE SET value = excluded.value
                        WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER);
                    """;
                record.Parameters.AddWithValue("$v", step.Version);
                record.Parameters.AddWithValue("$n", step.Name);
                record.Parameters.AddWithValue("$at", time.GetUtcNow().ToUnixTimeMilliseconds());
                record.Parameters.AddWithValue("$version", step.Version.ToString(CultureInfo.InvariantCulture));
                record.ExecuteNonQuery();
                transaction.Commit();
            }
            catch (SqliteException e)
            {
                transaction.Rollback();
                throw new MigrationFailedException(step, e);
            }

            ran.Add(step);
        }

        return ran;
    }

    /// <summary>
    /// The store's version, after checking that it is not newer than the last of <paramref name="migrations"/>
    /// (<see cref="NewerStoreException"/>); reads only, so a refused store is left exactly as it was.
    /// </summary>
    public static int EnsureNotNewer(SqliteConnection connection, IReadOnlyList<SchemaMigration> migrations)
    {
        var stored = StoredVersion(connection);
        return stored > migrations[^1].Version ? throw new NewerStoreException(stored, migrations[^1].Version) : stored;
    }

    /// <summary>The store's <c>meta.schema_version</c>; 0 for a new (empty) store.</summary>
    public static int StoredVersion(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'";
        if (Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) == 0)
        {
            return 0;
        }

        command.CommandText = "SELECT value FROM meta WHERE key = 'schema_version'";
        return ParseStoredVersion(command.ExecuteScalar() as string);
    }

    /// <summary>A store's <c>meta.schema_version</c> value read as a version (0 when there is none), whatever the engine.</summary>
    internal static int ParseStoredVersion(string? value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var version) ? version
            : value is null ? 0
            : throw new MigrationFailedException(new SchemaMigration(0, "reading the store's version", _ => { }),
                new InvalidDataException($"meta.schema_version is '{value}', not a version number"));

    private static void AddColumn(SqliteConnection connection, string table, string column, string type)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = $c";
        command.Parameters.AddWithValue("$c", column);
        if (Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) == 0)
        {
            Sql(connection, $"ALTER TABLE {table} ADD COLUMN {column} {type}");
        }
    }

    private static void Sql(SqliteConnection connection, string sql) => connection.Execute(sql);
}

/// <summary>A store written by a newer gateway than this one.</summary>
public sealed class NewerStoreException(int stored, int latest)
    : Exception($"its schema version is {stored}, newer than {latest}, the last this gateway knows: a newer SharpEyes wrote it")
{
    public int Stored { get; } = stored;

    public int Latest { get; } = latest;
}

/// <summary>A schema step that failed (rolled back; the store stays at the version before it).</summary>
public sealed class MigrationFailedException(SchemaMigration step, Exception inner)
    : Exception($"schema step {step.Version} ({step.Name}) failed: {inner.Message}", inner)
{
    public SchemaMigration Step { get; } = step;
}
