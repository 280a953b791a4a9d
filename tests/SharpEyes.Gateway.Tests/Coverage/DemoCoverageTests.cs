using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Geo.Demo;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Coverage;

/// <summary>Blind spots, placement and the demo county's cameras on the real 高邑县 geography.</summary>
public sealed class DemoCoverageTests
{
    private static V1.Coverage.CoverageClient Client(GatewayHost host) => new(host.Channel);

    [Fact]
    public async Task Blind_spots_rank_by_category_weight_times_priority_times_one_plus_incidents()
    {
        await using var host = await GatewayHost.StartAsync();
        var coverage = Client(host);
        var before = await coverage.ListBlindSpotsAsync(new ListBlindSpotsRequest(), host.AdminAuth);
        Assert.Equal(40, before.BlindSpots.Count); // no cameras: every key site
        Assert.All(before.BlindSpots, b => Assert.Equal("no-camera", b.Reason));
        Assert.All(before.BlindSpots, b => Assert.Equal(b.CategoryWeight * b.Priority, b.Score));
        Assert.Equal(before.BlindSpots.Select(b => b.Score).OrderDescending(), before.BlindSpots.Select(b => b.Score));
        Assert.Equal(25, before.BlindSpots[0].Score); // a priority-5 school or hospital (weight 5)

        // Two incidents at a priority-4 intersection (3 × 4 = 12) lift it to 12 × 3 = 36, above every school.
        var crossing = before.BlindSpots.First(b => b.Category == "intersection" && b.Priority == 4);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(
            TestDevices.Alarm(1, crossing.Position.Lon, crossing.Position.Lat), host.Auth(vendor));
        var mqtt = await host.ConnectMqttAsync("vendor-a", vendor);
        foreach (var (id, at) in new[] { ("x1", "2026-11-22T10:00:00+08:00"), ("x2", "2026-11-22T11:00:00+08:00") })
        {
            var ack = await mqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(1))
                .WithPayload(TestDevices.AlarmJson(id, occurredAt: at)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode);
        }

        var after = await coverage.ListBlindSpotsAsync(new ListBlindSpotsRequest { IncidentDays = 7 }, host.AdminAuth);
        var top = after.BlindSpots[0];
        Assert.Equal((crossing.Code, 2, 36.0), (top.Code, top.Incidents, top.Score));
        Assert.Equal(7, after.IncidentDays);
    }

    [Fact]
    public async Task Placement_suggests_cameras_that_really_cover_what_they_claim()
    {
        await using var host = await GatewayHost.StartAsync();
        var coverage = Client(host);

        var plan = await coverage.SuggestPlacementsAsync(new SuggestPlacementsRequest { Count = 3, HfovDeg = 90, RangeM = 60 }, host.AdminAuth);

        Assert.Equal(3, plan.Suggestions.Count);
        Assert.Equal(plan.Suggestions.Select(s => s.Gain).OrderDescending(), plan.Suggestions.Select(s => s.Gain));
        Assert.True(plan.UncoveredWeightAfter < plan.UncoveredWeightBefore);
        Assert.Equal(plan.UncoveredWeightBefore - plan.Suggestions.Sum(s => s.Gain), plan.UncoveredWeightAfter, 0.01);
        Assert.All(plan.Suggestions, s => Assert.StartsWith("130127", s.GridCode, StringComparison.Ordinal));
        var first = plan.Suggestions[0];
        Assert.NotEmpty(first.SitesCompleted.Concat(first.SitesImproved));

        // Install the first suggestion and bring it online: the key sites it claimed to complete are covered now.
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        await registry.RegisterDeviceAsync(TestDevices.Camera(77, first.Position.Lon, first.Position.Lat, first.AzimuthDeg, 90, 60), host.Auth(vendor));
        await registry.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { TestDevices.CameraId(77) } }, host.Auth(vendor));
        var sites = await coverage.ListKeySiteCoverageAsync(new ListKeySiteCoverageRequest(), host.AdminAuth);
        foreach (var code in first.SitesCompleted)
        {
            Assert.True(sites.Sites.Single(s => s.Code == code).CoveredReal, $"{code} should be covered by the suggested camera");
        }

        foreach (var code in first.SitesImproved)
        {
            Assert.Contains(TestDevices.CameraId(77), sites.Sites.Single(s => s.Code == code).WorkingCameraIds);
        }
    }

    [Fact]
    public async Task The_demo_county_shows_its_cameras_and_some_blind_spots()
    {
        await using var host = await GatewayHost.StartAsync(extraArgs: "--SharpEyes:DemoCameras=true");
        var coverage = Client(host);

        var report = await coverage.GetCoverageReportAsync(new CoverageReportRequest(), host.AdminAuth);
        Assert.Equal(GaoyiDemoCameras.All.Count, report.Summary.Cameras);
        Assert.Equal(GaoyiDemoCameras.All.Count(c => c.Online), report.Summary.CamerasOnline);
        Assert.Equal(5, report.Rows.Count); // the five towns
        Assert.Equal(report.Summary.Cameras, report.Rows.Sum(r => r.Cameras));
        Assert.True(report.Summary.RealFraction < report.Summary.DeclaredFraction);
        Assert.True(report.Summary.DeclaredFraction <= report.Summary.PotentialFraction);
        Assert.InRange(report.Summary.KeySitesCoveredReal, 1, report.Summary.KeySitesCoveredDeclared - 1);

        var spots = await coverage.ListBlindSpotsAsync(new ListBlindSpotsRequest { IncludeGrids = true }, host.AdminAuth);
        var noCamera = spots.BlindSpots.Where(b => b.Reason == "no-camera").Select(b => b.Code).Order(StringComparer.Ordinal);
        Assert.Equal(GaoyiDemoCameras.UncoveredKeySiteCodes.Order(StringComparer.Ordinal), noCamera);
        Assert.Contains(spots.BlindSpots, b => b.Reason == "cameras-not-working" && b.NotWorkingCameraIds.Count > 0);
        var gridGaps = spots.BlindSpots.Where(b => b.Kind == BlindSpotKind.Grid).ToList();
        Assert.NotEmpty(gridGaps);
        // Demo targets are what the plan covers with every camera working: only a non-working camera can open a grid gap.
        Assert.All(gridGaps, g => Assert.NotEmpty(g.NotWorkingCameraIds));
        Assert.Equal(report.Summary.GridGaps, gridGaps.Count);

        var gaps = await coverage.ListCoverageGapsAsync(new ListCoverageGapsRequest(), host.AdminAuth);
        Assert.Equal(spots.BlindSpots.Count, gaps.Gaps.Count);
    }
}
