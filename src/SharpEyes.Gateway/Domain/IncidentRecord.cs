using SharpEyes.V1;
using RegionCodes = SharpEyes.Geo.Regions.RegionCodes;

namespace SharpEyes.Gateway.Domain;

/// <summary>
/// Alarms correlated into one incident (Incidents/IncidentCorrelator.cs): its key and type class, the highest priority,
/// the first alarm's region and position, every key site and camera of its alarms (each once, in order of arrival), how
/// many alarms joined, the newest alarm (<see cref="LastAlarm"/>: null once closed), and its times, closing and
/// acknowledgement. The state enum is the contract's: a plain enum, shared so that no identity mapping stands between.
/// </summary>
public sealed record IncidentRecord(
    string IncidentId,
    IncidentState State,
    string CorrelationKey,
    string TypeClass,
    int HighestPriority,
    RegionCodes Region,
    GeoPosition Position,
    ValueList<KeySiteNearby> KeySites,
    ValueList<string> CameraIds,
    int AlarmCount,
    AlarmRecord? LastAlarm,
    DateTimeOffset OpenedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? ClosedAt = null,
    string CloseReason = "",
    Acknowledgement? Acknowledgement = null);

/// <summary>An operator's acknowledgement: when, by which API key (its id, never its secret) of which role, and the note (trimmed).</summary>
public sealed record Acknowledgement(DateTimeOffset At, string KeyId, Role Role, string Note);
