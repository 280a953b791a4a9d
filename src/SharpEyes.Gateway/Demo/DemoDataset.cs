using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Storage;
using SharpEyes.Geo.Demo;
using SharpEyes.Geo.Regions;
using SharpEyes.V1;
using GeoDatum = SharpEyes.Geo.Datums.Datum;

namespace SharpEyes.Gateway.Demo;

/// <summary>
/// The shipped 高邑县 demo: grids and key sites (<see cref="GaoyiDemo"/>) and synthetic cameras
/// (<see cref="GaoyiDemoCameras"/>, vendor "demo-vendor"). Each demo grid's coverage target is the county's plan:
/// the fraction the demo cameras would cover if all of them worked (rounded down to 0.01 %), so a grid is a gap
/// exactly when some of its cameras are not working.
/// </summary>
public sealed partial class DemoDataset(
    GeographyImporter importer,
    DeviceValidator validator,
    DeviceCatalog catalog,
    Journal journal,
    TimeProvider time,
    ILogger<DemoDataset> logger)
{
    private static readonly Principal s_admin = new("demo", Role.Admin, null);

    /// <summary>Imports the demo grids (with their planned targets) and key sites.</summary>
    public async Task<(ImportResult<GridFeature> Grids, ImportResult<KeySiteFeature> Sites)> LoadGeographyAsync(CancellationToken ct = default)
    {
        var targets = GaoyiDemoCameras.PlannedGridTargets;
        var grids = await importer.ImportGridsAsync(GaoyiDemo.GridsGeoJson, GeoDatum.Wgs84,
            g => targets.TryGetValue(g.Code, out var t) ? g with { CoverageTarget = t } : g, ct).ConfigureAwait(false);
        var sites = await importer.ImportKeySitesAsync(GaoyiDemo.KeySitesGeoJson, GeoDatum.Wgs84, ct).ConfigureAwait(false);
        return (grids, sites);
    }

    /// <summary>Registers the demo cameras not registered yet and marks the ones the plan has online as heard from now.</summary>
    public async Task<int> RegisterCamerasAsync(CancellationToken ct = default)
    {
        var batch = new List<ValidatedDevice>();
        foreach (var c in GaoyiDemoCameras.All)
        {
            if (catalog.Find(c.DeviceId) is null)
            {
                batch.Add(validator.Validate(ToRequest(c), s_admin));
            }
        }

        if (batch.Count > 0)
        {
            await catalog.UpsertAsync(batch, ct).ConfigureAwait(false);
        }

        await HeartbeatAsync(ct).ConfigureAwait(false);
        LogCameras(logger, batch.Count, GaoyiDemoCameras.All.Count(c => c.Online));
        return batch.Count;
    }

    /// <summary>Plays the demo vendor: marks every demo camera the plan has online as heard from now.</summary>
    public Task HeartbeatAsync(CancellationToken ct = default)
    {
        var now = time.GetUtcNow();
        var online = GaoyiDemoCameras.All.Where(c => c.Online).Select(c => catalog.Find(c.DeviceId))
            .Where(e => e is not null && e.VendorId == GaoyiDemoCameras.VendorId).ToList();
        return journal.ExecuteAsync(tx =>
        {
            foreach (var entry in online)
            {
                catalog.MarkSeen(tx, entry!, now);
            }

            return true;
        }, ct);
    }

    private static RegisterDeviceRequest ToRequest(DemoCamera c) => new()
    {
        DeviceId = c.DeviceId,
        Kind = DeviceKind.Camera,
        Name = c.Name,
        Model = c.Model,
        VendorId = GaoyiDemoCameras.VendorId,
        Position = new GeoPoint { Lon = c.Lon, Lat = c.Lat, Datum = V1.Datum.Wgs84 },
        Camera = new CameraSpec
        {
            AzimuthDeg = c.AzimuthDeg,
            HfovDeg = c.HfovDeg,
            RangeM = c.RangeM,
            Ptz = c.Ptz,
            ResolutionWidth = c.ResolutionWidth,
            ResolutionHeight = c.ResolutionHeight,
        },
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo cameras: {Registered} registered now, {Online} online in the plan")]
    private static partial void LogCameras(ILogger logger, int registered, int online);
}

/// <summary>With --demo: plays the demo vendor's keepalives, so the plan's online cameras stay online.</summary>
public sealed class DemoHeartbeats(DemoDataset demo, Microsoft.Extensions.Options.IOptions<Configuration.GatewayOptions> options, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Demo || !options.Value.DemoCameras)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Value.Liveness.KeepaliveInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await demo.HeartbeatAsync(stoppingToken).ConfigureAwait(false);
        }
    }
}
