using Microsoft.Data.Sqlite;
using Npgsql;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Postgres;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Storage;

/// <summary>
/// The PostgreSQL store's schema on a real cluster (the run's throwaway one, a database per test): every step in
/// order and recorded, once, even with two starters at the same moment; a newer database refused untouched; the same
/// logical schema as SQLite's (tables, columns in order with mapped types, primary keys, indexes, the audit trigger).
/// </summary>
public sealed class PostgresSchemaTests(PostgresCluster cluster)
{
    private static readonly Dictionary<string, string> SqliteToPostgres = new(StringComparer.OrdinalIgnoreCase)
    {
        ["TEXT"] = "text",
        ["INTEGER"] = "bigint",
        ["BLOB"] = "bytea",
        ["REAL"] = "double precision",
    };

    [Fact]
    public async Task The_test_cluster_starts_on_loopback_and_answers_with_fsync_on()
    {
        var server = await cluster.ServerAsync();
        await using var connection = await OpenAsync(await cluster.CreateDatabaseAsync());

        Assert.StartsWith("PostgreSQL ", (string?)await ScalarAsync(connection, "SELECT version()"));
        Assert.Equal("on", await ScalarAsync(connection, "SHOW fsync"));
        Assert.Equal("127.0.0.1", await ScalarAsync(connection, "SHOW listen_addresses"));
        Assert.Equal(server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), await ScalarAsync(connection, "SHOW port"));
        Assert.Equal("UTF8", await ScalarAsync(connection, "SHOW server_encoding"));
        Assert.Equal(PostgresServer.User, await ScalarAsync(connection, "SELECT current_user"));
        TestContext.Current.SendDiagnosticMessage($"PostgreSQL cluster ({server.BinDirectory}) started in {server.StartTime.TotalSeconds:F1} s");
    }

    [Fact]
    public void The_steps_have_the_versions_and_names_of_the_SQLite_steps()
    {
        Assert.Equal(SchemaMigrations.All.Select(s => (s.Version, s.Name)), PostgresSchema.All.Select(s => (s.Version, s.Name)));
        Assert.Equal(SchemaMigrations.Latest, PostgresSchema.Latest);
    }

    [Fact]
    public async Task A_new_database_gets_every_step_in_order_each_recorded_and_a_second_run_changes_nothing()
    {
        await using var connection = await OpenAsync(await cluster.CreateDatabaseAsync());
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.Parse("2025-06-01T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

        var ran = await PostgresSchema.RunAsync(connection, PostgresSchema.All, time);

        Assert.Equal(Enumerable.Range(1, PostgresSchema.Latest), ran.Select(s => s.Version));
        Assert.Equal(PostgresSchema.Latest, await PostgresSchema.StoredVersionAsync(connection));
        Assert.Equal(PostgresSchema.All.Select(s => (s.Version, s.Name, time.GetUtcNow().ToUnixTimeMilliseconds())), await RecordedAsync(connection));
        var schema = await PostgresLogicalSchemaAsync(connection);
        Assert.Empty(await PostgresSchema.RunAsync(connection, PostgresSchema.All, time));
        Assert.Equal(schema, await PostgresLogicalSchemaAsync(connection));
        Assert.Equal(PostgresSchema.Latest, (int)(long)(await ScalarAsync(connection, "SELECT count(*) FROM schema_migrations"))!);
    }

    [Fact]
    public async Task Two_starters_at_the_same_moment_apply_each_step_exactly_once()
    {
        var database = await cluster.CreateDatabaseAsync();
        await using var first = await OpenAsync(database);
        await using var second = await OpenAsync(database);
        await using var observer = await OpenAsync(database);

        // The first holds the migration lock (as a starter between two steps would) while the second starts: the
        // second must be seen waiting on it, then both run; every step is applied by exactly one of them.
        await using (var hold = await first.BeginTransactionAsync(TestContext.Current.CancellationToken))
        {
            await ExecuteAsync(first, $"SELECT pg_advisory_xact_lock({PostgresSchema.MigrationLockKey})", hold);
            var secondRun = Task.Run(() => PostgresSchema.RunAsync(second, PostgresSchema.All, TimeProvider.System));
            await Eventually.TrueAsync(async () => (long)(await ScalarAsync(observer, $"""
                SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                    AND ((classid::bigint << 32) | objid::bigint) = {PostgresSchema.MigrationLockKey}
                """))! == 1, "the second starter to wait on the migration lock");
            await hold.RollbackAsync(TestContext.Current.CancellationToken);
            var firstRun = PostgresSchema.RunAsync(first, PostgresSchema.All, TimeProvider.System);
            var results = await Task.WhenAll(firstRun, secondRun);

            var applied = results.SelectMany(r => r).Select(s => s.Version).Order().ToList();
            Assert.Equal(Enumerable.Range(1, PostgresSchema.Latest), applied);
        }

        Assert.Equal(PostgresSchema.All.Select(s => (s.Version, s.Name)), (await RecordedAsync(observer)).Select(r => (r.Version, r.Name)));
        Assert.Equal(PostgresSchema.Latest, await PostgresSchema.StoredVersionAsync(observer));
    }

    [Fact]
    public async Task Two_starters_racing_freely_apply_each_step_exactly_once()
    {
        for (var round = 0; round < 5; round++)
        {
            var database = await cluster.CreateDatabaseAsync();
            await using var first = await OpenAsync(database);
            await using var second = await OpenAsync(database);

            var results = await Task.WhenAll(
                Task.Run(() => PostgresSchema.RunAsync(first, PostgresSchema.All, TimeProvider.System)),
                Task.Run(() => PostgresSchema.RunAsync(second, PostgresSchema.All, TimeProvider.System)));

            Assert.Equal(Enumerable.Range(1, PostgresSchema.Latest), results.SelectMany(r => r).Select(s => s.Version).Order());
            Assert.Equal(PostgresSchema.Latest, await PostgresSchema.StoredVersionAsync(first));
        }
    }

    [Fact]
    public async Task A_database_written_by_a_newer_gateway_is_refused_and_left_untouched()
    {
        await using var connection = await OpenAsync(await cluster.CreateDatabaseAsync());
        await PostgresSchema.RunAsync(connection, PostgresSchema.All, TimeProvider.System);
        await ExecuteAsync(connection, $"""
            UPDATE meta SET value = '{PostgresSchema.Latest + 1}' WHERE key = 'schema_version';
            INSERT INTO schema_migrations VALUES({PostgresSchema.Latest + 1}, 'from the future', 1);
            CREATE TABLE from_the_future(x bigint);
            """);
        var schema = await PostgresLogicalSchemaAsync(connection);
        var recorded = await RecordedAsync(connection);

        var refused = await Assert.ThrowsAsync<NewerStoreException>(() => PostgresSchema.RunAsync(connection, PostgresSchema.All, TimeProvider.System));

        Assert.Equal(PostgresSchema.Latest + 1, refused.Stored);
        Assert.Equal(PostgresSchema.Latest, refused.Latest);
        Assert.Contains("newer SharpEyes", refused.Message, StringComparison.Ordinal);
        Assert.Equal(schema, await PostgresLogicalSchemaAsync(connection));
        Assert.Equal(recorded, await RecordedAsync(connection));
        Assert.Equal(PostgresSchema.Latest + 1, await PostgresSchema.StoredVersionAsync(connection));
    }

    [Fact]
    public async Task A_failing_step_is_rolled_back_and_named_leaving_the_version_before_it()
    {
        await using var connection = await OpenAsync(await cluster.CreateDatabaseAsync());
        var broken = PostgresSchema.All.Append(new PostgresSchemaStep(PostgresSchema.Latest + 1, "a broken step",
            "CREATE TABLE half_done(x bigint); SELECT no_such_function()")).ToList();

        var failed = await Assert.ThrowsAsync<MigrationFailedException>(() => PostgresSchema.RunAsync(connection, broken, TimeProvider.System));

        Assert.Equal(PostgresSchema.Latest + 1, failed.Step.Version);
        Assert.Contains("a broken step", failed.Message, StringComparison.Ordinal);
        Assert.Equal(PostgresSchema.Latest, await PostgresSchema.StoredVersionAsync(connection));
        Assert.Null(await ScalarAsync(connection, "SELECT to_regclass('half_done')::text"));
    }

    [Fact]
    public async Task The_logical_schema_is_the_SQLite_schema_with_types_mapped()
    {
        await using var postgres = await OpenAsync(await cluster.CreateDatabaseAsync());
        await PostgresSchema.RunAsync(postgres, PostgresSchema.All, TimeProvider.System);
        using var sqlite = new SqliteConnection($"Data Source={Path.Combine(GatewayHost.NewDataDir(), "store.db")};Pooling=False");
        sqlite.Open();
        SchemaMigrations.Run(sqlite, SchemaMigrations.All, TimeProvider.System);

        var expected = SqliteLogicalSchema(sqlite);
        var actual = await PostgresLogicalSchemaAsync(postgres);

        Assert.Equal(expected, actual);
        Assert.Contains(expected, l => l.StartsWith("table audit_entries: id bigint not null, at bigint not null, key_id text,", StringComparison.Ordinal)); // columns are compared
        Assert.Contains("index alarms_received on alarms: received_at", expected);
        Assert.Contains("trigger audit_entries_append_only on audit_entries", expected);
    }

    [Fact]
    public async Task The_audit_trigger_refuses_an_update()
    {
        await using var connection = await OpenAsync(await cluster.CreateDatabaseAsync());
        await PostgresSchema.RunAsync(connection, PostgresSchema.All, TimeProvider.System);
        await ExecuteAsync(connection, """
            INSERT INTO audit_entries(at, role, client_address, action, targets, summary, outcome, message, count)
                VALUES(1, 1, '127.0.0.1', 'CreateApiKey', '', '', 'ok', '', 1);
            """);

        var refused = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, "UPDATE audit_entries SET outcome = 'denied'"));

        Assert.Equal(PostgresErrorCodes.RestrictViolation, refused.SqlState);
        Assert.Contains("audit entries are append-only", refused.MessageText, StringComparison.Ordinal);
        Assert.Equal("ok", await ScalarAsync(connection, "SELECT outcome FROM audit_entries"));
        // GENERATED ALWAYS: an entry's number is the database's, never the writer's.
        await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, """
            INSERT INTO audit_entries(id, at, role, client_address, action, targets, summary, outcome, message, count)
                VALUES(99, 1, 1, '127.0.0.1', 'CreateApiKey', '', '', 'ok', '', 1);
            """));
    }

    /// <summary>
    /// SQLite's tables, indexes and triggers as lines in PostgreSQL's terms: each table's columns in order (type
    /// mapped, not null; a primary key column counts as not null, as PostgreSQL makes it) and primary key; each
    /// index created by the schema with its table and columns; each trigger with its table.
    /// </summary>
    private static List<string> SqliteLogicalSchema(SqliteConnection connection)
    {
        var lines = new List<string>();
        foreach (var table in SqliteStrings(connection, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"))
        {
            var columns = SqliteRows(connection, $"SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}') ORDER BY cid");
            lines.Add($"table {table}: " + string.Join(", ", columns.Select(c =>
                $"{c[0]} {SqliteToPostgres[(string)c[1]!]}{((long)c[2]! == 1 || (long)c[3]! > 0 ? " not null" : "")}")));
            lines.Add($"primary key {table}: " + string.Join(", ", columns.Where(c => (long)c[3]! > 0).OrderBy(c => (long)c[3]!).Select(c => c[0])));
            foreach (var index in SqliteStrings(connection, $"SELECT name FROM pragma_index_list('{table}') WHERE origin = 'c'"))
            {
                lines.Add($"index {index} on {table}: " + string.Join(", ", SqliteStrings(connection, $"SELECT name FROM pragma_index_info('{index}') ORDER BY seqno")));
            }
        }

        lines.AddRange(SqliteStrings(connection, "SELECT 'trigger ' || name || ' on ' || tbl_name FROM sqlite_master WHERE type = 'trigger'"));
        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    /// <summary>The same lines read from PostgreSQL's catalog (information_schema, pg_indexes' index columns, triggers).</summary>
    private static async Task<List<string>> PostgresLogicalSchemaAsync(NpgsqlConnection connection)
    {
        var lines = new List<string>();
        var tables = (await RowsAsync(connection, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"))
            .Select(r => (string)r[0]!).ToList();
        foreach (var table in tables)
        {
            var columns = await RowsAsync(connection, $"""
                SELECT column_name, data_type, is_nullable FROM information_schema.columns
                    WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position
                """);
            lines.Add($"table {table}: " + string.Join(", ", columns.Select(c => $"{c[0]} {c[1]}{((string)c[2]! == "NO" ? " not null" : "")}")));
            var key = await RowsAsync(connection, $"""
                SELECT k.column_name FROM information_schema.table_constraints c
                    JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema
                    WHERE c.table_schema = 'public' AND c.table_name = '{table}' AND c.constraint_type = 'PRIMARY KEY'
                    ORDER BY k.ordinal_position
                """);
            lines.Add($"primary key {table}: " + string.Join(", ", key.Select(k => k[0])));
            var indexes = await RowsAsync(connection, $"""
                SELECT ix.indexname, string_agg(a.attname, ', ' ORDER BY k.ord)
                    FROM pg_indexes ix
                    JOIN pg_class c ON c.relname = ix.indexname AND c.relnamespace = 'public'::regnamespace
                    JOIN pg_index i ON i.indexrelid = c.oid
                    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                    WHERE ix.schemaname = 'public' AND ix.tablename = '{table}' AND NOT i.indisprimary
                    GROUP BY ix.indexname
                """);
            lines.AddRange(indexes.Select(i => $"index {i[0]} on {table}: {i[1]}"));
        }

        lines.AddRange((await RowsAsync(connection, """
            SELECT DISTINCT 'trigger ' || trigger_name || ' on ' || event_object_table FROM information_schema.triggers WHERE trigger_schema = 'public'
            """)).Select(r => (string)r[0]!));
        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    private static async Task<NpgsqlConnection> OpenAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        return connection;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, NpgsqlTransaction? transaction = null)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync(TestContext.Current.CancellationToken);
        return value is DBNull ? null : value;
    }

    private static async Task<List<object?[]>> RowsAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var rows = new List<object?[]>();
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    private static async Task<List<(int Version, string Name, long AppliedAt)>> RecordedAsync(NpgsqlConnection connection) =>
        (await RowsAsync(connection, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"))
            .Select(r => ((int)(long)r[0]!, (string)r[1]!, (long)r[2]!)).ToList();

    private static List<string> SqliteStrings(SqliteConnection connection, string sql) =>
        SqliteRows(connection, sql).Select(r => (string)r[0]!).ToList();

    private static List<object?[]> SqliteRows(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            reader.GetValues(row!);
            rows.Add(row);
        }

        return rows;
    }
}
