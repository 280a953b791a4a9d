using System.Globalization;
using System.Text.Json;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;
using static SharpEyes.Gateway.Tests.WebConsole.ConsoleBrowser;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.WebConsole;

/// <summary>
/// The incident inbox in a real browser (src/SharpEyes.Console/test/inbox.mjs: Debian's chromium, headless, driven by
/// playwright-core) against the real gateway executable on the system clock (heartbeats, the alarm's own time), with
/// alarms published over MQTT by MQTT.js. The script stops the gateway with SIGTERM mid-run; this test starts it again
/// on the same data directory and the same ports (the page keeps its origin), as systemd would after a restart.
/// </summary>
public sealed class InboxPageTests(ITestOutputHelper output)
{
    private const string AdminKey = "se_inboxadmin_0123456789abcdefghijklmnopqrstuvwxyz";
    private const string VendorId = "vendor-inbox";
    private static readonly string[] Screenshots = ["inbox-p1.png", "inbox-detail.png", "inbox-acknowledged.png", "inbox-closed.png", "inbox-banner-down.png", "inbox-after-restart.png", "inbox-planner-list.png", "inbox-planner.png", "inbox-planner-en.png"];

    [Fact]
    public async Task Alarms_reach_the_inbox_live_are_acknowledged_and_closed_survive_a_restart_and_planners_only_read()
    {
        var (node, chromium) = ConsoleBrowser.Require();
        InteropPaths.RequireNode(); // tests/node's MQTT.js, the vendor's publisher
        var dataDir = GatewayHost.NewDataDir();
        // Fixed ports, so that the gateway comes back where the page and the publisher look for it.
        string[] args =
        [
            "--demo", "--demo-cameras", "false", "--stream-checks", "false",
            "--grpc-port", Port(Ports.Free()), "--mqtt-port", Port(Ports.Free()), "--http-port", Port(Ports.Free()),
        ];
        var gateway = await GatewayProcess.StartAsync(dataDir, AdminKey, args);
        try
        {
            var admin = new Admin.AdminClient(gateway.Channel);
            async Task<string> Key(Role role, string vendor = "") =>
                (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = role, VendorId = vendor }, GatewayProcess.Auth(AdminKey))).ApiKey;
            var operatorKey = await Key(Role.Operator);
            var plannerKey = await Key(Role.Planner);
            var vendorKey = await Key(Role.Vendor, VendorId);
            var registry = new DeviceRegistry.DeviceRegistryClient(gateway.Channel);
            var alarmDevice = TestDevices.Alarm(1);
            await registry.RegisterDeviceAsync(alarmDevice, GatewayProcess.Auth(vendorKey));
            // A camera 26 m west of the alarm device, looking east at it: the incident's camera.
            var camera = TestDevices.Camera(1, lon: TestDevices.SeatLon - 0.0003, lat: TestDevices.SeatLat, azimuth: 90, range: 60);
            await registry.RegisterDeviceAsync(camera, GatewayProcess.Auth(vendorKey));

            var origin = $"http://127.0.0.1:{gateway.HttpPort}";
            var artifacts = ConsoleBrowser.Artifacts;
            ConsoleBrowser.ClearScreenshots(Screenshots);

            await using var script = ExternalTool.Start(node,
                [Path.Combine(ConsoleBrowser.ConsoleDirectory, "test", "inbox.mjs"), origin + "/", artifacts, Port(gateway.MqttPort), VendorId, alarmDevice.DeviceId, Port(gateway.Pid)],
                ConsoleBrowser.ConsoleDirectory,
                new Dictionary<string, string>
                {
                    ["CHROMIUM"] = chromium, ["SHARPEYES_OPERATOR_KEY"] = operatorKey, ["SHARPEYES_PLANNER_KEY"] = plannerKey, ["SHARPEYES_VENDOR_KEY"] = vendorKey,
                });
            // The script stops the gateway (SIGTERM) once an alarm is committed; start it again at once.
            await Eventually.TrueAsync(() => gateway.HasExited || script.HasExited, "the script to stop the gateway", TimeSpan.FromSeconds(120));
            if (gateway.HasExited)
            {
                await gateway.DisposeAsync();
                gateway = await GatewayProcess.StartAsync(dataDir, AdminKey, args);
            }

            var run = await script.WaitForExitAsync(TimeSpan.FromSeconds(180));
            output.WriteLine($"screenshots: {artifacts}/inbox-*.png");
            Assert.True(run.ExitCode == 0, $"inbox.mjs failed: {run}");
            using var seen = JsonDocument.Parse(run.Stdout);
            var page = seen.RootElement;

