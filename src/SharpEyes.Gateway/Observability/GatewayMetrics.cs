using Prometheus;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Feeds;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Incidents;
using SharpEyes.Gateway.Outbox;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Streams;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Observability;

/// <summary>
/// The Prometheus metrics served at /metrics on the HTTP port (prometheus-net, one registry per gateway). Values are
/// read from the gateway's own state when scraped, so they are the same numbers the APIs report; counters are
/// rebuilt from the store at start and never go backwards. Names are listed in the README. The same metrics go out over
/// OpenTelemetry (<see cref="GatewayMeter"/>) when an OTLP endpoint is configured.
/// </summary>
public sealed class GatewayMetrics
{
    private static readonly TimeSpan CoverageCacheTime = TimeSpan.FromSeconds(30);
    private readonly Counter _received, _accepted, _duplicates, _deadLettered, _checks, _delivered, _deliveryFailures, _lostToRetention, _storeFailures, _isolatedBatches, _refusals,
        _kpiSnapshots, _kpiPruned, _rateLimited, _certificateRejections, _mqttRateLimited, _mqttFloods, _auditEntries, _auditPruned, _auditFolded,
        _auditTargetsDropped, _auditWriteFailures, _externalMessages, _externalReconnects, _leaseTakeovers, _probingTakeovers;
    private readonly Gauge _incidentsOpen, _feedLast, _feedPruned, _feedSubscribers, _depth, _lag, _acked, _circuit, _connected, _backlogExceeded, _backlogLimit,
        _storeWritable, _journalQueue, _devices, _kpi, _kpiTarget, _keysExpiring, _externalConnected, _leaseHeld, _probingLeader;
    private readonly Lock _coverageLock = new();
    private readonly Lock _refreshLock = new();
    private readonly IMetricFactory _factory;
    private readonly List<Collector> _families = [];
    private readonly List<Action> _updates = [];
    private (DateTimeOffset At, List<(string Region, Kpi Kpi)> Kpis)? _coverage;

    // prometheus-net's default registry would listen to every EventCounter and Meter in the process; the gateway
    // serves only its own registry, so nothing should be listening for it.
    static GatewayMetrics() => Metrics.SuppressDefaultMetrics();

