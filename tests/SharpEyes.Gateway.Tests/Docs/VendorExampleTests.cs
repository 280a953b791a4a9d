using System.Text.RegularExpressions;
using System.Xml.Linq;
using Google.Protobuf;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using SharpEyes.Examples;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Docs;

/// <summary>
/// The examples of docs/vendor-guide.md cannot rot: the guide's copy of every file under docs/examples is that file,
/// the Node example runs with node and the C# example (compiled into this project) runs, each against a real gateway
/// that is then asked whether the camera is registered as sent and the alarm accepted, linked and correlated; the
/// grpcurl script's request bodies (grpcurl itself is not installed here) are parsed and sent as grpcurl would send them.
/// </summary>
public sealed class VendorExampleTests
{
    private const string VendorId = "acme";
    private const string DeviceId = "13012700001320000001"; // the examples' default
    private const string Begin = "<!-- example:begin ";
    private const string End = "<!-- example:end -->";
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Fenced-block languages by file extension.</summary>
    private static readonly Dictionary<string, string> Languages = new(StringComparer.Ordinal)
    {
        [".js"] = "js", [".json"] = "json", [".cs"] = "csharp", [".csproj"] = "xml", [".sh"] = "sh",
    };

    [Fact]
    public async Task The_guide_holds_every_example_file_word_for_word()
    {
        var files = Directory.EnumerateFiles(VendorGuide.ExamplesDirectory, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(InteropPaths.RepoRoot, f).Replace('\\', '/'))
            .Where(f => !f.Split('/').Any(part => part is "bin" or "obj" or "node_modules" or "package-lock.json"))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.Contains("docs/examples/node/register-and-publish.js", files);
        Assert.Contains("docs/examples/csharp/VendorExample.cs", files);
        Assert.Contains("docs/examples/grpcurl/vendor.sh", files);

        // No block in the guide names a file that is not there.
        var guide = await File.ReadAllTextAsync(VendorGuide.FilePath);
        var named = Regex.Matches(guide, Regex.Escape(Begin) + @"(\S+) -->").Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(files, named);

        var blocks = new List<GuideBlock>();
        foreach (var file in files)
        {
            var text = (await File.ReadAllTextAsync(Path.Combine(InteropPaths.RepoRoot, file))).ReplaceLineEndings("\n");
            Assert.True(Languages.TryGetValue(Path.GetExtension(file), out var language), $"{file}: no fence language for its extension");
            Assert.EndsWith("\n", text, StringComparison.Ordinal);
            Assert.DoesNotContain("```", text, StringComparison.Ordinal);
            blocks.Add(new GuideBlock($"{Begin}{file} -->\n", End, $"```{language}\n{text}```\n", $"the copy of {file}"));
        }

        await VendorGuide.CheckAsync(blocks);
    }

    [Fact]
    public async Task The_node_example_registers_the_camera_and_publishes_an_alarm_the_gateway_accepts()
    {
        var node = InteropPaths.RequireNode();
        await using var host = await StartGatewayAsync();
        var key = await host.CreateKeyAsync(Role.Vendor, VendorId);
        var directory = Path.Combine(VendorGuide.ExamplesDirectory, "node");

        var run = await ExternalTool.RunAsync(node, [Path.Combine(directory, "register-and-publish.js")], NodeTimeout, directory,
            new Dictionary<string, string>
            {
                // What `npm install` in the example's directory would provide: the packages of tests/node.
                ["NODE_PATH"] = Path.Combine(InteropPaths.NodeDirectory, "node_modules"),
                ["SHARPEYES_SERVER"] = $"http://127.0.0.1:{host.GrpcPort}",
                ["SHARPEYES_MQTT_URL"] = $"mqtt://127.0.0.1:{host.MqttPort}",
                ["SHARPEYES_VENDOR_ID"] = VendorId,
                ["SHARPEYES_API_KEY"] = key,
                ["SHARPEYES_DEVICE_ID"] = DeviceId,
            });

        Assert.True(run.ExitCode == 0, $"register-and-publish.js failed: {run}");
        Assert.Contains($"registered {DeviceId} (created: true, changed: true)", run.Stdout, StringComparison.Ordinal);
        var puback = Regex.Match(run.Stdout, @"PUBACK for (\S+): reason code 0x00 \(Success\)");
        Assert.True(puback.Success, $"no successful PUBACK in the output: {run}");
        await AssertRegisteredAndAcceptedAsync(host, key, [puback.Groups[1].Value]);
    }

