using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Coverage;

/// <summary>
/// The coverage-gap feed on <see cref="TinyCounty"/>: a camera going online closes the gaps it fills, going offline
/// (3 missed keepalives) reopens them, each event naming the camera and the change, in the same transaction as the
/// device event; open gaps survive a restart without being announced again.
/// </summary>
public sealed class CoverageGapFeedTests : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private string _vendor = null!;
    private string _centre = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync(demo: false);
        _vendor = await _host.CreateKeyAsync(Role.Vendor, "vendor-a");
        _centre = await _host.CreateKeyAsync(Role.Centre);
        await TinyCounty.ImportAsync(_host);
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private DeviceRegistry.DeviceRegistryClient Registry => new(_host.Channel);

    private V1.Coverage.CoverageClient Coverage => new(_host.Channel);

    private Task RegisterAsync(RegisterDeviceRequest camera) => Registry.RegisterDeviceAsync(camera, _host.Auth(_vendor)).ResponseAsync;

    private Task HeartbeatAsync(params string[] ids)
    {
        var request = new HeartbeatRequest();
        request.DeviceIds.AddRange(ids);
        return Registry.HeartbeatAsync(request, _host.Auth(_vendor)).ResponseAsync;
    }

    private static bool Gap(FeedEvent e, FeedEventKind kind, string gapId) => e.Kind == kind && e.CoverageGap?.GapId == gapId;

    [Fact]
    public async Task Importing_the_geography_opens_a_gap_for_every_uncovered_key_site_and_grid_below_target()
    {
        await using var feed = new FeedReader(_host, _centre);
        await feed.WaitForCountAsync(e => e.Kind == FeedEventKind.CoverageGapOpened, 3, "three gaps opened by the import");

        var opened = feed.Events.Where(e => e.Kind == FeedEventKind.CoverageGapOpened).ToList();
        Assert.Equal(["grid:" + TinyCounty.WestGrid, "site:" + TinyCounty.Checkpoint, "site:" + TinyCounty.Intersection],
            opened.Select(e => e.CoverageGap.GapId).Order(StringComparer.Ordinal));
        Assert.All(opened, e => Assert.Equal(CoverageChange.GeographyChanged, Assert.Single(e.CoverageGap.Causes).Change));
        var grid = opened.Single(e => e.CoverageGap.Kind == CoverageGapKind.Grid).CoverageGap;
        Assert.Equal(TinyCounty.WestTarget, grid.Threshold);
        Assert.Equal(0, grid.RealFraction);
        Assert.Equal(TinyCounty.WestGrid, grid.GridCode);
        var intersection = opened.Single(e => e.CoverageGap.Code == TinyCounty.Intersection).CoverageGap;
        Assert.Equal(2, intersection.RequiredCameras);
        Assert.Equal("十字路口", intersection.Name);

        // The east grid's target is 0: it can never fall below it.
        var gaps = await Coverage.ListCoverageGapsAsync(new ListCoverageGapsRequest(), _host.AdminAuth);
        Assert.Equal(3, gaps.Gaps.Count);
        Assert.DoesNotContain(gaps.Gaps, g => g.Code == TinyCounty.EastGrid);
    }

    [Fact]
    public async Task A_camera_going_online_closes_its_gaps_and_going_offline_reopens_them_naming_the_cause()
    {
        var (x, y) = TinyCounty.WestCentre;
        var camera = TinyCounty.Camera(1, x, y, azimuth: 0, hfov: 90, range: 40); // sees the checkpoint 30 m north
        await RegisterAsync(camera);
        await using var feed = new FeedReader(_host, _centre);
        var registered = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceRegistered, "registration");

        await HeartbeatAsync(camera.DeviceId);

        var online = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOnline, "device online");
        var closedSite = await feed.WaitForAsync(e => Gap(e, FeedEventKind.CoverageGapClosed, "site:" + TinyCounty.Checkpoint), "checkpoint gap closed");
        var closedGrid = await feed.WaitForAsync(e => Gap(e, FeedEventKind.CoverageGapClosed, "grid:" + TinyCounty.WestGrid), "west grid gap closed");
        foreach (var closed in new[] { closedSite, closedGrid })
        {
            var cause = Assert.Single(closed.CoverageGap.Causes);
            Assert.Equal(camera.DeviceId, cause.CameraId);
            Assert.Equal(CoverageChange.CameraOnline, cause.Change);
            Assert.False(closed.CoverageGap.Open);
            Assert.NotNull(closed.CoverageGap.OpenedAt);
            Assert.NotNull(closed.CoverageGap.ClosedAt);
        }

        // Committed with the status change that caused them: the very next sequences.
        Assert.Equal([online.Sequence + 1, online.Sequence + 2], new[] { closedSite.Sequence, closedGrid.Sequence }.Order());
        Assert.Equal(1, closedSite.CoverageGap.CamerasWorking);
        Assert.InRange(closedGrid.CoverageGap.RealFraction, TinyCounty.WestTarget, 0.04);
        Assert.DoesNotContain(feed.Events, e => e.CoverageGap is not null && e.Sequence > registered.Sequence && e.Sequence < online.Sequence);

        // Registering alone (status unknown, not working) changed nothing real: the intersection still needs two cameras.
        var gaps = await Coverage.ListCoverageGapsAsync(new ListCoverageGapsRequest(), _host.AdminAuth);
        Assert.Equal("site:" + TinyCounty.Intersection, Assert.Single(gaps.Gaps).GapId);

        _host.Time.Advance(TimeSpan.FromSeconds(181)); // 3 missed keepalives

        var offline = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOffline, "device offline");
        var reopened = await feed.WaitForAsync(e => e.Sequence > offline.Sequence && Gap(e, FeedEventKind.CoverageGapOpened, "site:" + TinyCounty.Checkpoint), "checkpoint gap reopened");
        await feed.WaitForAsync(e => e.Sequence > offline.Sequence && Gap(e, FeedEventKind.CoverageGapOpened, "grid:" + TinyCounty.WestGrid), "grid gap reopened");
        var reason = Assert.Single(reopened.CoverageGap.Causes);
        Assert.Equal((camera.DeviceId, CoverageChange.CameraOffline), (reason.CameraId, reason.Change));
        Assert.True(reopened.Sequence > offline.Sequence);
        Assert.Equal(0, reopened.CoverageGap.CamerasWorking);
        Assert.Equal(1, reopened.CoverageGap.CamerasDeclared);
    }

    [Fact]
    public async Task An_intersection_closes_only_when_its_second_camera_works()
    {
        var a = TinyCounty.Camera(2, 60, 30, azimuth: 0, hfov: 60, range: 40);  // 30 m south of the crossing, facing it
        var b = TinyCounty.Camera(3, 30, 60, azimuth: 90, hfov: 60, range: 40); // 30 m west of it
        await RegisterAsync(a);
        await RegisterAsync(b);
        await using var feed = new FeedReader(_host, _centre);

        await HeartbeatAsync(a.DeviceId);
        await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOnline && e.Device.DeviceId == a.DeviceId, "first camera online");
        var sites = await Coverage.ListKeySiteCoverageAsync(new ListKeySiteCoverageRequest { Category = "intersection" }, _host.AdminAuth);
        var crossing = Assert.Single(sites.Sites);
        Assert.False(crossing.CoveredReal);
        Assert.Equal([a.DeviceId], crossing.WorkingCameraIds);
        Assert.Equal([a.DeviceId, b.DeviceId], crossing.DeclaredCameraIds.Order(StringComparer.Ordinal));
        Assert.True(crossing.CoveredDeclared);
        Assert.Equal(2, crossing.RequiredCameras);

        // The gap stays open, opened by the import, and reads as it stands now: one of two cameras working.
        var open = (await Coverage.ListCoverageGapsAsync(new ListCoverageGapsRequest(), _host.AdminAuth)).Gaps.Single(g => g.Code == TinyCounty.Intersection);
        Assert.Equal((1, 2, 2), (open.CamerasWorking, open.CamerasDeclared, open.RequiredCameras));
        Assert.Equal(CoverageChange.GeographyChanged, Assert.Single(open.Causes).Change);

        await HeartbeatAsync(b.DeviceId);
        var closed = await feed.WaitForAsync(e => Gap(e, FeedEventKind.CoverageGapClosed, "site:" + TinyCounty.Intersection), "crossing gap closed");
        Assert.Equal((b.DeviceId, CoverageChange.CameraOnline), (closed.CoverageGap.Causes[0].CameraId, closed.CoverageGap.Causes[0].Change));
        Assert.Equal(2, closed.CoverageGap.CamerasWorking);
    }

    [Fact]
    public async Task Deregistering_the_only_camera_reopens_the_gap_with_that_cause()
    {
        var (x, y) = TinyCounty.WestCentre;
        var camera = TinyCounty.Camera(4, x, y, azimuth: 0, hfov: 90, range: 40);
        await RegisterAsync(camera);
        await HeartbeatAsync(camera.DeviceId);
        await using var feed = new FeedReader(_host, _centre);
        var closed = await feed.WaitForAsync(e => Gap(e, FeedEventKind.CoverageGapClosed, "site:" + TinyCounty.Checkpoint), "closed");

        await Registry.DeregisterDeviceAsync(new DeregisterDeviceRequest { DeviceId = camera.DeviceId }, _host.Auth(_vendor));

        var reopened = await feed.WaitForAsync(e => e.Sequence > closed.Sequence && Gap(e, FeedEventKind.CoverageGapOpened, "site:" + TinyCounty.Checkpoint), "reopened");
        Assert.Equal((camera.DeviceId, CoverageChange.CameraDeregistered), (reopened.CoverageGap.Causes[0].CameraId, reopened.CoverageGap.Causes[0].Change));
        Assert.Equal(0, reopened.CoverageGap.CamerasDeclared);
    }

    [Fact]
    public async Task Open_gaps_survive_a_restart_and_are_not_announced_again()
    {
        var (x, y) = TinyCounty.WestCentre;
        var camera = TinyCounty.Camera(5, x, y, azimuth: 0, hfov: 90, range: 40);
        await RegisterAsync(camera);
        long before;
        await using (var feed = new FeedReader(_host, _centre))
        {
            await feed.WaitForCountAsync(e => e.Kind == FeedEventKind.CoverageGapOpened, 3, "gaps opened by the import");
            before = feed.Events.Max(e => e.Sequence);
        }

        _host = await _host.RestartAsync();
        var gaps = await Coverage.ListCoverageGapsAsync(new ListCoverageGapsRequest(), _host.AdminAuth);
        Assert.Equal(3, gaps.Gaps.Count);

        await using var after = new FeedReader(_host, _centre, afterSequence: before);
        await HeartbeatAsync(camera.DeviceId);
        var online = await after.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOnline, "online after restart");
        await after.WaitForAsync(e => Gap(e, FeedEventKind.CoverageGapClosed, "site:" + TinyCounty.Checkpoint), "closed after restart");
        // Nothing between the last event before the restart and the camera's status change: no re-announced gaps.
        Assert.Equal(before + 1, online.Sequence);
    }
}
