using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Hosting;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Storage;

/// <summary>
/// The store's numbered schema steps: a new store gets them all, in order, each recorded; a store of every earlier
/// version is brought to exactly the schema of a new one; a step after the legacy ones runs once; a failing step is
/// rolled back and named; a store written by a newer gateway is refused and left untouched, by the real executable too.
/// </summary>
public sealed class SchemaMigrationTests
{
    /// <summary>What each version added, to take a new store back to an older version's shape (newest first).</summary>
    private static readonly (int Version, string Undo)[] AddedBy =
    [
        (13, "DROP TABLE sip_channels; DROP TABLE sip_devices; DROP TABLE sip_accounts"),
        (12, "DROP INDEX incidents_open_by_key"),
        (11, "DROP TABLE outbox_leases"),
        (10, """
            CREATE TABLE status_log_v9(device_id TEXT NOT NULL, at INTEGER NOT NULL, online INTEGER NOT NULL);
            INSERT INTO status_log_v9 SELECT device_id, at, online FROM status_log ORDER BY id;
            DROP TABLE status_log;
            ALTER TABLE status_log_v9 RENAME TO status_log;
            CREATE INDEX status_log_device ON status_log(device_id, at);
            """),
        (9, "ALTER TABLE api_keys DROP COLUMN expires_at"),
        (8, "DROP TRIGGER audit_entries_append_only; DROP TABLE audit_targets; DROP TABLE audit_entries"),
        (6, "DROP TABLE kpi_history"),
        (5, "ALTER TABLE incidents DROP COLUMN acknowledged_at"),
        (4, "ALTER TABLE feed_events DROP COLUMN committed_at"),
        (3, "DROP TABLE status_log; DROP TABLE stream_health; DROP TABLE coverage_gaps; DROP INDEX alarms_received; DROP INDEX dead_letters_received"),
        (2, "ALTER TABLE grids DROP COLUMN coverage_target"),
    ];

    [Fact]
    public void A_new_store_gets_every_step_in_order_each_recorded_and_a_second_run_changes_nothing()
    {
        using var connection = Open(NewFile());

        var ran = SchemaMigrations.Run(connection, SchemaMigrations.All, TimeProvider.System);

        Assert.Equal(Enumerable.Range(1, SchemaMigrations.Latest), ran.Select(s => s.Version));
        Assert.Equal(SchemaMigrations.Latest, SchemaMigrations.StoredVersion(connection));
        Assert.Equal(SchemaMigrations.All.Select(s => (s.Version, s.Name)), Recorded(connection));
        var schema = Schema(connection);
        Assert.Empty(SchemaMigrations.Run(connection, SchemaMigrations.All, TimeProvider.System));
        Assert.Equal(schema, Schema(connection));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(11)]
    public void A_store_of_an_earlier_version_is_brought_to_exactly_the_schema_of_a_new_one(int version)
    {
        using var fresh = Open(NewFile());
        SchemaMigrations.Run(fresh, SchemaMigrations.All, TimeProvider.System);
        using var old = Open(NewFile());
        SchemaMigrations.Run(old, SchemaMigrations.All, TimeProvider.System);
        Exec(old, "INSERT INTO grids(code, name, level, geometry) VALUES('130127', '高邑县', 1, x'00'); INSERT INTO counters VALUES('alarms_accepted', 42);");
        foreach (var (added, undo) in AddedBy.Where(a => a.Version > version))
        {
            Exec(old, undo);
        }

        // Before numbered steps a store had no schema_migrations table, only its version.
        Exec(old, $"DROP TABLE schema_migrations; UPDATE meta SET value = '{version}' WHERE key = 'schema_version';");
        Assert.NotEqual(Schema(fresh), Schema(old));

        var ran = SchemaMigrations.Run(old, SchemaMigrations.All, TimeProvider.System);

        // Below the last legacy version every legacy step runs again, safely; later steps run once.
        var expected = version < SchemaMigrations.LastLegacyVersion ? Enumerable.Range(1, SchemaMigrations.Latest)
            : Enumerable.Range(version + 1, SchemaMigrations.Latest - version);
        Assert.Equal(expected, ran.Select(s => s.Version));
        Assert.Equal(Schema(fresh), Schema(old));
        Assert.Equal(SchemaMigrations.Latest, SchemaMigrations.StoredVersion(old));
        Assert.Equal(42L, Scalar(old, "SELECT value FROM counters WHERE name = 'alarms_accepted'")); // data kept
        Assert.Equal("高邑县", Scalar(old, "SELECT name FROM grids WHERE code = '130127'"));
    }