    [Fact]
    public async Task The_csharp_example_registers_the_camera_idempotently_and_publishes_alarms_the_gateway_accepts()
    {
        await using var host = await StartGatewayAsync();
        var key = await host.CreateKeyAsync(Role.Vendor, VendorId);
        var (server, mqtt) = (new Uri($"http://127.0.0.1:{host.GrpcPort}"), new Uri($"mqtt://127.0.0.1:{host.MqttPort}"));
        var output = new StringWriter();

        var first = await VendorExample.RunAsync(server, mqtt, VendorId, key, DeviceId, output, TestContext.Current.CancellationToken);
        var again = await VendorExample.RunAsync(server, mqtt, VendorId, key, DeviceId, output, TestContext.Current.CancellationToken);

        Assert.True(first.Registration is { Created: true, Changed: true }, first.Registration.ToString());
        // The same registration again (credentials included) is an idempotent upsert: nothing created, nothing changed.
        Assert.True(again.Registration is { Created: false, Changed: false }, again.Registration.ToString());
        Assert.All([first, again], r => Assert.Equal(MqttClientPublishReasonCode.Success, r.Puback.ReasonCode));
        Assert.Contains($"PUBACK for {first.EventId}: reason code 0x00 (Success)", output.ToString(), StringComparison.Ordinal);
        Assert.NotEqual(first.EventId, again.EventId);
        await AssertRegisteredAndAcceptedAsync(host, key, [first.EventId, again.EventId]);
    }

    [Fact]
    public async Task The_grpcurl_request_bodies_parse_as_their_messages_and_the_gateway_answers_them_as_the_guide_says()
    {
        var script = await File.ReadAllTextAsync(Path.Combine(VendorGuide.ExamplesDirectory, "grpcurl", "vendor.sh"));
        var devices = DevicesReflection.Descriptor;
        var known = devices.Services.Select(s => s.FullName).Concat(devices.MessageTypes.Select(m => m.FullName)).ToHashSet(StringComparer.Ordinal);
        foreach (Match described in Regex.Matches(script, @" describe (\S+)"))
        {
            Assert.Contains(described.Groups[1].Value, known);
        }

        var calls = Regex.Matches(script, @"-d '(?<body>[^']*)' ""\$server"" sharpeyes\.v1\.DeviceRegistry/(?<method>\w+)");
        Assert.Equal(["RegisterDevice", "GetDevice"], calls.Select(c => c.Groups["method"].Value));

        await using var host = await StartGatewayAsync();
        var key = await host.CreateKeyAsync(Role.Vendor, VendorId);
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        var register = JsonParser.Default.Parse<RegisterDeviceRequest>(calls[0].Groups["body"].Value);
        var registered = await registry.RegisterDeviceAsync(register, host.Auth(key), deadline: Deadline());
        Assert.True(registered.Created);

        var get = JsonParser.Default.Parse<GetDeviceRequest>(calls[1].Groups["body"].Value);
        var device = await registry.GetDeviceAsync(get, host.Auth(key), deadline: Deadline());
        Assert.Equal(register.DeviceId, device.DeviceId);
        Assert.Equal(Datum.Wgs84, device.Position.Datum);
        // The credentials in the URL's user info are kept apart and not answered.
        Assert.Equal("rtsp://192.0.2.10:554/Streaming/Channels/101", device.Camera.RtspUrl);
        Assert.True(device.HasRtspCredentials);
        Assert.DoesNotContain("change-me", device.ToString(), StringComparison.Ordinal);
        // grpcurl prints the answer as protobuf JSON, which names that flag as the comment in the script does.
        Assert.Contains("\"hasRtspCredentials\": true", JsonFormatter.Default.Format(device), StringComparison.Ordinal);
        Assert.Contains("\"hasRtspCredentials\": true", script, StringComparison.Ordinal);
    }

