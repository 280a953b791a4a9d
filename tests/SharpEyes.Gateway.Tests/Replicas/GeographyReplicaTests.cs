using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Coverage;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// Grids and key sites imported through one replica reach the other without a restart: it locates points and devices
/// in them, holds the same coverage, and the import's coverage gaps are announced once, by the importing replica.
/// </summary>
public sealed class GeographyReplicaTests(PostgresCluster cluster)
{
    [Fact]
    public async Task Grids_and_key_sites_imported_through_one_replica_are_located_and_covered_by_the_other()
    {
        var store = await cluster.CreateDatabaseAsync();
        await using var a = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]);
        var vendorKey = await a.CreateKeyAsync(Role.Vendor, "vendor-g");
        var centreKey = await a.CreateKeyAsync(Role.Centre);
        await using var b = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]); // no geography yet
        var (x, y) = TinyCounty.WestCentre;
        var camera = TinyCounty.Camera(1, x, y, azimuth: 0, hfov: 90, range: 40); // sees the checkpoint, in the west grid
        var registryB = new DeviceRegistry.DeviceRegistryClient(b.Channel);
        await registryB.RegisterDeviceAsync(camera, b.Auth(vendorKey));
        await registryB.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { camera.DeviceId } }, b.Auth(vendorKey));
        Assert.Equal("", (await registryB.GetDeviceAsync(new GetDeviceRequest { DeviceId = camera.DeviceId }, b.Auth(vendorKey))).Region?.GridCode ?? "");

        var before = Math.Max(a.LastSequence, b.LastSequence);
        await using var feed = new FeedReader(b, centreKey, afterSequence: before);
        await TinyCounty.ImportAsync(a);

        // B follows: it lists and locates in the new grids, and its camera (registered through B) is re-located there.
        var (lon, lat) = TinyCounty.At(x, y);
        var geographyB = new V1.Geography.GeographyClient(b.Channel);
        await Eventually.TrueAsync(async () =>
            (await geographyB.LocateAsync(new GeoPoint { Lon = lon, Lat = lat }, b.AdminAuth)).Region.GridCode == TinyCounty.WestGrid
            && (await geographyB.ListKeySitesAsync(new ListKeySitesRequest(), b.AdminAuth)).Sites.Count == 2,
            "replica B locates in the grids and lists the key sites imported through A");
        await Eventually.TrueAsync(async () =>
            (await registryB.GetDeviceAsync(new GetDeviceRequest { DeviceId = camera.DeviceId }, b.Auth(vendorKey))).Region?.GridCode == TinyCounty.WestGrid,
            "replica B re-located its camera into the west grid");

        // Both hold the same coverage: the camera covers the checkpoint; the east grid and the crossing are gaps.
        await DeviceReplicaTests.AgreeAsync(a, b, "both replicas with the same coverage after the import", gaps => gaps.Count > 0);
        var gapsOnB = (await new V1.Coverage.CoverageClient(b.Channel).ListCoverageGapsAsync(new ListCoverageGapsRequest(), b.AdminAuth)).Gaps;
        Assert.DoesNotContain(gapsOnB, g => g.GapId == "site:" + TinyCounty.Checkpoint);

        // Each gap announced once on the shared feed, though both replicas rebuilt their coverage.
        var last = Math.Max(a.LastSequence, b.LastSequence);
        await Eventually.TrueAsync(() => feed.Events.LastOrDefault()?.Sequence >= last, "the feed read to the end");
        var opened = feed.Events.Where(e => e.Kind == FeedEventKind.CoverageGapOpened).Select(e => e.CoverageGap.GapId).ToList();
        Assert.Equal(gapsOnB.Select(g => g.GapId).Order(StringComparer.Ordinal), opened.Order(StringComparer.Ordinal));
        Assert.Equal(opened.Count, opened.Distinct().Count());
        Assert.Contains(b.Logs.Lines, l => l.Contains("Followed another replica's geography import", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_reconnected_listener_loads_a_geography_it_missed_and_otherwise_does_nothing()
    {
        var store = await cluster.CreateDatabaseAsync();
        await using var a = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]);
        await TinyCounty.ImportAsync(a);
        await using var b = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]); // loads it at start
        var follower = b.Services.GetServices<IReplicaChangeFollower>().Single(f => f.Channel == GeographyImporter.ChangeChannel);
        var journal = b.Services.GetRequiredService<Journal>();
        var state = b.Services.GetRequiredService<GeographyState>();
        const string Followed = "Followed another replica's geography import";

        // The listener reconnected (null: something may have been missed) and nothing was: nothing to do.
        await journal.ExecuteAsync(tx =>
        {
            follower.Changed(null, tx);
            return true;
        }, TestContext.Current.CancellationToken);
        Assert.DoesNotContain(b.Logs.Lines, l => l.Contains(Followed, StringComparison.Ordinal));

        // A grid stored with no announcement (as if it was lost while the listener was away): the reconnect loads it.
        var extra = state.Index.Grids.Single(g => g.Code == TinyCounty.EastGrid) with { Code = "1301271002010003", Name = "missed" };
        await journal.ExecuteAsync(tx =>
        {
            GeographyRepository.UpsertGrids(tx, [extra]);
            return true;
        }, TestContext.Current.CancellationToken);
        Assert.DoesNotContain(state.Index.Grids, g => g.Code == extra.Code);
        await journal.ExecuteAsync(tx =>
        {
            follower.Changed(null, tx);
            return true;
        }, TestContext.Current.CancellationToken);
        Assert.Contains(state.Index.Grids, g => g.Code == extra.Code);
        Assert.Contains(b.Logs.Lines, l => l.Contains(Followed, StringComparison.Ordinal));
    }
}
