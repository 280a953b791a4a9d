using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MQTTnet;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// API keys follow across replicas on one PostgreSQL database: a key created through one replica works on the other,
/// a new expiry shows there, and a key revoked through one is refused by the other at once, its MQTT connection there
/// closed.
/// </summary>
public sealed class KeyReplicaTests(PostgresCluster cluster)
{
    [Fact]
    public async Task A_key_created_re_dated_or_revoked_through_one_replica_is_so_on_the_other()
    {
        var store = await cluster.CreateDatabaseAsync();
        await using var a = await GatewayHost.StartAsync(demo: true, extraArgs: ["--store", store]);
        await using var b = await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", store]);
        var adminA = new Admin.AdminClient(a.Channel);

        // Created through A after B started: B learns it from A's announcement, not from a restart.
        var vendorKey = await a.CreateKeyAsync(Role.Vendor, "vendor-k");
        var keyId = vendorKey.Split('_')[1];
        var registryB = new DeviceRegistry.DeviceRegistryClient(b.Channel);
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                await registryB.RegisterDeviceAsync(TestDevices.Alarm(1), b.Auth(vendorKey));
                return true;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
            {
                return false;
            }
        }, "replica B accepts the key created through A");

        // A new expiry set through A is what B lists.
        var expiry = a.Time.GetUtcNow().AddDays(30);
        await adminA.SetApiKeyExpiryAsync(new SetApiKeyExpiryRequest { KeyId = keyId, ExpiresAt = Timestamp.FromDateTimeOffset(expiry) }, a.AdminAuth);
        var adminB = new Admin.AdminClient(b.Channel);
        await Eventually.TrueAsync(async () =>
            (await adminB.ListApiKeysAsync(new ListApiKeysRequest(), b.AdminAuth)).Keys.Single(k => k.KeyId == keyId).ExpiresAt?.ToDateTimeOffset() == expiry,
            "replica B lists the new expiry");

        // Revoked through A: B refuses the key and closes its MQTT connection there.
        using var mqttOnB = await b.ConnectMqttAsync("vendor-k", vendorKey);
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        mqttOnB.DisconnectedAsync += _ =>
        {
            closed.TrySetResult();
            return Task.CompletedTask;
        };
        await adminA.RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = keyId }, a.AdminAuth);

        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var refused = await Assert.ThrowsAsync<RpcException>(() => registryB.RegisterDeviceAsync(TestDevices.Alarm(2), b.Auth(vendorKey)).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.True((await adminB.ListApiKeysAsync(new ListApiKeysRequest(), b.AdminAuth)).Keys.Single(k => k.KeyId == keyId).Revoked);
    }
}
