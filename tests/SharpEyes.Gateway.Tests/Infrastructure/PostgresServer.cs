using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;

[assembly: AssemblyFixture(typeof(SharpEyes.Gateway.Tests.Infrastructure.PostgresCluster))]

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL cluster (Debian's package, installed by scripts/install-test-deps.sh; the newest of
/// /usr/lib/postgresql/*/bin): <c>initdb</c> in a temporary folder, <c>postgres</c> on 127.0.0.1 and a free port, its
/// unix socket in that folder too, a fresh database per test (<see cref="CreateDatabaseAsync"/>); fast shutdown and
/// the folder deleted on dispose. The test run shares one (<see cref="PostgresCluster"/>).
/// <para>
/// fsync stays on (PostgreSQL's default, set explicitly): a PUBACK means durable is the product's promise, so the
/// tests measure and exercise the store as it runs in production, never a faster one that could lose a commit.
/// </para>
/// <para>
/// PostgreSQL refuses to run as root. When the tests do (this machine, CI containers), initdb and postgres run as the
/// unprivileged system user <see cref="TestUser"/> (created by scripts/install-test-deps.sh) through <c>setpriv</c>,
/// which execs in place, so the process the test holds is postgres itself and can be signalled; the folder is theirs.
/// A dedicated user rather than <c>nobody</c>: <c>nobody</c> must own no files, and the clusters' files are only ever
/// this user's. As any other user the binaries run as that user.
/// </para>
/// <para>
/// Authentication: trust, for TCP from 127.0.0.1 only (the only address it listens on); no other line in pg_hba.conf,
/// so the socket and every other address are refused. The superuser is <see cref="User"/>.
/// </para>
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string TestUser = "sharpeyes-test";
    public const string User = "sharpeyes";

    private const string InstallHint = "run scripts/install-test-deps.sh (it installs Debian's postgresql and creates the test user)";

    private readonly string _directory;
    private readonly StringBuilder _log = new();
    private Process? _process;
    private int _databases;

    private PostgresServer(string binDirectory, string directory, int port)
    {
        BinDirectory = binDirectory;
        _directory = directory;
        Port = port;
    }

    /// <summary>The PostgreSQL binaries used (…/postgresql/&lt;major&gt;/bin).</summary>
    public string BinDirectory { get; }

    public int Port { get; }

    /// <summary>The time from initdb to the first accepted connection.</summary>
    public TimeSpan StartTime { get; private set; }

    /// <summary>Everything initdb and postgres wrote, for failure messages.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    private string DataDirectory => Path.Combine(_directory, "data");

    /// <summary>The newest installed PostgreSQL's bin folder (one with initdb and postgres), or null.</summary>
    public static string? FindBinaries() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => (Major: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? m : -1, Bin: Path.Combine(d, "bin")))
                .Where(v => v.Major > 0 && File.Exists(Path.Combine(v.Bin, "initdb")) && File.Exists(Path.Combine(v.Bin, "postgres")))
                .OrderByDescending(v => v.Major)
                .Select(v => v.Bin)
                .FirstOrDefault()
            : null;

    /// <summary>
    /// initdb, then postgres on a free port, and waits until it accepts connections. Fails (never skips) when
    /// PostgreSQL or the test user is missing, saying how to install them.
    /// </summary>
    public static async Task<PostgresServer> StartAsync()
    {
        var bin = FindBinaries() ?? throw new InvalidOperationException($"PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): {InstallHint}.");
        if (Environment.IsPrivilegedProcess && !UserExists(TestUser))
        {
            throw new InvalidOperationException($"the tests run as root and PostgreSQL refuses root, but the user '{TestUser}' to run it as does not exist: {InstallHint}.");
        }

        var started = Stopwatch.StartNew();
        var directory = Directory.CreateTempSubdirectory("sharpeyes-postgres-").FullName;
        var server = new PostgresServer(bin, directory, Ports.Free());
        try
        {
            if (Environment.IsPrivilegedProcess)
            {
                await server.RunToEndAsync(server.NewStartInfo("chown", [$"{TestUser}:{TestUser}", directory]));
            }

            await server.RunToEndAsync(server.AsTestUser(Path.Combine(bin, "initdb"),
            [
                "--pgdata", server.DataDirectory, "--username", User, "--auth", "trust",
                "--encoding", "UTF8", "--locale", "C", "--no-instructions",
            ]));
            await File.WriteAllTextAsync(Path.Combine(server.DataDirectory, "pg_hba.conf"), "host all all 127.0.0.1/32 trust\n");
            server.StartPostgres();
            await server.WaitUntilAcceptingAsync();
            server.StartTime = started.Elapsed;
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A connection string for <paramref name="database"/> as the superuser over TCP.</summary>
    public string ConnectionString(string database, bool pooling = true, int timeoutSeconds = 10) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = User,
        Database = database,
        Pooling = pooling,
        Timeout = timeoutSeconds,
    }.ConnectionString;

    /// <summary>Creates a new, empty database of its own and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"test_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}"; // under the 63 bytes of a name
        await using var connection = new NpgsqlConnection(ConnectionString("postgres", pooling: false));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    /// <summary>Fast shutdown (SIGINT: open transactions rolled back, a checkpoint written), SIGKILL after 20 s; then the folder is deleted.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            try
            {
                if (!process.HasExited)
                {
                    await RunToEndAsync(NewStartInfo("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)]));
                    try
                    {
                        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
                    }
                    catch (TimeoutException)
                    {
                        process.Kill(entireProcessTree: true);
                        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                    }
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
        }

        NpgsqlConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static bool UserExists(string user) =>
        File.ReadLines("/etc/passwd").Any(line => line.StartsWith(user + ":", StringComparison.Ordinal));

    /// <summary><paramref name="executable"/> run as <see cref="TestUser"/> when the tests run as root (setpriv execs it in place), else as is.</summary>
    private ProcessStartInfo AsTestUser(string executable, IEnumerable<string> arguments) => Environment.IsPrivilegedProcess
        ? NewStartInfo("setpriv", ["--reuid", TestUser, "--regid", TestUser, "--clear-groups", "--", executable, .. arguments])
        : NewStartInfo(executable, arguments);

    private void StartPostgres()
    {
        var postgres = Path.Combine(BinDirectory, "postgres");
        var info = AsTestUser(postgres,
        [
            "-D", DataDirectory,
            "-c", "listen_addresses=127.0.0.1",
            "-c", $"port={Port.ToString(CultureInfo.InvariantCulture)}",
            "-c", $"unix_socket_directories={_directory}",
            "-c", "fsync=on",
            "-c", "synchronous_commit=on",
            "-c", "full_page_writes=on",
            // Every test database has its own Npgsql pool: room for a whole run's idle connections.
            "-c", "max_connections=300",
            "-c", "log_min_messages=warning",
        ]);
        var process = Process.Start(info) ?? throw new InvalidOperationException("postgres did not start");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    private async Task WaitUntilAcceptingAsync()
    {
        var process = _process!;
        await Eventually.TrueAsync(async () =>
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"postgres exited at start with code {process.ExitCode}:\n{Log}");
            }

            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString("postgres", pooling: false, timeoutSeconds: 2));
                await connection.OpenAsync();
                return true;
            }
            catch (NpgsqlException)
            {
                return false; // not listening yet, or still starting up ("the database system is starting up")
            }
        }, $"postgres to accept connections on 127.0.0.1:{Port}", TimeSpan.FromSeconds(60));
    }

    private ProcessStartInfo NewStartInfo(string program, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _directory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    private async Task RunToEndAsync(ProcessStartInfo info)
    {
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{info.FileName} did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        Append(await output);
        Append(await error);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{info.FileName} {string.Join(' ', info.ArgumentList)} exited with {process.ExitCode}:\n{Log}");
        }
    }

    private void Append(string? text)
    {
        if (!string.IsNullOrEmpty(text))
        {
            lock (_log)
            {
                _log.AppendLine(text);
            }
        }
    }
}

/// <summary>
/// The test run's one PostgreSQL cluster (an assembly fixture): started by the first test that asks for it, so a run
/// without PostgreSQL tests never starts one, and stopped after the last test. Tests take a database of their own.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private static PostgresCluster? _shared;
    private readonly Lazy<Task<PostgresServer>> _server = new(PostgresServer.StartAsync);

    public PostgresCluster() => Interlocked.CompareExchange(ref _shared, this, null);

    /// <summary>The run's cluster, for code that is not handed the fixture (test gateways on <see cref="TestStores.Postgres"/>).</summary>
    public static PostgresCluster Shared => Volatile.Read(ref _shared) ?? throw new InvalidOperationException("The PostgresCluster assembly fixture has not been created");

    /// <summary>The running cluster (started on first use).</summary>
    public Task<PostgresServer> ServerAsync() => _server.Value;

    /// <summary>A new, empty database on the shared cluster: its connection string.</summary>
    public async Task<string> CreateDatabaseAsync() => await (await ServerAsync()).CreateDatabaseAsync();

    public async ValueTask DisposeAsync()
    {
        if (_server.IsValueCreated && _server.Value.IsCompletedSuccessfully)
        {
            await _server.Value.Result.DisposeAsync();
        }
    }
}
