using System.Buffers;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Incidents;
using SharpEyes.Gateway.Storage;
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
/// </summary>
public sealed class AlarmIntake(
    DeviceCatalog devices,
    GeographyState geography,
    IncidentCorrelator correlator,
    DeadLetterSink deadLetters,
    AlarmStats stats,
    Journal journal,
    TimeProvider time,
    IOptions<GatewayOptions> options)
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
    /// publish, so one connection's alarms share group commits too.
    /// </summary>
    public async ValueTask<(Rejection? Rejection, Task<IntakeResult> Committed)> SubmitAsync(Principal publisher, string topic, ReadOnlySequence<byte> payload, CancellationToken ct = default)
    {
        var now = time.GetUtcNow();
        var checkedAlarm = Check(publisher, topic, payload, now);
        if (checkedAlarm.Rejection is { } rejection)
        {
            var letter = deadLetters.RecordAsync(publisher.VendorId ?? publisher.KeyId, topic, payload, rejection, ct);
            return (rejection, AfterAsync(letter, new IntakeResult(IntakeStatus.DeadLettered, rejection)));
        }

        var alarm = checkedAlarm.Alarm!;
        var committed = await journal.SubmitAsync(tx =>
        {
            var plan = correlator.Plan(alarm);
            var inserted = tx.Execute(
                "INSERT OR IGNORE INTO alarms(vendor_id, event_id, device_id, incident_id, received_at, data) VALUES($p0,$p1,$p2,$p3,$p4,$p5)",
                alarm.VendorId, alarm.EventId, alarm.DeviceId, plan.IncidentId, now.ToUnixTimeMilliseconds(), ToStored(alarm, plan.IncidentId));
            if (inserted == 0)
            {
                stats.CountDuplicate(tx);
                return new IntakeResult(IntakeStatus.Duplicate);
            }

            correlator.Apply(tx, alarm, plan);
            if (devices.Find(alarm.DeviceId) is { } current)
            {
                devices.MarkSeen(tx, current, now, StatusReasons.Alarm); // not a device deregistered since the check
            }

            tx.AfterCommit(stats.CountAccepted);
            return new IntakeResult(IntakeStatus.Accepted, IncidentId: plan.IncidentId);
        }, ct).ConfigureAwait(false);
        return (null, committed);
    }

    private static async Task<IntakeResult> AfterAsync(Task durable, IntakeResult result)
    {
        await durable.ConfigureAwait(false);
        return result;
    }

    private (Alarm? Alarm, Rejection? Rejection) Check(Principal publisher, string topic, in ReadOnlySequence<byte> payload, DateTimeOffset now)
    {
        if (publisher.Role != Role.Vendor)
        {
            return (null, new Rejection(DeadLetterReasons.NotPermitted, $"role {publisher.Role} may not publish alarms; use a vendor key"));
        }

        if (!topic.StartsWith(TopicPrefix, StringComparison.Ordinal) || !GbDeviceId.IsWellFormed(topic.AsSpan(TopicPrefix.Length)))
        {
            return (null, new Rejection(DeadLetterReasons.InvalidTopic, $"publish alarms to {TopicPrefix}{{20-digit device id}}"));
        }

        if (payload.Length > _options.MaxPayloadBytes)
        {
            return (null, new Rejection(DeadLetterReasons.Oversized, $"payload is {payload.Length} bytes; the limit is {_options.MaxPayloadBytes}"));
        }

        if (AlarmParser.TryParse(payload, now, out var parsed) is { } rejection)
        {
            return (null, rejection);
        }

        var deviceId = topic[TopicPrefix.Length..];
        var device = devices.Find(deviceId);
        if (device is null)
        {
            return (null, new Rejection(DeadLetterReasons.UnknownDevice, $"device {deviceId} is not registered"));
        }

        if (device.VendorId != publisher.VendorId)
        {
            return (null, new Rejection(DeadLetterReasons.ForeignDevice, $"device {deviceId} belongs to another vendor"));
        }

        return (Map(parsed!, device.Device, publisher.VendorId!, now), null);
    }

    private Alarm Map(ParsedAlarm parsed, Device device, string vendorId, DateTimeOffset now)
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

        var alarm = new Alarm
        {
            VendorId = vendorId,
            EventId = parsed.EventId,
            DeviceId = device.DeviceId,
            OccurredAt = Timestamp.FromDateTimeOffset(parsed.OccurredAt),
            ReceivedAt = Timestamp.FromDateTimeOffset(now),
            Priority = parsed.Priority,
            Method = parsed.Method,
            Type = parsed.Type,
            Description = parsed.Description,
            Position = new GeoPoint { Lon = lon, Lat = lat, Datum = V1.Datum.Wgs84 },
            PositionFromDevice = fromDevice,
            Region = geography.Locate(lon, lat),
        };
        alarm.KeySites.AddRange(geography.KeySitesNear(lon, lat, _options.KeySiteRadiusMeters));
        alarm.CameraIds.AddRange(geography.Cameras.CamerasSeeing(lon, lat));
        return alarm;
    }

    private static byte[] ToStored(Alarm alarm, string incidentId)
    {
        alarm.IncidentId = incidentId;
        return alarm.ToByteArray();
    }
}
