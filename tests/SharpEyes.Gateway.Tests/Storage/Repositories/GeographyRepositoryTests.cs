using NetTopologySuite.IO;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The grids and key_sites tables through their repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class GeographyRepositoryTests
{
    private static readonly WKTReader s_wkt = new();

    private static GridFeature Grid(string code, string name, int level, string? parent, double? target, double x0 = 114.60) =>
        new(code, name, level, parent, s_wkt.Read($"POLYGON(({x0} 37.6, {x0 + 0.01} 37.6, {x0 + 0.01} 37.61, {x0} 37.61, {x0} 37.6))"))
        {
            CoverageTarget = target,
        };

    private static KeySiteFeature Site(string code, string name, int priority, string wkt) => new(code, name, "checkpoint", priority, s_wkt.Read(wkt));

    [Fact]
    public async Task Features_round_trip_ordered_by_code_with_their_nulls_and_geometries()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        Assert.Empty(store.Read(c => GeographyRepository.Load(c)).Grids); // a fresh store has no geography

        GridFeature[] grids =
        [
            Grid("1301271002010002", "东格", GridFeature.GridLevel, "130127100201", 0.25),
            Grid("130127", "高邑县", GridFeature.CountyLevel, null, null),
            Grid("1301271002010001", "西格", GridFeature.GridLevel, "130127100201", null),
        ];
        KeySiteFeature[] sites =
        [
            Site("TC-SCHOOL", "学校", 2, "POLYGON((114.6 37.6, 114.601 37.6, 114.601 37.601, 114.6 37.6))"),
            Site("TC-CHECKPOINT", "检查站", 5, "POINT(114.6012 37.6011)"),
        ];
        await store.WriteAsync(tx =>
        {
            GeographyRepository.UpsertGrids(tx, grids);
            GeographyRepository.UpsertKeySites(tx, sites);
        });

        var stored = store.Read(c => GeographyRepository.Load(c));
        Assert.Equal(["130127", "1301271002010001", "1301271002010002"], stored.Grids.Select(g => g.Code));
        Assert.Equal(["TC-CHECKPOINT", "TC-SCHOOL"], stored.KeySites.Select(s => s.Code));
        foreach (var expected in grids)
        {
            var got = stored.Grids.Single(g => g.Code == expected.Code);
            Assert.Equal((expected.Name, expected.Level, expected.ParentCode, expected.CoverageTarget), (got.Name, got.Level, got.ParentCode, got.CoverageTarget));
            Assert.True(expected.Geometry.EqualsExact(got.Geometry), $"{expected.Code}: {got.Geometry} stored as {expected.Geometry}");
        }

        foreach (var expected in sites)
        {
            var got = stored.KeySites.Single(s => s.Code == expected.Code);
            Assert.Equal((expected.Name, expected.Category, expected.Priority), (got.Name, got.Category, got.Priority));
            Assert.True(expected.Geometry.EqualsExact(got.Geometry), $"{expected.Code}: {got.Geometry} stored as {expected.Geometry}");
        }
    }

    [Fact]
    public async Task An_upsert_replaces_every_column_of_the_feature_with_its_code_and_leaves_the_others()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            GeographyRepository.UpsertGrids(tx, [Grid("1301271002010001", "西格", GridFeature.GridLevel, "130127100201", 0.25), Grid("130127", "高邑县", 1, null, null)]);
            GeographyRepository.UpsertKeySites(tx, [Site("TC-CHECKPOINT", "检查站", 5, "POINT(114.6012 37.6011)")]);
        });

        var moved = Grid("1301271002010001", "西格(新)", GridFeature.GridLevel, "130127100202", null, x0: 114.62);
        var site = Site("TC-CHECKPOINT", "新检查站", 3, "POINT(114.7 37.7)");
        await store.WriteAsync(tx =>
        {
            GeographyRepository.UpsertGrids(tx, [moved]);
            GeographyRepository.UpsertKeySites(tx, [site]);
        });

        var stored = store.Read(c => GeographyRepository.Load(c));
        Assert.Equal(2, stored.Grids.Count);
        var grid = stored.Grids.Single(g => g.Code == moved.Code);
        Assert.Equal(("西格(新)", "130127100202", (double?)null), (grid.Name, grid.ParentCode, grid.CoverageTarget)); // a target can be cleared
        Assert.True(moved.Geometry.EqualsExact(grid.Geometry));
        Assert.Equal("高邑县", stored.Grids.Single(g => g.Code == "130127").Name);
        var storedSite = Assert.Single(stored.KeySites);
        Assert.Equal(("新检查站", 3), (storedSite.Name, storedSite.Priority));
        Assert.True(site.Geometry.EqualsExact(storedSite.Geometry));
    }

    [Fact]
    public async Task A_rolled_back_import_leaves_no_feature()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            GeographyRepository.UpsertGrids(tx, [Grid("130127", "高邑县", 1, null, null)]);
            GeographyRepository.UpsertKeySites(tx, [Site("TC-CHECKPOINT", "检查站", 5, "POINT(114.6012 37.6011)")]);
            throw new InvalidOperationException("the import's own failure");
        }));

        var stored = store.Read(c => GeographyRepository.Load(c));
        Assert.Empty(stored.Grids);
        Assert.Empty(stored.KeySites);
    }
}
