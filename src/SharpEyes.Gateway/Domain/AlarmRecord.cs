using SharpEyes.Geo.Regions;

namespace SharpEyes.Gateway.Domain;

/// <summary>
/// An accepted alarm as the gateway understood it: the vendor's event (its id unique per vendor), the device's and the
/// gateway's times, the GB/T 28181 priority, method and type, where it happened (the payload's position on WGS-84, else
/// the device's) with the region, key sites and cameras there, and the incident it joined (empty until correlated).
/// </summary>
public sealed record AlarmRecord(
    string VendorId,
    string EventId,
    string DeviceId,
    DateTimeOffset OccurredAt,
    DateTimeOffset ReceivedAt,
    int Priority,
    int Method,
    int Type,
    string Description,
    GeoPosition Position,
    bool PositionFromDevice,
    RegionCodes Region,
    ValueList<KeySiteNearby> KeySites,
    ValueList<string> CameraIds,
    string IncidentId = "");
