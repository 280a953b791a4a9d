using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Auth;

/// <summary>The first admin key, generated on first start: shown once on the console, kept as a 0600 file, only its hash stored.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class FirstStartTests
{
    [Fact]
    [Trait(TestStores.Trait, TestStores.SqliteOnly)] // reads or writes the SQLite file itself
    public async Task Without_SHARPEYES_ADMIN_KEY_a_key_is_generated_printed_once_and_works()
    {
        var dataDir = GatewayHost.NewDataDir();
        string key;
        string firstOutput;
        await using (var gateway = await GatewayProcess.StartAsync(dataDir, adminKey: null))
        {
            var file = Path.Combine(dataDir, "initial-admin-key");
            key = (await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken)).Trim();
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            var stats = await new Admin.AdminClient(gateway.Channel).GetStatsAsync(new GetStatsRequest(), GatewayProcess.Auth(key));
            Assert.Equal(0, stats.Devices);
            firstOutput = gateway.Output;
        }

        // Shown once: on the console line meant for it, never in a log line.
        var lines = firstOutput.Split('\n');
        Assert.Single(lines, l => l.Contains(key, StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains(key, StringComparison.Ordinal) && (l.Contains("info:", StringComparison.Ordinal) || l.Contains("warn:", StringComparison.Ordinal)));

        await using var again = await GatewayProcess.StartAsync(dataDir, adminKey: null);
        Assert.DoesNotContain(key, again.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("generated admin API key", again.Output, StringComparison.Ordinal);
        var db = await File.ReadAllBytesAsync(Path.Combine(dataDir, "sharpeyes.db"), TestContext.Current.CancellationToken);
        Assert.DoesNotContain(key[(key.IndexOf('_', 3) + 1)..], System.Text.Encoding.UTF8.GetString(db), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_revoked_SHARPEYES_ADMIN_KEY_stays_revoked_after_a_restart()
    {
        var host = await GatewayHost.StartAsync(demo: false);
        var admin = new Admin.AdminClient(host.Channel);
        var second = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Admin, Description = "the operator's own" }, host.AdminAuth)).ApiKey;
        var environmentKeyId = host.AdminKey.Split('_')[1];
        Assert.True((await admin.RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = environmentKeyId }, host.Auth(second))).Revoked);

        host = await host.RestartAsync(); // SHARPEYES_ADMIN_KEY is still set to the revoked key
        await using var _ = host;
        admin = new Admin.AdminClient(host.Channel);

        var refused = await Assert.ThrowsAsync<RpcException>(() => admin.GetStatsAsync(new GetStatsRequest(), host.AdminAuth).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Contains(host.Logs.Lines, l => l.Contains("SHARPEYES_ADMIN_KEY is set but not a valid key of this store", StringComparison.Ordinal));
        var keys = await admin.ListApiKeysAsync(new ListApiKeysRequest(), host.Auth(second));
        Assert.True(keys.Keys.Single(k => k.KeyId == environmentKeyId).Revoked);
    }
}
