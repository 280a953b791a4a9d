using NetTopologySuite.Algorithm.Locate;
using NetTopologySuite.Geometries;
using NetTopologySuite.Operation.Union;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Projection;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Geo.Demo;

/// <summary>One synthetic camera of the Gaoyi demo (WGS-84 position; azimuth in degrees clockwise from true north).</summary>
/// <param name="DeviceId">GB/T 28181 20-digit device ID.</param>
/// <param name="Name">Chinese display name, e.g. "高邑县医院1号枪机" or "东关村3号球机".</param>
/// <param name="Lon">WGS-84 longitude, snapped to 1e-7°.</param>
/// <param name="Lat">WGS-84 latitude, snapped to 1e-7°.</param>
/// <param name="AzimuthDeg">Viewing direction, degrees clockwise from true north, in [0, 360), one decimal.</param>
/// <param name="HfovDeg">Horizontal field of view in whole degrees.</param>
/// <param name="RangeM">Effective range in whole metres.</param>
/// <param name="Ptz">True for a PTZ dome (球机); its wedge is where it points now.</param>
/// <param name="Online">False for the cameras the demo declares offline.</param>
/// <param name="Model">Vendor model string.</param>
/// <param name="ResolutionWidth">Horizontal pixels.</param>
/// <param name="ResolutionHeight">Vertical pixels.</param>
/// <param name="SiteCode">The key site the camera was installed to watch; empty for village cameras.</param>
public sealed record DemoCamera(
    string DeviceId,
    string Name,
    double Lon,
    double Lat,
    double AzimuthDeg,
    double HfovDeg,
    double RangeM,
    bool Ptz,
    bool Online,
    string Model,
    int ResolutionWidth,
    int ResolutionHeight,
    string SiteCode)
{
    /// <summary>The camera as the coverage model takes it (never faulty: the demo declares no stream to check).</summary>
    public CameraFov ToFov(bool online) => new(DeviceId, Lon, Lat, AzimuthDeg, HfovDeg, RangeM, Ptz, online, Faulty: false);
}

/// <summary>
/// Deterministic synthetic cameras for the <see cref="GaoyiDemo"/> county: a believable deployment with some
/// deliberate gaps, generated from <see cref="GaoyiDemo.CreateRegionIndex"/> with a fixed <see cref="SplitMix64"/> seed.
/// </summary>
/// <remarks>
/// <para>Rules (all random choices come from one SplitMix64 sequence, so the output never changes):</para>
/// <list type="number">
/// <item><b>Blind spots.</b> Four key sites get no camera (<see cref="UncoveredKeySiteCodes"/>): one school or
/// hospital of the lowest priority among those (a township 卫生院, priority 4), so the demo shows a serious gap, and
/// three of the lowest-priority other sites (priority 3: markets, 南北大街 intersections, stadium, commercial
/// centre). No other camera's wedge contains their centre either.</item>
/// <item><b>Key-site cameras.</b> Each other key site gets cameras 10–40 m from it (outside area sites, beside one
/// of their sides), aimed at the site's centre (<see cref="KeySiteCentre"/>): the true-north bearing from the camera
/// to the centre, measured in the region index's projection and corrected for meridian convergence, so
/// <see cref="Sector.Contains"/> holds for the centre. HFOV 60–100°, range 40–120 m (at least the distance to the
/// centre). Intersections get two cameras from different sides (bearings from the site 120–240° apart), except two
/// chosen intersections that get one. Checkpoint and traffic-artery points get one or two. Area sites get cameras on
/// successive sides (first, opposite, then the other two) until the union of wedges covers 80 % of the site or four
/// cameras are placed; large sites may fall short.</item>
/// <item><b>Protected sites.</b> No camera other than a site's own may see the centre of a blind spot or of a site
/// planned with exactly one camera, so "seen by" equals "installed for" there.</item>
/// <item><b>Village cameras.</b> Each village gets 3–10 cameras 30–400 m from its interior point, inside the village
/// polygon, with random azimuths; fixed ones have HFOV 50–110° and range 30–150 m, PTZ domes (about 1 in 6) HFOV 60°
/// and range 100–200 m. Key-site cameras are never PTZ.</item>
/// <item><b>Hardware.</b> About 10 % of fixed cameras are old analogue 720p cameras behind encoders (type 131, model
/// DS-2CE16C0T, 1280×720, not HD); the rest are IPCs (type 132): DS-2CD3T26 1920×1080 or DS-2CD3T46 2560×1440
/// fixed, DS-2DE4225 1920×1080 or DS-2DE4425 2560×1440 PTZ.</item>
/// <item><b>Offline.</b> round(8 %) of all cameras are offline: the only camera of one protected single-camera
/// site (so its real coverage is zero while declared coverage is not), one PTZ dome, and random others.</item>
/// <item><b>IDs.</b> "13012700" + "00" (public security) + type "131"/"132" + network "0" + a 6-digit serial
/// numbered in generation order (key sites by code, then villages by code); the list is ordered by DeviceId.</item>
/// <item><b>Positions.</b> Snapped to 1e-7°, inside the county, every two cameras at least 2 m apart.</item>
/// </list>
/// </remarks>
public static class GaoyiDemoCameras
{
    public const string VendorId = "demo-vendor";

