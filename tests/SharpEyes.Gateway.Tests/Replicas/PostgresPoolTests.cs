using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// The writer and the feed listener hold connections of their own, outside the readers' pool: with a pool of one
/// connection (<c>Maximum Pool Size=1</c>) two replicas still write, read, and follow each other.
/// </summary>
public sealed class PostgresPoolTests(PostgresCluster cluster)
{
    [Fact]
    public async Task With_a_reader_pool_of_one_connection_replicas_still_commit_answer_and_follow_each_other()
    {
        var store = await cluster.CreateDatabaseAsync() + ";Maximum Pool Size=1;Timeout=5";
        await using var a = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]);
        var vendorKey = await a.CreateKeyAsync(Role.Vendor, "vendor-p");
        await using var b = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]);

        // Registered through A (A's writer), answered by B (B's listener followed it; B's one pooled reader answers).
        await new DeviceRegistry.DeviceRegistryClient(a.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), a.Auth(vendorKey));
        var registryB = new DeviceRegistry.DeviceRegistryClient(b.Channel);
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                return (await registryB.GetDeviceAsync(new GetDeviceRequest { DeviceId = TestDevices.AlarmId(1) }, b.Auth(vendorKey))).DeviceId == TestDevices.AlarmId(1);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                return false;
            }
        }, "replica B answers the device registered through A");

        // A read through the pool (the stats count stored rows) and a commit through B's writer, one after the other.
        var stats = await new Admin.AdminClient(b.Channel).GetStatsAsync(new GetStatsRequest(), b.AdminAuth);
        Assert.Equal(0, stats.AlarmsAccepted);
        await registryB.RegisterDeviceAsync(TestDevices.Alarm(2), b.Auth(vendorKey));
        var registryA = new DeviceRegistry.DeviceRegistryClient(a.Channel);
        await Eventually.TrueAsync(async () => (await registryA.ListDevicesAsync(new ListDevicesRequest(), a.Auth(vendorKey))).Devices.Count == 2,
            "replica A lists both devices");
    }
}
