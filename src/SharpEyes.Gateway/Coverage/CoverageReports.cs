using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Incidents;
using SharpEyes.Gateway.Streams;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Datums;
using SharpEyes.Geo.Regions;
using SharpEyes.V1;
using GeoGridCoverage = SharpEyes.Geo.Coverage.GridCoverage;
using GeoKeySiteCoverage = SharpEyes.Geo.Coverage.KeySiteCoverage;
using ProtoDatum = SharpEyes.V1.Datum;
using ProtoGridCoverage = SharpEyes.V1.GridCoverage;
using ProtoKeySiteCoverage = SharpEyes.V1.KeySiteCoverage;

namespace SharpEyes.Gateway.Coverage;

/// <summary>
/// Reads of the coverage model for operators and planners: region reports with the KPIs, grid and key-site rows,
/// ranked blind spots, map layers and exports. Every method reads the model as it is now (it is updated in step
/// with every committed camera change) and never blocks the journal.
/// </summary>
public sealed class CoverageReports(CoverageTracker tracker, DeviceCatalog devices, IncidentQueries incidents, TimeProvider time)
{
    internal static readonly JsonSerializerOptions GeoJson = new() { Converters = { new GeoJsonConverterFactory() } };

    /// <summary>Key-site KPI target from the national guidance: key public areas 100 % covered by video.</summary>
    public const double KeySiteCoverageTarget = 1.0;


    public CoverageReport Report(string prefix, RegionLevel groupBy)
    {
        ValidatePrefix(prefix);
        var model = tracker.Model;
        var level = groupBy == RegionLevel.Unspecified ? DefaultGroupLevel(prefix) : (int)groupBy;
        var cameras = CamerasIn(prefix);
        var report = new CoverageReport
        {
            Summary = Row(model, prefix, RegionName(prefix), LevelOf(prefix), cameras),
            ComputedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
        };
        foreach (var grid in model.Regions.Grids)
        {
            if (grid.Level == level && grid.Code.StartsWith(prefix, StringComparison.Ordinal))
            {
                report.Rows.Add(Row(model, grid.Code, grid.Name, grid.Level, cameras.Where(c => c.Device.RegionCode.StartsWith(grid.Code, StringComparison.Ordinal)).ToList()));
            }
        }

        return report;
    }

    public ListGridCoverageResponse Grids(ListGridCoverageRequest request)
    {
        ValidatePrefix(request.RegionPrefix);
        var model = tracker.Model;
        var response = new ListGridCoverageResponse();
        foreach (var g in model.GridsWithPrefix(request.RegionPrefix))
        {
            if (!request.GapsOnly || g.IsGap)
            {
                response.Grids.Add(ToProto(g));
            }
        }

        return response;
    }

    public ListKeySiteCoverageResponse Sites(ListKeySiteCoverageRequest request)
    {
        ValidatePrefix(request.RegionPrefix);
        string? category = null;
        if (request.Category.Length > 0)
        {
            category = KeySiteCategories.Normalize(request.Category)
                ?? throw Invalid($"category: '{request.Category}' is not a key-site category ({string.Join(", ", KeySiteCategories.All.Order(StringComparer.Ordinal))})");
        }

        var model = tracker.Model;
        var response = new ListKeySiteCoverageResponse();
        foreach (var s in model.SitesWithPrefix(request.RegionPrefix))
        {
            if ((!request.UncoveredOnly || !s.RealCovered) && (category is null || s.Category == category))
            {
                response.Sites.Add(ToProto(s));
            }
        }

        return response;
    }