    /// <summary>The first 14 digits of every ID before the type: county 130127, grassroots 00, industry 00.</summary>
    public const string DeviceIdPrefix = "1301270000";

    private const ulong Seed = 0xCA3E_7A5D_1301_2700UL;
    private const double Scale = 1e7;
    private const double MinSeparationM = 2.0;
    private const double AreaCoverageTarget = 0.8;

    private static readonly Lazy<IReadOnlyList<DemoCamera>> s_all = new(Generate);
    private static readonly Lazy<IReadOnlyDictionary<string, double>> s_plannedTargets = new(() =>
    {
        var model = new CoverageModel(GaoyiDemo.CreateRegionIndex(), new CoverageRules());
        foreach (var c in All)
        {
            model.Upsert(c.ToFov(online: true));
        }

        model.RecomputeAll();
        return model.GridsWithPrefix("").ToDictionary(g => g.Code, g => Math.Floor(g.DeclaredFraction * 10_000) / 10_000, StringComparer.Ordinal);
    });

    private static readonly Lazy<IReadOnlyList<string>> s_uncovered = new(() =>
    {
        var watched = All.Select(c => c.SiteCode).ToHashSet(StringComparer.Ordinal);
        return GaoyiDemo.CreateRegionIndex().KeySites.Select(s => s.Code).Where(c => !watched.Contains(c)).ToList();
    });

    /// <summary>All demo cameras, generated once on first use, ordered by <see cref="DemoCamera.DeviceId"/>.</summary>
    public static IReadOnlyList<DemoCamera> All => s_all.Value;

    /// <summary>
    /// The county's plan, per grid code: the fraction of the grid every demo camera would cover if all of them worked,
    /// rounded down to 0.01 %. The demo imports it as each grid's coverage target, so a grid is a gap exactly when some
    /// of its cameras are not working. Computed once on first use.
    /// </summary>
    public static IReadOnlyDictionary<string, double> PlannedGridTargets => s_plannedTargets.Value;

    /// <summary>Codes of the key sites deliberately left without any camera (the demo's blind spots), by code.</summary>
    public static IReadOnlyList<string> UncoveredKeySiteCodes => s_uncovered.Value;

    /// <summary>The point a key-site camera aims at: the point itself, or the centroid of an area site.</summary>
    public static (double Lon, double Lat) KeySiteCentre(KeySiteFeature site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var c = site.Geometry is Point p ? p.Coordinate : site.Geometry.Centroid.Coordinate;
        return (c.X, c.Y);
    }

    /// <summary>Generates the cameras afresh from the shipped demo data. Pure: the same list on every call.</summary>
    public static IReadOnlyList<DemoCamera> Generate() => new Generator(GaoyiDemo.CreateRegionIndex()).Run();

    private static double Snap(double value) => Math.Round(value * Scale) / Scale;

    private static string ShortVillageName(string name) =>
        name.EndsWith("村民委员会", StringComparison.Ordinal) ? name[..^"村民委员会".Length] + "村"
        : name.EndsWith("居民委员会", StringComparison.Ordinal) ? name[..^"居民委员会".Length] + "社区"
        : name;

    private sealed class Draft
    {
        public required double Lon { get; init; }

        public required double Lat { get; init; }

        public required double X { get; init; }

        public required double Y { get; init; }

        public required double AzimuthDeg { get; init; }

        public required double HfovDeg { get; init; }

        public required double RangeM { get; init; }

        public required bool Ptz { get; init; }

        public string Name { get; set; } = string.Empty;

        public string SiteCode { get; init; } = string.Empty;

        public string Type { get; set; } = "132";

        public string Model { get; set; } = string.Empty;

        public int Width { get; set; }

        public int Height { get; set; }

        public bool Online { get; set; } = true;
    }

