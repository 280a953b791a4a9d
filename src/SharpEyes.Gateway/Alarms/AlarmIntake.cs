using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Incidents;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Streams;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Alarms;

public enum IntakeStatus
{
    Accepted,
    Duplicate,
    DeadLettered,
}

public sealed record IntakeResult(IntakeStatus Status, Rejection? Rejection = null, string? IncidentId = null);

/// <summary>
/// From an alarm message to a durable, correlated alarm: check, map (grid, key sites, cameras that see it), then in one
/// journal item de-duplicate by (vendor, eventId), correlate into an incident and append the feed event. The returned
/// task completes after commit; the MQTT layer acknowledges only then. Bad messages are dead-lettered, also durably.
/// Every message ends as accepted, duplicate or dead letter: a failure of the gateway's own code while checking,
/// mapping or storing one message dead-letters it as <c>internal-error</c> (logged with an error id), so one message
/// can never stop a publisher. Only a store failure leaves a message unacknowledged, to be sent again.
/// </summary>
public sealed partial class AlarmIntake(
    DeviceCatalog devices,
    GeographyState geography,
    IncidentCorrelator correlator,
    DeadLetterSink deadLetters,
    AlarmStats stats,
    Journal journal,
    TimeProvider time,
    IOptions<GatewayOptions> options,
    ILogger<AlarmIntake> logger)
{
    public const string TopicPrefix = "sharpeyes/v1/alarms/";
    private readonly AlarmOptions _options = options.Value.Alarms;

    /// <summary>Checks, maps and commits one alarm; completes after the commit (or after the dead letter is stored).</summary>
    public async Task<IntakeResult> AcceptAsync(Principal publisher, string topic, ReadOnlySequence<byte> payload, CancellationToken ct = default)
    {
        var submitted = await SubmitAsync(publisher, topic, payload, ct).ConfigureAwait(false);
        return await submitted.Committed.ConfigureAwait(false);
    }

    /// <summary>
    /// Checks and maps one alarm and queues its transaction. Returns once it is queued, with the checked outcome
    /// (the dead-letter reason, if any) and a task that completes when the alarm (or its dead letter) is durable.
    /// The MQTT layer sends the PUBACK only after that task completed, but meanwhile takes the connection's next
    /// publish, so one connection's alarms share group commits too. Never throws: the task fails only when the store
    /// could not take the alarm or its dead letter (or the gateway is stopping), and then nothing was stored.
    /// </summary>
    /// <param name="retained">The MQTT retain flag: the gateway keeps no retained messages, so such an alarm is dead-lettered <c>unsupported</c>.</param>
    public async ValueTask<(Rejection? Rejection, Task<IntakeResult> Committed)> SubmitAsync(Principal publisher, string topic, ReadOnlySequence<byte> payload,
        CancellationToken ct = default, bool retained = false)
    {
        var vendorId = publisher.VendorId ?? publisher.KeyId;
        DateTimeOffset now;
        (AlarmRecord? Alarm, Rejection? Rejection) checkedAlarm;
        var span = GatewayTracing.Source.StartActivity(GatewayTracing.AlarmCheck); // null unless traces are recorded
        try
        {
            now = time.GetUtcNow();
            checkedAlarm = Check(publisher, topic, payload, retained, now);
            if (span is not null)
            {
                Traced(span, checkedAlarm);
            }
        }
        catch (Exception ex)
        {
            span?.SetStatus(ActivityStatusCode.Error, DeadLetterReasons.InternalError).Stop();
            // Whatever the input, a bug in checking or mapping it must not reach the broker (which would drop the
            // connection, and the publisher would send the same message again and again).
            var rejection = InternalError(vendorId, topic, ex);
            return (rejection, DeadLetterAsync(vendorId, topic, DeadLetterSink.Sample(payload), rejection, ct));
        }

        span?.Stop();
        if (checkedAlarm.Rejection is { } refused)
        {
            return (refused, DeadLetterAsync(vendorId, topic, DeadLetterSink.Sample(payload), refused, ct));
        }

        var alarm = checkedAlarm.Alarm!;
        var sample = DeadLetterSink.Sample(payload); // the payload's buffer is the broker's once this returns
        try
        {
            var committed = await journal.SubmitAsync(tx => Store(tx, alarm, now), ct, IncidentCorrelator.LockNameOf(alarm),
                new AlarmKey(alarm.VendorId, alarm.EventId)).ConfigureAwait(false);
            return (null, StoredOrDeadLetteredAsync(committed, vendorId, topic, sample, ct));
        }
        catch (Exception ex)
        {
            // Not queued: the gateway is stopping or the publisher went away while the queue was full. Not stored,
            // so not acknowledged.
            return (null, Task.FromException<IntakeResult>(ex));
        }
    }

    /// <summary>The key id that dead letters and the audit of alarms taken from an external broker are filed under when no vendor owns the topic's device.</summary>
    public const string ExternalBrokerSource = "external-broker";

    /// <summary>
    /// <see cref="SubmitAsync"/> for a message taken from an external broker. The broker authenticated the publisher
    /// and enforced its topic ACL (generated from the gateway's devices), and the gateway cannot see who it was: the
    /// alarm is attributed to the vendor that owns the device in the topic. A device nobody owns is dead-lettered
    /// <c>unknown-device</c> under <see cref="ExternalBrokerSource"/>. The embedded broker never takes this path: its
    /// publishers are checked against the device's owner.
    /// </summary>
    public ValueTask<(Rejection? Rejection, Task<IntakeResult> Committed)> SubmitFromBrokerAsync(string topic, ReadOnlySequence<byte> payload,
        CancellationToken ct = default, bool retained = false)
    {
        var owner = topic.StartsWith(TopicPrefix, StringComparison.Ordinal) ? devices.Find(topic[TopicPrefix.Length..])?.VendorId : null;
        return SubmitAsync(new Principal(ExternalBrokerSource, Role.Vendor, owner), topic, payload, ct, retained);
    }

    /// <summary>The checked alarm's ids on the check span and on its parent (the MQTT receive span), so a search by event id finds the trace.</summary>
    private static void Traced(Activity span, (AlarmRecord? Alarm, Rejection? Rejection) checkedAlarm)
    {
        if (checkedAlarm.Rejection is { } refused)
        {
            span.SetTag(GatewayTracing.OutcomeTag, refused.Reason);
            return;
        }

        var alarm = checkedAlarm.Alarm!;
        Ids(span, alarm);
        if (span.Parent is { } receive && receive.Source == GatewayTracing.Source)
        {
            Ids(receive, alarm);
        }

        static void Ids(Activity tagged, AlarmRecord alarm) =>
            tagged.SetTag(GatewayTracing.DeviceIdTag, alarm.DeviceId).SetTag(GatewayTracing.EventIdTag, alarm.EventId);
    }

    private IntakeResult Store(JournalTransaction tx, AlarmRecord checkedAlarm, DateTimeOffset now)
    {
        using var span = GatewayTracing.Source.StartActivity(GatewayTracing.IncidentCorrelate); // a child of the alarm's journal commit span
        var plan = correlator.Plan(tx, checkedAlarm);
        span?.SetTag(GatewayTracing.IncidentIdTag, plan.IncidentId).SetTag("sharpeyes.incident.opens", plan.Opens);
        var alarm = checkedAlarm with { IncidentId = plan.IncidentId };
        if (!Insert(tx, alarm, now.ToUnixTimeMilliseconds()))
        {
            stats.CountDuplicate(tx);
            return new IntakeResult(IntakeStatus.Duplicate);
        }

        correlator.Apply(tx, alarm, plan);
        if (devices.Find(alarm.DeviceId) is { } current)
        {
            devices.MarkSeen(tx, current, now, StatusReasons.Alarm); // not a device deregistered since the check
        }

        stats.CountAccepted(tx);
        return new IntakeResult(IntakeStatus.Accepted, IncidentId: plan.IncidentId);
    }

    /// <summary>
    /// Stores the alarm unless its key is stored already (false: a duplicate). On SQLite, or alone in its batch, one
    /// statement does both. On a shared store a batch of alarms costs no round trip per alarm: the first looks up every
    /// alarm key of the batch (<see cref="JournalTransaction.ItemTags"/>) in one statement, duplicates are told from that
    /// and from the batch's own, and the rest are inserted together before the commit. Should another replica have stored
    /// one of those keys meanwhile (a vendor's event id reused for another device: a device's own alarms are serialised by
    /// their incident key's lock), the insert stores fewer rows than it was given and throws: the journal rolls the batch
    /// back and commits its items one by one, each then on the one-statement path.
    /// </summary>
    private bool Insert(JournalTransaction tx, AlarmRecord alarm, long receivedAtMs)
    {
        var key = new AlarmKey(alarm.VendorId, alarm.EventId);
        var batch = tx.SharedStore && tx.ItemTags.Count > 1 ? tx.Shared(_alarmBatchSlot, () => new AlarmBatch(tx)) : null;
        if (batch is null || !batch.Looked.Contains(key))
        {
            return AlarmRepository.Insert(tx, alarm, receivedAtMs);
        }

        if (batch.Stored.Contains(key) || !batch.Taken.Add(key))
        {
            return false;
        }

        batch.Rows.Add(new AlarmInsert(alarm, receivedAtMs));
        tx.BeforeCommitOnce(_alarmBatchSlot, t =>
        {
            // In arrival order (an incident's alarms received in one millisecond read back in it). Two replicas inserting
            // overlapping keys in opposite orders would deadlock; PostgreSQL ends one after deadlock_timeout, and that
            // batch is split like any other. Only a vendor reusing event ids across devices gets there.
            if (AlarmRepository.InsertAll(t, batch.Rows) != batch.Rows.Count)
            {
                throw new InvalidOperationException("another replica stored one of this batch's alarm keys meanwhile; the batch is committed again item by item");
            }
        });
        return true;
    }

    private readonly object _alarmBatchSlot = new();

    /// <summary>A batch's alarm keys (<see cref="Looked"/>), those stored before it (<see cref="Stored"/>), those it takes and their rows.</summary>
    private sealed class AlarmBatch
    {
        public AlarmBatch(JournalTransaction tx)
        {
            Looked = [.. tx.ItemTags.OfType<AlarmKey>()];
            Stored = AlarmRepository.ExistingKeys(tx, [.. Looked]);
        }

        public HashSet<AlarmKey> Looked { get; }

        public HashSet<AlarmKey> Stored { get; }

        public HashSet<AlarmKey> Taken { get; } = [];

        public List<AlarmInsert> Rows { get; } = [];
    }

    /// <summary>
    /// The alarm's commit; if its transaction failed for another reason than the store (the journal rolled it back),
    /// the alarm is dead-lettered as <c>internal-error</c> instead, so its publisher is not asked to send it forever.
    /// </summary>
    private async Task<IntakeResult> StoredOrDeadLetteredAsync(Task<IntakeResult> committed, string vendorId, string topic, PayloadSample sample, CancellationToken ct)
    {
        try
        {
            return await committed.ConfigureAwait(false);
        }
        catch (Exception ex) when (!Journal.IsStoreFailure(ex) && ex is not OperationCanceledException)
        {
            var rejection = InternalError(vendorId, topic, ex);
            return await DeadLetterAsync(vendorId, topic, sample, rejection, ct).ConfigureAwait(false);
        }
    }

    private async Task<IntakeResult> DeadLetterAsync(string vendorId, string topic, PayloadSample sample, Rejection rejection, CancellationToken ct)
    {
        await deadLetters.RecordAsync(vendorId, topic, sample, rejection, ct).ConfigureAwait(false);
        return new IntakeResult(IntakeStatus.DeadLettered, rejection);
    }

    private Rejection InternalError(string vendorId, string topic, Exception exception)
    {
        var errorId = Guid.NewGuid().ToString("N")[..12];
        LogInternalError(logger, errorId, vendorId, LogText.Client(topic), exception);
        return new Rejection(DeadLetterReasons.InternalError, $"the gateway failed to process this message (error {errorId}, in its log); the alarm was not stored");
    }

    private (AlarmRecord? Alarm, Rejection? Rejection) Check(Principal publisher, string topic, in ReadOnlySequence<byte> payload, bool retained, DateTimeOffset now)
    {
        if (publisher.Role != Role.Vendor)
        {
            return (null, new Rejection(DeadLetterReasons.NotPermitted, $"role {publisher.Role} may not publish alarms; use a vendor key"));
        }

        if (retained)
        {
            return (null, new Rejection(DeadLetterReasons.Unsupported, "retained messages are not supported: the gateway keeps no retained alarm; publish with retain=0"));
        }

        if (!topic.StartsWith(TopicPrefix, StringComparison.Ordinal) || !GbDeviceId.IsWellFormed(topic.AsSpan(TopicPrefix.Length)))
        {
            return (null, new Rejection(DeadLetterReasons.InvalidTopic, $"publish alarms to {TopicPrefix}{{20-digit device id}}"));
        }

        if (payload.Length > _options.MaxPayloadBytes)
        {
            return (null, new Rejection(DeadLetterReasons.Oversized, $"payload is {payload.Length} bytes; the limit is {_options.MaxPayloadBytes}"));
        }

        if (AlarmParser.TryParse(payload, now, _options.Retention, out var parsed) is { } rejection)
        {
            return (null, rejection);
        }

        // Another vendor's device gets the same answer as a device nobody registered: a vendor cannot probe for ids.
        var deviceId = topic[TopicPrefix.Length..];
        var device = devices.Find(deviceId);
        if (device is null || device.VendorId != publisher.VendorId)
        {
            return (null, new Rejection(DeadLetterReasons.UnknownDevice, publisher.VendorId is null
                ? $"device {deviceId} is not registered"
                : $"device {deviceId} is not registered to vendor {publisher.VendorId}"));
        }

        return (Map(parsed!, device.Device, publisher.VendorId!, now), null);
    }

    private AlarmRecord Map(ParsedAlarm parsed, DeviceRecord device, string vendorId, DateTimeOffset now)
    {
        double lon, lat;
        var fromDevice = parsed.Position is null;
        if (fromDevice)
        {
            (lon, lat) = (device.Position.Lon, device.Position.Lat);
        }
        else
        {
            (lon, lat) = GeoConvert.ToWgs84(parsed.Position!.Lon, parsed.Position.Lat, parsed.Position.Datum);
        }

        return new AlarmRecord(vendorId, parsed.EventId, device.DeviceId, parsed.OccurredAt, now, parsed.Priority, parsed.Method, parsed.Type,
            parsed.Description, new GeoPosition(lon, lat), fromDevice, geography.Locate(lon, lat),
            geography.KeySitesNear(lon, lat, _options.KeySiteRadiusMeters), [.. geography.Cameras.CamerasSeeing(lon, lat)]);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Internal error {ErrorId} while handling a message from vendor {VendorId} on topic {Topic}: dead-lettered as internal-error")]
    private static partial void LogInternalError(ILogger logger, string errorId, string vendorId, string topic, Exception exception);
}
