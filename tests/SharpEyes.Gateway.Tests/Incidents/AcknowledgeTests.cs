using System.Net;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Http;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Incidents;

/// <summary>
/// An operator acknowledges an incident (issue 13): who (key id and role) and when (gateway clock) are recorded once,
/// go to the feed as INCIDENT_ACKNOWLEDGED, and survive a restart; over gRPC, the JSON API and the command line.
/// </summary>
public sealed class AcknowledgeTests : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private string _vendor = null!;
    private string _centre = null!;
    private string _operator = null!;
    private string _operatorId = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync(demo: false);
        _vendor = await _host.CreateKeyAsync(Role.Vendor, "vendor-a");
        _centre = await _host.CreateKeyAsync(Role.Centre);
        (_operator, _operatorId) = await CreateKeyAsync(Role.Operator);
        await new DeviceRegistry.DeviceRegistryClient(_host.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_vendor));
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private V1.Incidents.IncidentsClient Incidents => new(_host.Channel);

    /// <summary>A new key and its id (what an acknowledgement records, never the secret).</summary>
    private async Task<(string Key, string KeyId)> CreateKeyAsync(Role role)
    {
        var created = await new Admin.AdminClient(_host.Channel).CreateApiKeyAsync(new CreateApiKeyRequest { Role = role }, _host.AdminAuth);
        return (created.ApiKey, created.Info.KeyId);
    }

    /// <summary>Publishes one alarm and answers the incident it opened.</summary>
    private async Task<Incident> OpenIncidentAsync(string eventId)
    {
        using var mqtt = await _host.ConnectMqttAsync("vendor-a", _vendor);
        var ack = await mqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(1))
            .WithPayload(TestDevices.AlarmJson(eventId)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode); // after its commit: the incident is there
        var open = await Incidents.ListIncidentsAsync(new ListIncidentsRequest { State = IncidentState.Open }, _host.Auth(_operator));
        return open.Incidents.Single(i => i.Alarms.Any(a => a.EventId == eventId));
    }

    [Fact]
    public async Task An_operator_acknowledges_once_the_feed_says_who_and_when_and_a_second_acknowledgement_is_refused()
    {
        await using var feed = new FeedReader(_host, _centre);
        var incident = await OpenIncidentAsync("ack-1");
        _host.Time.Advance(TimeSpan.FromMinutes(2));
        var now = _host.Time.GetUtcNow();

        var acknowledged = await Incidents.AcknowledgeIncidentAsync(
            new AcknowledgeIncidentRequest { IncidentId = incident.IncidentId, Note = "  patrol 3 on its way " }, _host.Auth(_operator));

        Assert.Equal(IncidentState.Open, acknowledged.State);
        Assert.Equal(now, acknowledged.AcknowledgedAt.ToDateTimeOffset());
        Assert.Equal(new Acknowledger { KeyId = _operatorId, Role = Role.Operator }, acknowledged.AcknowledgedBy);
        Assert.Equal("patrol 3 on its way", acknowledged.AcknowledgeNote);
        Assert.DoesNotContain(_operator, acknowledged.ToString(), StringComparison.Ordinal); // the key id, never the secret

        var fed = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentAcknowledged, "acknowledged event");
        Assert.Equal(incident.IncidentId, fed.Incident.IncidentId);
        Assert.Equal((acknowledged.AcknowledgedAt, acknowledged.AcknowledgedBy, acknowledged.AcknowledgeNote),
            (fed.Incident.AcknowledgedAt, fed.Incident.AcknowledgedBy, fed.Incident.AcknowledgeNote));
        Assert.Equal(acknowledged.AcknowledgedAt, fed.OccurredAt);
        Assert.Empty(fed.Incident.Alarms);

        var (other, _) = await CreateKeyAsync(Role.Admin);
        var again = await Assert.ThrowsAsync<RpcException>(() => Incidents.AcknowledgeIncidentAsync(
            new AcknowledgeIncidentRequest { IncidentId = incident.IncidentId }, _host.Auth(other)).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, again.StatusCode);
        Assert.Contains($"already acknowledged by key {_operatorId} at {now:O}", again.Status.Detail, StringComparison.Ordinal);
        var stored = await Incidents.GetIncidentAsync(new GetIncidentRequest { IncidentId = incident.IncidentId }, _host.Auth(_centre));
        Assert.Equal(acknowledged.AcknowledgedBy, stored.AcknowledgedBy); // the first acknowledgement stands
        Assert.Single(stored.Alarms);

        // A later alarm joining the incident keeps the acknowledgement.
        await OpenIncidentAsync("ack-2");
        var joined = await Incidents.GetIncidentAsync(new GetIncidentRequest { IncidentId = incident.IncidentId }, _host.Auth(_centre));
        Assert.Equal((2, acknowledged.AcknowledgedAt), (joined.AlarmCount, joined.AcknowledgedAt));
        Assert.Single(feed.Events, e => e.Kind == FeedEventKind.IncidentAcknowledged);
    }

    [Fact]
    public async Task Other_roles_bad_notes_unknown_and_closed_incidents_are_refused()
    {
        var incident = await OpenIncidentAsync("ack-refused");
        var (planner, _) = await CreateKeyAsync(Role.Planner);
        var request = new AcknowledgeIncidentRequest { IncidentId = incident.IncidentId };

        foreach (var key in new[] { planner, _centre, _vendor })
        {
            var denied = await Assert.ThrowsAsync<RpcException>(() => Incidents.AcknowledgeIncidentAsync(request, _host.Auth(key)).ResponseAsync);
            Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        }

        foreach (var note in new[] { new string('x', 513), "line\nbreak", "bell\u0007" })
        {
            var bad = await Assert.ThrowsAsync<RpcException>(() => Incidents.AcknowledgeIncidentAsync(
                new AcknowledgeIncidentRequest { IncidentId = incident.IncidentId, Note = note }, _host.Auth(_operator)).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
            Assert.StartsWith("note: ", bad.Status.Detail, StringComparison.Ordinal);
        }

        var missing = await Assert.ThrowsAsync<RpcException>(() => Incidents.AcknowledgeIncidentAsync(
            new AcknowledgeIncidentRequest { IncidentId = "inc_nope" }, _host.Auth(_operator)).ResponseAsync);
        Assert.Equal((StatusCode.NotFound, "incident_id: inc_nope not found"), (missing.StatusCode, missing.Status.Detail));

        await Incidents.CloseIncidentAsync(new CloseIncidentRequest { IncidentId = incident.IncidentId, Reason = "false alarm" }, _host.Auth(_operator));
        var closed = await Assert.ThrowsAsync<RpcException>(() => Incidents.AcknowledgeIncidentAsync(request, _host.Auth(_operator)).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, closed.StatusCode);
        Assert.Contains("is closed (operator: false alarm)", closed.Status.Detail, StringComparison.Ordinal);
        var stored = await Incidents.GetIncidentAsync(new GetIncidentRequest { IncidentId = incident.IncidentId }, _host.Auth(_operator));
        Assert.Null(stored.AcknowledgedAt);
    }

    [Fact]
    public async Task The_JSON_API_acknowledges_as_gRPC_does_and_the_acknowledgement_survives_a_restart()
    {
        var incident = await OpenIncidentAsync("ack-json");
        var path = $"/api/v1/incidents/{incident.IncidentId}:acknowledge";
        using (var api = new JsonApiClient(_host.HttpPort))
        {
            var (planner, _) = await CreateKeyAsync(Role.Planner);
            var denied = await api.SendAsync(HttpMethod.Post, path, planner, "{\"note\": \"x\"}");
            Assert.Equal(HttpStatusCode.Forbidden, denied.Status);

            var acknowledged = (await api.SendAsync(HttpMethod.Post, path, _operator, "{\"note\": \"on it\"}")).As<Incident>();
            Assert.Equal((_operatorId, Role.Operator, "on it"), (acknowledged.AcknowledgedBy.KeyId, acknowledged.AcknowledgedBy.Role, acknowledged.AcknowledgeNote));

            var again = await api.SendAsync(HttpMethod.Post, path, _operator, "{}");
            Assert.Equal(HttpStatusCode.BadRequest, again.Status);
            Assert.Equal((int)StatusCode.FailedPrecondition, again.Error().Code);
        }

        var before = await Incidents.GetIncidentAsync(new GetIncidentRequest { IncidentId = incident.IncidentId }, _host.Auth(_operator));
        _host = await _host.RestartAsync();

        var after = await Incidents.GetIncidentAsync(new GetIncidentRequest { IncidentId = incident.IncidentId }, _host.Auth(_operator));
        Assert.Equal(before, after);
        Assert.NotNull(after.AcknowledgedAt);
        var again2 = await Assert.ThrowsAsync<RpcException>(() => Incidents.AcknowledgeIncidentAsync(
            new AcknowledgeIncidentRequest { IncidentId = incident.IncidentId }, _host.Auth(_operator)).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, again2.StatusCode); // reloaded open incidents keep it
        await using var feed = new FeedReader(_host, _centre);
        var fed = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentAcknowledged, "acknowledged event, replayed");
        Assert.Equal(after.AcknowledgedAt, fed.Incident.AcknowledgedAt);
    }

    [Fact]

    [Trait(TestStores.Trait, TestStores.SqliteOnly)] // reads or writes the SQLite file itself
    public async Task A_version_4_data_file_is_migrated_and_its_open_incidents_can_be_acknowledged()
    {
        var dir = GatewayHost.NewDataDir();
        var old = new Incident
        {
            IncidentId = "inc_0193e3a1b2c37000a000000000000001", State = IncidentState.Open, CorrelationKey = "130102001001|va-intrusion",
            TypeClass = "va-intrusion", HighestPriority = 2, AlarmCount = 1, Region = new RegionCodes { GridCode = "130102001001" },
            OpenedAt = Timestamp.FromDateTimeOffset(_host.Time.GetUtcNow()), UpdatedAt = Timestamp.FromDateTimeOffset(_host.Time.GetUtcNow()),
        };
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(dir, "sharpeyes.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                INSERT INTO meta VALUES('schema_version', '4');
                CREATE TABLE incidents(
                    id TEXT PRIMARY KEY, state INTEGER NOT NULL, correlation_key TEXT NOT NULL, region_code TEXT NOT NULL,
                    opened_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, data BLOB NOT NULL);
                INSERT INTO incidents VALUES($id, 1, $key, '130102001001', 0, 0, $data);
                """;
            command.Parameters.AddWithValue("$id", old.IncidentId);
            command.Parameters.AddWithValue("$key", old.CorrelationKey);
            command.Parameters.AddWithValue("$data", old.ToByteArray());
            command.ExecuteNonQuery();
        }

        await using var host = await GatewayHost.StartAsync(demo: false, dataDir: dir, time: _host.Time);
        var incidents = new V1.Incidents.IncidentsClient(host.Channel);
        var acknowledged = await incidents.AcknowledgeIncidentAsync(new AcknowledgeIncidentRequest { IncidentId = old.IncidentId }, host.AdminAuth);

        Assert.Equal(Role.Admin, acknowledged.AcknowledgedBy.Role);
        using var check = new SqliteConnection($"Data Source={Path.Combine(dir, "sharpeyes.db")};Mode=ReadOnly;Pooling=False");
        check.Open();
        using var query = check.CreateCommand();
        query.CommandText = "SELECT (SELECT value FROM meta WHERE key = 'schema_version'), acknowledged_at FROM incidents WHERE id = $id";
        query.Parameters.AddWithValue("$id", old.IncidentId);
        using var reader = query.ExecuteReader();
        Assert.True(reader.Read());
        // Migrated to the current schema (5 brought acknowledgement; later versions migrate on from it).
        Assert.Equal((SharpEyes.Gateway.Storage.GatewayStore.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), acknowledged.AcknowledgedAt.ToDateTimeOffset().ToUnixTimeMilliseconds()), (reader.GetString(0), reader.GetInt64(1)));
    }
}
