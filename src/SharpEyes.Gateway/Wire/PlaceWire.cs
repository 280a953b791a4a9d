using SharpEyes.Gateway.Domain;
using DomainRegion = SharpEyes.Geo.Regions.RegionCodes;

namespace SharpEyes.Gateway.Wire;

/// <summary>
/// Places between the domain and the contract: positions (always WGS-84 in the domain, so a wire point is tagged
/// <c>DATUM_WGS84</c>), region codes and nearby key sites.
/// </summary>
public static class PlaceWire
{
    public static V1.GeoPoint ToWire(this GeoPosition p) => new() { Lon = p.Lon, Lat = p.Lat, Datum = V1.Datum.Wgs84 };

    /// <summary>A stored or answered point, taken as WGS-84 (the gateway converts other datums on input); (0, 0) when unset.</summary>
    public static GeoPosition ToDomain(this V1.GeoPoint? p) => p is null ? default : new GeoPosition(p.Lon, p.Lat);

    public static V1.RegionCodes ToWire(this DomainRegion r) =>
        new() { GridCode = r.GridCode, VillageCode = r.VillageCode, TownshipCode = r.TownshipCode, CountyCode = r.CountyCode };

    public static DomainRegion ToDomain(this V1.RegionCodes? r) =>
        r is null ? DomainRegion.None : new DomainRegion(r.GridCode, r.VillageCode, r.TownshipCode, r.CountyCode);

    public static V1.KeySiteRef ToWire(this KeySiteNearby s) =>
        new() { Code = s.Code, Name = s.Name, Category = s.Category, Priority = s.Priority, DistanceM = s.DistanceM };

    public static KeySiteNearby ToDomain(this V1.KeySiteRef s) => new(s.Code, s.Name, s.Category, s.Priority, s.DistanceM);

    /// <summary>The wire time of a domain time; null stays unset.</summary>
    public static Timestamp? ToWire(this DateTimeOffset? at) => at is { } t ? Timestamp.FromDateTimeOffset(t) : null;

    /// <summary>A wire time; unset is null.</summary>
    public static DateTimeOffset? ToDomain(this Timestamp? at) => at?.ToDateTimeOffset();

    /// <summary>A wire time the domain always has; unset (never in rows this gateway wrote) reads as the default instant.</summary>
    public static DateTimeOffset ToDomainOrDefault(this Timestamp? at) => at?.ToDateTimeOffset() ?? default;

    /// <summary>
    /// A time a request gave in field <paramref name="field"/>: INVALID_ARGUMENT "field: not a valid timestamp" for one
    /// outside what protobuf's Timestamp allows (years 1-9999, nanos 0-999,999,999), which a client can still send.
    /// </summary>
    public static DateTimeOffset ToRequestTime(this Timestamp at, string field)
    {
        try
        {
            return at.ToDateTimeOffset();
        }
        catch (InvalidOperationException)
        {
            throw new Grpc.Core.RpcException(new Grpc.Core.Status(Grpc.Core.StatusCode.InvalidArgument, $"{field}: not a valid timestamp (seconds 0001-01-01 to 9999-12-31, nanos 0-999,999,999)"));
        }
    }

    /// <summary>A domain time whose default means "not set yet" (a registration's times, a measurement's): unset on the wire.</summary>
    public static Timestamp? ToWireUnlessDefault(this DateTimeOffset at) => at == default ? null : Timestamp.FromDateTimeOffset(at);
}