    public ListBlindSpotsResponse BlindSpots(ListBlindSpotsRequest request)
    {
        ValidatePrefix(request.RegionPrefix);
        int days = request.IncidentDays switch
        {
            0 => 30,
            < 0 or > 3650 => throw Invalid("incident_days: must be 1..3650 (0 = 30)"),
            _ => request.IncidentDays,
        };
        int limit = request.Limit switch
        {
            0 => 100,
            < 0 or > 10_000 => throw Invalid("limit: must be 1..10000 (0 = 100)"),
            _ => request.Limit,
        };
        var model = tracker.Model;
        var (bySite, byGrid) = incidents.CountsSince(time.GetUtcNow() - TimeSpan.FromDays(days));
        var sites = new List<BlindSpot>();
        foreach (var s in model.SitesWithPrefix(request.RegionPrefix))
        {
            if (!s.RealCovered)
            {
                sites.Add(SiteBlindSpot(s, bySite.GetValueOrDefault(s.Code)));
            }
        }

        var grids = new List<BlindSpot>();
        if (request.IncludeGrids)
        {
            foreach (var g in model.GridsWithPrefix(request.RegionPrefix))
            {
                if (g.IsGap)
                {
                    grids.Add(GridBlindSpot(model, g, byGrid.GetValueOrDefault(g.Code)));
                }
            }
        }

        var response = new ListBlindSpotsResponse { IncidentDays = days };
        response.BlindSpots.AddRange(Ranked(sites).Concat(Ranked(grids)).Take(limit));
        return response;

        static IEnumerable<BlindSpot> Ranked(List<BlindSpot> spots) =>
            spots.OrderByDescending(b => b.Score).ThenBy(b => b.Code, StringComparer.Ordinal);
    }

    /// <summary>Blind-spot weight of a key site: category weight × priority × (1 + incidents there).</summary>
    public double SiteWeight(string category, int priority, int incidentCount) =>
        CategoryWeight(category) * priority * (1 + incidentCount);

    public double CategoryWeight(string category) => tracker.Options.CategoryWeights.GetValueOrDefault(category, 1.0);

