using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// A camera's stream health stored by one replica (the probing leader) is what the other answers, also when it does not
/// turn the camera faulty or repaired: the last check's outcome and the failures counted so far follow.
/// </summary>
public sealed class StreamHealthReplicaTests(PostgresCluster cluster)
{
    [Fact]
    public async Task A_check_outcome_stored_by_one_replica_is_answered_by_the_other()
    {
        var store = await cluster.CreateDatabaseAsync();
        await using var a = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]);
        var vendorKey = await a.CreateKeyAsync(Role.Vendor, "vendor-h");
        await using var b = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]);
        var camera = TestDevices.Camera(1);
        await new DeviceRegistry.DeviceRegistryClient(a.Channel).RegisterDeviceAsync(camera, a.Auth(vendorKey));
        var healthB = new V1.StreamHealth.StreamHealthClient(b.Channel);
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                return (await healthB.GetCameraHealthAsync(new GetCameraHealthRequest { DeviceId = camera.DeviceId }, b.AdminAuth)).DeviceId == camera.DeviceId;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                return false;
            }
        }, "B knows the camera");

        // A's probing stores a failed DESCRIBE (the second in a row): not yet a fault, so no feed event carries it.
        var catalogA = a.Services.GetRequiredService<DeviceCatalog>();
        var failed = new CheckResult(a.Time.GetUtcNow(), false, "timeout", "no answer in 5 s", 5000);
        await a.Services.GetRequiredService<Journal>().ExecuteAsync(tx =>
        {
            var entry = catalogA.Find(camera.DeviceId)!;
            var next = entry.Health with { ConsecutiveFailures = 2, LastLiveness = failed };
            catalogA.SetHealth(tx, entry, next, a.Time.GetUtcNow());
            return true;
        }, TestContext.Current.CancellationToken);

        await Eventually.TrueAsync(async () =>
        {
            var seen = await healthB.GetCameraHealthAsync(new GetCameraHealthRequest { DeviceId = camera.DeviceId }, b.AdminAuth);
            return seen.ConsecutiveFailures == 2 && seen.LastLiveness?.ToDomain() == failed;
        }, "B answers the failure count and the check A stored");
        var onB = await healthB.GetCameraHealthAsync(new GetCameraHealthRequest { DeviceId = camera.DeviceId }, b.AdminAuth);
        Assert.False(onB.Faulty);
    }
}