            // 1. Publish -> row in under 2 s, with every cue of a priority-1 incident.
            var latency = page.GetProperty("latencyMs").GetInt32();
            output.WriteLine($"priority-1 alarm: PUBLISH -> row in the inbox {latency} ms (PUBACK after {page.GetProperty("pubackMs").GetInt32()} ms)");
            Assert.InRange(latency, 0, 1999);
            Assert.Equal("tab-inbox", page.GetProperty("initialTab").GetString()); // an operator's page opens on the inbox
            var urgent = page.GetProperty("urgent");
            Assert.Equal("new", urgent.GetProperty("state").GetString());
            Assert.Equal("1", urgent.GetProperty("priority").GetString());
            Assert.True(urgent.GetProperty("flashing").GetBoolean());
            Assert.Equal("inbox-flash", urgent.GetProperty("animation").GetString());
            Assert.Equal("一级 紧急", urgent.GetProperty("badge").GetString());
            Assert.Equal("入侵", urgent.GetProperty("type").GetString());
            Assert.Equal("east gate: person climbing the fence", urgent.GetProperty("description").GetString());
            // The demo county's names for the alarm device's township, village and grid.
            Assert.Equal("万城镇 · 石良庄村民委员会 · 石良庄村第一网格", urgent.GetProperty("place").GetString());
            Assert.Equal("1 条报警", urgent.GetProperty("count").GetString());
            Assert.Equal("新警情 · 未确认", urgent.GetProperty("stateText").GetString());
            Assert.Matches(@"开始 \d{4}-\d\d-\d\d \d\d:\d\d [+-]\d\d:\d\d", urgent.GetProperty("when").GetString()!);
            Assert.True(urgent.GetProperty("tabFlagged").GetBoolean());
            Assert.Equal("警情 1", urgent.GetProperty("tabLabel").GetString());
            Assert.True(urgent.GetProperty("beeps").GetInt32() >= 1);
            Assert.True(urgent.GetProperty("typeFontPx").GetDouble() >= 22, "the incident's type is large");
            Assert.True(urgent.GetProperty("bodyFontPx").GetDouble() >= 15);
            var incidentId = urgent.GetProperty("incidentId").GetString()!;

            // 2. The detail: the alarm, the camera that sees it and its (missing) snapshot.
            var detail = page.GetProperty("detail");
            var alarm = Assert.Single(detail.GetProperty("alarms").EnumerateArray());
            Assert.StartsWith("inbox-p1-", alarm.GetProperty("eventId").GetString(), StringComparison.Ordinal);
            Assert.Contains(alarmDevice.DeviceId, alarm.GetProperty("text").GetString(), StringComparison.Ordinal);
            Assert.Contains("east gate: person climbing the fence", alarm.GetProperty("text").GetString(), StringComparison.Ordinal);
            Assert.Contains("入侵检测", alarm.GetProperty("text").GetString(), StringComparison.Ordinal); // GB/T 28181 method 5 type 6
            Assert.Equal([camera.DeviceId], Strings(detail.GetProperty("cameras")));
            Assert.Equal("尚无画面", detail.GetProperty("snapshot").GetString());
            Assert.True(detail.GetProperty("pulses").GetInt32() >= 1, "no pulsing marker on the map");

            // Acknowledged and closed from the page, and both on the feed with the operator's key id and the reason.
            Assert.Equal("请选择关闭原因或填写说明", page.GetProperty("closeWithoutReason").GetString());
            var keyId = page.GetProperty("operatorKeyId").GetString();
            Assert.Equal($"已确认 · {keyId}", page.GetProperty("acknowledged").GetProperty("state").GetString());
            Assert.False(page.GetProperty("acknowledged").GetProperty("flashing").GetBoolean());
            Assert.False(page.GetProperty("acknowledged").GetProperty("tabFlagged").GetBoolean());
            Assert.Equal("已关闭 · operator: 误报: patrol found nothing", page.GetProperty("closed").GetProperty("state").GetString());
            Assert.Equal(0, page.GetProperty("closed").GetProperty("controls").GetInt32());
            var feed = page.GetProperty("feed");
            Assert.Equal(keyId, feed.GetProperty("acknowledgedBy").GetProperty("keyId").GetString());
            Assert.Equal("ROLE_OPERATOR", feed.GetProperty("acknowledgedBy").GetProperty("role").GetString());
            Assert.Equal("patrol car 3 on its way", feed.GetProperty("acknowledgeNote").GetString());
            Assert.Equal("operator: 误报: patrol found nothing", feed.GetProperty("closeReason").GetString());
            Assert.Equal(["FEED_EVENT_KIND_INCIDENT_ACKNOWLEDGED", "FEED_EVENT_KIND_INCIDENT_CLOSED"], Strings(feed.GetProperty("order")));
            var incidents = new SharpEyes.V1.Incidents.IncidentsClient(gateway.Channel);
            var stored = await incidents.GetIncidentAsync(new GetIncidentRequest { IncidentId = incidentId }, GatewayProcess.Auth(operatorKey));
            Assert.Equal(IncidentState.Closed, stored.State);
            Assert.Equal(keyId, stored.AcknowledgedBy.KeyId);

