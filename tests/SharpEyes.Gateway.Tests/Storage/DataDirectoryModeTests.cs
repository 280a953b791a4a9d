using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Storage;

/// <summary>
/// The data directory holds RTSP credentials (sharpeyes.db), key hashes and what cameras see (snapshots): only the
/// gateway's user may read it. Checked with the modes a local user would see (File.GetUnixFileMode, as ls -l).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataDirectoryModeTests
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PrivateDirectory = Private | UnixFileMode.UserExecute;

    [Fact]
    public async Task A_new_data_directory_and_everything_the_gateway_writes_in_it_are_private()
    {
        await using var rtsp = await RtspTestServer.StartAsync();
        var dataDir = Path.Combine(GatewayHost.NewDataDir(), "data");
        await using var host = await GatewayHost.StartAsync(dataDir: dataDir);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "acme");
        var camera = TestDevices.Camera(70);
        camera.Camera.RtspUrl = rtsp.Url("auth").ToString();
        camera.Camera.RtspUsername = RtspTestServer.AuthUser;
        camera.Camera.RtspPassword = RtspTestServer.AuthPassword;
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(camera, host.Auth(vendor));
        var check = await new StreamHealth.StreamHealthClient(host.Channel).CheckNowAsync(
            new CheckNowRequest { DeviceIds = { camera.DeviceId }, Depth = CheckDepth.Quality }, host.AdminAuth, deadline: DateTime.UtcNow.AddMinutes(2));
        Assert.Equal(1, check.Ok);

        var db = Path.Combine(dataDir, "sharpeyes.db");
        var snapshots = Path.Combine(dataDir, "snapshots");
        Assert.Equal(PrivateDirectory, File.GetUnixFileMode(dataDir));
        foreach (var file in new[] { db, db + "-wal", db + "-shm", Path.Combine(snapshots, camera.DeviceId + ".jpg") })
        {
            Assert.True(File.Exists(file), file);
            Assert.True(Private == File.GetUnixFileMode(file), $"{file}: {File.GetUnixFileMode(file)}");
        }

        Assert.Equal(PrivateDirectory, File.GetUnixFileMode(snapshots));
        Assert.Equal(PrivateDirectory, File.GetUnixFileMode(Path.Combine(dataDir, "stream-inputs")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(dataDir, "stream-inputs")));
    }

    [Fact]
    public async Task A_data_directory_left_readable_by_others_is_tightened_at_start_and_the_log_says_so()
    {
        var dataDir = GatewayHost.NewDataDir();
        await (await GatewayHost.StartAsync(demo: false, dataDir: dataDir)).DisposeAsync();
        // As an earlier version (or an operator's chmod) left them: everything world-readable.
        const UnixFileMode worldReadable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        const UnixFileMode worldListable = worldReadable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        var db = Path.Combine(dataDir, "sharpeyes.db");
        var snapshots = Path.Combine(dataDir, "snapshots");
        var picture = Path.Combine(snapshots, "13012700001320000070.jpg");
        Directory.CreateDirectory(snapshots);
        await File.WriteAllBytesAsync(picture, [0xFF, 0xD8, 0xFF, 0xD9], TestContext.Current.CancellationToken);
        File.SetUnixFileMode(dataDir, worldListable);
        File.SetUnixFileMode(snapshots, worldListable);
        File.SetUnixFileMode(db, worldReadable);
        File.SetUnixFileMode(picture, worldReadable);

        await using var host = await GatewayHost.StartAsync(demo: false, dataDir: dataDir);

        Assert.Equal(PrivateDirectory, File.GetUnixFileMode(dataDir));
        Assert.Equal(PrivateDirectory, File.GetUnixFileMode(snapshots));
        Assert.Equal(Private, File.GetUnixFileMode(db));
        Assert.Equal(Private, File.GetUnixFileMode(picture));
        await Eventually.TrueAsync(() => File.Exists(db + "-shm"), "the store open in WAL mode");
        Assert.Equal(Private, File.GetUnixFileMode(db + "-shm"));
        Assert.Contains($"{dataDir} was readable by other users (mode 0755); tightened to 0700", host.Logs.All, StringComparison.Ordinal);
        Assert.Contains($"{db} was readable by other users (mode 0644); tightened to 0600", host.Logs.All, StringComparison.Ordinal);
        Assert.Contains($"{picture} was readable by other users (mode 0644); tightened to 0600", host.Logs.All, StringComparison.Ordinal);

        // And the store still works.
        var admin = new Admin.AdminClient(host.Channel);
        Assert.NotEmpty((await admin.ListApiKeysAsync(new ListApiKeysRequest(), host.AdminAuth)).Keys);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => new DeviceRegistry.DeviceRegistryClient(host.Channel)
            .GetDeviceAsync(new GetDeviceRequest { DeviceId = TestDevices.CameraId(70) }, host.AdminAuth).ResponseAsync)).StatusCode);
    }
}
