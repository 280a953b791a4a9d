using SharpEyes.Gateway.Cli;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Auth;

/// <summary>The CLI against a running gateway: create keys for each role, import geography, read stats.</summary>
public sealed class CliTests
{
    [Fact]
    public async Task Admins_create_keys_and_load_geography_from_the_command_line()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var server = $"http://127.0.0.1:{host.GrpcPort}";
        var file = Path.Combine(host.DataDir, "county.geojson");
        await File.WriteAllTextAsync(file, Geo.Demo.GaoyiDemo.GridsGeoJson, TestContext.Current.CancellationToken);

        var (code1, key, _) = await Run("keys", "create", "--role", "vendor", "--vendor-id", "acme", "--server", server, "--key", host.AdminKey);
        var (code2, _, _) = await Run("geo", "import-grids", file, "--datum", "wgs84", "--server", server, "--key", host.AdminKey);
        var (code3, list, _) = await Run("keys", "list", "--server", server, "--key", host.AdminKey);
        var (code4, _, denied) = await Run("keys", "list", "--server", server, "--key", key.Trim());
        var (code5, _, usage) = await Run("keys", "create", "--role", "wizard", "--server", server, "--key", host.AdminKey);

        Assert.Equal(0, code1);
        Assert.StartsWith("se_", key.Trim(), StringComparison.Ordinal);
        Assert.Equal(0, code2);
        Assert.Equal(0, code3);
        Assert.Contains("acme", list, StringComparison.Ordinal);
        Assert.DoesNotContain(key.Trim(), list, StringComparison.Ordinal);
        Assert.Equal(1, code4);
        Assert.Contains("PermissionDenied", denied, StringComparison.Ordinal);
        Assert.Equal(2, code5);
        Assert.Contains("--role", usage, StringComparison.Ordinal);
        var grids = await new V1.Geography.GeographyClient(host.Channel).ListGridsAsync(new V1.ListGridsRequest { Level = 1 }, host.AdminAuth);
        Assert.Equal("130127", Assert.Single(grids.Grids).Code);
    }

    [Fact]
    public async Task A_command_against_a_server_that_never_answers_fails_at_its_timeout()
    {
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start(); // accepts connections (the kernel's backlog) and never answers
        var server = $"http://127.0.0.1:{((System.Net.IPEndPoint)silent.LocalEndpoint).Port}";

        var (code, _, error) = await Run("stats", "--server", server, "--key", "se_x_y", "--timeout", "1");
        var (badCode, _, badError) = await Run("stats", "--server", server, "--key", "se_x_y", "--timeout", "soon");

        Assert.Equal(1, code);
        Assert.StartsWith("error: DeadlineExceeded", error, StringComparison.Ordinal);
        Assert.Equal(2, badCode);
        Assert.Contains("--timeout", badError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Vendors_register_devices_from_protobuf_JSON_and_the_feed_shows_them()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var server = $"http://127.0.0.1:{host.GrpcPort}";
        var vendor = await host.CreateKeyAsync(V1.Role.Vendor, "acme");
        var json = Google.Protobuf.JsonFormatter.Default;
        var bad = TestDevices.Camera(2);
        bad.Camera.RangeM = 6000;
        // One per line (NDJSON): two good devices and one out of range.
        var ndjson = Path.Combine(host.DataDir, "devices.ndjson");
        await File.WriteAllTextAsync(ndjson, string.Join('\n', json.Format(TestDevices.Camera(1)), json.Format(bad), json.Format(TestDevices.Alarm(3))) + "\n", TestContext.Current.CancellationToken);
        var misspelt = Path.Combine(host.DataDir, "misspelt.json");
        await File.WriteAllTextAsync(misspelt, "{\"deviceId\": \"13012700001320000001\", \"kind\": \"DEVICE_KIND_CAMERA\", \"azimuth\": 90}", TestContext.Current.CancellationToken);
        var array = Path.Combine(host.DataDir, "one.json");
        await File.WriteAllTextAsync(array, "[" + json.Format(TestDevices.Camera(4)) + "]", TestContext.Current.CancellationToken);

        var (bulkCode, bulk, _) = await Run("devices", "register", ndjson, "--server", server, "--key", vendor);
        var (misspeltCode, _, misspeltError) = await Run("devices", "register", misspelt, "--server", server, "--key", vendor);
        var (arrayCode, arrayOut, _) = await Run("devices", "register", array, "--server", server, "--key", vendor);
        var (listCode, list, _) = await Run("devices", "list", "--kind", "camera", "--server", server, "--key", host.AdminKey);
        var (getCode, get, _) = await Run("devices", "get", TestDevices.AlarmId(3), "--server", server, "--key", vendor);
        var (beatCode, beat, _) = await Run("devices", "heartbeat", TestDevices.AlarmId(3), TestDevices.CameraId(9), "--server", server, "--key", vendor);
        var (feedCode, feed, _) = await Run("feed", "watch", "--kind", "device-registered", "--count", "3", "--server", server, "--key", host.AdminKey);
        var (kindCode, _, kindError) = await Run("feed", "watch", "--kind", "device-exploded", "--server", server, "--key", host.AdminKey);

        Assert.Equal(1, bulkCode);
        Assert.Contains($"rejected #1 {TestDevices.CameraId(2)}: InvalidArgument: camera.range_m: must be in (0, 5000], got 6000", bulk, StringComparison.Ordinal);
        Assert.Contains("accepted 2 (created 2, changed 2), rejected 1", bulk, StringComparison.Ordinal);
        Assert.Equal(2, misspeltCode);
        Assert.Contains("azimuth", misspeltError, StringComparison.Ordinal); // the unknown field is named, not dropped
        Assert.Equal(0, arrayCode); // an array of one is a bulk registration of one
        Assert.Contains("accepted 1 (created 1, changed 1), rejected 0", arrayOut, StringComparison.Ordinal);
        Assert.Equal(0, listCode);
        Assert.Equal([TestDevices.CameraId(1), TestDevices.CameraId(4)], list.Split('\n').Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t')[0]));
        Assert.Equal(0, getCode);
        Assert.Contains("\"vendorId\": \"acme\"", get, StringComparison.Ordinal);
        Assert.Equal(1, beatCode); // one id is unknown
        Assert.Contains("accepted 1", beat, StringComparison.Ordinal);
        Assert.Contains($"unknown {TestDevices.CameraId(9)}", beat, StringComparison.Ordinal);
        Assert.Equal(0, feedCode);
        Assert.Equal(3, feed.Split('\n').Count(l => l.Contains("\tdevice-registered\t", StringComparison.Ordinal)));
        Assert.Equal(2, kindCode);
        Assert.Contains("incident-opened", kindError, StringComparison.Ordinal); // lists the kinds there are
    }

    [Fact]
    public async Task Operators_list_show_acknowledge_and_close_incidents_from_the_command_line()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var server = $"http://127.0.0.1:{host.GrpcPort}";
        var vendor = await host.CreateKeyAsync(V1.Role.Vendor, "acme");
        var operatorKey = await host.CreateKeyAsync(V1.Role.Operator);
        await new V1.DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), GatewayProcess.Auth(vendor));
        using (var mqtt = await host.ConnectMqttAsync("acme", vendor))
        {
            var ack = await mqtt.PublishAsync(AlarmPublisher.Alarm(TestDevices.AlarmId(1), "evt-cli-1"), TestContext.Current.CancellationToken);
            Assert.True(ack.IsSuccess, ack.ReasonString);
        }

        var (listCode, list, _) = await Run("incidents", "list", "--open", "--server", server, "--key", operatorKey);
        var id = Assert.Single(list.Split('\n').Skip(1), l => l.Length > 0).Split('\t')[0];
        var (showCode, show, _) = await Run("incidents", "show", id, "--server", server, "--key", operatorKey);
        var (ackCode, acknowledged, _) = await Run("incidents", "ack", id, "--note", "patrol on its way", "--server", server, "--key", operatorKey);
        var (ackedCode, acked, _) = await Run("incidents", "list", "--open", "--server", server, "--key", operatorKey);
        var (againCode, _, again) = await Run("incidents", "ack", id, "--server", server, "--key", operatorKey);
        var (noReasonCode, _, noReason) = await Run("incidents", "close", id, "--server", server, "--key", operatorKey);
        var (closeCode, close, _) = await Run("incidents", "close", id, "--reason", "patrol checked, false alarm", "--server", server, "--key", operatorKey);
        var (closedCode, closed, _) = await Run("incidents", "list", "--closed", "--server", server, "--key", operatorKey);
        var (vendorCode, _, vendorError) = await Run("incidents", "list", "--server", server, "--key", vendor);

        Assert.Equal(0, listCode);
        Assert.Matches(@"^inc_[0-9a-f]{32}$", id);
        Assert.Equal(0, showCode);
        Assert.Contains("\"eventId\": \"evt-cli-1\"", show, StringComparison.Ordinal); // with its alarms
        Assert.Equal(0, ackCode);
        var keyId = operatorKey.Split('_')[1];
        Assert.Matches($@"^acknowledged {id} \(key {keyId} at \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)", acknowledged);
        Assert.Contains("\tacknowledged\tclosed by", acked, StringComparison.Ordinal); // the column
        Assert.Matches($@"{id}\topen\t.*\tkey {keyId} at [^\t]+\t-\n", acked);
        Assert.Matches($@"{id}\topen\t.*\t-\t-\n", list); // not acknowledged yet, not closed
        Assert.Equal(1, againCode);
        Assert.Contains("already acknowledged by key " + keyId, again, StringComparison.Ordinal);
        Assert.Equal(2, noReasonCode);
        Assert.Contains("--reason", noReason, StringComparison.Ordinal);
        Assert.Equal(0, closeCode);
        Assert.Contains($"closed {id} (operator: patrol checked, false alarm)", close, StringComparison.Ordinal);
        Assert.Equal(0, closedCode);
        Assert.Contains(id + "\tclosed\t", closed, StringComparison.Ordinal);
        Assert.Equal(1, vendorCode); // incidents are not a vendor's to read
        Assert.Contains("PermissionDenied", vendorError, StringComparison.Ordinal);
    }

    internal static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        // Bounded: a test never waits for ever (a --timeout given by the test comes later and wins).
        var code = await GatewayCli.RunAsync(["--timeout", "60", .. args], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