    [Fact]
    public void A_step_after_the_legacy_ones_runs_once_and_a_failing_step_is_rolled_back_and_named()
    {
        using var connection = Open(NewFile());
        var next = SchemaMigrations.Latest + 1;
        var added = new SchemaMigration(next, "a test table", c => Exec(c, "CREATE TABLE t_added(x INTEGER)")); // not idempotent: a rerun would fail
        IReadOnlyList<SchemaMigration> withAdded = [.. SchemaMigrations.All, added];
        Assert.Equal(next, SchemaMigrations.Run(connection, withAdded, TimeProvider.System).Count);
        Assert.Empty(SchemaMigrations.Run(connection, withAdded, TimeProvider.System));

        var failing = new SchemaMigration(next + 1, "two tables, the second already there", c => Exec(c, "CREATE TABLE t_failing(x INTEGER); CREATE TABLE t_added(x INTEGER);"));
        var failure = Assert.Throws<MigrationFailedException>(() => SchemaMigrations.Run(connection, [.. withAdded, failing], TimeProvider.System));

        Assert.Equal(next + 1, failure.Step.Version);
        Assert.StartsWith($"schema step {next + 1} (two tables, the second already there) failed: ", failure.Message, StringComparison.Ordinal);
        Assert.Equal(next, SchemaMigrations.StoredVersion(connection));
        Assert.Equal(0L, Scalar(connection, "SELECT COUNT(*) FROM sqlite_master WHERE name = 't_failing'")); // rolled back with its step
        Assert.DoesNotContain(next + 1, Recorded(connection).Select(r => r.Version));
    }

    [Fact]
    public void A_store_written_by_a_newer_gateway_is_refused_and_left_untouched()
    {
        var dataDir = GatewayHost.NewDataDir();
        var file = NewerStore(dataDir);
        var before = SHA256.HashData(File.ReadAllBytes(file));

        var e = Assert.Throws<StartupFailureException>(() => new GatewayStore(
            Options.Create(new GatewayOptions { DataDir = dataDir }), NullLogger<GatewayStore>.Instance, TimeProvider.System));

        Assert.Equal($"The store {file} cannot be opened by this gateway: its schema version is {SchemaMigrations.Latest + 1}, newer than " +
            $"{SchemaMigrations.Latest}, the last this gateway knows: a newer SharpEyes wrote it. It is left as it is: run that newer version " +
            "(or a later one), or restore a backup made with this one (docs/operations.md#backup-and-restore).", e.Message);
        Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(file)));
    }

    [Fact]
    public async Task The_executable_stops_on_a_newer_store_with_one_line_and_exit_code_2()
    {
        var dataDir = GatewayHost.NewDataDir();
        var file = NewerStore(dataDir);

        var run = await ExternalTool.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "sharpeyes.dll"), "--bind", "127.0.0.1",
            "--grpc-port", "0", "--mqtt-port", "0", "--http-port", "0", "--sip-port", "0", "--insecure-listeners", "--data-dir", dataDir], TimeSpan.FromSeconds(60));

        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.Stderr.Split('\n'), l => l.Length > 0);
        Assert.Contains($"its schema version is {SchemaMigrations.Latest + 1}, newer than {SchemaMigrations.Latest}", line, StringComparison.Ordinal);
        Assert.DoesNotContain("listening on", run.Stdout, StringComparison.Ordinal);
        using var connection = Open(file);
        Assert.Equal(SchemaMigrations.Latest + 1, SchemaMigrations.StoredVersion(connection));
    }

    /// <summary>A store as a gateway one step newer than this one leaves it: every step here, and its version.</summary>
    private static string NewerStore(string dataDir)
    {
        var file = Path.Combine(dataDir, "sharpeyes.db");
        using (var connection = Open(file))
        {
            SchemaMigrations.Run(connection, SchemaMigrations.All, TimeProvider.System);
            Exec(connection, $"CREATE TABLE from_the_future(x INTEGER); UPDATE meta SET value = '{SchemaMigrations.Latest + 1}' WHERE key = 'schema_version';");
        }

        SqliteConnection.ClearAllPools();
        return file;
    }

    private static string NewFile() => Path.Combine(GatewayHost.NewDataDir(), "store.db");

    private static SqliteConnection Open(string file)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static List<(int Version, string Name)> Recorded(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT version, name FROM schema_migrations ORDER BY version";
        using var reader = command.ExecuteReader();
        var rows = new List<(int, string)>();
        while (reader.Read())
        {
            rows.Add((reader.GetInt32(0), reader.GetString(1)));
        }

        return rows;
    }

    /// <summary>Every table's columns (name, type, not null, key, default), every index and trigger, in a stable order.</summary>
    private static List<string> Schema(SqliteConnection connection)
    {
        var lines = new List<string>();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT m.type, m.name, COALESCE(p.cid, -1), COALESCE(p.name, ''), COALESCE(p.type, ''), COALESCE(p."notnull", 0), COALESCE(p.pk, 0), COALESCE(p.dflt_value, '')
            FROM sqlite_master m LEFT JOIN pragma_table_info(m.name) p ON m.type = 'table'
            WHERE m.name NOT LIKE 'sqlite_%' ORDER BY m.type, m.name, p.cid
            """;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            lines.Add(string.Join('|', Enumerable.Range(0, reader.FieldCount).Select(i => Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }

        return lines;
    }
}
