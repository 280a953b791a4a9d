using Grpc.Core;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Incidents;

/// <summary>Correlation of alarms into incidents, and how incidents close (quiet period, window, operator).</summary>
public sealed class IncidentTests : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private string _vendor = null!;
    private string _centre = null!;
    private IMqttClient _mqtt = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync();
        _vendor = await _host.CreateKeyAsync(Role.Vendor, "vendor-a");
        _centre = await _host.CreateKeyAsync(Role.Centre);
        var registry = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
        await registry.RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_vendor));
        await registry.RegisterDeviceAsync(TestDevices.Alarm(2, lon: TestDevices.SeatLon + 0.0001), _host.Auth(_vendor)); // same grid
        await registry.RegisterDeviceAsync(TestDevices.Alarm(3, lon: 114.66, lat: 37.58), _host.Auth(_vendor)); // another grid
        _mqtt = await _host.ConnectMqttAsync("vendor-a", _vendor);
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private async Task Publish(int device, string json)
    {
        var ack = await _mqtt.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(device)).WithPayload(json)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode);
    }

    [Fact]
    public async Task Alarms_in_the_same_grid_with_compatible_types_inside_the_window_form_one_incident()
    {
        await using var feed = new FeedReader(_host, _centre);

        await Publish(1, TestDevices.AlarmJson("a1", priority: 3, type: 5, occurredAt: "2026-11-22T16:00:00+08:00")); // tripwire
        await Publish(2, TestDevices.AlarmJson("a2", priority: 1, type: 6, occurredAt: "2026-11-22T16:03:00+08:00")); // intrusion, same grid
        await Publish(3, TestDevices.AlarmJson("a3", priority: 2, type: 6, occurredAt: "2026-11-22T16:03:00+08:00")); // other grid
        await Publish(1, TestDevices.AlarmJson("a4", priority: 2, method: 6, type: 1, occurredAt: "2026-11-22T16:04:00+08:00")); // device fault

        await feed.WaitForCountAsync(e => e.Incident is not null, 4, "incident events");
        var opened = feed.Events.Where(e => e.Kind == FeedEventKind.IncidentOpened).ToList();
        var updated = Assert.Single(feed.Events, e => e.Kind == FeedEventKind.IncidentUpdated);
        Assert.Equal(3, opened.Count);
        Assert.Equal("a2", updated.Incident.Alarms[0].EventId);
        Assert.Equal(opened[0].Incident.IncidentId, updated.Incident.IncidentId);
        Assert.Equal(2, updated.Incident.AlarmCount);
        Assert.Equal(1, updated.Incident.HighestPriority);
        Assert.Equal("va-intrusion", updated.Incident.TypeClass);
        Assert.Equal(["va-intrusion", "va-intrusion", "device-fault"], opened.Select(e => e.Incident.TypeClass));
        Assert.NotEqual(opened[0].Incident.Region.GridCode, opened[1].Incident.Region.GridCode);
        var sequences = feed.Events.Select(e => e.Sequence).ToList();
        Assert.Equal(sequences.Order(), sequences);
        Assert.Equal(sequences.Count, sequences.Distinct().Count());
    }

    private Task<MqttClientPublishResult> Send(int device, string json) => _mqtt.PublishAsync(new MqttApplicationMessageBuilder()
        .WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(device)).WithPayload(json)
        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    [Fact]
    public async Task Alarms_committed_together_reach_the_feed_on_one_event_per_incident_carrying_them_all_in_order()
    {
        await using var feed = new FeedReader(_host, _centre);
        await Publish(1, TestDevices.AlarmJson("g0", priority: 3, occurredAt: "2026-11-22T16:00:00+08:00"));
        var a = (await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentOpened, "incident A opened")).Incident;
        Assert.Equal(["g0"], a.Alarms.Select(x => x.EventId));

        // While the writer is held, five alarms queue; they commit in one group.
        using var held = await HeldJournal.HoldAsync(_host);
        var acks = new List<Task<MqttClientPublishResult>>
        {
            Send(1, TestDevices.AlarmJson("g1", priority: 2, occurredAt: "2026-11-22T16:01:00+08:00")), // joins A
            Send(2, TestDevices.AlarmJson("g2", priority: 1, occurredAt: "2026-11-22T16:02:00+08:00")), // joins A (same grid)
            Send(3, TestDevices.AlarmJson("g3", occurredAt: "2026-11-22T16:02:00+08:00")),              // opens B (another grid)
            Send(1, TestDevices.AlarmJson("g4", occurredAt: "2026-11-22T16:09:00+08:00")),              // outside A's window: closes A, opens C
            Send(2, TestDevices.AlarmJson("g5", occurredAt: "2026-11-22T16:10:00+08:00")),              // joins C
        };
        await held.QueuedAsync(5, "the five alarms queued behind the held writer");
        await held.ReleaseAsync();
        foreach (var ack in acks)
        {
            Assert.Equal(MqttClientPublishReasonCode.Success, (await ack).ReasonCode);
        }

        await feed.WaitForCountAsync(e => e.Incident is not null, 5, "A opened, then the group's four incident events");
        var group = feed.Events.Where(e => e.Incident is not null).Skip(1).ToList();
        Assert.Equal(
            [(FeedEventKind.IncidentUpdated, a.IncidentId), (FeedEventKind.IncidentOpened, group[1].Incident.IncidentId),
             (FeedEventKind.IncidentClosed, a.IncidentId), (FeedEventKind.IncidentOpened, group[3].Incident.IncidentId)],
            group.Select(e => (e.Kind, e.Incident.IncidentId)));
        // Every alarm on exactly one event, in the order it joined; each event carries its incident as the last alarm left it.
        Assert.Equal(["g1", "g2"], group[0].Incident.Alarms.Select(x => x.EventId));
        Assert.Equal((3, 1), (group[0].Incident.AlarmCount, group[0].Incident.HighestPriority));
        Assert.Equal(group[0].Incident.Alarms[1].ReceivedAt, group[0].OccurredAt);
        Assert.Equal(["g3"], group[1].Incident.Alarms.Select(x => x.EventId));
        Assert.Empty(group[2].Incident.Alarms);
        Assert.Equal("window-elapsed", group[2].Incident.CloseReason);
        Assert.Equal(["g4", "g5"], group[3].Incident.Alarms.Select(x => x.EventId));
        Assert.Equal(2, group[3].Incident.AlarmCount);
        Assert.NotEqual(group[1].Incident.IncidentId, group[3].Incident.IncidentId);
        var sequences = group.Select(e => e.Sequence).ToList();
        Assert.Equal(sequences.Order(), sequences); // (devices 2 and 3 coming online are events of the same commit too)

        // The store has each incident's every alarm.
        var incidents = new V1.Incidents.IncidentsClient(_host.Channel);
        var storedA = await incidents.GetIncidentAsync(new GetIncidentRequest { IncidentId = a.IncidentId }, _host.Auth(_centre));
        Assert.Equal(["g0", "g1", "g2"], storedA.Alarms.Select(x => x.EventId));
        Assert.Equal(IncidentState.Closed, storedA.State);
    }

    [Fact]
    public async Task An_acknowledgement_committed_between_alarms_of_its_incident_splits_their_events_around_it()
    {
        await using var feed = new FeedReader(_host, _centre);
        await Publish(1, TestDevices.AlarmJson("k0"));
        var opened = (await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentOpened, "opened")).Incident;
        var operatorKey = await _host.CreateKeyAsync(Role.Operator);
        var incidents = new V1.Incidents.IncidentsClient(_host.Channel);

        using var held = await HeldJournal.HoldAsync(_host);
        var first = Send(1, TestDevices.AlarmJson("k1"));
        await held.QueuedAsync(1, "the first alarm queued");
        var acknowledged = incidents.AcknowledgeIncidentAsync(new AcknowledgeIncidentRequest { IncidentId = opened.IncidentId, Note = "on it" }, _host.Auth(operatorKey)).ResponseAsync;
        await held.QueuedAsync(2, "the acknowledgement queued");
        var second = Send(2, TestDevices.AlarmJson("k2"));
        await held.QueuedAsync(3, "the second alarm queued");
        await held.ReleaseAsync();
        Assert.Equal(MqttClientPublishReasonCode.Success, (await first).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, (await second).ReasonCode);
        Assert.NotNull((await acknowledged).AcknowledgedAt);

        await feed.WaitForCountAsync(e => e.Incident is not null, 4, "opened, then updated, acknowledged, updated");
        var group = feed.Events.Where(e => e.Incident is not null).Skip(1).ToList();
        Assert.Equal([FeedEventKind.IncidentUpdated, FeedEventKind.IncidentAcknowledged, FeedEventKind.IncidentUpdated], group.Select(e => e.Kind));
        Assert.All(group, e => Assert.Equal(opened.IncidentId, e.Incident.IncidentId));
        Assert.Equal(["k1"], group[0].Incident.Alarms.Select(x => x.EventId));
        Assert.Null(group[0].Incident.AcknowledgedAt);
        Assert.Empty(group[1].Incident.Alarms);
        Assert.Equal(["k2"], group[2].Incident.Alarms.Select(x => x.EventId));
        Assert.Equal((3, "on it"), (group[2].Incident.AlarmCount, group[2].Incident.AcknowledgeNote));
    }

    [Fact]
    public async Task An_alarm_outside_the_window_closes_the_old_incident_and_opens_a_new_one()
    {
        await using var feed = new FeedReader(_host, _centre);

        await Publish(1, TestDevices.AlarmJson("w1", occurredAt: "2026-11-22T16:00:00+08:00"));
        await Publish(1, TestDevices.AlarmJson("w2", occurredAt: "2026-11-22T16:06:00+08:00")); // window is 5 min

        await feed.WaitForCountAsync(e => e.Incident is not null, 3, "open, close, open");
        var kinds = feed.Events.Where(e => e.Incident is not null).Select(e => e.Kind).ToList();
        Assert.Equal([FeedEventKind.IncidentOpened, FeedEventKind.IncidentClosed, FeedEventKind.IncidentOpened], kinds);
        var closed = feed.Events.Single(e => e.Kind == FeedEventKind.IncidentClosed).Incident;
        Assert.Equal("window-elapsed", closed.CloseReason);
        Assert.Equal(IncidentState.Closed, closed.State);
    }

    [Fact]
    public async Task Incidents_close_after_the_quiet_period_on_the_gateway_clock()
    {
        await using var feed = new FeedReader(_host, _centre);
        await Publish(1, TestDevices.AlarmJson("q1"));
        var opened = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentOpened, "opened");
        var sweeper = (Gateway.Incidents.IncidentSweeper)_host.Services.GetService(typeof(Gateway.Incidents.IncidentSweeper))!;

        var incidents = new V1.Incidents.IncidentsClient(_host.Channel);
        var get = new GetIncidentRequest { IncidentId = opened.Incident.IncidentId };

        // The sweeper's own timer runs on the same fake clock; an explicit sweep after each step makes the state certain.
        _host.Time.Advance(TimeSpan.FromMinutes(9));
        await sweeper.SweepAsync(TestContext.Current.CancellationToken);
        Assert.Equal(IncidentState.Open, (await incidents.GetIncidentAsync(get, _host.Auth(_centre))).State);
        _host.Time.Advance(TimeSpan.FromMinutes(1));
        await sweeper.SweepAsync(TestContext.Current.CancellationToken);
        Assert.Equal(IncidentState.Closed, (await incidents.GetIncidentAsync(get, _host.Auth(_centre))).State);

        var closed = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentClosed, "closed");
        Assert.Equal(opened.Incident.IncidentId, closed.Incident.IncidentId);
        Assert.Equal("quiet-period", closed.Incident.CloseReason);
        Assert.Equal(_host.Time.GetUtcNow(), closed.Incident.ClosedAt.ToDateTimeOffset());

        // The next alarm of the same kind opens a fresh incident.
        await Publish(1, TestDevices.AlarmJson("q2", occurredAt: "2026-11-22T16:01:00+08:00"));
        var next = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentOpened && e.Incident.IncidentId != opened.Incident.IncidentId, "a new incident");
        Assert.Equal("q2", next.Incident.Alarms[0].EventId);
    }

    [Fact]
    public async Task Operators_close_incidents_by_hand_and_other_roles_cannot()
    {
        await using var feed = new FeedReader(_host, _centre);
        await Publish(1, TestDevices.AlarmJson("o1"));
        var opened = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentOpened, "opened");
        var operatorKey = await _host.CreateKeyAsync(Role.Operator);
        var incidents = new V1.Incidents.IncidentsClient(_host.Channel);
        var request = new CloseIncidentRequest { IncidentId = opened.Incident.IncidentId, Reason = "patrol confirmed false alarm" };

        var byVendor = await Assert.ThrowsAsync<RpcException>(() => incidents.CloseIncidentAsync(request, _host.Auth(_vendor)).ResponseAsync);
        var noReason = await Assert.ThrowsAsync<RpcException>(() => incidents.CloseIncidentAsync(new CloseIncidentRequest { IncidentId = opened.Incident.IncidentId }, _host.Auth(operatorKey)).ResponseAsync);
        var closed = await incidents.CloseIncidentAsync(request, _host.Auth(operatorKey));
        var again = await Assert.ThrowsAsync<RpcException>(() => incidents.CloseIncidentAsync(request, _host.Auth(operatorKey)).ResponseAsync);
        var missing = await Assert.ThrowsAsync<RpcException>(() => incidents.CloseIncidentAsync(new CloseIncidentRequest { IncidentId = "inc_nope", Reason = "x" }, _host.Auth(operatorKey)).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, byVendor.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, noReason.StatusCode);
        Assert.Equal(IncidentState.Closed, closed.State);
        Assert.Equal("operator: patrol confirmed false alarm", closed.CloseReason);
        Assert.Equal(StatusCode.FailedPrecondition, again.StatusCode);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentClosed && e.Incident.IncidentId == opened.Incident.IncidentId, "closed event");
        var listed = await incidents.ListIncidentsAsync(new ListIncidentsRequest { State = IncidentState.Closed }, _host.Auth(operatorKey));
        Assert.Contains(listed.Incidents, i => i.IncidentId == opened.Incident.IncidentId);
    }
}
