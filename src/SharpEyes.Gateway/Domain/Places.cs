namespace SharpEyes.Gateway.Domain;

/// <summary>A point on WGS-84, the datum the gateway stores and computes in: longitude and latitude in degrees.</summary>
public readonly record struct GeoPosition(double Lon, double Lat);

/// <summary>A key site near a point: the site as imported, and metres from the point to it (0 inside it), rounded to 0.01.</summary>
public sealed record KeySiteNearby(string Code, string Name, string Category, int Priority, double DistanceM);