    public GatewayMetrics(
        AlarmStats alarms, IncidentCorrelator incidents, Journal journal, FeedLog feed, FeedHub feedHub, OutboxService outbox, StreamHealthMonitor streams,
        DeviceCatalog devices, CoverageReports coverage, KpiSnapshots kpiHistory, GeographyState geography, ClientRefusals refusals, Auth.KeyRateLimits rateLimits,
        Auth.ApiKeyStore keys, Mqtt.MqttRateLimits mqttRateLimits, Audit.AuditLog audit, Hosting.GatewayTls tls, Mqtt.ExternalBrokerIntake external, TimeProvider time,
        Sip.SipStats sip, Sip.SipService sipService, Sip.SipDirectory sipDevices)
    {
        Registry = Metrics.NewCustomRegistry();
        _factory = Metrics.WithCustomRegistry(Registry);
        _received = Counter("sharpeyes_alarms_received_total", "Alarm messages received over MQTT (accepted + duplicates + dead-lettered)");
        _accepted = Counter("sharpeyes_alarms_accepted_total", "Alarms stored and correlated");
        _duplicates = Counter("sharpeyes_alarms_duplicates_total", "Alarms acknowledged again as duplicates of a stored (vendor, eventId)");
        _deadLettered = Counter("sharpeyes_alarms_dead_lettered_total", "Messages dead-lettered, by reason", "reason");
        _incidentsOpen = Gauge("sharpeyes_incidents_open", "Incidents open now");
        _feedLast = Gauge("sharpeyes_feed_last_sequence", "The last committed feed sequence");
        _feedPruned = Gauge("sharpeyes_feed_pruned_through", "Feed events up to this sequence were deleted by retention");
        _feedSubscribers = Gauge("sharpeyes_feed_subscribers", "Feeds.Subscribe streams open now (at most Limits:FeedSubscribers)");
        var feedStoreReads = Counter("sharpeyes_feed_store_reads_total",
            "Feed reads (subscribers, push endpoints, the console) served from the store because the events had left the in-memory ring of Limits:FeedRingEvents, since start");
        _depth = Gauge("sharpeyes_outbox_depth", "Committed feed events the endpoint has not acknowledged", "endpoint");
        _lag = Gauge("sharpeyes_outbox_lag_seconds", "Age of the oldest event the endpoint has not acknowledged (0 when caught up)", "endpoint");
        _acked = Gauge("sharpeyes_outbox_acked_sequence", "The endpoint holds every event up to this sequence", "endpoint");
        _delivered = Counter("sharpeyes_outbox_delivered_total", "Events the endpoint acknowledged since start", "endpoint");
        _deliveryFailures = Counter("sharpeyes_outbox_delivery_failures_total", "Failed delivery attempts since start (each is retried)", "endpoint");
        _lostToRetention = Counter("sharpeyes_outbox_lost_to_retention_total", "Sequences the endpoint lost after retention had deleted them, so they could not be sent again (since start)", "endpoint");
        _certificateRejections = Counter("sharpeyes_outbox_certificate_rejections_total",
            "TLS handshakes in which the endpoint's certificate was refused since start, by reason (untrusted, name_mismatch, not_time_valid, no_certificate); https:// and mqtts:// endpoints only", "endpoint", "reason");
        _circuit = Gauge("sharpeyes_outbox_circuit_state", "The endpoint's circuit breaker: 0 closed, 1 open, 2 half-open, 3 isolated", "endpoint");
        _connected = Gauge("sharpeyes_outbox_connected", "1 while the endpoint's transport is connected", "endpoint");
        _leaseHeld = Gauge("sharpeyes_outbox_lease_held", "1 while this replica holds the endpoint's lease and pushes to it, 0 while another replica does (standby)", "endpoint");
        _leaseTakeovers = Counter("sharpeyes_outbox_lease_takeovers_total", "Times this replica took the endpoint's lease over from another replica (it died, stalled or stopped), since start", "endpoint");
        _backlogExceeded = Gauge("sharpeyes_outbox_backlog_exceeded", "1 while the endpoint's depth is over the backlog limit", "endpoint");
        _backlogLimit = Gauge("sharpeyes_outbox_backlog_limit", "Depth above which an endpoint is reported as backed up");
        _storeWritable = Gauge("sharpeyes_store_writable", "1 while the store accepts writes, 0 after a failed commit until the next one succeeds");
        _storeFailures = Counter("sharpeyes_store_failed_commits_total", "Commits rolled back because the store refused them");
        _isolatedBatches = Counter("sharpeyes_journal_batches_split_total",
            "Group commits rolled back and committed again item by item (an item failed, the store refused the batch, or another replica stored one of its alarm keys first)");
        _journalQueue = Gauge("sharpeyes_journal_queue_length", "Changes waiting for the single writer");
        _checks = Counter("sharpeyes_stream_checks_total", "Stream checks since start, by check (describe, probe, grab) and outcome (ok or the failure)", "check", "outcome");
        _probingLeader = Gauge("sharpeyes_stream_probing_leader", "1 while this replica runs the stream probing schedule (the leader), 0 while another replica does or checks are off");
        _probingTakeovers = Counter("sharpeyes_stream_probing_takeovers_total", "Times this replica took the stream probing schedule over from another replica (it died, stalled or stopped), since start");
        _devices = Gauge("sharpeyes_devices", "Registered devices by kind and status", "kind", "status");
        _kpi = Gauge("sharpeyes_kpi", "Coverage and camera KPIs per county (value 0-1; formulas in the coverage report)", "region", "kpi");
        _kpiTarget = Gauge("sharpeyes_kpi_target", "The national target of each KPI (0 = none)", "region", "kpi");
        _kpiSnapshots = Counter("sharpeyes_kpi_history_snapshots_total", "KPI history snapshots taken (each of every region; Coverage:KpiHistoryInterval)");
        _kpiPruned = Counter("sharpeyes_kpi_history_pruned_total", "KPI history rows deleted by retention (Coverage:KpiHistoryRetention)");
        _refusals = Counter("sharpeyes_refusals_total", "Clients refused by a limit or a failed authentication, by kind (SharpEyes:Limits)", "kind");
        _rateLimited = Counter("sharpeyes_rate_limited_total", "Calls refused because their key was over its rate limit (SharpEyes:RateLimits), by key id", "key_id");
        _auditEntries = Counter("sharpeyes_audit_entries_total", "Audit entries recorded, by outcome (OK or the refusal's status)", "outcome");
        _auditPruned = Counter("sharpeyes_audit_pruned_total", "Audit entries deleted by retention (SharpEyes:Audit:Retention)");
        _auditFolded = Counter("sharpeyes_audit_refusals_folded_total",
            "Refused calls folded into a counted audit entry instead of one each (Audit:RefusalInterval, Audit:MaxRefusalSources), since start", "reason");
        _auditTargetsDropped = Counter("sharpeyes_audit_targets_dropped_total", "Target ids left out of audit entries over Audit:MaxTargetsPerEntry, since start");
        _auditWriteFailures = Counter("sharpeyes_audit_write_failures_total", "Audit entries the store refused (the calls were answered), since start");
        _mqttRateLimited = Counter("sharpeyes_mqtt_rate_limited_total", "MQTT publishes whose PUBACK was held because their vendor was over its rate limit (SharpEyes:RateLimits:MqttVendor), by vendor", "vendor");
        _mqttFloods = Counter("sharpeyes_mqtt_flood_disconnects_total", "MQTT clients disconnected for a message rate too high (held publishes over SharpEyes:RateLimits:MqttVendor:MaxHeldPublishes, or QoS 0 over the limit), by vendor", "vendor");
        _externalMessages = Counter("sharpeyes_external_broker_messages_total",
            "Messages taken from the external broker since start, by outcome: received, acked (after commit), redelivered (DUP), duplicate (of a stored alarm), dead-lettered, not-acked (commit failed or link lost first; sent again)", "outcome");
        _externalReconnects = Counter("sharpeyes_external_broker_reconnects_total", "Connections to the external broker after the first, since start");
        _externalConnected = Gauge("sharpeyes_external_broker_connected", "1 while connected to the external broker");
        _keysExpiring = Gauge("sharpeyes_api_keys_expiring", "Active API keys that expire within the warning window (SharpEyes:Keys:ExpiryWarning, the label)", "within");
        var expiringWithin = Window(keys.ExpiryWarning);
        var sipRegistrations = Counter("sharpeyes_sip_registrations_total",
            "GB/T 28181 REGISTER outcomes since start: registered (and renewals), unregistered, challenged (401), and the 403 refusals by reason (wrong-password, unknown-username, unknown-device, other-account, locked-out)", "outcome");
        var sipMessages = Counter("sharpeyes_sip_messages_total",
            "GB/T 28181 requests since start by kind: keepalive, not-registered (403: register first), ignored (a MANSCDP kind not acted on, answered 200), invite-refused (live video)", "kind");
        var sipAlarms = Counter("sharpeyes_sip_alarms_total",
            "GB/T 28181 Alarm notifications since start by outcome: accepted, duplicate, dead-lettered (answered 400), retry-later (the store could not take it: 503)", "outcome");
        var sipCatalog = Counter("sharpeyes_sip_catalog_items_total", "Catalog items received from devices since start, and those refused (not a camera or alarm input, or refused by the device checks)", "outcome");
        var sipFailed = Counter("sharpeyes_sip_requests_failed_total", "The gateway's own requests to devices (catalog queries, arming, subscriptions) that got no 2xx, since start");
        var sipTransport = Counter("sharpeyes_sip_transport_total",
            "SIP transport events since start: udp-received, malformed (answered 400), dropped (not answerable), retransmissions (absorbed), busy (503: Sip:MaxConcurrentRequests), tcp-accepted, tcp-refused (Sip:MaxTcpConnections), tcp-framing-errors", "event");
        var sipRegistered = Gauge("sharpeyes_sip_devices_registered", "GB/T 28181 devices registered now");
        var sipTcp = Gauge("sharpeyes_sip_tcp_connections", "SIP TCP connections open now");

        OnCollect(() =>
        {
            _received.IncTo(alarms.Received);
            _accepted.IncTo(alarms.Accepted);
            _duplicates.IncTo(alarms.Duplicates);
            foreach (var (reason, count) in alarms.DeadLetters)
            {
                _deadLettered.WithLabels(reason).IncTo(count);
            }

            sipRegistrations.WithLabels("registered").IncTo(sip.Registrations);
            sipRegistrations.WithLabels("unregistered").IncTo(sip.Unregistrations);
            sipRegistrations.WithLabels("challenged").IncTo(sip.Challenges);
            foreach (var (reason, count) in sip.RefusedRegistrations)
            {
                sipRegistrations.WithLabels(reason).IncTo(count);
            }

            sipMessages.WithLabels("keepalive").IncTo(sip.Keepalives);
            sipMessages.WithLabels("not-registered").IncTo(sip.NotRegistered);
            sipMessages.WithLabels("ignored").IncTo(sip.Ignored);
            sipMessages.WithLabels("invite-refused").IncTo(sip.InvitesRefused);
            sipAlarms.WithLabels("accepted").IncTo(sip.AlarmsAccepted);
            sipAlarms.WithLabels("duplicate").IncTo(sip.AlarmsDuplicate);
            sipAlarms.WithLabels("dead-lettered").IncTo(sip.AlarmsDeadLettered);
            sipAlarms.WithLabels("retry-later").IncTo(sip.AlarmsRetryLater);
            sipCatalog.WithLabels("received").IncTo(sip.CatalogItemsReceived);
            sipCatalog.WithLabels("refused").IncTo(sip.CatalogRefused);
            sipFailed.IncTo(sip.RequestsFailed);
            if (sipService.Udp is { } udp)
            {
                sipTransport.WithLabels("udp-received").IncTo(udp.Received);
                sipTransport.WithLabels("malformed").IncTo(udp.Malformed + (sipService.Tcp?.Requests.Malformed ?? 0));
                sipTransport.WithLabels("dropped").IncTo(udp.Dropped + (sipService.Tcp?.Dropped ?? 0));
                sipTransport.WithLabels("retransmissions").IncTo(udp.Retransmissions + (sipService.Tcp?.Requests.Retransmissions ?? 0));
                sipTransport.WithLabels("busy").IncTo(udp.Busy + (sipService.Tcp?.Requests.Busy ?? 0));
            }

            if (sipService.Tcp is { } tcp)
            {
                sipTransport.WithLabels("tcp-accepted").IncTo(tcp.Accepted);
                sipTransport.WithLabels("tcp-refused").IncTo(tcp.Refused);
                sipTransport.WithLabels("tcp-framing-errors").IncTo(tcp.FramingErrors);
                sipTcp.Set(tcp.Open);
            }

            var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
            sipRegistered.Set(sipDevices.Devices.Count(d =>
            {
                lock (d)
                {
                    return d.IsRegistered(nowMs);
                }
            }));

            _incidentsOpen.Set(incidents.OpenCount);
            _feedLast.Set(journal.LastSequence);
            _feedPruned.Set(feed.PrunedThrough);
            _feedSubscribers.Set(feedHub.Subscribers);
            feedStoreReads.IncTo(feed.StoreReads);
            _backlogLimit.Set(outbox.BacklogLimit);
            foreach (var e in outbox.Endpoints)
            {
                _depth.WithLabels(e.Name).Set(e.Depth);
                _lag.WithLabels(e.Name).Set(e.Lag().TotalSeconds);
                _acked.WithLabels(e.Name).Set(e.AckedSequence);
                _delivered.WithLabels(e.Name).IncTo(e.DeliveredEvents);
                _deliveryFailures.WithLabels(e.Name).IncTo(e.FailedAttempts);
                _lostToRetention.WithLabels(e.Name).IncTo(e.LostToRetention);
                foreach (var (reason, count) in e.Tls?.Rejections ?? new Dictionary<string, long>())
                {
                    _certificateRejections.WithLabels(e.Name, reason).IncTo(count);
                }

                _circuit.WithLabels(e.Name).Set((int)e.Circuit);
                _connected.WithLabels(e.Name).Set(e.Connected ? 1 : 0);
                _backlogExceeded.WithLabels(e.Name).Set(e.Lease.Held && e.Depth > outbox.BacklogLimit ? 1 : 0);
                _leaseHeld.WithLabels(e.Name).Set(e.Lease.Held ? 1 : 0);
                _leaseTakeovers.WithLabels(e.Name).IncTo(e.Lease.Takeovers);
            }

            foreach (var (kind, count) in refusals.Snapshot())
            {
                _refusals.WithLabels(kind).IncTo(count);
            }

            foreach (var (keyId, count) in rateLimits.Snapshot())
            {
                _rateLimited.WithLabels(keyId).IncTo(count);
            }

            foreach (var (vendor, held, floods) in mqttRateLimits.Snapshot())
            {
                _mqttRateLimited.WithLabels(vendor).IncTo(held);
                _mqttFloods.WithLabels(vendor).IncTo(floods);
            }

            _keysExpiring.WithLabels(expiringWithin).Set(keys.ExpiringSoon());
            if (external.Enabled)
            {
                _externalMessages.WithLabels("received").IncTo(external.Received);
                _externalMessages.WithLabels("acked").IncTo(external.Acked);
                _externalMessages.WithLabels("redelivered").IncTo(external.Redelivered);
                _externalMessages.WithLabels("duplicate").IncTo(external.Duplicates);
                _externalMessages.WithLabels("dead-lettered").IncTo(external.DeadLettered);
                _externalMessages.WithLabels("not-acked").IncTo(external.NotAcked);
                _externalReconnects.IncTo(external.Reconnects);
                _externalConnected.Set(external.Connected ? 1 : 0);
            }

            foreach (var (outcome, count) in audit.Entries())
            {
                _auditEntries.WithLabels(outcome).IncTo(count);
            }

            _auditPruned.IncTo(audit.Pruned);
            var (repeats, sourcesFull) = audit.Folded;
            _auditFolded.WithLabels("repeat").IncTo(repeats);
            _auditFolded.WithLabels("sources-full").IncTo(sourcesFull);
            _auditTargetsDropped.IncTo(audit.TargetsDropped);
            _auditWriteFailures.IncTo(audit.WriteFailures);
            _kpiSnapshots.IncTo(kpiHistory.Snapshots);
            _kpiPruned.IncTo(kpiHistory.Pruned);
            _storeWritable.Set(journal.Failure is null ? 1 : 0);
            _storeFailures.IncTo(journal.FailedBatches);
            _isolatedBatches.IncTo(journal.SplitBatches);
            _journalQueue.Set(journal.QueueLength);
            _probingLeader.Set(streams.Leading ? 1 : 0);
            _probingTakeovers.IncTo(streams.Takeovers);
            foreach (var ((check, outcome), count) in streams.Checks.Snapshot())
            {
                _checks.WithLabels(check, outcome).IncTo(count);
            }

            foreach (var kind in new[] { DeviceKind.Camera, DeviceKind.AlarmDevice })
            {
                foreach (var status in new[] { DeviceStatus.Online, DeviceStatus.Offline, DeviceStatus.Unknown })
                {
                    _devices.WithLabels(Label(kind), Label(status)).Set(0);
                }
            }

            foreach (var group in devices.All.GroupBy(d => (d.Device.Kind, d.Status)))
            {
                _devices.WithLabels(Label(group.Key.Kind), Label(group.Key.Status)).Set(group.Count());
            }

            foreach (var (region, kpi) in CoverageKpis())
            {
                _kpi.WithLabels(region, kpi.Name).Set(kpi.Value);
                _kpiTarget.WithLabels(region, kpi.Name).Set(kpi.Target);
            }
        });
        tls.AddMetrics(this);

        List<(string, Kpi)> CoverageKpis()
        {
            lock (_coverageLock)
            {
                var now = time.GetUtcNow();
                if (_coverage is { } cached && now - cached.At < CoverageCacheTime)
                {
                    return cached.Kpis;
                }

                var kpis = new List<(string, Kpi)>();
                // The report's summary row holds the coverage KPIs and the camera KPIs (CameraKpis, 24 h window) alike.
                foreach (var county in geography.KnownCounties.Order(StringComparer.Ordinal))
                {
                    kpis.AddRange(coverage.Report(county, RegionLevel.County).Summary.Kpis.Select(k => (county, k)));
                }

                _coverage = (now, kpis);
                return kpis;
            }
        }
    }

