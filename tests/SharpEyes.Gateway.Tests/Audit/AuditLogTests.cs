using System.Net;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Http;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Audit;

/// <summary>
/// Issue 14's audit log: every kind of change, from each surface (gRPC, the JSON API, the console's sign-in), is
/// recorded with who (key id, role, vendor, client address), what (action, target ids, a summary without secrets),
/// when and the outcome; refused calls too.
/// </summary>
public sealed class AuditLogTests : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private string _vendor = null!;
    private string _operator = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync(demo: false);
        _vendor = await _host.CreateKeyAsync(Role.Vendor, "acme");
        _operator = await _host.CreateKeyAsync(Role.Operator);
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private DeviceRegistry.DeviceRegistryClient Registry => new(_host.Channel);

    [Fact]
    public async Task Registrations_updates_and_deregistrations_over_gRPC_are_recorded_with_their_actor_and_without_credentials()
    {
        var camera = TestDevices.Camera(1); // rtsp://admin:s3cr3t-pw@...
        await Registry.RegisterDeviceAsync(camera, _host.Auth(_vendor));
        var update = new UpdateDeviceRequest
        {
            Device = new Device { DeviceId = camera.DeviceId, Name = "gate 2", Camera = new CameraSpec { RtspPassword = "n3w-s3cret" } },
            UpdateMask = new FieldMask { Paths = { "name", "camera.rtsp_password" } },
        };
        await Registry.UpdateDeviceAsync(update, _host.Auth(_vendor));
        using (var bulk = Registry.RegisterDevices(_host.Auth(_vendor)))
        {
            foreach (var serial in new[] { 2, 3, 4 })
            {
                await bulk.RequestStream.WriteAsync(TestDevices.Camera(serial));
            }

            await bulk.RequestStream.CompleteAsync();
            Assert.Equal(3, (await bulk.ResponseAsync).Created);
        }

        await Registry.DeregisterDeviceAsync(new DeregisterDeviceRequest { DeviceId = camera.DeviceId }, _host.Auth(_vendor));

        var registered = await AuditClient.SingleAsync(_host, "DeviceRegistry.RegisterDevice", camera.DeviceId);
        var updated = await AuditClient.SingleAsync(_host, "DeviceRegistry.UpdateDevice", camera.DeviceId);
        var bulkEntry = await AuditClient.SingleAsync(_host, "DeviceRegistry.RegisterDevices", TestDevices.CameraId(3));
        var removed = await AuditClient.SingleAsync(_host, "DeviceRegistry.DeregisterDevice", camera.DeviceId);

        foreach (var e in new[] { registered, updated, bulkEntry, removed })
        {
            Assert.Equal((AuditClient.KeyId(_vendor), Role.Vendor, "acme", "OK", 1L), (e.KeyId, e.Role, e.VendorId, e.Outcome, e.Count));
            AuditClient.IsLoopbackEndpoint(e.ClientAddress);
            Assert.Equal(_host.Time.GetUtcNow(), e.At.ToDateTimeOffset());
            Assert.DoesNotContain("s3cr3t", e.ToString(), StringComparison.Ordinal);
        }

        Assert.Equal("registered camera of vendor acme, with RTSP credentials (not recorded)", registered.Summary);
        Assert.Equal("updated fields name, camera.rtsp_password", updated.Summary);
        Assert.Equal([TestDevices.CameraId(2), TestDevices.CameraId(3), TestDevices.CameraId(4)], bulkEntry.TargetIds);
        Assert.Equal("bulk registration of 3 devices: 3 accepted (3 new, 3 changed), 0 rejected", bulkEntry.Summary);
        Assert.Equal("deregistered", removed.Summary);
        // Reads are not audited.
        await Registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = TestDevices.CameraId(2) }, _host.Auth(_vendor));
        Assert.Empty(await AuditClient.OfAsync(_host, "DeviceRegistry.GetDevice"));
    }

    [Fact]
    public async Task Changes_through_the_JSON_API_are_recorded_as_the_same_actions()
    {
        using var api = new JsonApiClient(_host.HttpPort);
        var camera = TestDevices.Camera(11);
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsync("/api/v1/devices", _vendor, camera)).Status);
        var patch = await api.SendAsync(HttpMethod.Patch, $"/api/v1/devices/{camera.DeviceId}", _vendor,
            """{"device": {"model": "DS-9"}, "updateMask": "model"}""");
        Assert.Equal(HttpStatusCode.OK, patch.Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(HttpMethod.Delete, $"/api/v1/devices/{camera.DeviceId}", _vendor)).Status);

        var entries = await AuditClient.AllAsync(_host, new QueryAuditRequest { TargetId = camera.DeviceId });

        Assert.Equal(["DeviceRegistry.DeregisterDevice", "DeviceRegistry.UpdateDevice", "DeviceRegistry.RegisterDevice"], entries.Select(e => e.Action));
        Assert.All(entries, e => Assert.Equal((AuditClient.KeyId(_vendor), "acme", "OK"), (e.KeyId, e.VendorId, e.Outcome)));
        Assert.Equal("updated fields model", entries[1].Summary);
        Assert.All(entries, e => Assert.DoesNotContain("s3cr3t", e.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Key_creation_and_revocation_and_the_rotation_of_the_secret_key_ring_are_recorded()
    {
        var admin = new Admin.AdminClient(_host.Channel);
        var created = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Vendor, VendorId = "bolt", Description = "Bolt cameras" }, _host.AdminAuth);
        await admin.RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = created.Info.KeyId }, _host.AdminAuth);
        var rotated = await admin.RotateSecretKeysAsync(new RotateSecretKeysRequest(), _host.AdminAuth);

        var create = await AuditClient.SingleAsync(_host, "Admin.CreateApiKey", created.Info.KeyId);
        var revoke = await AuditClient.SingleAsync(_host, "Admin.RevokeApiKey", created.Info.KeyId);
        var rotate = await AuditClient.SingleAsync(_host, "Admin.RotateSecretKeys", rotated.KeyId);

        Assert.Equal(("testadmin", Role.Admin, "OK"), (create.KeyId, create.Role, create.Outcome));
        Assert.Equal("created Vendor key for vendor bolt (description of 12 characters)", create.Summary);
        Assert.DoesNotContain(created.ApiKey.Split('_', 3)[2], create.ToString(), StringComparison.Ordinal);
        Assert.Equal("revoked", revoke.Summary);
        Assert.StartsWith("new key ring key; 0 cameras' credentials re-encrypted", rotate.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_geography_import_lists_the_codes_it_stored()
    {
        var planner = await _host.CreateKeyAsync(Role.Planner);
        var response = await new V1.Geography.GeographyClient(_host.Channel).ImportGridsAsync(
            new ImportGeoJsonRequest { Geojson = Geo.Demo.GaoyiDemo.GridsGeoJson }, _host.Auth(planner));

        var entry = await AuditClient.SingleAsync(_host, "Geography.ImportGrids", "130127");

        Assert.Equal((AuditClient.KeyId(planner), Role.Planner, "OK"), (entry.KeyId, entry.Role, entry.Outcome));
        Assert.Equal($"imported {response.Imported} grids", entry.Summary);
        Assert.Equal(response.Imported, entry.TargetIds.Count);
        Assert.Contains("130127103", entry.TargetIds);
    }

    [Fact]
    public async Task Incident_acknowledgements_and_closes_and_stream_checks_are_recorded()
    {
        await Registry.RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_vendor));
        using (var mqtt = await _host.ConnectMqttAsync("acme", _vendor))
        {
            var ack = await mqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(1))
                .WithPayload(TestDevices.AlarmJson("audit-1")).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode);
        }

        var incidents = new V1.Incidents.IncidentsClient(_host.Channel);
        var incident = (await incidents.ListIncidentsAsync(new ListIncidentsRequest(), _host.Auth(_operator))).Incidents.Single();
        await incidents.AcknowledgeIncidentAsync(new AcknowledgeIncidentRequest { IncidentId = incident.IncidentId, Note = "patrol 3" }, _host.Auth(_operator));
        await incidents.CloseIncidentAsync(new CloseIncidentRequest { IncidentId = incident.IncidentId, Reason = "false alarm" }, _host.Auth(_operator));
        var camera = TestDevices.Camera(21);
        await Registry.RegisterDeviceAsync(camera, _host.Auth(_vendor));
        var check = await new StreamHealth.StreamHealthClient(_host.Channel).CheckNowAsync(
            new CheckNowRequest { DeviceIds = { camera.DeviceId } }, _host.Auth(_operator)).ResponseAsync.ContinueWith(t => t.Exception?.InnerException as RpcException);

        var acked = await AuditClient.SingleAsync(_host, "Incidents.AcknowledgeIncident", incident.IncidentId);
        var closed = await AuditClient.SingleAsync(_host, "Incidents.CloseIncident", incident.IncidentId);
        var checkedNow = await AuditClient.SingleAsync(_host, "StreamHealth.CheckNow", camera.DeviceId);

        Assert.Equal((AuditClient.KeyId(_operator), Role.Operator, "OK", "acknowledged; note: patrol 3"), (acked.KeyId, acked.Role, acked.Outcome, acked.Summary));
        Assert.Equal(("OK", "closed; reason: false alarm"), (closed.Outcome, closed.Summary));
        Assert.Equal(AuditClient.KeyId(_operator), checkedNow.KeyId);
        Assert.Equal(check is null ? "OK" : Gateway.Audit.AuditTrail.OutcomeOf(check.StatusCode), checkedNow.Outcome);
        Assert.StartsWith("check", checkedNow.Summary, StringComparison.Ordinal);
        // Alarms over MQTT are data, not changes: none is audited.
        Assert.DoesNotContain(await AuditClient.AllAsync(_host), e => e.Action.StartsWith("MQTT", StringComparison.Ordinal) || e.TargetIds.Contains("audit-1"));
    }

    [Fact]
    public async Task Console_sign_ins_that_succeed_or_fail_and_sign_outs_are_recorded_without_the_key()
    {
        using var browser = new SessionClient(_host);
        using (var ok = await browser.SignInAsync(_operator))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        await browser.GetSessionAsync();
        using (var signOut = await browser.SendAsync(HttpMethod.Delete, "/api/session", csrf: true))
        {
            Assert.Equal(HttpStatusCode.NoContent, signOut.StatusCode);
        }

        var wrong = "se_" + AuditClient.KeyId(_operator) + "_guessed-secret-0123456789";
        using (var failed = await new SessionClient(_host).SignInAsync(wrong))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }

        using (var vendor = await new SessionClient(_host).SignInAsync(_vendor))
        {
            Assert.Equal(HttpStatusCode.Forbidden, vendor.StatusCode);
        }

        var signIns = await AuditClient.WaitAsync(_host, new QueryAuditRequest { Action = "Session.SignIn" }, 3);
        var signedOut = await AuditClient.SingleAsync(_host, "Session.SignOut");

        Assert.Equal(3, signIns.Count);
        var (denied, unknown, accepted) = (signIns[0], signIns[1], signIns[2]);
        Assert.Equal((AuditClient.KeyId(_operator), Role.Operator, "OK"), (accepted.KeyId, accepted.Role, accepted.Outcome));
        Assert.Equal(("", "UNAUTHENTICATED", "unknown or revoked API key"), (unknown.KeyId, unknown.Outcome, unknown.Message));
        Assert.Equal([AuditClient.KeyId(_operator)], unknown.TargetIds); // the key id presented, never the key
        Assert.Equal((AuditClient.KeyId(_vendor), Role.Vendor, "PERMISSION_DENIED"), (denied.KeyId, denied.Role, denied.Outcome));
        Assert.Equal((AuditClient.KeyId(_operator), "OK"), (signedOut.KeyId, signedOut.Outcome));
        foreach (var e in signIns.Append(signedOut))
        {
            AuditClient.IsLoopbackEndpoint(e.ClientAddress);
            Assert.DoesNotContain("guessed-secret", e.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(_operator.Split('_', 3)[2], e.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(_vendor.Split('_', 3)[2], e.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Refused_calls_are_recorded_with_their_actor_or_their_client_address()
    {
        var other = await _host.CreateKeyAsync(Role.Vendor, "bolt");
        var taken = TestDevices.Camera(31);
        await Registry.RegisterDeviceAsync(taken, _host.Auth(_vendor));

        var foreign = await Assert.ThrowsAsync<RpcException>(() => Registry.RegisterDeviceAsync(taken, _host.Auth(other)).ResponseAsync);
        var noKey = await Assert.ThrowsAsync<RpcException>(() => Registry.DeregisterDeviceAsync(new DeregisterDeviceRequest { DeviceId = taken.DeviceId }).ResponseAsync);
        var role = await Assert.ThrowsAsync<RpcException>(() => new Admin.AdminClient(_host.Channel).CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Admin }, _host.Auth(_vendor)).ResponseAsync);
        var bad = TestDevices.Camera(32);
        bad.Camera.RangeM = 6000;
        var invalid = await Assert.ThrowsAsync<RpcException>(() => Registry.RegisterDeviceAsync(bad, _host.Auth(_vendor)).ResponseAsync);
        using var api = new JsonApiClient(_host.HttpPort);
        var noKeyJson = await api.SendAsync(HttpMethod.Patch, $"/api/v1/devices/{TestDevices.CameraId(33)}", key: null, """{"device": {"name": "x"}, "updateMask": "name"}""");

        var foreignEntry = (await AuditClient.WaitAsync(_host, new QueryAuditRequest { ActorKeyId = AuditClient.KeyId(other) })).Single();
        var noKeyEntry = (await AuditClient.WaitAsync(_host, new QueryAuditRequest { Action = "DeviceRegistry.DeregisterDevice", Outcome = "UNAUTHENTICATED" })).Single();
        var roleEntry = (await AuditClient.WaitAsync(_host, new QueryAuditRequest { Action = "Admin.CreateApiKey", Outcome = "PERMISSION_DENIED" })).Single();
        var invalidEntry = await AuditClient.SingleAsync(_host, "DeviceRegistry.RegisterDevice", bad.DeviceId);
        var noKeyJsonEntry = await AuditClient.SingleAsync(_host, "DeviceRegistry.UpdateDevice", TestDevices.CameraId(33));

        Assert.Equal((StatusCode.PermissionDenied, "PERMISSION_DENIED", "bolt", taken.DeviceId), (foreign.StatusCode, foreignEntry.Outcome, foreignEntry.VendorId, foreignEntry.TargetIds.Single()));
        Assert.Equal(foreign.Status.Detail, foreignEntry.Message);
        Assert.Equal((StatusCode.Unauthenticated, "UNAUTHENTICATED", "", Role.Unspecified), (noKey.StatusCode, noKeyEntry.Outcome, noKeyEntry.KeyId, noKeyEntry.Role));
        AuditClient.IsLoopbackEndpoint(noKeyEntry.ClientAddress);
        Assert.Equal(noKey.Status.Detail, noKeyEntry.Message);
        Assert.Equal((StatusCode.PermissionDenied, AuditClient.KeyId(_vendor), role.Status.Detail), (role.StatusCode, roleEntry.KeyId, roleEntry.Message));
        Assert.Equal((StatusCode.InvalidArgument, "INVALID_ARGUMENT", invalid.Status.Detail), (invalid.StatusCode, invalidEntry.Outcome, invalidEntry.Message));
        Assert.StartsWith("camera.range_m", invalidEntry.Message, StringComparison.Ordinal);
        // The JSON route's ids are known even when the call is refused before its body is read.
        Assert.Equal((HttpStatusCode.Unauthorized, "UNAUTHENTICATED", ""), (noKeyJson.Status, noKeyJsonEntry.Outcome, noKeyJsonEntry.KeyId));
        Assert.DoesNotContain("s3cr3t", invalidEntry.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_flood_of_refused_calls_from_one_address_is_folded_into_one_counted_entry_per_interval()
    {
        const int Calls = 40;
        for (var i = 0; i < Calls; i++)
        {
            await Assert.ThrowsAsync<RpcException>(() => Registry.RegisterDeviceAsync(TestDevices.Camera(40 + i)).ResponseAsync);
        }

        var during = await AuditClient.WaitAsync(_host, new QueryAuditRequest { Action = "DeviceRegistry.RegisterDevice" });
        _host.Time.Advance(TimeSpan.FromMinutes(1)); // Audit:RefusalInterval
        var after = await Eventually.WaitAsync(async () =>
        {
            var entries = await AuditClient.OfAsync(_host, "DeviceRegistry.RegisterDevice");
            return entries.Count == 2 ? entries : null;
        }, "the folded entry");
        var metrics = await MetricsScrape.ReadAsync(_host.HttpPort);

        Assert.Equal(1, Assert.Single(during).Count);
        Assert.Empty(during[0].TargetIds); // refused before the request was read
        var folded = after[0];
        Assert.Equal(("UNAUTHENTICATED", Calls - 1L, ""), (folded.Outcome, folded.Count, folded.KeyId));
        AuditClient.IsLoopbackEndpoint(folded.ClientAddress);
        Assert.StartsWith($"{Calls - 1} more refused calls like the one recorded at", folded.Summary, StringComparison.Ordinal);
        Assert.Empty(folded.TargetIds);
        Assert.Equal(Calls - 1, metrics["sharpeyes_audit_refusals_folded_total{reason=\"repeat\"}"]);
        Assert.Equal(2, metrics["sharpeyes_audit_entries_total{outcome=\"UNAUTHENTICATED\"}"]);
    }

    [Fact]
    public async Task The_audit_log_is_queried_by_time_actor_vendor_target_action_and_outcome_newest_first_in_pages()
    {
        var start = _host.Time.GetUtcNow();
        var other = await _host.CreateKeyAsync(Role.Vendor, "bolt");
        for (var i = 0; i < 5; i++)
        {
            await Registry.RegisterDeviceAsync(TestDevices.Camera(100 + i), _host.Auth(i % 2 == 0 ? _vendor : other));
            _host.Time.Advance(TimeSpan.FromMinutes(10));
        }

        var all = await AuditClient.AllAsync(_host, new QueryAuditRequest { Since = Timestamp.FromDateTimeOffset(start), Action = "DeviceRegistry." });
        var byActor = await AuditClient.AllAsync(_host, new QueryAuditRequest { ActorKeyId = AuditClient.KeyId(other) });
        var byVendor = await AuditClient.AllAsync(_host, new QueryAuditRequest { VendorId = "acme", Action = "DeviceRegistry.RegisterDevice" });
        var byTarget = await AuditClient.AllAsync(_host, new QueryAuditRequest { TargetId = TestDevices.CameraId(102) });
        var window = await AuditClient.AllAsync(_host, new QueryAuditRequest
        {
            Since = Timestamp.FromDateTimeOffset(start + TimeSpan.FromMinutes(10)),
            Until = Timestamp.FromDateTimeOffset(start + TimeSpan.FromMinutes(30)),
        });
        var paged = await AuditClient.AllAsync(_host, new QueryAuditRequest { Action = "DeviceRegistry.RegisterDevice", PageSize = 2 });
        var firstPage = await new Admin.AdminClient(_host.Channel).QueryAuditAsync(new QueryAuditRequest { PageSize = 2, Action = "DeviceRegistry." }, _host.AdminAuth);
        var refused = await AuditClient.AllAsync(_host, new QueryAuditRequest { Outcome = "refused" });
        var badToken = await Assert.ThrowsAsync<RpcException>(() => new Admin.AdminClient(_host.Channel).QueryAuditAsync(new QueryAuditRequest { PageToken = "x" }, _host.AdminAuth).ResponseAsync);
        var badSize = await Assert.ThrowsAsync<RpcException>(() => new Admin.AdminClient(_host.Channel).QueryAuditAsync(new QueryAuditRequest { PageSize = 1001 }, _host.AdminAuth).ResponseAsync);
        var backwards = await Assert.ThrowsAsync<RpcException>(() => new Admin.AdminClient(_host.Channel).QueryAuditAsync(new QueryAuditRequest
        {
            Since = Timestamp.FromDateTimeOffset(start), Until = Timestamp.FromDateTimeOffset(start - TimeSpan.FromSeconds(1)),
        }, _host.AdminAuth).ResponseAsync);

        Assert.Equal(Enumerable.Range(100, 5).Reverse().Select(i => TestDevices.CameraId(i)), all.Select(e => e.TargetIds.Single()));
        Assert.True(all.Zip(all.Skip(1)).All(p => p.First.Id > p.Second.Id && p.First.At.ToDateTimeOffset() >= p.Second.At.ToDateTimeOffset()), "newest first");
        Assert.Equal([TestDevices.CameraId(103), TestDevices.CameraId(101)], byActor.Select(e => e.TargetIds.Single()));
        Assert.Equal([TestDevices.CameraId(104), TestDevices.CameraId(102), TestDevices.CameraId(100)], byVendor.Select(e => e.TargetIds.Single()));
        Assert.Equal(TestDevices.CameraId(102), Assert.Single(byTarget).TargetIds.Single());
        Assert.Equal([TestDevices.CameraId(102), TestDevices.CameraId(101)], window.Select(e => e.TargetIds.Single()));
        Assert.Equal(all.Select(e => e.Id), paged.Select(e => e.Id));
        Assert.Equal(2, firstPage.Entries.Count);
        Assert.NotEmpty(firstPage.NextPageToken);
        Assert.Empty(refused);
        Assert.Equal((StatusCode.InvalidArgument, "page_token: not a next_page_token of an earlier answer"), (badToken.StatusCode, badToken.Status.Detail));
        Assert.Equal(StatusCode.InvalidArgument, badSize.StatusCode);
        Assert.StartsWith("until: ", backwards.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Only_admins_query_the_audit_log_over_gRPC_and_the_JSON_API()
    {
        using var api = new JsonApiClient(_host.HttpPort);
        var keys = new Dictionary<Role, string>
        {
            [Role.Vendor] = _vendor,
            [Role.Operator] = _operator,
            [Role.Planner] = await _host.CreateKeyAsync(Role.Planner),
            [Role.Centre] = await _host.CreateKeyAsync(Role.Centre),
        };
        foreach (var (role, key) in keys)
        {
            var grpc = await Assert.ThrowsAsync<RpcException>(() => new Admin.AdminClient(_host.Channel).QueryAuditAsync(new QueryAuditRequest(), _host.Auth(key)).ResponseAsync);
            var json = await api.GetAsync("/api/v1/audit", key);
            Assert.Equal(StatusCode.PermissionDenied, grpc.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, json.Status);
            Assert.Equal($"role {role} may not call /sharpeyes.v1.Admin/QueryAudit; allowed: Admin", json.Error().Message);
        }

        var anonymous = await api.GetAsync("/api/v1/audit", null);
        var admin = (await api.GetAsync("/api/v1/audit?action=Admin.CreateApiKey&pageSize=2", _host.AdminKey)).As<QueryAuditResponse>();

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.Status);
        Assert.Equal(2, admin.Entries.Count);
        Assert.All(admin.Entries, e => Assert.Equal(("Admin.CreateApiKey", "testadmin"), (e.Action, e.KeyId)));
        // Querying is a read: not itself audited.
        Assert.Empty(await AuditClient.OfAsync(_host, "Admin.QueryAudit"));
    }

    [Fact]

    [Trait(TestStores.Trait, TestStores.SqliteOnly)] // reads or writes the SQLite file itself
    public async Task The_JSON_API_and_the_gRPC_services_have_no_way_to_change_or_delete_an_entry()
    {
        var endpoints = _host.Services.GetService(typeof(Microsoft.AspNetCore.Routing.EndpointDataSource)) as Microsoft.AspNetCore.Routing.EndpointDataSource;
        var routes = endpoints!.Endpoints.OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>()
            .Select(e => ((e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods.FirstOrDefault() ?? "ANY") + " " + e.RoutePattern.RawText))
            .Where(r => r.Contains("audit", StringComparison.OrdinalIgnoreCase) && r.Contains(" api/", StringComparison.Ordinal) || r.Contains(" /api/", StringComparison.Ordinal) && r.Contains("audit", StringComparison.OrdinalIgnoreCase))
            .ToList();
        var methods = AdminReflection.Descriptor.Services.SelectMany(s => s.Methods).Select(m => m.Name).Where(n => n.Contains("Audit", StringComparison.Ordinal)).ToList();
        using var api = new JsonApiClient(_host.HttpPort);
        var entry = (await AuditClient.AllAsync(_host)).First();
        var tries = new List<HttpStatusCode>();
        foreach (var method in new[] { HttpMethod.Delete, HttpMethod.Put, HttpMethod.Patch, HttpMethod.Post })
        {
            tries.Add((await api.SendAsync(method, "/api/v1/audit", _host.AdminKey, method == HttpMethod.Delete ? null : "{}")).Status);
            tries.Add((await api.SendAsync(method, $"/api/v1/audit/{entry.Id}", _host.AdminKey, method == HttpMethod.Delete ? null : "{}")).Status);
        }

        Assert.Equal(["GET /api/v1/audit"], routes);
        Assert.Equal(["QueryAudit"], methods);
        Assert.All(tries, s => Assert.True(s is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed or HttpStatusCode.Forbidden, s.ToString())); // no route: deny by default
        // Below the API, the store refuses an UPDATE too (a trigger): a bug cannot rewrite history.
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_host.DataDir, "sharpeyes.db")}");
        connection.Open();
        using var update = connection.CreateCommand();
        update.CommandText = "UPDATE audit_entries SET outcome = 'OK'";
        var refused = Assert.Throws<Microsoft.Data.Sqlite.SqliteException>(() => update.ExecuteNonQuery());
        Assert.Contains("append-only", refused.Message, StringComparison.Ordinal);
        Assert.Equal(entry, (await AuditClient.AllAsync(_host)).First(e => e.Id == entry.Id));
    }
}
