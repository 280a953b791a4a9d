using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Cli;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Streams;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Storage;

/// <summary>
/// docs/security.md, "Secrets at rest": the cameras' RTSP credentials are encrypted in <c>devices.rtsp_secret</c> with
/// the key ring <c>{data-dir}/secret-keys</c>. The password is in no byte of the database or its WAL; a restart reads
/// it back (the URL the stream checks connect to still carries it); a store copied without its key ring starts, its
/// camera has no usable credentials and the password is nowhere; a version 6 store's clear rows are encrypted at start;
/// <c>sharpeyes backup</c> copies the key ring beside the store.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SecretsAtRestTests
{
    private const string Password = "Zq7-unique-rtsp-pa55word";
    private const string VendorId = "acme";

    private static RegisterDeviceRequest Camera(int serial)
    {
        var camera = TestDevices.Camera(serial);
        camera.Camera.RtspUrl = $"rtsp://admin:{Password}@127.0.0.1:8554/cam{serial}";
        return camera;
    }

    private static async Task<string> RegisterAsync(GatewayHost host, int serial)
    {
        var key = await host.CreateKeyAsync(Role.Vendor, VendorId);
        var registered = await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(Camera(serial), host.Auth(key));
        Assert.True(registered.Device.HasRtspCredentials);
        return registered.Device.DeviceId;
    }

    /// <summary>Every byte of the database, its WAL and its shared-memory file, as Latin-1 text (one char per byte).</summary>
    private static string StoreBytes(string dataDir) =>
        string.Concat(new[] { "sharpeyes.db", "sharpeyes.db-wal", "sharpeyes.db-shm" }
            .Select(f => Path.Combine(dataDir, f)).Where(File.Exists).Select(f => Encoding.Latin1.GetString(File.ReadAllBytes(f))));

    private static void AssertPasswordNowhere(string dataDir)
    {
        var bytes = StoreBytes(dataDir);
        Assert.DoesNotContain(Password, bytes, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(Password)), bytes, StringComparison.Ordinal);
        Assert.DoesNotContain(Encoding.Latin1.GetString(Encoding.Unicode.GetBytes(Password)), bytes, StringComparison.Ordinal);
    }

    private static string? StoredSecret(string dataDir, string deviceId)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(dataDir, "sharpeyes.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT rtsp_secret FROM devices WHERE id = $id";
        command.Parameters.AddWithValue("$id", deviceId);
        return command.ExecuteScalar() as string;
    }

    private static Uri ConnectUrl(GatewayHost host, string deviceId)
    {
        var entry = host.Services.GetRequiredService<DeviceCatalog>().Find(deviceId)!;
        return RtspCredentials.Connect(entry.Device.Camera!.RtspUrl, entry.Secrets?.Main);
    }

    [Fact]
    public async Task The_password_is_in_no_byte_of_the_store_or_its_wal_and_a_restart_still_connects_with_it()
    {
        var host = await GatewayHost.StartAsync(demo: false);
        var id = await RegisterAsync(host, 701);
        AssertPasswordNowhere(host.DataDir);
        var stored = StoredSecret(host.DataDir, id)!;
        Assert.False(RtspSecretProtector.IsClear(stored));
        Assert.NotNull(RtspSecretProtector.KeyIdOf(stored));
        Assert.True(Directory.EnumerateFiles(Path.Combine(host.DataDir, RtspSecretProtector.KeysDirectory), "*.xml").Any());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            File.GetUnixFileMode(Path.Combine(host.DataDir, RtspSecretProtector.KeysDirectory)));

        host = await host.RestartAsync();
        await using (host)
        {
            AssertPasswordNowhere(host.DataDir);
            var device = await new DeviceRegistry.DeviceRegistryClient(host.Channel).GetDeviceAsync(new GetDeviceRequest { DeviceId = id }, host.AdminAuth);
            Assert.True(device.HasRtspCredentials);
            Assert.Equal("rtsp://127.0.0.1:8554/cam701", device.Camera.RtspUrl);
            Assert.Equal($"rtsp://admin:{Password}@127.0.0.1:8554/cam701", ConnectUrl(host, id).OriginalString);
            Assert.DoesNotContain(Password, host.Logs.All, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_store_copied_without_its_key_ring_starts_and_its_camera_has_no_usable_credentials()
    {
        string source;
        string id;
        await using (var host = await GatewayHost.StartAsync(demo: false))
        {
            id = await RegisterAsync(host, 702);
            source = host.DataDir;
        }

        var stolen = GatewayHost.NewDataDir();
        foreach (var file in new[] { "sharpeyes.db", "sharpeyes.db-wal" }.Where(f => File.Exists(Path.Combine(source, f))))
        {
            File.Copy(Path.Combine(source, file), Path.Combine(stolen, file));
        }

        AssertPasswordNowhere(stolen);

        await using var thief = await GatewayHost.StartAsync(demo: false, dataDir: stolen);
        var device = await new DeviceRegistry.DeviceRegistryClient(thief.Channel).GetDeviceAsync(new GetDeviceRequest { DeviceId = id }, thief.AdminAuth);
        Assert.False(device.HasRtspCredentials);
        Assert.Equal("rtsp://127.0.0.1:8554/cam702", ConnectUrl(thief, id).OriginalString);
        Assert.Single(thief.Logs.Lines, l => l.Contains("cannot be decrypted", StringComparison.Ordinal));
        Assert.DoesNotContain(Password, thief.Logs.All, StringComparison.Ordinal);
        AssertPasswordNowhere(stolen);
    }

    [Fact]
    public async Task A_version_6_store_with_clear_credentials_is_encrypted_at_start()
    {
        string dir;
        string id;
        await using (var host = await GatewayHost.StartAsync(demo: false))
        {
            id = await RegisterAsync(host, 703);
            dir = host.DataDir;
        }

        // What a version 6 gateway wrote: the credentials as clear JSON, and no key ring.
        var clear = RtspSecrets.Serialize(new RtspSecrets(new UrlCredentials("admin", Password, []), []))!;
        Assert.StartsWith("{", clear, StringComparison.Ordinal);
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(dir, "sharpeyes.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE devices SET rtsp_secret = $s WHERE id = $id; UPDATE meta SET value = '6' WHERE key = 'schema_version'; DROP TABLE outbox_leases; DROP TABLE sip_accounts; DROP TABLE sip_devices; DROP TABLE sip_channels; PRAGMA wal_checkpoint(TRUNCATE);";
            command.Parameters.AddWithValue("$s", clear);
            command.Parameters.AddWithValue("$id", id);
            command.ExecuteNonQuery();
        }

        Directory.Delete(Path.Combine(dir, RtspSecretProtector.KeysDirectory), recursive: true);
        Assert.Contains(Password, StoreBytes(dir), StringComparison.Ordinal);

        await using var migrated = await GatewayHost.StartAsync(demo: false, dataDir: dir);
        var stored = StoredSecret(dir, id)!;
        Assert.False(RtspSecretProtector.IsClear(stored));
        Assert.Equal($"rtsp://admin:{Password}@127.0.0.1:8554/cam703", ConnectUrl(migrated, id).OriginalString);
        Assert.True((await new DeviceRegistry.DeviceRegistryClient(migrated.Channel).GetDeviceAsync(new GetDeviceRequest { DeviceId = id }, migrated.AdminAuth)).HasRtspCredentials);
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(dir, "sharpeyes.db")};Mode=ReadOnly;Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT value FROM meta WHERE key = 'schema_version'";
            Assert.Equal(SharpEyes.Gateway.Storage.GatewayStore.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), command.ExecuteScalar());
        }
    }

    [Fact]
    public async Task A_backup_carries_the_key_ring_and_restores_usable_credentials()
    {
        string id;
        var backup = Path.Combine(GatewayHost.NewDataDir(), "copy.db");
        await using (var host = await GatewayHost.StartAsync(demo: false))
        {
            id = await RegisterAsync(host, 704);
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            Assert.Equal(0, await GatewayCli.RunAsync(["backup", "--data-dir", host.DataDir, "--out", backup], stdout, stderr));
            Assert.Contains("secret key ring", stdout.ToString(), StringComparison.Ordinal);
        }

        var keys = backup + ".secret-keys";
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(keys));
        Assert.All(Directory.GetFiles(keys), f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
        var restored = GatewayHost.NewDataDir();
        File.Copy(backup, Path.Combine(restored, "sharpeyes.db"));
        Directory.CreateDirectory(Path.Combine(restored, RtspSecretProtector.KeysDirectory));
        foreach (var f in Directory.GetFiles(keys))
        {
            File.Copy(f, Path.Combine(restored, RtspSecretProtector.KeysDirectory, Path.GetFileName(f)));
        }

        await using var again = await GatewayHost.StartAsync(demo: false, dataDir: restored);
        Assert.Equal($"rtsp://admin:{Password}@127.0.0.1:8554/cam704", ConnectUrl(again, id).OriginalString);
    }

    [Fact]
    public async Task Rotation_re_encrypts_every_credential_with_a_new_default_key_that_old_keys_still_read_and_only_admin_may_rotate()
    {
        var host = await GatewayHost.StartAsync(demo: false);
        var ids = new[] { await RegisterAsync(host, 705), await RegisterAsync(host, 706) };
        var before = ids.Select(id => StoredSecret(host.DataDir, id)!).ToList();
        var oldKey = RtspSecretProtector.KeyIdOf(before[0]);
        var admin = new Admin.AdminClient(host.Channel);

        var operatorKey = await host.CreateKeyAsync(Role.Operator);
        var denied = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => admin.RotateSecretKeysAsync(new RotateSecretKeysRequest(), host.Auth(operatorKey)).ResponseAsync);
        Assert.Equal(Grpc.Core.StatusCode.PermissionDenied, denied.StatusCode);

        var rotated = await admin.RotateSecretKeysAsync(new RotateSecretKeysRequest(), host.AdminAuth);
        Assert.Equal(2, rotated.Reencrypted);
        Assert.Equal(0, rotated.Unreadable);
        Assert.InRange(rotated.ActivatedAt.ToDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow);
        Assert.DoesNotContain(Password, rotated.ToString(), StringComparison.Ordinal);
        var newKey = Guid.Parse(rotated.KeyId);
        Assert.NotEqual(oldKey, newKey);
        var after = ids.Select(id => StoredSecret(host.DataDir, id)!).ToList();
        Assert.All(after, a => Assert.Equal(newKey, RtspSecretProtector.KeyIdOf(a)));
        Assert.All(before.Zip(after), p => Assert.NotEqual(p.First, p.Second));
        Assert.Equal(2, Directory.GetFiles(Path.Combine(host.DataDir, RtspSecretProtector.KeysDirectory), "key-*.xml").Length);

        // The CLI's `secrets rotate` makes one more key.
        using (var stdout = new StringWriter())
        {
            using var stderr = new StringWriter();
            Assert.Equal(0, await GatewayCli.RunAsync(["secrets", "rotate", "--server", $"http://127.0.0.1:{host.GrpcPort}", "--key", host.AdminKey], stdout, stderr));
            Assert.Contains("2 cameras' credentials re-encrypted", stdout.ToString(), StringComparison.Ordinal);
            var cliKey = Guid.Parse(stdout.ToString().Split(' ')[2].TrimEnd(','));
            Assert.All(ids, id => Assert.Equal(cliKey, RtspSecretProtector.KeyIdOf(StoredSecret(host.DataDir, id))));
            newKey = cliKey;
        }

        // The old key still reads what it protected (a backup taken before the rotation).
        var protector = host.Services.GetRequiredService<RtspSecretProtector>();
        Assert.Equal(Password, protector.Unprotect(before[0])!.Main!.Password);

        // A camera registered after the rotation is protected with the new key too; a restart reads every one.
        var third = await RegisterAsync(host, 707);
        Assert.Equal(newKey, RtspSecretProtector.KeyIdOf(StoredSecret(host.DataDir, third)));
        host = await host.RestartAsync();
        await using (host)
        {
            foreach (var (id, serial) in ids.Append(third).Zip(new[] { 705, 706, 707 }))
            {
                Assert.Equal($"rtsp://admin:{Password}@127.0.0.1:8554/cam{serial}", ConnectUrl(host, id).OriginalString);
            }

            AssertPasswordNowhere(host.DataDir);
            Assert.DoesNotContain(Password, host.Logs.All, StringComparison.Ordinal);
        }
    }
}
