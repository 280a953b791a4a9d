using System.Data.Common;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Regions;
using SharpEyes.V1;
using RegionCodes = SharpEyes.Geo.Regions.RegionCodes;

namespace SharpEyes.Gateway.Geography;

/// <summary>
/// The loaded grids and key sites (an immutable <see cref="RegionIndex"/>, swapped whole on import) and the
/// live index of camera fields of view used for alarm-to-video linkage.
/// </summary>
public sealed class GeographyState : IJournalParticipant
{
    private readonly HashSet<string> _configuredCounties;
    private volatile RegionIndex _index = new([], []);
    private volatile HashSet<string> _counties;

    public GeographyState(IOptions<GatewayOptions> options)
    {
        _configuredCounties = [.. options.Value.ServedCountyCodes];
        _counties = [.. _configuredCounties];
    }

    public RegionIndex Index => _index;

    public CameraIndex Cameras => _cameras;

    private volatile CameraIndex _cameras = new();

    /// <summary>
    /// Swaps in a camera index of <paramref name="devices"/> (the device catalog's load), built aside: an alarm located
    /// meanwhile finds the cameras of the old index, never an empty one.
    /// </summary>
    internal void ReplaceCameras(IEnumerable<DeviceRecord> devices)
    {
        var cameras = new CameraIndex();
        foreach (var device in devices)
        {
            IndexInto(cameras, device);
        }

        _cameras = cameras;
    }

    public bool IsKnownCounty(string code) => _counties.Contains(code);

    public IReadOnlySet<string> KnownCounties => _counties;

    public void Load(DbConnection connection)
    {
        var stored = GeographyRepository.Load(connection);
        Replace(stored.Grids, stored.KeySites);
    }

    /// <summary>Swaps in a new index (inside a journal item, or at load).</summary>
    internal void Replace(IReadOnlyList<GridFeature> grids, IReadOnlyList<KeySiteFeature> sites)
    {
        _index = new RegionIndex(grids, sites);
        var counties = new HashSet<string>(_configuredCounties);
        foreach (var g in grids)
        {
            if (g.Level == GridFeature.CountyLevel)
            {
                counties.Add(g.Code);
            }
        }

        _counties = counties;
    }

    /// <summary>The finest imported area containing the point, with its village, township and county codes.</summary>
    public RegionCodes Locate(double lon, double lat) => _index.Locate(lon, lat);

    /// <summary>Key sites containing the point or within <paramref name="radiusM"/> of it, nearest first.</summary>
    public ValueList<KeySiteNearby> KeySitesNear(double lon, double lat, double radiusM)
    {
        var found = _index.KeySitesNear(lon, lat, radiusM);
        var list = new KeySiteNearby[found.Count];
        for (var i = 0; i < list.Length; i++)
        {
            var (site, distance) = found[i];
            list[i] = new KeySiteNearby(site.Code, site.Name, site.Category, site.Priority, Math.Round(distance, 2));
        }

        return [.. list];
    }

    public void IndexCamera(DeviceRecord device) => IndexInto(Cameras, device);

    private static void IndexInto(CameraIndex cameras, DeviceRecord device)
    {
        if (device.Kind == DeviceKind.Camera && device.Camera is { } c)
        {
            cameras.Upsert(device.DeviceId, device.Position.Lon, device.Position.Lat, c.AzimuthDeg, c.HfovDeg, c.RangeM, c.Ptz);
        }
        else
        {
            cameras.Remove(device.DeviceId);
        }
    }
}
