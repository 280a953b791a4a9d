using Microsoft.Data.Sqlite;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Coverage;

/// <summary>Where a grid's coverage target comes from, and data files written before targets existed.</summary>
public sealed class GridTargetTests
{
    [Fact]
    public async Task A_grid_without_its_own_target_uses_the_configured_default()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: ["--grid-target", "0.25"]);
        var geography = new V1.Geography.GeographyClient(host.Channel);
        var withoutTargets = TinyCounty.GridsGeoJson.Replace(",\"coverage_target\":0.03", "", StringComparison.Ordinal);
        await geography.ImportGridsAsync(new ImportGeoJsonRequest { Geojson = withoutTargets }, host.AdminAuth);

        var grids = await geography.ListGridsAsync(new ListGridsRequest { Level = 4 }, host.AdminAuth);
        Assert.Equal(0.25, grids.Grids.Single(g => g.Code == TinyCounty.WestGrid).CoverageTarget); // the default
        Assert.Equal(0, grids.Grids.Single(g => g.Code == TinyCounty.EastGrid).CoverageTarget);    // its own, 0
        var gaps = await new V1.Coverage.CoverageClient(host.Channel).ListCoverageGapsAsync(new ListCoverageGapsRequest(), host.AdminAuth);
        Assert.Equal(["grid:" + TinyCounty.WestGrid], gaps.Gaps.Select(g => g.GapId));
    }

    [Fact]

    [Trait(TestStores.Trait, TestStores.SqliteOnly)] // reads or writes the SQLite file itself
    public async Task A_version_1_data_file_is_migrated_and_the_demo_grids_get_their_planned_targets()
    {
        var dir = GatewayHost.NewDataDir();
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(dir, "sharpeyes.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                INSERT INTO meta VALUES('schema_version', '1');
                CREATE TABLE grids(code TEXT PRIMARY KEY, name TEXT NOT NULL, level INTEGER NOT NULL, parent_code TEXT, geometry BLOB NOT NULL);
                """;
            command.ExecuteNonQuery();
        }

        await using var host = await GatewayHost.StartAsync(demo: true, dataDir: dir);

        var grids = await new V1.Geography.GeographyClient(host.Channel).ListGridsAsync(new ListGridsRequest { Level = 4 }, host.AdminAuth);
        Assert.Equal(107, grids.Grids.Count);
        // The plan: what the demo cameras cover with all of them working, so every target is a real, reachable fraction.
        Assert.All(grids.Grids, g => Assert.InRange(g.CoverageTarget, 0.0001, 0.5));
        using var check = new SqliteConnection($"Data Source={Path.Combine(dir, "sharpeyes.db")};Mode=ReadOnly;Pooling=False");
        check.Open();
        using var version = check.CreateCommand();
        version.CommandText = "SELECT value FROM meta WHERE key = 'schema_version'";
        Assert.Equal(SharpEyes.Gateway.Storage.GatewayStore.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), version.ExecuteScalar());
    }
}
