using System.Net;
using System.Net.Sockets;
using System.Text;
using Grpc.Core;
using Google.Protobuf;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Http;

/// <summary>
/// The JSON API (gRPC JSON transcoding on the HTTP port) against a real in-process gateway, as a curl user or the
/// console calls it: plain HTTP/1.1 and JSON. Each answer is compared with what gRPC answers for the same call, so
/// the two cannot drift apart: the same devices, the same vendor scoping, the same errors and messages.
/// </summary>
public sealed class JsonApiTests : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private JsonApiClient _api = null!;
    private string _acme = null!;

    public async ValueTask InitializeAsync()
    {
        // Small request limits, so that a body over them is cheap to send.
        _host = await GatewayHost.StartAsync(extraArgs: ["--SharpEyes:Limits:GrpcMaxRequestBytes=4096", "--SharpEyes:Limits:GrpcMaxImportBytes=16384"]);
        _api = new JsonApiClient(_host.HttpPort);
        _acme = await _host.CreateKeyAsync(Role.Vendor, "acme");
    }

    public async ValueTask DisposeAsync()
    {
        _api.Dispose();
        await _host.DisposeAsync();
    }

    private DeviceRegistry.DeviceRegistryClient Registry => new(_host.Channel);

    [Fact]
    public async Task A_vendor_registers_a_camera_with_POST_and_reads_updates_lists_and_deregisters_it_as_gRPC_sees_it()
    {
        var camera = TestDevices.Camera(1);
        var registered = await _api.PostAsync("/api/v1/devices", _acme, camera);
        var answer = registered.As<RegisterDeviceResponse>();
        Assert.True(answer.Created);
        Assert.Equal("acme", answer.Device.VendorId);
        // The credentials embedded in the URL are split off and never answered, in JSON as in gRPC.
        Assert.DoesNotContain("s3cr3t-pw", registered.Body, StringComparison.Ordinal);
        Assert.Equal("rtsp://127.0.0.1:8554/cam1", answer.Device.Camera.RtspUrl);

        var viaGrpc = await Registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = camera.DeviceId }, _host.Auth(_acme));
        Assert.Equal(viaGrpc, answer.Device);
        Assert.Equal(viaGrpc, (await _api.GetAsync($"/api/v1/devices/{camera.DeviceId}", _acme)).As<Device>());

        // Query parameters take the request's fields, by their JSON or their proto names, enums by name.
        var page = (await _api.GetAsync("/api/v1/devices?kind=DEVICE_KIND_CAMERA&page_size=1", _acme)).As<ListDevicesResponse>();
        Assert.Equal([camera.DeviceId], page.Devices.Select(d => d.DeviceId));
        Assert.Empty((await _api.GetAsync("/api/v1/devices?kind=DEVICE_KIND_ALARM_DEVICE", _acme)).As<ListDevicesResponse>().Devices);

        // PATCH with an update mask changes only the fields it names.
        var patched = await _api.SendAsync(HttpMethod.Patch, $"/api/v1/devices/{camera.DeviceId}", _acme,
            """{"device": {"name": "东门", "model": "ignored"}, "updateMask": "name"}""");
        Assert.Equal("东门", patched.As<Device>().Name);
        var stored = await Registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = camera.DeviceId }, _host.Auth(_acme));
        Assert.Equal(("东门", "DS-2CD"), (stored.Name, stored.Model));
        Assert.True(stored.HasRtspCredentials);

        // A heartbeat brings it online.
        var heartbeat = (await _api.PostAsync("/api/v1/devices:heartbeat", _acme, new HeartbeatRequest { DeviceIds = { camera.DeviceId, "13012700001320999999" } }))
            .As<HeartbeatResponse>();
        Assert.Equal(1, heartbeat.Accepted);
        Assert.Equal(["13012700001320999999"], heartbeat.UnknownDeviceIds);
        Assert.Equal(DeviceStatus.Online, (await Registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = camera.DeviceId }, _host.Auth(_acme))).Status);

        Assert.True((await _api.SendAsync(HttpMethod.Delete, $"/api/v1/devices/{camera.DeviceId}", _acme)).As<DeregisterDeviceResponse>().Removed);
        var gone = await Assert.ThrowsAsync<RpcException>(() => Registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = camera.DeviceId }, _host.Auth(_acme)).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Another_vendors_device_is_404_exactly_like_an_unregistered_one()
    {
        var camera = TestDevices.Camera(2);
        await Registry.RegisterDeviceAsync(camera, _host.Auth(_acme));
        var other = await _host.CreateKeyAsync(Role.Vendor, "other");
        var unknownId = TestDevices.CameraId(999);

        foreach (var (method, path) in new[] { (HttpMethod.Get, "/api/v1/devices/{0}"), (HttpMethod.Delete, "/api/v1/devices/{0}"), (HttpMethod.Get, "/api/v1/coverage/cameras/{0}") })
        {
            var theirs = await _api.SendAsync(method, string.Format(System.Globalization.CultureInfo.InvariantCulture, path, camera.DeviceId), other);
            var nobodys = await _api.SendAsync(method, string.Format(System.Globalization.CultureInfo.InvariantCulture, path, unknownId), other);
            Assert.Equal(HttpStatusCode.NotFound, theirs.Status);
            Assert.Equal(HttpStatusCode.NotFound, nobodys.Status);
            Assert.Equal(nobodys.Body.Replace(unknownId, camera.DeviceId, StringComparison.Ordinal), theirs.Body);
        }

        var (code, message) = (await _api.GetAsync($"/api/v1/devices/{camera.DeviceId}", other)).Error();
        var grpc = await Assert.ThrowsAsync<RpcException>(() => Registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = camera.DeviceId }, _host.Auth(other)).ResponseAsync);
        Assert.Equal(((int)StatusCode.NotFound, grpc.Status.Detail), (code, message));
        Assert.Equal($"device_id: {camera.DeviceId} is not registered", message);

        Assert.Empty((await _api.GetAsync("/api/v1/devices", other)).As<ListDevicesResponse>().Devices);
        Assert.Single((await _api.GetAsync("/api/v1/devices", _acme)).As<ListDevicesResponse>().Devices);
    }

    [Fact]
    public async Task A_validation_error_is_400_with_the_field_level_message_gRPC_gives()
    {
        var camera = TestDevices.Camera(3, range: 6000);
        var answer = await _api.PostAsync("/api/v1/devices", _acme, camera);
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        var grpc = await Assert.ThrowsAsync<RpcException>(() => Registry.RegisterDeviceAsync(camera, _host.Auth(_acme)).ResponseAsync);
        Assert.Equal(((int)StatusCode.InvalidArgument, grpc.Status.Detail), answer.Error());
        Assert.Equal("camera.range_m: must be in (0, 5000], got 6000", grpc.Status.Detail);

        // What transcoding itself refuses is INVALID_ARGUMENT too: JSON that is not JSON, a field the message lacks.
        Assert.Equal(((int)StatusCode.InvalidArgument, "Request JSON payload is not correctly formatted."),
            (await _api.SendAsync(HttpMethod.Post, "/api/v1/devices", _acme, "{\"deviceId\": ")).Error());
        var unknownField = await _api.SendAsync(HttpMethod.Post, "/api/v1/devices", _acme, "{\"deviceIdd\": \"1\"}");
        Assert.Equal(HttpStatusCode.BadRequest, unknownField.Status);
        Assert.Equal((int)StatusCode.InvalidArgument, unknownField.Error().Code);
        // An unknown incident is NOT_FOUND, 404, as over gRPC.
        Assert.Equal(HttpStatusCode.NotFound, (await _api.SendAsync(HttpMethod.Post, "/api/v1/incidents/inc_none:close", _host.AdminKey, "{\"reason\": \"x\"}")).Status);
    }

    [Fact]
    public async Task Without_a_key_the_answer_is_401_and_a_role_the_method_does_not_allow_gets_403_naming_the_allowed_roles()
    {
        var missing = await _api.GetAsync("/api/v1/incidents", key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.Status);
        Assert.Equal("Bearer", missing.WwwAuthenticate);
        Assert.Equal(((int)StatusCode.Unauthenticated, "missing 'Authorization: Bearer <api key>' header or session cookie (sign in with POST /api/session)"), missing.Error());

        var revoked = await _host.CreateKeyAsync(Role.Operator);
        await new Admin.AdminClient(_host.Channel).RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = revoked.Split('_')[1] }, _host.AdminAuth);
        var refused = await _api.GetAsync("/api/v1/incidents", revoked);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.Equal(((int)StatusCode.Unauthenticated, "unknown or revoked API key"), refused.Error());

        var planner = await _host.CreateKeyAsync(Role.Planner);
        var denied = await _api.SendAsync(HttpMethod.Post, "/api/v1/incidents/inc_any:close", planner, "{\"reason\": \"x\"}");
        Assert.Equal(HttpStatusCode.Forbidden, denied.Status);
        var grpc = await Assert.ThrowsAsync<RpcException>(() => new V1.Incidents.IncidentsClient(_host.Channel)
            .CloseIncidentAsync(new CloseIncidentRequest { IncidentId = "inc_any", Reason = "x" }, _host.Auth(planner)).ResponseAsync);
        Assert.Equal(((int)StatusCode.PermissionDenied, grpc.Status.Detail), denied.Error());
        Assert.Equal("role Planner may not call /sharpeyes.v1.Incidents/CloseIncident; allowed: Admin, Operator", grpc.Status.Detail);

        // A vendor key reads its own devices, not the admin's statistics.
        Assert.Equal(((int)StatusCode.PermissionDenied, "role Vendor may not call /sharpeyes.v1.Admin/GetStats; allowed: Admin"),
            (await _api.GetAsync("/api/v1/stats", _acme)).Error());
    }

    [Fact]
    public async Task Too_many_wrong_keys_from_one_address_are_429_with_Retry_After_even_for_a_right_key()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: ["--SharpEyes:Limits:FailedAuthPerAddress=3"]);
        using var api = new JsonApiClient(host.HttpPort);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await api.GetAsync("/api/v1/stats", "se_nobody_wrong")).Status);
        }

        var locked = await api.GetAsync("/api/v1/stats", host.AdminKey);
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.Status);
        Assert.Equal(TimeSpan.FromSeconds(60), locked.RetryAfter);
        Assert.Equal(((int)StatusCode.ResourceExhausted, "too many failed authentications from this address; try again in at most 60 s (SharpEyes:Limits:FailedAuthPerAddress)"),
            locked.Error());
    }

    [Fact]
    public async Task An_operator_lists_the_open_incidents_and_closes_one_and_a_second_close_is_refused()
    {
        await Registry.RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_acme));
        var mqtt = await _host.ConnectMqttAsync("acme", _acme);
        var ack = await mqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(1))
            .WithPayload(TestDevices.AlarmJson("e1", priority: 1)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode); // after its commit: the incident is there
        var operatorKey = await _host.CreateKeyAsync(Role.Operator);

        var open = (await _api.GetAsync("/api/v1/incidents?state=INCIDENT_STATE_OPEN", operatorKey)).As<ListIncidentsResponse>();
        var incident = Assert.Single(open.Incidents);
        Assert.Equal(("e1", 1), (incident.Alarms.Single().EventId, incident.HighestPriority));
        var incidents = new V1.Incidents.IncidentsClient(_host.Channel);
        Assert.Equal(await incidents.ListIncidentsAsync(new ListIncidentsRequest { State = IncidentState.Open }, _host.Auth(operatorKey)), open);

        var closed = (await _api.SendAsync(HttpMethod.Post, $"/api/v1/incidents/{incident.IncidentId}:close", operatorKey, "{\"reason\": \"patrol found nothing\"}"))
            .As<Incident>();
        Assert.Equal((IncidentState.Closed, "operator: patrol found nothing"), (closed.State, closed.CloseReason));
        var stored = await incidents.GetIncidentAsync(new GetIncidentRequest { IncidentId = incident.IncidentId }, _host.Auth(operatorKey));
        Assert.Equal((IncidentState.Closed, closed.CloseReason, closed.ClosedAt), (stored.State, stored.CloseReason, stored.ClosedAt));
        Assert.Empty((await _api.GetAsync("/api/v1/incidents?state=INCIDENT_STATE_OPEN", operatorKey)).As<ListIncidentsResponse>().Incidents);

        var again = await _api.SendAsync(HttpMethod.Post, $"/api/v1/incidents/{incident.IncidentId}:close", operatorKey, "{\"reason\": \"twice\"}");
        Assert.Equal(HttpStatusCode.BadRequest, again.Status);
        Assert.Equal((int)StatusCode.FailedPrecondition, again.Error().Code);
    }

    [Fact]
    public async Task Coverage_reports_and_blind_spots_over_HTTP_are_gRPCs()
    {
        var operatorKey = await _host.CreateKeyAsync(Role.Operator);
        var coverage = new V1.Coverage.CoverageClient(_host.Channel);

        var report = (await _api.GetAsync("/api/v1/coverage/report?regionPrefix=130127&groupBy=REGION_LEVEL_TOWNSHIP", operatorKey)).As<CoverageReport>();
        var grpc = await coverage.GetCoverageReportAsync(new CoverageReportRequest { RegionPrefix = "130127", GroupBy = RegionLevel.Township }, _host.Auth(operatorKey));
        Assert.Equal(grpc, report); // the host's clock is fake: computed_at is the same instant
        Assert.Equal("130127", report.Summary.Code);
        Assert.NotEmpty(report.Rows);
        Assert.All(report.Rows, r => Assert.Matches("^130127[0-9]{3}$", r.Code));
        Assert.Equal(8, report.Summary.Kpis.Count);

        var spots = (await _api.GetAsync("/api/v1/coverage/blindSpots?limit=3&includeGrids=true", operatorKey)).As<ListBlindSpotsResponse>();
        Assert.Equal(await coverage.ListBlindSpotsAsync(new ListBlindSpotsRequest { Limit = 3, IncludeGrids = true }, _host.Auth(operatorKey)), spots);
        Assert.Equal(3, spots.BlindSpots.Count);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_refused_from_its_Content_Length_before_a_byte_of_it_is_read()
    {
        // The headers announce 5,000 bytes and none follow: the answer cannot have waited for the body.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _host.HttpPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /api/v1/devices HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {_acme}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"));
        var (status, body) = await ReadResponseAsync(stream);
        Assert.Equal(413, status);
        Assert.Equal("""{"code":8,"message":"request body of 5,000 bytes is over the limit of 4,096 bytes for /sharpeyes.v1.DeviceRegistry/RegisterDevice (SharpEyes:Limits:GrpcMaxRequestBytes)","details":[]}""", body);
        var metrics = await MetricsScrape.ReadAsync(_host.HttpPort);
        Assert.Equal(1, metrics["sharpeyes_refusals_total{kind=\"grpc-request-too-large\"}"]);

        // Imports answer to their own limit, as over gRPC: a body between the two limits is read (and judged on its content).
        var planner = await _host.CreateKeyAsync(Role.Planner);
        var mid = new ImportGeoJsonRequest { Geojson = "{\"type\": \"FeatureCollection\", \"features\": [], \"pad\": \"" + new string('x', 8000) + "\"}" };
        var read = await _api.PostAsync("/api/v1/grids:import", planner, mid);
        Assert.NotEqual(HttpStatusCode.RequestEntityTooLarge, read.Status);
        var big = await _api.PostAsync("/api/v1/grids:import", planner, new ImportGeoJsonRequest { Geojson = new string('x', 20000) });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.Status);
        Assert.EndsWith("for /sharpeyes.v1.Geography/ImportGrids (SharpEyes:Limits:GrpcMaxImportBytes)", big.Error().Message, StringComparison.Ordinal);

        // A body without a length (chunked) is cut off at the same limit while it is read.
        using var chunked = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{_host.HttpPort}/api/v1/devices")
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("{\"name\": \"" + new string('x', 10000) + "\"}"))),
        };
        chunked.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        chunked.Headers.TransferEncodingChunked = true;
        chunked.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _acme);
        using var http = new HttpClient();
        using var cut = await http.SendAsync(chunked);
        Assert.Equal(HttpStatusCode.BadRequest, cut.StatusCode);
        Assert.Contains("Request body too large. The max request body size is 4096 bytes.", await cut.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_JSON_routes_are_served_on_the_HTTP_port_and_not_on_the_gRPC_port()
    {
        var stats = await _api.GetAsync("/api/v1/stats", _host.AdminKey);
        Assert.Equal(HttpStatusCode.OK, stats.Status);
        // int64 values are JSON numbers (docs/http-api.md says so), not the strings of Google's mapping.
        using (var json = System.Text.Json.JsonDocument.Parse(stats.Body))
        {
            Assert.Equal(System.Text.Json.JsonValueKind.Number, json.RootElement.GetProperty("lastSequence").ValueKind);
            Assert.Equal(_host.LastSequence, json.RootElement.GetProperty("lastSequence").GetInt64());
        }

        using var http = new HttpClient();
        using var h2 = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{_host.GrpcPort}/api/v1/stats")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        h2.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _host.AdminKey);
        using var onGrpcPort = await http.SendAsync(h2);
        Assert.False(onGrpcPort.IsSuccessStatusCode, $"{onGrpcPort.StatusCode} on the gRPC port");
        Assert.DoesNotContain("lastSequence", await onGrpcPort.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>Reads one HTTP/1.1 response with a Content-Length: its status and body.</summary>
    private static async Task<(int Status, string Body)> ReadResponseAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = new List<byte>();
        var buffer = new byte[4096];
        while (true)
        {
            var text = Encoding.UTF8.GetString([.. received]);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var length = int.Parse(System.Text.RegularExpressions.Regex.Match(text, @"Content-Length: (\d+)", System.Text.RegularExpressions.RegexOptions.IgnoreCase).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                var headerBytes = Encoding.UTF8.GetByteCount(text[..(end + 4)]);
                if (received.Count >= headerBytes + length)
                {
                    return (int.Parse(text[9..12], System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetString([.. received.Skip(headerBytes).Take(length)]));
                }
            }

            var read = await stream.ReadAsync(buffer, timeout.Token);
            Assert.True(read > 0, "the connection closed before a whole response: " + text);
            received.AddRange(buffer.AsSpan(0, read).ToArray());
        }
    }
}