    public CollectorRegistry Registry { get; }

    /// <summary>A counter on <see cref="Registry"/>, listed in <see cref="Families"/> (what <see cref="GatewayMeter"/> exports).</summary>
    public Counter Counter(string name, string help, params string[] labels) => Listed(_factory.CreateCounter(name, help, labels));

    /// <summary>A gauge on <see cref="Registry"/>, listed in <see cref="Families"/>.</summary>
    public Gauge Gauge(string name, string help, params string[] labels) => Listed(_factory.CreateGauge(name, help, labels));

    private T Listed<T>(T family)
        where T : Collector
    {
        lock (_families)
        {
            _families.Add(family);
        }

        return family;
    }

    /// <summary>Every metric on <see cref="Registry"/>, in the order created.</summary>
    public IReadOnlyList<Collector> Families
    {
        get
        {
            lock (_families)
            {
                return [.. _families];
            }
        }
    }

    /// <summary>Runs <paramref name="update"/> before every scrape of /metrics and every <see cref="Refresh"/>.</summary>
    public void OnCollect(Action update)
    {
        Registry.AddBeforeCollectCallback(update);
        lock (_families)
        {
            _updates.Add(update);
        }
    }

    /// <summary>Brings every metric up to date, as a scrape of /metrics does first (<see cref="GatewayMeter"/> calls it before reading them).</summary>
    public void Refresh()
    {
        Action[] updates;
        lock (_families)
        {
            updates = [.. _updates];
        }

        lock (_refreshLock)
        {
            foreach (var update in updates)
            {
                update();
            }
        }
    }

    /// <summary>A window as a label: "7d", "36h", "90m" or "45s" (the largest whole unit).</summary>
    internal static string Window(TimeSpan window) =>
        window.Ticks % TimeSpan.TicksPerDay == 0 ? $"{window.Ticks / TimeSpan.TicksPerDay}d"
        : window.Ticks % TimeSpan.TicksPerHour == 0 ? $"{window.Ticks / TimeSpan.TicksPerHour}h"
        : window.Ticks % TimeSpan.TicksPerMinute == 0 ? $"{window.Ticks / TimeSpan.TicksPerMinute}m"
        : $"{(long)window.TotalSeconds}s";

    private static string Label(DeviceKind kind) => kind switch
    {
        DeviceKind.Camera => "camera",
        DeviceKind.AlarmDevice => "alarm-device",
        _ => "other",
    };

    private static string Label(DeviceStatus status) => status switch
    {
        DeviceStatus.Online => "online",
        DeviceStatus.Offline => "offline",
        _ => "unknown",
    };
}
