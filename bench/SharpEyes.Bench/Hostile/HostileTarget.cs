using System.Net;
using Grpc.Core;
using SharpEyes.Bench.Gateway;
using SharpEyes.V1;

namespace SharpEyes.Bench.Hostile;

/// <summary>
/// One gateway under attack and what the bench set up in it through gRPC with the admin key: the canary's vendor and
/// the attacker's vendor (each with an API key and one registered alarm device), and a second admin key whose id the
/// key-guessing attack uses (its secret is never sent).
/// </summary>
internal sealed record HostileTarget(GatewayProcess Gateway, string AdminKey, HostileTarget.Vendor Canary, HostileTarget.Vendor Attacker, string GuessedKeyId)
{
    /// <summary>A vendor id, its API key and one of its registered alarm devices.</summary>
    internal sealed record Vendor(string Id, string Key, string DeviceId);

    /// <summary>127.0.0.<paramref name="last"/>: every attack comes from its own loopback address, never the canary's 127.0.0.1.</summary>
    public static IPAddress Loopback(int last) => new([127, 0, 0, (byte)last]);

    public static Metadata Auth(string key) => new() { { "authorization", "Bearer " + key } };

    public static async Task<HostileTarget> PrepareAsync(GatewayProcess gateway, string adminKey, CancellationToken ct)
    {
        var admin = new Admin.AdminClient(gateway.Channel);
        var registry = new DeviceRegistry.DeviceRegistryClient(gateway.Channel);
        var deadline = DateTime.UtcNow.AddSeconds(30);

        async Task<Vendor> AddVendorAsync(string id, int serial)
        {
            var key = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Vendor, VendorId = id, Description = "bench hostile " + id },
                Auth(adminKey), deadline, ct)).ApiKey;
            var device = DeviceFixtures.Build(1, alarmEvery: 1, serialBase: serial)[0];
            await registry.RegisterDeviceAsync(device, Auth(key), deadline, ct);
            return new Vendor(id, key, device.DeviceId);
        }

        var canary = await AddVendorAsync("canary", 0);
        var attacker = await AddVendorAsync("hostile", 1);
        var guessed = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Admin, Description = "bench hostile: the key whose secret is guessed" },
            Auth(adminKey), deadline, ct);
        return new HostileTarget(gateway, adminKey, canary, attacker, guessed.Info.KeyId);
    }
}
