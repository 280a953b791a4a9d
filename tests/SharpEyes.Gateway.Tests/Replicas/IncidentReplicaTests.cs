using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MQTTnet;
using Npgsql;
using SharpEyes.Gateway.Incidents;
using SharpEyes.Gateway.Storage.Postgres;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// Incident correlation with two replicas on one PostgreSQL database: alarms of one grid landing on both at once make
/// one incident, an incident acknowledged or closed through one replica is acknowledged or closed on the other (whose
/// in-memory open set follows within a measured delay), and a quiet incident is closed once although both replicas sweep.
/// </summary>
public sealed class IncidentReplicaTests(PostgresCluster cluster) : IAsyncDisposable
{
    private const int Grids = 4;
    private const int DevicesPerGrid = 3;
    private readonly List<IAsyncDisposable> _owned = [];
    private GatewayHost _a = null!;
    private GatewayHost _b = null!;
    private string _store = null!;
    private string _vendor = null!;
    private string _centre = null!;
    private string _operator = null!;

    /// <summary>Devices of grid <c>g</c>: serials g*10+1 .. g*10+3, all at one spot of that grid.</summary>
    private static List<string> DevicesOf(int grid) => [.. Enumerable.Range(1, DevicesPerGrid).Select(i => TestDevices.AlarmId((grid * 10) + i))];

    /// <summary>Two replicas on a new database; every device is registered on A before B starts (B loads them).</summary>
    private async Task StartReplicasAsync()
    {
        _store = await cluster.CreateDatabaseAsync();
        _a = await Own(await GatewayHost.StartAsync(demo: true, extraArgs: ["--store", _store, GatewayHost.NoMqttRateLimit]));
        _vendor = await _a.CreateKeyAsync(Role.Vendor, "vendor-r");
        _centre = await _a.CreateKeyAsync(Role.Centre);
        _operator = await _a.CreateKeyAsync(Role.Operator);
        var registry = new DeviceRegistry.DeviceRegistryClient(_a.Channel);
        for (var g = 0; g < Grids; g++)
        {
            for (var i = 1; i <= DevicesPerGrid; i++)
            {
                await registry.RegisterDeviceAsync(TestDevices.Alarm((g * 10) + i, lon: 114.52 + (g * 0.035), lat: 37.58), _a.Auth(_vendor));
            }
        }

        _b = await Own(await GatewayHost.StartAsync(demo: false, extraArgs: ["--store", _store, GatewayHost.NoMqttRateLimit]));
    }

