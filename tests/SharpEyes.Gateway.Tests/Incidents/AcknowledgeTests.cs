using System.Net;
using Grpc.Core;
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
}
