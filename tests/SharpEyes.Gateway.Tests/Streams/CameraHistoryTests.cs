using System.Net;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Tests.Http;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Streams;

/// <summary>
/// StreamHealth.GetCameraHistory: the status changes heartbeats and missed keepalives record, the online fraction as the
/// online rate by time counts it, the span it answers, and vendor scoping as GetCameraHealth's.
/// </summary>
public sealed class CameraHistoryTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);

    private GatewayHost _host = null!;
    private string _vendor = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync(demo: true);
        _vendor = await _host.CreateKeyAsync(Role.Vendor, "vendor-a");
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private StreamHealth.StreamHealthClient Health => new(_host.Channel);

    private DeviceRegistry.DeviceRegistryClient Registry => new(_host.Channel);

    private Task HeartbeatAsync(string id) => Registry.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { id } }, _host.Auth(_vendor)).ResponseAsync;

    [Fact]
    public async Task Changes_follow_heartbeats_and_missed_keepalives_and_the_fraction_is_the_online_rate_by_time()
    {
        var camera = TestDevices.Camera(1);
        await Registry.RegisterDeviceAsync(camera, _host.Auth(_vendor));
        var entry = _host.Services.GetRequiredService<DeviceCatalog>().Find(camera.DeviceId)!;
        _host.Time.Advance(TimeSpan.FromMinutes(10));
        await HeartbeatAsync(camera.DeviceId); // online at 08:10
        // Keepalive 60 s × 3: offline at the first sweep (every 10 s) after 08:13.
        await Eventually.TrueAsync(() =>
        {
            if (_host.Services.GetRequiredService<DeviceCatalog>().Find(camera.DeviceId)!.Status == DeviceStatus.Offline)
            {
                return true;
            }

            _host.Time.Advance(TimeSpan.FromSeconds(10));
            return false;
        }, "offline after three missed keepalives");
        _host.Time.Advance(TimeSpan.FromMinutes(5));
        var back = _host.Time.GetUtcNow();
        await HeartbeatAsync(camera.DeviceId);
        _host.Time.Advance(TimeSpan.FromMinutes(2)); // within the keepalive timeout: still online
        var now = _host.Time.GetUtcNow();

        var history = await Health.GetCameraHistoryAsync(new CameraHistoryRequest { DeviceId = camera.DeviceId }, _host.AdminAuth);

        // 30 days back is before the registration: the history starts there, offline (not yet heard from).
        Assert.Equal(Start, history.Since.ToDateTimeOffset());
        Assert.Equal(now, history.Until.ToDateTimeOffset());
        var changes = history.Changes.Select(c => (c.At.ToDateTimeOffset(), c.Online)).ToList();
        Assert.Equal(4, changes.Count);
        Assert.Equal((Start, false), changes[0]);
        Assert.Equal((Start.AddMinutes(10), true), changes[1]);
        Assert.False(changes[2].Online);
        Assert.InRange(changes[2].Item1, Start.AddMinutes(13), Start.AddMinutes(13).AddSeconds(10));
        Assert.Equal((back, true), changes[3]);
        var online = (changes[2].Item1 - changes[1].Item1) + (now - back);
        Assert.Equal(Math.Round(online / (now - Start), 6), history.OnlineFraction);

        // The same number as the health report's online rate by time (one camera, registered within the 24 h window).
        var report = await Health.GetHealthReportAsync(new HealthReportRequest(), _host.AdminAuth);
        var byTime = report.Summary.Kpis.Single(k => k.Name == "online_rate_time");
        Assert.Equal((long)(now - Start).TotalSeconds, byTime.Denominator);
        Assert.Equal(byTime.Value, history.OnlineFraction, 1e-3);

        // From a later instant: the state then, then the changes after it.
        var since = Start.AddMinutes(12);
        var later = await Health.GetCameraHistoryAsync(new CameraHistoryRequest { DeviceId = camera.DeviceId, Since = Timestamp.FromDateTimeOffset(since) }, _host.AdminAuth);
        Assert.Equal([(since, true), changes[2], changes[3]], later.Changes.Select(c => (c.At.ToDateTimeOffset(), c.Online)));
        Assert.Equal(since, later.Since.ToDateTimeOffset());

        var future = await Assert.ThrowsAsync<RpcException>(() => Health.GetCameraHistoryAsync(
            new CameraHistoryRequest { DeviceId = camera.DeviceId, Since = Timestamp.FromDateTimeOffset(now.AddMinutes(1)) }, _host.AdminAuth).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, future.StatusCode);
        Assert.StartsWith("since: must be before now", future.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(DeviceStatus.Online, entry.Status);
    }

    [Fact]
    public async Task A_vendor_sees_only_its_own_cameras_history_and_another_vendors_is_answered_as_unknown()
    {
        var camera = TestDevices.Camera(2);
        await Registry.RegisterDeviceAsync(camera, _host.Auth(_vendor));
        var other = await _host.CreateKeyAsync(Role.Vendor, "vendor-b");
        var unknownId = TestDevices.CameraId(999);

        var own = await Health.GetCameraHistoryAsync(new CameraHistoryRequest { DeviceId = camera.DeviceId }, _host.Auth(_vendor));
        Assert.Equal(camera.DeviceId, own.DeviceId);
        Assert.Equal((Start, false), (own.Changes.Single().At.ToDateTimeOffset(), own.Changes.Single().Online));

        foreach (var id in new[] { camera.DeviceId, unknownId })
        {
            var history = await Assert.ThrowsAsync<RpcException>(() => Health.GetCameraHistoryAsync(new CameraHistoryRequest { DeviceId = id }, _host.Auth(other)).ResponseAsync);
            var health = await Assert.ThrowsAsync<RpcException>(() => Health.GetCameraHealthAsync(new GetCameraHealthRequest { DeviceId = id }, _host.Auth(other)).ResponseAsync);
            Assert.Equal(StatusCode.NotFound, history.StatusCode);
            Assert.Equal(health.Status, history.Status);
        }

        using var json = new JsonApiClient(_host.HttpPort);
        var path = $"/api/v1/streamHealth/cameras/{camera.DeviceId}/history";
        Assert.Equal(own, (await json.GetAsync(path, _vendor)).As<CameraHistory>());
        var foreign = await json.GetAsync(path, other);
        Assert.Equal(HttpStatusCode.NotFound, foreign.Status);
        Assert.Equal((await json.GetAsync($"/api/v1/streamHealth/cameras/{unknownId}/history", other)).Error().Message.Replace(unknownId, camera.DeviceId, StringComparison.Ordinal),
            foreign.Error().Message);
    }
}
