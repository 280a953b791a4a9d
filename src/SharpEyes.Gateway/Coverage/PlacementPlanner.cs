using Microsoft.Extensions.Options;
using NetTopologySuite.Geometries;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Incidents;
using SharpEyes.Geo.Coverage.Placement;
using SharpEyes.Geo.Datums;
using SharpEyes.Geo.Optics;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Coverage;

/// <summary>
/// Placement suggestions: where k more cameras of one model would cover the most uncovered weight. Demand is every
/// key site of the region that real coverage leaves short (weight = category weight × priority × (1 + incidents),
/// needing its category's camera count) and the grid area no working camera sees (sampled on a lattice,
/// <c>area_weight_per_ha</c> per hectare). Candidates ring the key sites, aimed at them, and follow the grids'
/// boundaries and interiors. Greedy maximum coverage (lazy evaluation) is within (1 − 1/e) of the best placement
/// among those candidates.
/// </summary>
public sealed class PlacementPlanner(CoverageTracker tracker, CoverageReports reports, IncidentQueries incidents, TimeProvider time, IOptions<GatewayOptions> options)
{
    public const int MaxCount = 200;

    public SuggestPlacementsResponse Suggest(SuggestPlacementsRequest request, CancellationToken ct)
    {
        CoverageReports.ValidatePrefix(request.RegionPrefix);
        if (request.Count is < 1 or > MaxCount)
        {
            throw CoverageReports.Invalid($"count: must be 1..{MaxCount}; got {request.Count}");
        }

        var (hfov, range) = CameraModelOf(request);
        double areaWeightPerHa = request.AreaWeightPerHa switch
        {
            0 => 1.0,
            < 0 or > 1e6 or double.NaN => throw CoverageReports.Invalid("area_weight_per_ha: must be 0..1e6 (0 = 1)"),
            _ => request.AreaWeightPerHa,
        };
        int days = request.IncidentDays switch
        {
            0 => 30,
            < 0 or > 3650 => throw CoverageReports.Invalid("incident_days: must be 1..3650 (0 = 30)"),
            _ => request.IncidentDays,
        };

        var model = tracker.Model;
        var projection = model.Regions.Projection;
        var grids = model.LevelFourGrids
            .Where(g => g.Code.StartsWith(request.RegionPrefix, StringComparison.Ordinal))
            .Select(g => (g.Code, Metric: projection.Project(g.Geometry)))
            .ToList();
        if (grids.Count == 0)
        {
            throw new Grpc.Core.RpcException(new Grpc.Core.Status(Grpc.Core.StatusCode.FailedPrecondition,
                $"region_prefix: no grids under '{request.RegionPrefix}' (import grids or load the demo first)"));
        }

        var cameraModel = new CameraModel(hfov, range);
        double regionArea = grids.Sum(g => g.Metric.Area);
        double spacing = PlacementDefaults.DemandSpacingM(cameraModel, regionArea);
        var (bySite, _) = incidents.CountsSince(time.GetUtcNow() - TimeSpan.FromDays(days));
        Func<double, double, int> working = model.WorkingCamerasSeeing;

        var demand = new List<DemandPoint>(DemandSampler.GridArea(grids, spacing, areaWeightPerHa / 10_000.0, working));
        var sites = new List<(string Code, Geometry Metric)>();
        foreach (var site in model.SitesWithPrefix(request.RegionPrefix))
        {
            var metric = projection.Project(tracker.SiteFeature(site.Code)!.Geometry);
            sites.Add((site.Code, metric));
            if (!site.RealCovered)
            {
                demand.AddRange(DemandSampler.KeySite(site.Code, metric, reports.SiteWeight(site.Category, site.Priority, bySite.GetValueOrDefault(site.Code)),
                    site.RequiredCameras, spacing, working));
            }
        }

        ct.ThrowIfCancellationRequested();
        var candidates = CandidateGenerator.Generate(sites, grids, cameraModel, PlacementDefaults.CandidateStepM(cameraModel, regionArea), projection);
        var result = GreedyPlacement.Place(demand, candidates, cameraModel, request.Count, projection, ct);

        var to = GeoConvert.ToGeo(request.Datum);
        var response = new SuggestPlacementsResponse
        {
            UncoveredWeightBefore = Math.Round(result.UncoveredWeightBefore, 4),
            UncoveredWeightAfter = Math.Round(result.UncoveredWeightAfter, 4),
            Candidates = result.Candidates,
            DemandPoints = result.DemandPoints,
            HfovDeg = Math.Round(hfov, 3),
            RangeM = Math.Round(range, 2),
        };
        foreach (var s in result.Suggestions)
        {
            var (lon, lat) = DatumConverter.FromWgs84(s.Lon, s.Lat, to);
            var suggestion = new V1.PlacementSuggestion
            {
                Rank = s.Rank,
                Position = new GeoPoint { Lon = Math.Round(lon, 7), Lat = Math.Round(lat, 7), Datum = request.Datum == V1.Datum.Unspecified ? V1.Datum.Wgs84 : request.Datum },
                AzimuthDeg = Math.Round(s.AzimuthDeg, 2),
                Gain = Math.Round(s.GainWeight, 4),
                GainAreaM2 = Math.Round(s.GainAreaM2, 1),
                Source = s.Source,
                GridCode = model.Regions.Locate(s.Lon, s.Lat).GridCode,
            };
            suggestion.SitesCompleted.AddRange(s.SitesCompleted);
            suggestion.SitesImproved.AddRange(s.SitesImproved);
            response.Suggestions.Add(suggestion);
        }

        return response;
    }

    private (double Hfov, double Range) CameraModelOf(SuggestPlacementsRequest request)
    {
        if (request.Lens is { } lens && request.HfovDeg == 0 && request.RangeM == 0)
        {
            if (lens.FocalLengthMm is <= 0 or > 1000 || lens.SensorWidthMm is <= 0 or > 100 || lens.HorizontalPixels is <= 0 or > 20_000)
            {
                throw CoverageReports.Invalid("lens: focal_length_mm (0, 1000], sensor_width_mm (0, 100] and horizontal_pixels (0, 20000] are required");
            }

            return (Dori.HorizontalFovDegrees(lens.FocalLengthMm, lens.SensorWidthMm),
                Math.Min(5000, Dori.MaxDistanceMeters(lens.FocalLengthMm, lens.SensorWidthMm, lens.HorizontalPixels, options.Value.RangeDoriLevel)));
        }

        if (!(request.HfovDeg > 0 && request.HfovDeg <= 360))
        {
            throw CoverageReports.Invalid($"hfov_deg: must be in (0, 360] (or give lens instead); got {request.HfovDeg}");
        }

        if (!(request.RangeM > 0 && request.RangeM <= 5000))
        {
            throw CoverageReports.Invalid($"range_m: must be in (0, 5000] (or give lens instead); got {request.RangeM}");
        }

        return (request.HfovDeg, request.RangeM);
    }
}