    public CameraCoverage Camera(GetCameraCoverageRequest request)
    {
        var model = tracker.Model;
        var camera = model.Camera(request.DeviceId)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"device_id: {request.DeviceId} is not a registered camera"));
        var datum = GeoConvert.ToGeo(request.Datum);
        var response = new CameraCoverage
        {
            DeviceId = camera.Id,
            Working = camera.Working,
            Ptz = camera.Ptz,
            AreaM2 = Math.Round(model.Regions.Projection.AreaM2(model.WedgeWgs84(camera.Id)), 2),
            WedgeGeojson = Serialize(DatumConverter.FromWgs84(model.WedgeWgs84(camera.Id), datum)),
            PotentialGeojson = camera.Ptz ? Serialize(DatumConverter.FromWgs84(model.WedgeWgs84(camera.Id, potential: true), datum)) : "",
        };
        foreach (var share in model.GridSharesOf(camera.Id))
        {
            response.Grids.Add(new V1.GridShare { GridCode = share.GridCode, Share = Math.Round(share.Share, 6) });
        }

        foreach (var site in model.SitesWithPrefix(""))
        {
            if (site.DeclaredCameras.Contains(camera.Id))
            {
                response.KeySiteCodes.Add(site.Code);
            }
        }

        return response;
    }

    public CoverageMapResponse Map(CoverageMapRequest request)
    {
        ValidatePrefix(request.RegionPrefix);
        var model = tracker.Model;
        var datum = GeoConvert.ToGeo(request.Datum);
        var truth = request.Truth switch
        {
            V1.CoverageTruth.Declared => Geo.Coverage.CoverageTruth.Declared,
            V1.CoverageTruth.Potential => Geo.Coverage.CoverageTruth.Potential,
            _ => Geo.Coverage.CoverageTruth.Real,
        };
        bool any = request.Uncovered || request.Wedges || request.KeySites;
        var features = new JsonArray();
        if (request.Uncovered || !any)
        {
            foreach (var g in model.GridsWithPrefix(request.RegionPrefix))
            {
                var uncovered = model.Uncovered(g.Code, truth);
                if (!uncovered.IsEmpty)
                {
                    features.Add(Feature(DatumConverter.FromWgs84(uncovered, datum), new()
                    {
                        ["layer"] = "uncovered",
                        ["code"] = g.Code,
                        ["name"] = tracker.GridFeature(g.Code)?.Name ?? "",
                        ["truth"] = truth.ToString().ToLowerInvariant(),
                        ["uncovered_m2"] = Math.Round(g.AreaM2 - Covered(g, truth), 1),
                        ["gap"] = g.IsGap,
                    }));
                }
            }
        }

        if (request.Wedges)
        {
            foreach (var camera in model.Cameras())
            {
                if ((model.CameraGridCode(camera.Id) ?? "").StartsWith(request.RegionPrefix, StringComparison.Ordinal))
                {
                    bool potential = truth == Geo.Coverage.CoverageTruth.Potential && camera.Ptz;
                    features.Add(Feature(DatumConverter.FromWgs84(model.WedgeWgs84(camera.Id, potential), datum), new()
                    {
                        ["layer"] = potential ? "potential" : "wedge",
                        ["device_id"] = camera.Id,
                        ["working"] = camera.Working,
                        ["online"] = camera.Online,
                        ["ptz"] = camera.Ptz,
                    }));
                }
            }
        }

        if (request.KeySites)
        {
            foreach (var s in model.SitesWithPrefix(request.RegionPrefix))
            {
                features.Add(Feature(DatumConverter.FromWgs84(tracker.SiteFeature(s.Code)!.Geometry, datum), new()
                {
                    ["layer"] = "key-site",
                    ["code"] = s.Code,
                    ["name"] = tracker.SiteFeature(s.Code)?.Name ?? "",
                    ["category"] = s.Category,
                    ["priority"] = s.Priority,
                    ["covered_real"] = s.RealCovered,
                    ["covered_declared"] = s.DeclaredCovered,
                    ["cameras_working"] = s.WorkingCameras.Count,
                }));
            }
        }

        var collection = new JsonObject { ["type"] = "FeatureCollection", ["features"] = features };
        return new CoverageMapResponse { Geojson = collection.ToJsonString(), Features = features.Count };
    }

    public ExportCoverageReportResponse Export(ExportCoverageReportRequest request)
    {
        var report = Report(request.RegionPrefix, request.GroupBy);
        var name = $"coverage-{(request.RegionPrefix.Length == 0 ? "all" : request.RegionPrefix)}";
        if (request.Format == ExportFormat.Geojson)
        {
            var datum = GeoConvert.ToGeo(request.Datum);
            var features = new JsonArray();
            foreach (var row in report.Rows)
            {
                var properties = new JsonObject();
                foreach (var (column, value) in Columns(row))
                {
                    properties[column] = JsonValue.Create(value);
                }

                features.Add(Feature(DatumConverter.FromWgs84(tracker.GridFeature(row.Code)!.Geometry, datum), properties));
            }

            var collection = new JsonObject { ["type"] = "FeatureCollection", ["features"] = features };
            return new ExportCoverageReportResponse { ContentType = "application/geo+json", FileName = name + ".geojson", Content = collection.ToJsonString() };
        }

        var csv = new StringBuilder();
        csv.AppendJoin(',', Columns(report.Summary).Select(c => c.Column)).Append('\n');
        foreach (var row in report.Rows.Prepend(report.Summary))
        {
            csv.AppendJoin(',', Columns(row).Select(c => Csv(c.Value))).Append('\n');
        }

        return new ExportCoverageReportResponse { ContentType = "text/csv; charset=utf-8", FileName = name + ".csv", Content = csv.ToString() };
    }

    /// <summary>The columns of a report row, in the CSV's order (the GeoJSON export uses the same names).</summary>
    private static IEnumerable<(string Column, object Value)> Columns(RegionCoverage r)
    {
        yield return ("code", r.Code);
        yield return ("name", r.Name);
        yield return ("level", r.Level);
        yield return ("grids", r.Grids);
        yield return ("area_m2", r.AreaM2);
        yield return ("real_fraction", r.RealFraction);
        yield return ("declared_fraction", r.DeclaredFraction);
        yield return ("potential_fraction", r.PotentialFraction);
        yield return ("key_sites", r.KeySites);
        yield return ("key_sites_covered_real", r.KeySitesCoveredReal);
        yield return ("key_sites_covered_declared", r.KeySitesCoveredDeclared);
        yield return ("cameras", r.Cameras);
        yield return ("cameras_online", r.CamerasOnline);
        yield return ("cameras_working", r.CamerasWorking);
        yield return ("cameras_ptz", r.CamerasPtz);
        yield return ("cameras_hd", r.CamerasHd);
        yield return ("grid_gaps", r.GridGaps);
        foreach (var kpi in r.Kpis)
        {
            yield return (kpi.Name, kpi.Value);
            yield return (kpi.Name + "_met", kpi.Met);
        }
    }

    private static string Csv(object value) => value switch
    {
        string s when s.IndexOfAny([',', '"', '\n', '\r']) >= 0 => "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"",
        string s => s,
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private RegionCoverage Row(CoverageModel model, string code, string name, int level, IReadOnlyList<DeviceEntry> cameras)
    {
        var s = model.Summarize(code);
        int ptz = cameras.Count(c => c.Device.Camera!.Ptz);
        var k = CameraKpis.Of(cameras, devices.Uptime, tracker.Options.HdMinHeight, time.GetUtcNow(), 24);
        var row = new RegionCoverage
        {
            Code = code,
            Name = name,
            Level = level,
            Grids = s.Grids,
            AreaM2 = Math.Round(s.AreaM2, 1),
            RealCoveredM2 = Math.Round(s.RealCoveredM2, 1),
            DeclaredCoveredM2 = Math.Round(s.DeclaredCoveredM2, 1),
            PotentialCoveredM2 = Math.Round(s.PotentialCoveredM2, 1),
            RealFraction = Fraction(s.RealCoveredM2, s.AreaM2),
            DeclaredFraction = Fraction(s.DeclaredCoveredM2, s.AreaM2),
            PotentialFraction = Fraction(s.PotentialCoveredM2, s.AreaM2),
            KeySites = s.KeySites,
            KeySitesCoveredReal = s.KeySitesCoveredReal,
            KeySitesCoveredDeclared = s.KeySitesCoveredDeclared,
            Cameras = cameras.Count,
            CamerasOnline = k.Online,
            CamerasFaulty = k.Faulty,
            CamerasWorking = k.Working,
            CamerasPtz = ptz,
            CamerasHd = k.Hd,
            GridGaps = s.GridGaps,
        };
        row.Kpis.Add(CameraKpis.Make("key_site_coverage", s.KeySitesCoveredReal, s.KeySites, KeySiteCoverageTarget,
            "key sites covered by working cameras ÷ key sites (a point site inside enough working wedges; an area site with its required fraction seen)"));
        row.Kpis.Add(CameraKpis.Make("key_site_coverage_declared", s.KeySitesCoveredDeclared, s.KeySites, KeySiteCoverageTarget,
            "the same with every registered camera counted, working or not"));
        row.Kpis.Add(AreaKpi(Fraction(s.RealCoveredM2, s.AreaM2), (long)Math.Round(s.RealCoveredM2), (long)Math.Round(s.AreaM2),
            "grid area (m²) inside working cameras' wedges ÷ grid area; no national target (each grid's own target drives grid gaps)"));
        row.Kpis.Add(k.Kpis());
        return row;
    }

    /// <summary>The area coverage KPI: no national target, so always met.</summary>
    internal static Kpi AreaKpi(double value, long coveredM2, long areaM2, string definition) => new()
    {
        Name = "area_coverage",
        Value = value,
        Target = 0,
        Met = true,
        Numerator = coveredM2,
        Denominator = areaM2,
        Definition = definition,
    };

    /// <summary>
    /// The summary row of "" and of every imported county, township, village and grid, each as GetCoverageReport
    /// answers it for that region (the KPI history's snapshot). Cameras are sorted by region code once, so each region
    /// takes its cameras as one contiguous run instead of filtering them all.
    /// </summary>
    public IEnumerable<RegionCoverage> EveryRegion()
    {
        var model = tracker.Model;
        var cameras = CamerasIn("");
        cameras.Sort((a, b) => string.CompareOrdinal(a.Device.RegionCode, b.Device.RegionCode));
        yield return Row(model, "", RegionName(""), LevelOf(""), cameras);
        foreach (var grid in model.Regions.Grids)
        {
            yield return Row(model, grid.Code, grid.Name, grid.Level, Within(cameras, grid.Code));
        }

        static List<DeviceEntry> Within(List<DeviceEntry> sorted, string prefix)
        {
            int lo = 0, hi = sorted.Count;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (string.CompareOrdinal(sorted[mid].Device.RegionCode, prefix) < 0)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }

            var end = lo;
            while (end < sorted.Count && sorted[end].Device.RegionCode.StartsWith(prefix, StringComparison.Ordinal))
            {
                end++;
            }

            return sorted.GetRange(lo, end - lo);
        }
    }

    private List<DeviceEntry> CamerasIn(string prefix) =>
        devices.All.Where(d => d.Device.Kind == DeviceKind.Camera && d.Device.Camera is not null
            && d.Device.RegionCode.StartsWith(prefix, StringComparison.Ordinal)).ToList();

    private ProtoGridCoverage ToProto(GeoGridCoverage g)
    {
        var model = tracker.Model;
        var proto = new ProtoGridCoverage
        {
            Code = g.Code,
            Name = tracker.GridFeature(g.Code)?.Name ?? "",
            AreaM2 = Math.Round(g.AreaM2, 1),
            RealFraction = Math.Round(g.RealFraction, 6),
            DeclaredFraction = Math.Round(g.DeclaredFraction, 6),
            PotentialFraction = Math.Round(g.PotentialFraction, 6),
            Target = g.Target,
            Gap = g.IsGap,
            Cameras = g.Cameras,
            CamerasWorking = g.CamerasWorking,
            CameraEquivalents = Math.Round(g.CameraEquivalents, 4),
        };
        foreach (var share in g.Shares)
        {
            proto.Shares.Add(new V1.CameraShare { CameraId = share.CameraId, Share = Math.Round(share.Share, 6), Working = model.Camera(share.CameraId)?.Working ?? false });
        }

        return proto;
    }

    private ProtoKeySiteCoverage ToProto(GeoKeySiteCoverage s)
    {
        var proto = new ProtoKeySiteCoverage
        {
            Code = s.Code,
            Name = tracker.SiteFeature(s.Code)?.Name ?? "",
            Category = s.Category,
            Priority = s.Priority,
            GridCode = s.GridCode,
            Area = s.IsArea,
            AreaM2 = Math.Round(s.AreaM2, 1),
            RequiredCameras = s.RequiredCameras,
            RequiredFraction = s.RequiredFraction,
            CoveredReal = s.RealCovered,
            CoveredDeclared = s.DeclaredCovered,
            RealFraction = Math.Round(s.RealFraction, 6),
            DeclaredFraction = Math.Round(s.DeclaredFraction, 6),
            Position = Centre(s.Code),
        };
        proto.WorkingCameraIds.AddRange(s.WorkingCameras);
        proto.DeclaredCameraIds.AddRange(s.DeclaredCameras);
        return proto;
    }

    private BlindSpot SiteBlindSpot(GeoKeySiteCoverage s, int incidentCount)
    {
        string reason = s.DeclaredCameras.Count == 0 ? "no-camera"
            : s.DeclaredCovered ? "cameras-not-working"
            : s.DeclaredCameras.Count < s.RequiredCameras ? "needs-more-cameras"
            : "partly-covered";
        var spot = new BlindSpot
        {
            Kind = BlindSpotKind.KeySite,
            Code = s.Code,
            Name = tracker.SiteFeature(s.Code)?.Name ?? "",
            Category = s.Category,
            Priority = s.Priority,
            CategoryWeight = CategoryWeight(s.Category),
            Incidents = incidentCount,
            Score = SiteWeight(s.Category, s.Priority, incidentCount),
            Reason = reason,
            RealFraction = Math.Round(s.RealFraction, 6),
            DeclaredFraction = Math.Round(s.DeclaredFraction, 6),
            CamerasWorking = s.WorkingCameras.Count,
            CamerasDeclared = s.DeclaredCameras.Count,
            RequiredCameras = s.RequiredCameras,
            UncoveredM2 = s.IsArea ? Math.Round(s.AreaM2 * (1 - s.RealFraction), 1) : 0,
            GridCode = s.GridCode,
            Position = Centre(s.Code),
        };
        spot.NotWorkingCameraIds.AddRange(s.DeclaredCameras.Except(s.WorkingCameras, StringComparer.Ordinal));
        return spot;
    }

    private BlindSpot GridBlindSpot(CoverageModel model, GeoGridCoverage g, int incidentCount)
    {
        double uncovered = g.AreaM2 - g.RealCoveredM2;
        var feature = tracker.GridFeature(g.Code)!;
        var centre = feature.Geometry.InteriorPoint;
        var spot = new BlindSpot
        {
            Kind = BlindSpotKind.Grid,
            Code = g.Code,
            Name = feature.Name,
            CategoryWeight = 1,
            Incidents = incidentCount,
            // Hectares short of the target, weighted by incidents.
            Score = Math.Round(Math.Max(0, g.Target - g.RealFraction) * g.AreaM2 / 10_000.0 * (1 + incidentCount), 4),
            Reason = "below-target",
            RealFraction = Math.Round(g.RealFraction, 6),
            DeclaredFraction = Math.Round(g.DeclaredFraction, 6),
            CamerasWorking = g.CamerasWorking,
            CamerasDeclared = g.Cameras,
            UncoveredM2 = Math.Round(uncovered, 1),
            GridCode = g.Code,
            Position = new GeoPoint { Lon = centre.X, Lat = centre.Y, Datum = ProtoDatum.Wgs84 },
        };
        foreach (var share in g.Shares)
        {
            if (model.Camera(share.CameraId) is { Working: false })
            {
                spot.NotWorkingCameraIds.Add(share.CameraId);
            }
        }

        return spot;
    }

    private GeoPoint Centre(string siteCode)
    {
        var site = tracker.SiteFeature(siteCode);
        if (site is null)
        {
            return new GeoPoint { Datum = ProtoDatum.Wgs84 };
        }

        var p = site.Geometry.InteriorPoint;
        return new GeoPoint { Lon = p.X, Lat = p.Y, Datum = ProtoDatum.Wgs84 };
    }

    private static double Covered(GeoGridCoverage g, Geo.Coverage.CoverageTruth truth) => truth switch
    {
        Geo.Coverage.CoverageTruth.Declared => g.DeclaredCoveredM2,
        Geo.Coverage.CoverageTruth.Potential => g.PotentialCoveredM2,
        _ => g.RealCoveredM2,
    };

    private static JsonObject Feature(Geometry geometry, JsonObject properties) => new()
    {
        ["type"] = "Feature",
        ["geometry"] = JsonNode.Parse(Serialize(geometry)),
        ["properties"] = properties,
    };

    private static string Serialize(Geometry geometry) => JsonSerializer.Serialize(geometry, GeoJson);

    private static double Fraction(double part, double whole) => whole <= 0 ? 0 : Math.Round(part / whole, 6);

    internal static int LevelOf(string prefix) => prefix.Length == 0 ? 0 : GridFeature.LevelOf(prefix) ?? 0;

    internal static int DefaultGroupLevel(string prefix) => LevelOf(prefix) switch
    {
        0 or GridFeature.CountyLevel => GridFeature.TownshipLevel,
        GridFeature.TownshipLevel => GridFeature.VillageLevel,
        _ => GridFeature.GridLevel,
    };

    internal string RegionName(string prefix) =>
        prefix.Length == 0 ? "all" : tracker.GridFeature(prefix)?.Name ?? prefix;

    internal static void ValidatePrefix(string prefix)
    {
        if (prefix.Length > 20 || !prefix.All(char.IsAsciiDigit))
        {
            throw Invalid($"region_prefix: must be up to 20 digits (a county, township, village or grid code); got '{prefix}'");
        }
    }

    internal static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
