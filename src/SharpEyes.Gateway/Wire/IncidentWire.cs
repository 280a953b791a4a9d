using SharpEyes.Gateway.Domain;

namespace SharpEyes.Gateway.Wire;

/// <summary>
/// Alarms and incidents between the domain (<see cref="AlarmRecord"/>, <see cref="IncidentRecord"/>) and the contract
/// (<see cref="V1.Alarm"/>, <see cref="V1.Incident"/>): for answers and feed events, and for the stored encoding, which
/// is the contract's protobuf (docs/decisions.md, "Domain records, protobuf at the edge").
/// </summary>
public static class IncidentWire
{
    public static V1.Alarm ToWire(this AlarmRecord a)
    {
        var wire = new V1.Alarm
        {
            VendorId = a.VendorId,
            EventId = a.EventId,
            DeviceId = a.DeviceId,
            OccurredAt = Timestamp.FromDateTimeOffset(a.OccurredAt),
            ReceivedAt = Timestamp.FromDateTimeOffset(a.ReceivedAt),
            Priority = a.Priority,
            Method = a.Method,
            Type = a.Type,
            Description = a.Description,
            Position = a.Position.ToWire(),
            PositionFromDevice = a.PositionFromDevice,
            Region = a.Region.ToWire(),
            IncidentId = a.IncidentId,
        };
        wire.KeySites.Capacity = a.KeySites.Count;
        foreach (var site in a.KeySites)
        {
            wire.KeySites.Add(site.ToWire());
        }

        wire.CameraIds.AddRange(a.CameraIds);
        return wire;
    }

    public static AlarmRecord ToDomain(this V1.Alarm a) => new(
        a.VendorId, a.EventId, a.DeviceId, a.OccurredAt.ToDomainOrDefault(), a.ReceivedAt.ToDomainOrDefault(),
        a.Priority, a.Method, a.Type, a.Description, a.Position.ToDomain(), a.PositionFromDevice, a.Region.ToDomain(),
        a.KeySites.Select(s => s.ToDomain()).ToValueList(), a.CameraIds.ToValueList(), a.IncidentId);

    /// <summary>
    /// The wire incident, carrying <paramref name="alarms"/> when given (GetIncident: all stored), else its newest alarm
    /// (none once closed).
    /// </summary>
    public static V1.Incident ToWire(this IncidentRecord i, IEnumerable<AlarmRecord>? alarms = null)
    {
        var wire = new V1.Incident
        {
            IncidentId = i.IncidentId,
            State = i.State,
            CorrelationKey = i.CorrelationKey,
            TypeClass = i.TypeClass,
            HighestPriority = i.HighestPriority,
            Region = i.Region.ToWire(),
            AlarmCount = i.AlarmCount,
            OpenedAt = Timestamp.FromDateTimeOffset(i.OpenedAt),
            UpdatedAt = Timestamp.FromDateTimeOffset(i.UpdatedAt),
            ClosedAt = i.ClosedAt.ToWire(),
            CloseReason = i.CloseReason,
            Position = i.Position.ToWire(),
        };
        wire.KeySites.Capacity = i.KeySites.Count;
        foreach (var site in i.KeySites)
        {
            wire.KeySites.Add(site.ToWire());
        }

        wire.CameraIds.AddRange(i.CameraIds);
        foreach (var alarm in alarms ?? (i.LastAlarm is { } last ? [last] : []))
        {
            wire.Alarms.Add(alarm.ToWire());
        }

        if (i.Acknowledgement is { } ack)
        {
            wire.AcknowledgedAt = Timestamp.FromDateTimeOffset(ack.At);
            wire.AcknowledgedBy = new V1.Acknowledger { KeyId = ack.KeyId, Role = ack.Role };
            wire.AcknowledgeNote = ack.Note;
        }

        return wire;
    }

    /// <summary>A stored incident: its newest alarm is the last it carries.</summary>
    public static IncidentRecord ToDomain(this V1.Incident i) => new(
        i.IncidentId, i.State, i.CorrelationKey, i.TypeClass, i.HighestPriority, i.Region.ToDomain(), i.Position.ToDomain(),
        i.KeySites.Select(s => s.ToDomain()).ToValueList(), i.CameraIds.ToValueList(), i.AlarmCount,
        i.Alarms.Count > 0 ? i.Alarms[^1].ToDomain() : null,
        i.OpenedAt.ToDomainOrDefault(), i.UpdatedAt.ToDomainOrDefault(), i.ClosedAt.ToDomain(), i.CloseReason,
        i.AcknowledgedAt is { } at ? new Acknowledgement(at.ToDateTimeOffset(), i.AcknowledgedBy?.KeyId ?? "", i.AcknowledgedBy?.Role ?? V1.Role.Unspecified, i.AcknowledgeNote) : null);
}