            // 3. The restart: the banner down within a few seconds, up again, every incident once.
            var downMs = page.GetProperty("bannerDownMs").GetInt32();
            output.WriteLine($"SIGTERM -> banner down {downMs} ms; gateway down for {page.GetProperty("downForMs").GetInt32()} ms; MQTT back -> banner up {page.GetProperty("bannerUpAfterMs").GetInt32()} ms");
            output.WriteLine("the browser's reports while the gateway was down (expected): " + string.Join("; ", Strings(page.GetProperty("outageReports"))));
            Assert.InRange(downMs, 0, 5000);
            Assert.Equal("live-down", page.GetProperty("bannerDown").GetProperty("className").GetString());
            Assert.Contains("实时连接已断开", page.GetProperty("bannerDown").GetProperty("text").GetString(), StringComparison.Ordinal);
            Assert.StartsWith("实时连接正常", page.GetProperty("liveAfterRestart").GetString(), StringComparison.Ordinal);
            var pageIds = Strings(page.GetProperty("pageIds"));
            Assert.Equal(pageIds.Distinct().Count(), pageIds.Length);
            Assert.Equal(Strings(page.GetProperty("gatewayIds")).Order(StringComparer.Ordinal), pageIds.Order(StringComparer.Ordinal));
            var all = await incidents.ListIncidentsAsync(new ListIncidentsRequest { PageSize = 1000 }, GatewayProcess.Auth(operatorKey));
            Assert.Equal(3, all.Incidents.Count);
            Assert.Equal(all.Incidents.Select(i => i.IncidentId).Order(StringComparer.Ordinal), pageIds.Order(StringComparer.Ordinal));
            var rows = page.GetProperty("rowsAfterRestart").EnumerateArray().ToList();
            // Open first, by priority: the P2 from before the stop, the P3 from after, then the closed P1.
            Assert.Equal(["new", "new", "closed"], rows.Select(r => r.GetProperty("state").GetString()));
            Assert.Equal(["2", "3", "1"], rows.Select(r => r.GetProperty("priority").GetString()));
            Assert.StartsWith("inbox-before-stop-", rows[0].GetProperty("lastEventId").GetString(), StringComparison.Ordinal);
            Assert.StartsWith("inbox-after-restart-", rows[1].GetProperty("lastEventId").GetString(), StringComparison.Ordinal);

            // 4. The planner reads, and is refused when it tries anyway.
            var planner = page.GetProperty("planner");
            Assert.Equal("ROLE_PLANNER", planner.GetProperty("role").GetString());
            // A fresh page reads the open incidents (closed ones when the closed filter is chosen).
            Assert.Equal(2, planner.GetProperty("rows").GetInt32());
            Assert.Equal(2, planner.GetProperty("openRows").GetInt32());
            Assert.Equal(0, planner.GetProperty("controls").GetInt32());
            Assert.Equal(0, planner.GetProperty("snapshotButtons").GetInt32());
            Assert.Equal("只读：规划人员不能确认或关闭警情", planner.GetProperty("readOnly").GetString());
            foreach (var verb in new[] { "acknowledge", "close" })
            {
                var forced = page.GetProperty("plannerForced").GetProperty(verb);
                Assert.Equal(403, forced.GetProperty("status").GetInt32());
                Assert.Equal(7, forced.GetProperty("body").GetProperty("code").GetInt32());
                Assert.Contains("role Planner may not call", forced.GetProperty("body").GetProperty("message").GetString(), StringComparison.Ordinal);
            }

            var english = page.GetProperty("english");
            Assert.Equal("Incidents 2", english.GetProperty("tab").GetString());
            Assert.Equal("P2 high", english.GetProperty("badge").GetString());
            Assert.Equal("Object left or removed", english.GetProperty("type").GetString());
            Assert.Equal("New · not acknowledged", english.GetProperty("state").GetString());
            Assert.Equal("1 alarm", english.GetProperty("count").GetString());
            Assert.Matches(@"opened \d{4}-\d\d-\d\d \d\d:\d\d [+-]\d\d:\d\d.*ago", english.GetProperty("when").GetString()!);
            Assert.Equal("Read only: planners cannot acknowledge or close incidents", english.GetProperty("readOnly").GetString());
            Assert.Equal(["All", "Open", "Acknowledged", "Closed (recent)"], Strings(english.GetProperty("filters")));

            var target = await incidents.GetIncidentAsync(new GetIncidentRequest { IncidentId = page.GetProperty("plannerTarget").GetString() }, GatewayProcess.Auth(operatorKey));
            Assert.Equal(IncidentState.Open, target.State);
            Assert.Null(target.AcknowledgedAt);

            // 5. Nothing from another origin (the script fails on one itself; this reads its record independently).
            Assert.All(Strings(page.GetProperty("requests")), r => Assert.True(r.StartsWith(origin + "/", StringComparison.Ordinal) || r.StartsWith("blob:", StringComparison.Ordinal), r));
            foreach (var shot in Screenshots)
            {
                Assert.True(new FileInfo(Path.Combine(artifacts, shot)).Length > 20_000, $"{shot} is missing or blank");
            }
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