    private sealed class Generator
    {
        private readonly RegionIndex _index;
        private readonly LocalProjection _projection;
        private readonly IndexedPointInAreaLocator _county;
        private readonly SplitMix64 _rng = new(Seed);
        private readonly List<Draft> _cameras = [];
        private readonly Dictionary<string, (double Lon, double Lat)> _centres = new(StringComparer.Ordinal);
        private readonly HashSet<string> _protected = new(StringComparer.Ordinal);
        private readonly GeometryFactory _factory = new(new PrecisionModel(), 4326);

        public Generator(RegionIndex index)
        {
            _index = index;
            _projection = index.Projection;
            var county = index.Grids.Single(g => g.Level == GridFeature.CountyLevel).Geometry;
            _county = new IndexedPointInAreaLocator(county);
            foreach (var site in index.KeySites)
            {
                _centres[site.Code] = KeySiteCentre(site);
            }
        }

        public IReadOnlyList<DemoCamera> Run()
        {
            var sites = _index.KeySites;
            var blind = ChooseBlindSpots(sites);
            var planned = PlanPointSites(sites, blind);
            _protected.UnionWith(blind);
            _protected.UnionWith(planned.Where(p => p.Value == 1).Select(p => p.Key));

            foreach (var site in sites)
            {
                if (blind.Contains(site.Code))
                {
                    continue;
                }

                var own = site.Geometry is Point
                    ? PlacePointSiteCameras(site, planned[site.Code])
                    : PlaceAreaSiteCameras(site);
                NameAndEquip(own, site.Name);
            }

            foreach (var village in _index.Grids.Where(g => g.Level == GridFeature.VillageLevel))
            {
                var own = PlaceVillageCameras(village);
                NameAndEquip(own, ShortVillageName(village.Name));
            }

            ChooseOffline(planned);
            return Finish();
        }

        /// <summary>One lowest-priority school/hospital, then three priority-minimum sites of other categories.</summary>
        private HashSet<string> ChooseBlindSpots(IReadOnlyList<KeySiteFeature> sites)
        {
            var serious = sites.Where(s => s.Category is "school" or "hospital").ToList();
            int seriousPriority = serious.Min(s => s.Priority);
            var seriousCandidates = serious.Where(s => s.Priority == seriousPriority).ToList();
            var chosen = new HashSet<string>(StringComparer.Ordinal)
            {
                seriousCandidates[_rng.NextInt(seriousCandidates.Count)].Code,
            };

            var others = sites.Where(s => s.Category is not ("school" or "hospital")).ToList();
            int lowest = others.Min(s => s.Priority);
            var lowCandidates = others.Where(s => s.Priority == lowest).ToList();
            while (chosen.Count < 4)
            {
                chosen.Add(lowCandidates[_rng.NextInt(lowCandidates.Count)].Code);
            }

            return chosen;
        }

        /// <summary>Camera counts of point sites: intersections 2 (two chosen ones 1), other points 1 or 2.</summary>
        private Dictionary<string, int> PlanPointSites(IReadOnlyList<KeySiteFeature> sites, HashSet<string> blind)
        {
            var plan = new Dictionary<string, int>(StringComparer.Ordinal);
            var intersections = sites.Where(s => s.Geometry is Point && s.Category == "intersection" && !blind.Contains(s.Code)).ToList();
            var single = new HashSet<string>(StringComparer.Ordinal);
            while (single.Count < Math.Min(2, intersections.Count))
            {
                single.Add(intersections[_rng.NextInt(intersections.Count)].Code);
            }

            foreach (var site in sites.Where(s => s.Geometry is Point && !blind.Contains(s.Code)))
            {
                plan[site.Code] = site.Category == "intersection"
                    ? (single.Contains(site.Code) ? 1 : 2)
                    : 1 + _rng.NextInt(2);
            }

            return plan;
        }

        private List<Draft> PlacePointSiteCameras(KeySiteFeature site, int count)
        {
            var (lon, lat) = _centres[site.Code];
            var (sx, sy) = _projection.Project(lon, lat);
            var own = new List<Draft>();
            double firstSide = _rng.NextDouble() * 360.0;
            for (int k = 0; k < count; k++)
            {
                Draft? camera = null;
                for (int attempt = 0; attempt < 1000 && camera is null; attempt++)
                {
                    // The second camera stands on another side: 120–240° round the site from the first.
                    double side = k == 0 ? firstSide : firstSide + 120.0 + (_rng.NextDouble() * 120.0);
                    double distance = 10.0 + (_rng.NextDouble() * 30.0);
                    double a = side * Math.PI / 180.0;
                    double hfov = 60 + _rng.NextInt(41);
                    double range = 40 + _rng.NextInt(81);
                    camera = TryAimed(sx + (distance * Math.Sin(a)), sy + (distance * Math.Cos(a)), site.Code, hfov, range);
                }

                own.Add(camera ?? throw new InvalidOperationException($"Could not place a camera for key site {site.Code}."));
                _cameras.Add(camera);
            }

            return own;
        }

