using System.Data.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Feeds;
using SharpEyes.Gateway.Storage;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// A store and its single writer, without a gateway around them: what the repository tests
/// (tests/.../Storage/Repositories) run against. The engine is the run's (<see cref="TestStores"/>): the SQLite file in a
/// new data directory, or with <c>SHARPEYES_TEST_STORE=postgres</c> a PostgreSQL database of its own, so the same
/// tests hold on both engines (scripts/test.sh runs them in both passes). Schema brought to the latest step, as at start.
/// </summary>
public sealed class StoreUnderTest : IAsyncDisposable
{
    private StoreUnderTest(GatewayStore store, Journal journal, FeedHub hub, FakeTimeProvider time, string dataDir)
    {
        Store = store;
        Journal = journal;
        Hub = hub;
        Time = time;
        DataDir = dataDir;
    }

    public GatewayStore Store { get; }

    public Journal Journal { get; }

    /// <summary>Committed feed events, as subscribers get them.</summary>
    public FeedHub Hub { get; }

    public FakeTimeProvider Time { get; }

    public string DataDir { get; }

    public bool IsPostgres => Store.IsPostgres;

    /// <summary>A store on the run's engine, or on PostgreSQL whatever the run (<paramref name="postgres"/>: what only a shared store does).</summary>
    public static async Task<StoreUnderTest> OpenAsync(bool postgres = false)
    {
        var dataDir = GatewayHost.NewDataDir();
        var store = postgres ? ["--store", await PostgresCluster.Shared.CreateDatabaseAsync()] : await TestStores.ArgsAsync(dataDir, []);
        return await OpenAsync(dataDir, store.Length == 2 ? store[1] : null, null, new ServiceCollection().BuildServiceProvider(), []);
    }

    /// <summary>
    /// One more replica's writer on the PostgreSQL database <paramref name="connectionString"/>, named
    /// <paramref name="replicaId"/>, with the journal participants <paramref name="participants"/> (resolved from <paramref name="services"/>).
    /// </summary>
    public static Task<StoreUnderTest> OpenReplicaAsync(
        string connectionString, string replicaId, IServiceProvider services, IEnumerable<JournalParticipantRegistration> participants) =>
        OpenAsync(GatewayHost.NewDataDir(), connectionString, replicaId, services, participants);

    private static async Task<StoreUnderTest> OpenAsync(
        string dataDir, string? store, string? replicaId, IServiceProvider services, IEnumerable<JournalParticipantRegistration> participants)
    {
        var options = new GatewayOptions { DataDir = dataDir, Store = store ?? "", ReplicaId = replicaId };
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero));
        var gatewayStore = new GatewayStore(Options.Create(options), NullLogger<GatewayStore>.Instance, time);
        var hub = new FeedHub(options.Limits.FeedRingEvents);
        var journal = new Journal(gatewayStore, hub, Options.Create(options), NullLogger<Journal>.Instance,
            services, participants, time, new SharpEyes.Gateway.Hosting.ReplicaIdentity(Options.Create(options)));
        await journal.StartAsync(CancellationToken.None);
        return new StoreUnderTest(gatewayStore, journal, hub, time, dataDir);
    }

    /// <summary>Runs <paramref name="work"/> in a transaction on the writer; completes after the commit.</summary>
    public Task<T> WriteAsync<T>(Func<JournalTransaction, T> work) => Journal.ExecuteAsync(work);

    /// <summary>Runs <paramref name="work"/> in a transaction on the writer; completes after the commit.</summary>
    public Task WriteAsync(Action<JournalTransaction> work) => Journal.ExecuteAsync(tx =>
    {
        work(tx);
        return true;
    });

    /// <summary>Reads on a pooled reader connection, as the gateway's queries do.</summary>
    public T Read<T>(Func<DbConnection, T> read)
    {
        using var connection = Store.OpenRead();
        return read(connection);
    }

    public async ValueTask DisposeAsync()
    {
        await Journal.StopAsync(CancellationToken.None);
        Journal.Dispose();
        Store.Dispose();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // Left for the temp cleaner.
        }
    }
}
