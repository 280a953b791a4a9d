using System.Net;
using System.Net.Sockets;
using Npgsql;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Storage;

/// <summary>
/// A gateway whose PostgreSQL store is not there yet at start (SharpEyes:StoreStartTimeout): it keeps trying while the
/// failure is transient, with a warning per attempt, and starts once the server answers; it exits with the last reason
/// and how long it tried when the server never does; a failure no retry can mend (a missing database) ends the start at once.
/// </summary>
public sealed class PostgresStartTests(PostgresCluster cluster)
{
    private const string AdminKey = "se_pgstartadmin_0123456789abcdefghijklmnopqrstuvwxyz";
    private const string NotReachable = "not reachable yet";
    private const string Secret = "pg-secret-4be1c9";

    [Fact]
    public async Task A_gateway_started_before_its_database_answers_waits_for_it_and_then_runs()
    {
        var server = await cluster.ServerAsync();
        var port = Ports.Free();
        var store = new NpgsqlConnectionStringBuilder(await cluster.CreateDatabaseAsync()) { Port = port, Password = Secret }.ConnectionString; // trust: the server never asks for it

        // First a listener that hangs up on every connection (the server's port open, PostgreSQL not answering).
        var refuser = new TcpListener(IPAddress.Loopback, port);
        refuser.Start();
        var refused = 0;
        using var stop = new CancellationTokenSource();
        var refusing = Task.Run(async () =>
        {
            // Never ends on a socket error (a peer that reset first makes SO_LINGER fail): only when the test stops it.
            while (!stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await refuser.AcceptSocketAsync(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                catch (SocketException)
                {
                    continue;
                }

                Interlocked.Increment(ref refused);
                try
                {
                    socket.LingerState = new LingerOption(true, 0); // an RST, as a port with nothing behind it answers
                }
                catch (SocketException)
                {
                }

                socket.Dispose();
            }
        });
        var starting = GatewayProcess.StartAsync(GatewayHost.NewDataDir(), AdminKey, "--store", store);

        await Eventually.TrueAsync(() => Task.FromResult(Volatile.Read(ref refused) >= 2), "the gateway to reach the refusing port twice", TimeSpan.FromSeconds(90));
        await stop.CancelAsync();
        await refusing;
        refuser.Stop();
        Assert.False(starting.IsCompleted, "the gateway must still be waiting for its store: " + starting.Exception?.InnerException?.Message);

        // Then the real server behind that port.
        await using var proxy = new TcpProxy(server.Port, port);
        await using var gateway = await starting;
        var key = await new Admin.AdminClient(gateway.Channel).CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Vendor, VendorId = "acme" }, GatewayProcess.Auth(AdminKey));

        Assert.StartsWith("se_", key.ApiKey, StringComparison.Ordinal); // written to the store it waited for
        Assert.Contains($"Store: PostgreSQL at 127.0.0.1:{port}/", gateway.Output, StringComparison.Ordinal);
        Assert.True(proxy.Accepted > 0);
        var warnings = gateway.Output.Split('\n').Where(l => l.Contains(NotReachable, StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(warnings); // one attempt may take two connections (Npgsql asks for TLS first), so not one per refusal
        Assert.Contains("attempt 1;", warnings[0], StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_database_that_never_answers_ends_the_start_with_the_reason_and_how_long_it_was_tried()
    {
        var port = Ports.Free(); // nothing listens: every attempt is refused

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => GatewayProcess.StartAsync(GatewayHost.NewDataDir(), AdminKey,
            "--store", $"postgres://sharpeyes@127.0.0.1:{port}/sharpeyes", "--store-start-timeout", "00:00:02"));

        Assert.Contains("gateway exited at start", e.Message, StringComparison.Ordinal);
        Assert.Contains($"cannot reach the PostgreSQL server at 127.0.0.1:{port}/sharpeyes", e.Message, StringComparison.Ordinal);
        Assert.Matches(@"tried \d+ times in [\d.]+ s; StoreStartTimeout 00:00:02", e.Message);
        Assert.Contains(NotReachable, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_database_ends_the_start_at_once_without_retrying()
    {
        var store = new NpgsqlConnectionStringBuilder(await cluster.CreateDatabaseAsync()) { Database = "no_such_database" }.ConnectionString;

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => GatewayProcess.StartAsync(GatewayHost.NewDataDir(), AdminKey, "--store", store));

        Assert.Contains("PostgreSQL error 3D000", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(NotReachable, e.Message, StringComparison.Ordinal);
    }
}