    private async Task<T> Own<T>(T disposable) where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }

    private static IncidentCorrelator Correlator(GatewayHost host) => host.Services.GetRequiredService<IncidentCorrelator>();

    private static PostgresFeedListener Listener(GatewayHost host) => host.Services.GetServices<IHostedService>().OfType<PostgresFeedListener>().Single();

    private async Task<IMqttClient> PublisherAsync(GatewayHost host, string clientId)
    {
        var client = await AlarmPublisher.ConnectAsync(host.MqttPort, "vendor-r", _vendor, clientId);
        _owned.Add(new Disposer(client.Dispose));
        return client;
    }

    private static async Task PublishAsync(IMqttClient client, string deviceId, string eventId)
    {
        var result = await client.PublishAsync(AlarmPublisher.Alarm(deviceId, eventId));
        Assert.Equal(MqttClientPublishReasonCode.Success, result.ReasonCode);
    }

    private async Task<long> DeadlocksAsync()
    {
        await using var connection = new NpgsqlConnection(_store);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Alarms_of_one_grid_published_through_both_replicas_at_once_make_one_incident_per_grid()
    {
        await StartReplicasAsync();
        var feed = await Own(new FeedReader(_a, _centre));
        var deadlocksBefore = await DeadlocksAsync();
        var clientA = await PublisherAsync(_a, "pub-a");
        var clientB = await PublisherAsync(_b, "pub-b");
        var devices = Enumerable.Range(0, Grids).SelectMany(DevicesOf).ToList();
        var gridOf = Enumerable.Range(0, Grids).SelectMany(g => DevicesOf(g).Select(d => (d, g))).ToDictionary(x => x.d, x => x.g);

        // Both replicas get alarms of every grid at the same time (32 in flight each, round-robin over the grids'
        // devices), so each group commit holds several grids' keys and the other replica's commits hold the same keys.
        const int Rounds = 3;
        const int PerReplica = 120;
        var acked = new ConcurrentDictionary<string, bool>();
        var stopwatch = Stopwatch.StartNew();
        for (var round = 0; round < Rounds; round++)
        {
            var ids = Enumerable.Range(0, PerReplica);
            await Task.WhenAll(
                AlarmPublisher.PublishAsync(clientA, devices, ids.Select(i => $"a{round}-{i}"), acked),
                AlarmPublisher.PublishAsync(clientB, devices, ids.Select(i => $"b{round}-{i}"), acked));
        }

        stopwatch.Stop();
        Assert.Equal(2 * Rounds * PerReplica, acked.Count);
        var perGrid = 2 * Rounds * PerReplica / Grids;

        // Every alarm is on the feed: one INCIDENT_OPENED per grid, then updates whose alarm counts go up by the alarms
        // each carries, in sequence order (the replicas took turns on the incident, each starting from what the other
        // committed; an incident's event carries every alarm of its commit).
        await feed.WaitForAlarmsAsync(acked.Count, "every alarm on an incident event", TimeSpan.FromSeconds(60));
        var events = feed.Events.Where(FeedReader.CarriesAlarms).ToList();
        var byKey = events.GroupBy(e => e.Incident.CorrelationKey).ToList();
        Assert.Equal(Grids, byKey.Count);
        Assert.All(byKey, g => Assert.Single(g, e => e.Kind == FeedEventKind.IncidentOpened));
        Assert.Equal(Grids, events.Where(e => e.Kind == FeedEventKind.IncidentOpened).Select(e => e.Incident.Region.GridCode).Where(c => c.Length > 0).Distinct().Count());
        var incidents = new V1.Incidents.IncidentsClient(_b.Channel);
        foreach (var key in byKey)
        {
            var ordered = key.OrderBy(e => e.Sequence).ToList();
            Assert.Single(ordered.Select(e => e.Incident.IncidentId).Distinct());
            var counted = 0;
            foreach (var e in ordered)
            {
                counted += e.Incident.Alarms.Count;
                Assert.Equal(counted, e.Incident.AlarmCount);
            }

            Assert.Equal(perGrid, counted);
            var stored = await incidents.GetIncidentAsync(new GetIncidentRequest { IncidentId = ordered[0].Incident.IncidentId }, _b.Auth(_centre));
            Assert.Equal((IncidentState.Open, perGrid, perGrid), (stored.State, stored.AlarmCount, stored.Alarms.Count));
            var grid = gridOf[stored.Alarms[0].DeviceId];
            Assert.All(stored.Alarms, alarm => Assert.Equal(grid, gridOf[alarm.DeviceId]));
        }

        Assert.Equal(acked.Keys.Order(StringComparer.Ordinal), events.SelectMany(e => e.Incident.Alarms).Select(a => a.EventId).Order(StringComparer.Ordinal));
        await Eventually.TrueAsync(() => Correlator(_a).OpenCount == Grids && Correlator(_b).OpenCount == Grids, "both replicas hold the grids' incidents open");

        // A backend reports its statistics when idle (at most once a second) and when it exits: stop the replicas first.
        await DisposeAsync();
        _owned.Clear();
        var deadlocks = await DeadlocksAsync() - deadlocksBefore;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{acked.Count} alarms of {Grids} grids through two replicas in {stopwatch.ElapsedMilliseconds} ms; deadlocks PostgreSQL detected (and the journal retried item by item): {deadlocks}");
        Assert.True(deadlocks == 0, $"{deadlocks} deadlocks: a batch takes its alarms' key locks in one order, so two replicas' batches should never wait for each other in a cycle");
    }

    [Fact]
    public async Task An_incident_acknowledged_and_closed_through_one_replica_is_acknowledged_and_closed_on_the_other()
    {
        await StartReplicasAsync();
        var feed = await Own(new FeedReader(_a, _centre));
        var clientA = await PublisherAsync(_a, "pub-a");
        var device = DevicesOf(0)[0];
        await PublishAsync(clientA, device, "first");
        var opened = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentOpened, "the incident opened on A");
        var incidentId = opened.Incident.IncidentId;
        await Eventually.TrueAsync(() => Correlator(_b).OpenCount == 1, "B follows the incident opened on A");

        var throughB = new V1.Incidents.IncidentsClient(_b.Channel);
        var throughA = new V1.Incidents.IncidentsClient(_a.Channel);
        await throughB.AcknowledgeIncidentAsync(new AcknowledgeIncidentRequest { IncidentId = incidentId, Note = "on B" }, _b.Auth(_operator));

        // An alarm joining the incident on A right after keeps B's acknowledgement (A reads the incident under its key's lock).
        await PublishAsync(clientA, device, "second");
        var joined = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentUpdated, "the second alarm joined on A");
        Assert.Equal((incidentId, 2, "on B"), (joined.Incident.IncidentId, joined.Incident.AlarmCount, joined.Incident.AcknowledgeNote));
        var again = await Assert.ThrowsAsync<RpcException>(() => throughA.AcknowledgeIncidentAsync(
            new AcknowledgeIncidentRequest { IncidentId = incidentId, Note = "on A" }, _a.Auth(_operator)).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, again.StatusCode);
        Assert.Contains("already acknowledged", again.Status.Detail, StringComparison.Ordinal);

        await throughB.CloseIncidentAsync(new CloseIncidentRequest { IncidentId = incidentId, Reason = "closed on B" }, _b.Auth(_operator));
        await Eventually.TrueAsync(() => Correlator(_a).OpenCount == 0, "A follows the close made on B");
        var closedOnA = await Assert.ThrowsAsync<RpcException>(() => throughA.CloseIncidentAsync(
            new CloseIncidentRequest { IncidentId = incidentId, Reason = "again on A" }, _a.Auth(_operator)).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, closedOnA.StatusCode);
        Assert.Contains("already closed (operator: closed on B)", closedOnA.Status.Detail, StringComparison.Ordinal);

        // A later alarm of the same grid and class on A opens a new incident: the closed one is not joined.
        await PublishAsync(clientA, device, "third");
        var reopened = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentOpened && e.Incident.IncidentId != incidentId, "a new incident on A");
        Assert.Equal((opened.Incident.CorrelationKey, 1), (reopened.Incident.CorrelationKey, reopened.Incident.AlarmCount));
        var old = await throughA.GetIncidentAsync(new GetIncidentRequest { IncidentId = incidentId }, _a.Auth(_centre));
        Assert.Equal((IncidentState.Closed, 2, "on B"), (old.State, old.AlarmCount, old.AcknowledgeNote));
        Assert.Single(feed.Events, e => e.Kind == FeedEventKind.IncidentClosed);
    }

    [Fact]
    public async Task The_other_replica_follows_incidents_opened_and_closed_within_a_measured_delay()
    {
        await StartReplicasAsync();
        var clientA = await PublisherAsync(_a, "pub-a");
        var throughA = new V1.Incidents.IncidentsClient(_a.Channel);
        var listenerB = Listener(_b);
        var correlatorB = Correlator(_b);
        var device = DevicesOf(1)[0];
        var delays = new List<double>();
        var fromRequest = new List<double>();

        // Each change is committed on A: the alarm's PUBACK, the close's reply come right after the commit (a lower bound
        // of the delay starts there; the request's start gives an upper bound). The delay ends when B's journal applied
        // the change to B's in-memory open set (the listener's count moves after that).
        async Task MeasureAsync(Func<Task> changeOnA, int openOnB)
        {
            var before = (Sequence: _a.LastSequence, Followed: listenerB.Followed);
            var requested = Stopwatch.GetTimestamp();
            await changeOnA();
            var committed = Stopwatch.GetTimestamp();
            var expected = before.Followed + (_a.LastSequence - before.Sequence);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (listenerB.Followed < expected)
            {
                Assert.True(DateTime.UtcNow < deadline, "B did not follow A's commit within 10 s");
                await Task.Delay(1);
            }

            delays.Add(Stopwatch.GetElapsedTime(committed).TotalMilliseconds);
            fromRequest.Add(Stopwatch.GetElapsedTime(requested).TotalMilliseconds);
            Assert.Equal(openOnB, correlatorB.OpenCount);
        }

        const int Cycles = 100;
        for (var i = 0; i < Cycles; i++)
        {
            string? incidentId = null;
            await MeasureAsync(() => PublishAsync(clientA, device, $"follow-{i}"), openOnB: 1);
            incidentId = (await throughA.ListIncidentsAsync(new ListIncidentsRequest { State = IncidentState.Open }, _a.Auth(_centre))).Incidents.Single().IncidentId;
            await MeasureAsync(async () => await throughA.CloseIncidentAsync(new CloseIncidentRequest { IncidentId = incidentId, Reason = "measured" }, _a.Auth(_operator)), openOnB: 0);
        }

        static (double Min, double Median, double P99, double Max) Summary(List<double> values)
        {
            values.Sort();
            return (values[0], values[values.Count / 2], values[(int)Math.Ceiling(values.Count * 0.99) - 1], values[^1]);
        }

        var (min, median, p99, max) = Summary(delays);
        var upper = Summary(fromRequest);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"follow delay, A's reply after its commit to B's in-memory incidents, {delays.Count} changes: min {min:F1} ms, median {median:F1} ms, p99 {p99:F1} ms, max {max:F1} ms"
            + $" (from the request to A: min {upper.Min:F1} ms, median {upper.Median:F1} ms, p99 {upper.P99:F1} ms, max {upper.Max:F1} ms)");
        Assert.Equal(2 * Cycles, delays.Count);
        Assert.True(p99 < PostgresFeedListener.PollInterval.TotalMilliseconds * 2, $"p99 {p99:F1} ms: B follows by notification, not by the listener's poll");
    }

    [Fact]
    public async Task A_quiet_incident_is_closed_once_although_both_replicas_sweep()
    {
        await StartReplicasAsync();
        var feed = await Own(new FeedReader(_a, _centre));
        var clientA = await PublisherAsync(_a, "pub-a");
        var clientB = await PublisherAsync(_b, "pub-b");
        for (var g = 0; g < Grids; g++)
        {
            await PublishAsync(g % 2 == 0 ? clientA : clientB, DevicesOf(g)[0], $"quiet-{g}");
        }

        await Eventually.TrueAsync(() => Correlator(_a).OpenCount == Grids && Correlator(_b).OpenCount == Grids, "both replicas hold every incident open");

        // Both clocks pass the quiet period: both replicas' sweepers (their timers, and a sweep asked for at once on each) find every incident quiet.
        var quiet = _a.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Configuration.GatewayOptions>>().Value.Incidents.QuietPeriod;
        _a.Time.Advance(quiet + TimeSpan.FromMinutes(1));
        _b.Time.Advance(quiet + TimeSpan.FromMinutes(1));
        var sweepers = new[] { _a, _b }.Select(h => h.Services.GetRequiredService<IncidentSweeper>()).ToList();
        var closed = await Task.WhenAll(sweepers.Select(s => s.SweepAsync(TestContext.Current.CancellationToken)));
        Assert.True(closed.Sum() <= Grids, $"the two sweeps closed {closed.Sum()} incidents; there are {Grids}");
        await Task.WhenAll(sweepers.Select(s => s.SweepAsync(TestContext.Current.CancellationToken))); // after whatever the timers queued

        await Eventually.TrueAsync(() => Correlator(_a).OpenCount == 0 && Correlator(_b).OpenCount == 0, "no incident open on either replica");
        var last = Math.Max(_a.LastSequence, _b.LastSequence);
        await Eventually.TrueAsync(() => feed.Events.Count > 0 && feed.Events[^1].Sequence >= last, "A's feed at the last sequence");
        var closes = feed.Events.Where(e => e.Kind == FeedEventKind.IncidentClosed).ToList();
        Assert.Equal(Grids, closes.Count);
        Assert.Equal(Grids, closes.Select(e => e.Incident.IncidentId).Distinct().Count());
        Assert.All(closes, e => Assert.Equal("quiet-period", e.Incident.CloseReason));
    }

    [Fact]
    public void Incident_key_locks_never_take_the_feed_or_schema_lock()
    {
        var keys = Enumerable.Range(0, 10_000).Select(i => PostgresEngine.NamedLockKey($"incident|1301270001{i:D4}|va-intrusion")).ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
        Assert.All(keys, k => Assert.Equal(PostgresEngine.NamedLockTag, k & unchecked((long)0xFFFF_0000_0000_0000)));
        Assert.NotEqual(PostgresEngine.NamedLockTag, PostgresEngine.FeedLockKey & unchecked((long)0xFFFF_0000_0000_0000));
        Assert.NotEqual(PostgresEngine.NamedLockTag, PostgresSchema.MigrationLockKey & unchecked((long)0xFFFF_0000_0000_0000));
        Assert.Equal(PostgresEngine.NamedLockKey("incident|x"), PostgresEngine.NamedLockKey("incident|x"));
    }

    private sealed class Disposer(Action dispose) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            dispose();
            return ValueTask.CompletedTask;
        }
    }
}
