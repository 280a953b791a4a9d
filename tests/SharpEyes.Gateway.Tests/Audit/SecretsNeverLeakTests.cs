using System.Net;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using SharpEyes.Gateway.Tests.Http;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Audit;

/// <summary>
/// Issue 14's grep: a run that uses known secrets (an API key of every role, RTSP URLs with user:password and with a
/// credential parameter, the centre endpoint's ApiKey setting, a wrong key guessed) for registrations, updates,
/// refusals, sign-ins and exports; then every captured log line, the whole /metrics text, every audit entry and every
/// API answer of the run (answers and errors) is searched for each secret: the whole key, its secret part, each password.
/// </summary>
public sealed class SecretsNeverLeakTests
{
    private const string CentreApiKey = "centre-push-secret-7Hq2xLm9";
    private const string RtspPassword = "Rtsp-Pw-9f3Kq2";
    private const string NewRtspPassword = "Rtsp-New-Pw-4dZ8";
    private const string QueryPassword = "Query-Pw-6tY1";

    [Fact]
    public async Task No_log_line_metric_audit_entry_or_answer_of_a_run_holds_a_key_or_a_password()
    {
        await using var host = await GatewayHost.StartAsync(demo: true, extraArgs:
        [
            "--SharpEyes:Outbox:Endpoints:0:Name=centre", "--SharpEyes:Outbox:Endpoints:0:Url=http://127.0.0.1:9/feed",
            $"--SharpEyes:Outbox:Endpoints:0:ApiKey={CentreApiKey}", "--SharpEyes:Limits:FailedAuthPerAddress=1000",
        ]);
        var answers = new List<string>();
        var keys = new Dictionary<Role, string> { [Role.Admin] = host.AdminKey };
        var admin = new Admin.AdminClient(host.Channel);
        foreach (var role in new[] { Role.Vendor, Role.Operator, Role.Planner, Role.Centre })
        {
            var created = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = role, VendorId = role == Role.Vendor ? "acme" : "" }, host.AdminAuth);
            keys[role] = created.ApiKey;
            answers.Add(created.Info.ToString()); // the create answer itself carries the key once, by design; its listing must not
        }

        var guessed = "se_" + AuditClient.KeyId(keys[Role.Operator]) + "_Guessed0Secret0Value0123456789ab";
        var vendor = host.Auth(keys[Role.Vendor]);
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);

        async Task Try(Func<Task<IMessage>> call)
        {
            try
            {
                answers.Add(JsonFormatter.Default.Format(await call()));
            }
            catch (RpcException e)
            {
                answers.Add(e.Status.ToString() + e.Trailers);
            }
        }

        // Registrations with credentials in the URL, in parameters and in fields; an update; a bulk stream; refusals.
        var camera = TestDevices.Camera(1);
        camera.Camera.RtspUrl = $"rtsp://operator7:{RtspPassword}@10.0.0.7:554/ch1";
        await Try(async () => await registry.RegisterDeviceAsync(camera, vendor));
        var second = TestDevices.Camera(2);
        second.Camera.RtspUrl = $"rtsp://10.0.0.8:554/ch1?channel=1&password={QueryPassword}";
        await Try(async () => await registry.RegisterDeviceAsync(second, vendor));
        await Try(async () => await registry.UpdateDeviceAsync(new UpdateDeviceRequest
        {
            Device = new Device { DeviceId = camera.DeviceId, Camera = new CameraSpec { RtspPassword = NewRtspPassword } },
            UpdateMask = new FieldMask { Paths = { "camera.rtsp_password" } },
        }, vendor));
        var invalid = TestDevices.Camera(3);
        invalid.Camera.RtspUrl = $"rtsp://10.0.0.9/user=admin&password={RtspPassword}/ch1"; // credentials in the path: refused
        await Try(async () => await registry.RegisterDeviceAsync(invalid, vendor));
        using (var bulk = registry.RegisterDevices(vendor))
        {
            var third = TestDevices.Camera(4);
            third.Camera.RtspUrl = $"rtsp://admin:{RtspPassword}@10.0.0.10/ch1";
            await bulk.RequestStream.WriteAsync(third);
            await bulk.RequestStream.CompleteAsync();
            answers.Add((await bulk.ResponseAsync).ToString());
        }

        await Try(async () => await registry.RegisterDeviceAsync(camera, host.Auth(guessed)));
        await Try(async () => await registry.RegisterDeviceAsync(camera, host.Auth(keys[Role.Operator])));
        await Try(async () => await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Admin }, host.Auth(keys[Role.Centre])));
        await Try(async () => await admin.RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = keys[Role.Admin] }, host.AdminAuth)); // a whole key where an id belongs
        await Try(async () => await admin.RotateSecretKeysAsync(new RotateSecretKeysRequest(), host.AdminAuth));

        // Reads and exports.
        await Try(async () => await registry.ListDevicesAsync(new ListDevicesRequest(), vendor));
        await Try(async () => await registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = camera.DeviceId }, host.Auth(keys[Role.Operator])));
        await Try(async () => await admin.ListApiKeysAsync(new ListApiKeysRequest(), host.AdminAuth));
        var coverage = new V1.Coverage.CoverageClient(host.Channel);
        foreach (var format in new[] { ExportFormat.Csv, ExportFormat.Geojson })
        {
            await Try(async () => await coverage.ExportCoverageReportAsync(new ExportCoverageReportRequest { Format = format }, host.Auth(keys[Role.Planner])));
        }

        // The JSON API and the console: a key in the body of a sign-in, right and wrong; a key sent where an id belongs.
        using var api = new JsonApiClient(host.HttpPort);
        foreach (var (method, path, key, body) in new (HttpMethod, string, string?, string?)[]
        {
            (HttpMethod.Get, "/api/v1/devices", keys[Role.Vendor], null),
            (HttpMethod.Get, $"/api/v1/devices/{camera.DeviceId}", keys[Role.Centre], null),
            (HttpMethod.Post, "/api/v1/devices", guessed, JsonFormatter.Default.Format(camera)),
            (HttpMethod.Post, "/api/v1/devices", keys[Role.Vendor], JsonFormatter.Default.Format(invalid)),
            (HttpMethod.Post, $"/api/v1/keys/{keys[Role.Planner]}:revoke", keys[Role.Admin], "{}"),
            (HttpMethod.Get, "/api/v1/coverage/report:export?format=EXPORT_FORMAT_CSV", keys[Role.Operator], null),
        })
        {
            var answer = await api.SendAsync(method, path, key, body);
            answers.Add($"{(int)answer.Status} {answer.Body} {answer.WwwAuthenticate}");
        }

        foreach (var key in new[] { keys[Role.Operator], guessed, keys[Role.Vendor] })
        {
            using var browser = new SessionClient(host);
            using var response = await browser.SignInAsync(key);
            answers.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()} {string.Join(';', response.Headers.SelectMany(h => h.Value))}");
        }

        // The outbox has tried the centre (a closed port) with its key by now, and logged the failure.
        host.Time.Advance(TimeSpan.FromMinutes(2));
        var entries = await AuditClient.WaitAsync(host, new QueryAuditRequest { Outcome = "refused" }, 6);
        var audit = string.Join('\n', (await AuditClient.AllAsync(host)).Select(e => JsonFormatter.Default.Format(e)));
        var metrics = await MetricsScrape.TextAsync(host.HttpPort);
        var logs = host.Logs.All;

        var secrets = new List<(string What, string Value)> { ("the centre's ApiKey setting", CentreApiKey), ("an RTSP password", RtspPassword),
            ("an updated RTSP password", NewRtspPassword), ("a credential query parameter", QueryPassword) };
        foreach (var (role, key) in keys.Append(new(Role.Unspecified, guessed)))
        {
            secrets.Add(($"the {role} key", key));
            secrets.Add(($"the {role} key's secret", key[(key.IndexOf('_', 3) + 1)..]));
        }

        var places = new (string Where, string Text)[] { ("the logs", logs), ("/metrics", metrics), ("the audit log", audit), ("the API answers", string.Join('\n', answers)) };
        var leaks = (from p in places from s in secrets where p.Text.Contains(s.Value, StringComparison.Ordinal) select $"{s.What} in {p.Where}").ToList();

        Assert.True(leaks.Count == 0, string.Join('\n', leaks));
        // The run did what it says: the places searched hold the run's traces.
        Assert.Contains(entries, e => e.Outcome == "UNAUTHENTICATED");
        Assert.Contains(entries, e => e.Outcome == "PERMISSION_DENIED");
        Assert.Contains(entries, e => e.Outcome == "INVALID_ARGUMENT");
        Assert.Contains("Session.SignIn", audit, StringComparison.Ordinal);
        Assert.Contains("with RTSP credentials (not recorded)", audit, StringComparison.Ordinal);
        Assert.Contains("sharpeyes_audit_entries_total", metrics, StringComparison.Ordinal);
        Assert.Contains(answers, a => a.Contains("\"hasRtspCredentials\": true", StringComparison.Ordinal));
        Assert.Contains(answers, a => a.StartsWith("401 ", StringComparison.Ordinal));
        Assert.True(host.Logs.Lines.Count > 20, $"{host.Logs.Lines.Count} log lines");
    }
}