        private List<Draft> PlaceAreaSiteCameras(KeySiteFeature site)
        {
            var metric = _projection.Project(site.Geometry);
            var envelope = metric.EnvelopeInternal;
            var (lon, lat) = _centres[site.Code];
            var (cx, cy) = _projection.Project(lon, lat);
            double halfW = envelope.Width / 2.0, halfH = envelope.Height / 2.0;
            int start = _rng.NextInt(4);
            int[] sides = [start, (start + 2) % 4, (start + 1) % 4, (start + 3) % 4];
            var own = new List<Draft>();
            var wedges = new List<Geometry>();
            foreach (int side in sides)
            {
                Draft? camera = null;
                for (int attempt = 0; attempt < 200 && camera is null; attempt++)
                {
                    double along = ((_rng.NextDouble() * 2.0) - 1.0) * 0.6;
                    double offset = 10.0 + (_rng.NextDouble() * 30.0);
                    var (x, y) = side switch
                    {
                        0 => (cx + (along * halfW), envelope.MaxY + offset),
                        1 => (envelope.MaxX + offset, cy + (along * halfH)),
                        2 => (cx + (along * halfW), envelope.MinY - offset),
                        _ => (envelope.MinX - offset, cy + (along * halfH)),
                    };
                    double toCentre = Math.Sqrt(((x - cx) * (x - cx)) + ((y - cy) * (y - cy)));
                    if (toCentre > 115.0)
                    {
                        continue;
                    }

                    double hfov = 60 + _rng.NextInt(41);
                    double minRange = Math.Max(40.0, Math.Ceiling(Math.Min(120.0, toCentre * 1.6)));
                    double range = minRange + _rng.NextInt((int)(120 - minRange) + 1);
                    camera = TryAimed(x, y, site.Code, hfov, range);
                    if (camera is not null && metric.Distance(_factory.CreatePoint(new Coordinate(camera.X, camera.Y))) < 10.0 - 1e-6)
                    {
                        camera = null;
                    }
                }

                if (camera is null)
                {
                    continue; // This side has no room (too long a throw, outside the county, or protected).
                }

                own.Add(camera);
                _cameras.Add(camera);
                var wedge = Sector.BuildWedge(_projection, camera.Lon, camera.Lat, camera.AzimuthDeg, camera.HfovDeg, camera.RangeM);
                wedges.Add(_projection.Project(wedge));
                double covered = CascadedPolygonUnion.Union(wedges).Intersection(metric).Area / metric.Area;
                if (covered >= AreaCoverageTarget)
                {
                    break;
                }
            }

            return own.Count > 0 ? own : throw new InvalidOperationException($"Could not place a camera for key site {site.Code}.");
        }

        /// <summary>A camera at metric (x, y) aimed at the site's centre, or null if it breaks a placement rule.</summary>
        private Draft? TryAimed(double x, double y, string siteCode, double hfov, double range)
        {
            var (rawLon, rawLat) = _projection.Unproject(x, y);
            double lon = Snap(rawLon), lat = Snap(rawLat);
            var (px, py) = _projection.Project(lon, lat);
            var (tLon, tLat) = _centres[siteCode];
            var (tx, ty) = _projection.Project(tLon, tLat);
            double gridBearing = Math.Atan2(tx - px, ty - py) * 180.0 / Math.PI;
            double azimuth = Normalize(Math.Round(gridBearing - _projection.ConvergenceDegrees(lon, lat), 1));
            var camera = new Draft { Lon = lon, Lat = lat, X = px, Y = py, AzimuthDeg = azimuth, HfovDeg = hfov, RangeM = range, Ptz = false, SiteCode = siteCode };
            if (!Sector.Contains(_projection, lon, lat, azimuth, hfov, range, tLon, tLat))
            {
                return null;
            }

            return Acceptable(camera) ? camera : null;
        }

