using System.Collections.Concurrent;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// The store engine test gateways run on. By default the embedded SQLite file in the test's data directory; with
/// <c>SHARPEYES_TEST_STORE=postgres</c> a PostgreSQL database of its own on the run's throwaway cluster
/// (<see cref="PostgresCluster"/>), one per data directory, so a gateway restarted on the same data directory finds
/// the same database (its durability tests mean the same on both engines). scripts/test.sh runs the storage-facing
/// namespaces a second time this way.
/// </summary>
public static class TestStores
{
    private static readonly ConcurrentDictionary<string, Lazy<Task<string>>> Databases = new(StringComparer.Ordinal);

    /// <summary>The trait (<c>Store=sqlite</c>) of tests about the SQLite file itself, which the PostgreSQL pass leaves out.</summary>
    public const string Trait = "Store";

    public const string SqliteOnly = "sqlite";

    /// <summary>Whether this run's gateways use PostgreSQL.</summary>
    public static bool Postgres => Environment.GetEnvironmentVariable("SHARPEYES_TEST_STORE") == "postgres";

    /// <summary>The <c>--store</c> switch for a gateway on <paramref name="dataDir"/>: none on SQLite or when the test chose a store itself.</summary>
    public static async Task<string[]> ArgsAsync(string dataDir, IEnumerable<string> extraArgs)
    {
        if (!Postgres || extraArgs.Any(a => a.StartsWith("--store", StringComparison.Ordinal) || a.Contains("SharpEyes:Store", StringComparison.Ordinal)))
        {
            return [];
        }

        var database = Databases.GetOrAdd(Path.GetFullPath(dataDir), _ => new Lazy<Task<string>>(() => PostgresCluster.Shared.CreateDatabaseAsync()));
        return ["--store", await database.Value];
    }
}