    [Fact]
    public void The_csharp_example_project_references_the_package_versions_this_repository_builds_with()
    {
        var pinned = XDocument.Load(Path.Combine(InteropPaths.RepoRoot, "Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(p => (string)p.Attribute("Include")!, p => (string)p.Attribute("Version")!, StringComparer.Ordinal);
        var references = XDocument.Load(Path.Combine(VendorGuide.ExamplesDirectory, "csharp", "VendorExample.csproj")).Descendants("PackageReference")
            .Select(p => ((string)p.Attribute("Include")!, (string?)p.Attribute("Version")))
            .ToList();

        Assert.Equal(["Google.Protobuf", "Grpc.Net.Client", "Grpc.Tools", "MQTTnet"], references.Select(r => r.Item1).Order(StringComparer.Ordinal));
        Assert.All(references, r => Assert.True(pinned.GetValueOrDefault(r.Item1) == r.Item2,
            $"{r.Item1} {r.Item2} in docs/examples/csharp/VendorExample.csproj; the repository builds with {pinned.GetValueOrDefault(r.Item1)}"));
    }

    /// <summary>A demo gateway whose clock is the wall clock: the examples stamp their alarms with the time they run.</summary>
    private static Task<GatewayHost> StartGatewayAsync() => GatewayHost.StartAsync(time: new FakeTimeProvider(DateTimeOffset.UtcNow));

    private static DateTime Deadline() => DateTime.UtcNow.AddSeconds(30);

    /// <summary>
    /// What the examples claim, asked of the gateway: the camera is the vendor's, stored as sent (in WGS-84, without
    /// its RTSP credentials, resolution from its main stream), online because its alarm was heard; each alarm was
    /// accepted (no dead letter), placed in a grid, linked to the camera that sees it and correlated into an incident.
    /// </summary>
    private static async Task AssertRegisteredAndAcceptedAsync(GatewayHost host, string vendorKey, IReadOnlyList<string> eventIds)
    {
        var device = await new DeviceRegistry.DeviceRegistryClient(host.Channel)
            .GetDeviceAsync(new GetDeviceRequest { DeviceId = DeviceId }, host.Auth(vendorKey), deadline: Deadline());
        Assert.Equal((VendorId, DeviceKind.Camera, Datum.Wgs84), (device.VendorId, device.Kind, device.Position.Datum));
        Assert.Equal((114.603, 37.606), (device.Position.Lon, device.Position.Lat));
        Assert.Equal((90.0, 90.0, 60.0, 6.0), (device.Camera.AzimuthDeg, device.Camera.HfovDeg, device.Camera.RangeM, device.Camera.MountHeightM));
        Assert.Equal("rtsp://192.0.2.10:554/Streaming/Channels/101", device.Camera.RtspUrl);
        Assert.True(device.HasRtspCredentials);
        Assert.Equal(("", ""), (device.Camera.RtspUsername, device.Camera.RtspPassword));
        Assert.Equal([(StreamRole.Main, "H.265"), (StreamRole.Sub, "H.264")], device.Camera.Streams.Select(s => (s.Role, s.Codec)));
        Assert.Equal((2560, 1440), (device.Camera.ResolutionWidth, device.Camera.ResolutionHeight));
        Assert.NotEqual("", device.Region.GridCode);
        Assert.Equal(device.Region.GridCode, device.RegionCode);
        Assert.Equal(DeviceStatus.Online, device.Status);

        var stats = await host.GetStatsAsync();
        Assert.Equal(eventIds.Count, stats.AlarmsAccepted);
        Assert.True(stats.DeadLettersByReason.Values.All(n => n == 0), $"dead letters: {stats.DeadLettersByReason}");

        var incidents = new V1.Incidents.IncidentsClient(host.Channel);
        var listed = await incidents.ListIncidentsAsync(new ListIncidentsRequest(), host.AdminAuth, deadline: Deadline());
        var alarms = new List<Alarm>();
        foreach (var incident in listed.Incidents)
        {
            alarms.AddRange((await incidents.GetIncidentAsync(new GetIncidentRequest { IncidentId = incident.IncidentId }, host.AdminAuth, deadline: Deadline())).Alarms);
        }

        Assert.Equal(eventIds.Order(StringComparer.Ordinal), alarms.Select(a => a.EventId).Order(StringComparer.Ordinal));
        Assert.All(alarms, alarm =>
        {
            Assert.Equal((VendorId, DeviceId, false), (alarm.VendorId, alarm.DeviceId, alarm.PositionFromDevice));
            Assert.Equal((5, 6, 2), (alarm.Method, alarm.Type, alarm.Priority));
            Assert.Equal((114.60334, 37.606), (alarm.Position.Lon, alarm.Position.Lat));
            Assert.Equal(device.Region.GridCode, alarm.Region.GridCode);
            Assert.Contains(DeviceId, alarm.CameraIds);
        });
    }
}