        private List<Draft> PlaceVillageCameras(GridFeature village)
        {
            var centre = village.Geometry.InteriorPoint.Coordinate;
            var (vx, vy) = _projection.Project(centre.X, centre.Y);
            int count = 3 + _rng.NextInt(8);
            var own = new List<Draft>();
            for (int k = 0; k < count; k++)
            {
                Draft? camera = null;
                for (int attempt = 0; attempt < 1000 && camera is null; attempt++)
                {
                    double a = _rng.NextDouble() * 2.0 * Math.PI;
                    double distance = 30.0 + (_rng.NextDouble() * 370.0);
                    var (rawLon, rawLat) = _projection.Unproject(vx + (distance * Math.Sin(a)), vy + (distance * Math.Cos(a)));
                    double lon = Snap(rawLon), lat = Snap(rawLat);
                    var (px, py) = _projection.Project(lon, lat);
                    bool ptz = _rng.NextDouble() < 0.165;
                    double azimuth = Math.Round(_rng.NextDouble() * 3600.0) / 10.0 % 360.0;
                    double hfov = ptz ? 60 : 50 + _rng.NextInt(61);
                    double range = ptz ? 100 + _rng.NextInt(101) : 30 + _rng.NextInt(121);
                    var candidate = new Draft { Lon = lon, Lat = lat, X = px, Y = py, AzimuthDeg = azimuth, HfovDeg = hfov, RangeM = range, Ptz = ptz };
                    if (village.Geometry.Contains(_factory.CreatePoint(new Coordinate(lon, lat))) && Acceptable(candidate))
                    {
                        camera = candidate;
                    }
                }

                own.Add(camera ?? throw new InvalidOperationException($"Could not place a camera in village {village.Code}."));
                _cameras.Add(camera);
            }

            return own;
        }

        /// <summary>Inside the county, 2 m from every other camera, and blind to protected sites other than its own.</summary>
        private bool Acceptable(Draft camera)
        {
            if (_county.Locate(new Coordinate(camera.Lon, camera.Lat)) != Location.Interior)
            {
                return false;
            }

            foreach (var other in _cameras)
            {
                double dx = other.X - camera.X, dy = other.Y - camera.Y;
                if ((dx * dx) + (dy * dy) < MinSeparationM * MinSeparationM)
                {
                    return false;
                }
            }

            foreach (var code in _protected)
            {
                if (code == camera.SiteCode)
                {
                    continue;
                }

                var (lon, lat) = _centres[code];
                if (Sector.Contains(_projection, camera.Lon, camera.Lat, camera.AzimuthDeg, camera.HfovDeg, camera.RangeM, lon, lat))
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>Numbers the cameras "1号", "2号", … and draws their hardware.</summary>
        private void NameAndEquip(List<Draft> cameras, string baseName)
        {
            for (int i = 0; i < cameras.Count; i++)
            {
                var camera = cameras[i];
                camera.Name = $"{baseName}{i + 1}号{(camera.Ptz ? "球机" : "枪机")}";
                double draw = _rng.NextDouble();
                if (camera.Ptz)
                {
                    (camera.Model, camera.Width, camera.Height) = draw < 0.6 ? ("DS-2DE4425", 2560, 1440) : ("DS-2DE4225", 1920, 1080);
                }
                else if (draw < 0.1)
                {
                    (camera.Type, camera.Model, camera.Width, camera.Height) = ("131", "DS-2CE16C0T", 1280, 720);
                }
                else
                {
                    (camera.Model, camera.Width, camera.Height) = draw < 0.65 ? ("DS-2CD3T26", 1920, 1080) : ("DS-2CD3T46", 2560, 1440);
                }
            }
        }

        private void ChooseOffline(Dictionary<string, int> planned)
        {
            int target = (int)Math.Round(_cameras.Count * 0.08);
            var singles = planned.Where(p => p.Value == 1).Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
            string lonely = singles[_rng.NextInt(singles.Count)];
            _cameras.Single(c => c.SiteCode == lonely).Online = false;
            var ptz = _cameras.Where(c => c.Ptz).ToList();
            ptz[_rng.NextInt(ptz.Count)].Online = false;
            while (_cameras.Count(c => !c.Online) < target)
            {
                _cameras[_rng.NextInt(_cameras.Count)].Online = false;
            }
        }

        private List<DemoCamera> Finish()
        {
            var result = new List<DemoCamera>(_cameras.Count);
            for (int i = 0; i < _cameras.Count; i++)
            {
                var c = _cameras[i];
                string id = $"{DeviceIdPrefix}{c.Type}0{i + 1:D6}";
                result.Add(new DemoCamera(
                    id, c.Name, c.Lon, c.Lat, c.AzimuthDeg, c.HfovDeg, c.RangeM, c.Ptz, c.Online, c.Model, c.Width, c.Height, c.SiteCode));
            }

            result.Sort((a, b) => string.CompareOrdinal(a.DeviceId, b.DeviceId));
            return result;
        }

        private static double Normalize(double degrees)
        {
            double d = degrees % 360.0;
            return d < 0 ? d + 360.0 : d + 0.0; // + 0.0 turns -0 into 0
        }
    }
}
