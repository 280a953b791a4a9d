using System.Globalization;
using System.Text;
using NetTopologySuite.Geometries;
using SharpEyes.Bench.Mqtt;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Projection;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Bench.Coverage;

/// <summary>A synthetic camera, in WGS-84 (rounded to 7 decimals, as registered) and in the generator's metres.</summary>
public sealed record SyntheticCamera(string Id, double Lon, double Lat, double X, double Y, double AzimuthDeg, double HfovDeg, double RangeM, bool Ptz, bool Online)
{
    public CameraFov ToFov(bool online) => new(Id, Lon, Lat, AzimuthDeg, HfovDeg, RangeM, Ptz, online, Faulty: false);
}

/// <summary>A probe for the end-to-end row: a point key site that only its own camera (20 m south, aimed north) sees.</summary>
public sealed record CoverageProbe(KeySiteFeature Site, SyntheticCamera Camera);

/// <summary>
/// A deterministic (seeded) synthetic county 130127 of about 20 km × 20 km centred on 37.6° N 114.6° E:
/// a jittered 50 × 40 vertex lattice gives 2,000 level-4 grids of 400 m × 500 m (0.2 km²) sharing their vertices;
/// 10 townships of 200 grids and 100 villages of 20 grids are the blocks of the same lattice (their borders walk the
/// grids' shared vertices, so children lie exactly inside their parents); key sites (points and 30–150 m rectangles,
/// every category, intersections among the points, priorities 1–5) half uniform, half around the township centres;
/// cameras half clustered around key sites (aimed at them), half spread over the county. Camera serials: county
/// 200,000 + i, probes 300,000 + i (clear of the demo cameras' and the alarm benchmark's).
/// </summary>
public sealed class SyntheticCounty
{
    public const string CountyCode = "130127";
    public const double CenterLon = 114.6;
    public const double CenterLat = 37.6;
    public const int Columns = 50; // west → east, 400 m each
    public const int Rows = 40;    // south → north, 500 m each
    public const double CellWidthM = 400;
    public const double CellHeightM = 500;
    public const double HalfSizeM = 10_000;

    private static readonly GeometryFactory s_wgs84 = new(new PrecisionModel(), 4326);

    private static readonly string[] s_areaCategories =
        ["school", "hospital", "government", "market", "station", "square", "stadium", "commercial", "religious", "scenic", "complex-security", "other"];

    private readonly (double Lon, double Lat)[,] _vertices = new (double, double)[Columns + 1, Rows + 1];

    private SyntheticCounty(LocalProjection projection) => Projection = projection;

    /// <summary>The generator's projection (centred on the county): metres east/north of 114.6° E 37.6° N.</summary>
    public LocalProjection Projection { get; }

    /// <summary>County, townships, villages and grids.</summary>
    public List<GridFeature> Regions { get; } = [];

    public List<KeySiteFeature> KeySites { get; } = [];

    public List<SyntheticCamera> Cameras { get; } = [];

    public List<CoverageProbe> Probes { get; } = [];

    public int GridCount => Regions.Count(r => r.Level == GridFeature.GridLevel);

    public int TownshipCount => Regions.Count(r => r.Level == GridFeature.TownshipLevel);

    public int VillageCount => Regions.Count(r => r.Level == GridFeature.VillageLevel);

    public int PointSites => KeySites.Count(s => s.Geometry is Point);

    public static SyntheticCounty Build(int keySites, int cameras, int probes, int seed = 1301_27)
    {
        var county = new SyntheticCounty(new LocalProjection(CenterLon, CenterLat));
        var random = new Random(seed);
        county.BuildLattice(random);
        county.BuildRegions();
        var siteAnchors = county.BuildKeySites(random, keySites);
        county.BuildCameras(random, cameras, siteAnchors);
        county.BuildProbes(new Random(seed + 1), probes, siteAnchors);
        return county;
    }

    /// <summary>The region index over the county's grids (all levels) and key sites, as the gateway builds it (no GeoJSON).</summary>
    public RegionIndex CreateRegionIndex(bool withProbes = false) =>
        new(Regions, withProbes ? KeySites.Concat(Probes.Select(p => p.Site)) : KeySites);

    public string TownshipCode(int index) => CountyCode + (100 + index).ToString(CultureInfo.InvariantCulture);

    /// <summary>The grids (all levels) as a GeoJSON FeatureCollection, parents first.</summary>
    public string GridsGeoJson()
    {
        var sb = new StringBuilder(Regions.Count * 256);
        sb.Append("{\"type\":\"FeatureCollection\",\"features\":[");
        bool first = true;
        foreach (var region in Regions.OrderBy(r => r.Level).ThenBy(r => r.Code, StringComparer.Ordinal))
        {
            if (!first)
            {
                sb.Append(',');
            }

            first = false;
            sb.Append("{\"type\":\"Feature\",\"properties\":{\"code\":\"").Append(region.Code)
                .Append("\",\"name\":\"").Append(region.Name).Append("\"},\"geometry\":");
            AppendGeometry(sb, region.Geometry);
            sb.Append('}');
        }

        return sb.Append("]}").ToString();
    }

    /// <summary>The key sites (and the probes' sites when asked) as a GeoJSON FeatureCollection.</summary>
    public string KeySitesGeoJson(bool withProbes)
    {
        var sites = withProbes ? KeySites.Concat(Probes.Select(p => p.Site)) : KeySites;
        var sb = new StringBuilder(KeySites.Count * 200);
        sb.Append("{\"type\":\"FeatureCollection\",\"features\":[");
        bool first = true;
        foreach (var site in sites)
        {
            if (!first)
            {
                sb.Append(',');
            }

            first = false;
            sb.Append("{\"type\":\"Feature\",\"properties\":{\"code\":\"").Append(site.Code)
                .Append("\",\"name\":\"").Append(site.Name)
                .Append("\",\"category\":\"").Append(site.Category)
                .Append("\",\"priority\":").Append(site.Priority.ToString(CultureInfo.InvariantCulture))
                .Append("},\"geometry\":");
            AppendGeometry(sb, site.Geometry);
            sb.Append('}');
        }

        return sb.Append("]}").ToString();
    }

    private static double Round7(double v) => Math.Round(v, 7, MidpointRounding.AwayFromZero);

    private (double Lon, double Lat) ToWgs84(double x, double y)
    {
        var (lon, lat) = Projection.Unproject(x, y);
        return (Round7(lon), Round7(lat));
    }

    private void BuildLattice(Random random)
    {
        for (int i = 0; i <= Columns; i++)
        {
            for (int j = 0; j <= Rows; j++)
            {
                double x = -HalfSizeM + (i * CellWidthM);
                double y = -HalfSizeM + (j * CellHeightM);
                if (i > 0 && i < Columns && j > 0 && j < Rows)
                {
                    // Interior vertices move by up to 15 % of a cell: square-ish quadrilaterals, still a valid tiling.
                    x += (random.NextDouble() - 0.5) * 0.3 * CellWidthM;
                    y += (random.NextDouble() - 0.5) * 0.3 * CellHeightM;
                }

                _vertices[i, j] = ToWgs84(x, y);
            }
        }
    }

    /// <summary>The polygon of the lattice block [c0, c1) × [r0, r1), walking the shared vertices counter-clockwise.</summary>
    private Polygon Block(int c0, int r0, int c1, int r1)
    {
        var ring = new List<Coordinate>();
        for (int i = c0; i <= c1; i++)
        {
            ring.Add(At(i, r0));
        }

        for (int j = r0 + 1; j <= r1; j++)
        {
            ring.Add(At(c1, j));
        }

        for (int i = c1 - 1; i >= c0; i--)
        {
            ring.Add(At(i, r1));
        }

        for (int j = r1 - 1; j >= r0; j--)
        {
            ring.Add(At(c0, j));
        }

        return s_wgs84.CreatePolygon(ring.ToArray());
    }

    private Coordinate At(int i, int j) => new(_vertices[i, j].Lon, _vertices[i, j].Lat);

    private void BuildRegions()
    {
        Regions.Add(new GridFeature(CountyCode, "synthetic county 130127", GridFeature.CountyLevel, null, Block(0, 0, Columns, Rows)));
        // Townships: 5 × 2 blocks of 10 × 20 cells; villages: 2 × 5 blocks of 5 × 4 cells; grids: 5 × 4 cells.
        for (int tr = 0; tr < 2; tr++)
        {
            for (int tc = 0; tc < 5; tc++)
            {
                string township = TownshipCode((tr * 5) + tc);
                Regions.Add(new GridFeature(township, "synthetic township " + township, GridFeature.TownshipLevel, CountyCode,
                    Block(tc * 10, tr * 20, (tc * 10) + 10, (tr * 20) + 20)));
                for (int vr = 0; vr < 5; vr++)
                {
                    for (int vc = 0; vc < 2; vc++)
                    {
                        string village = township + ((vr * 2) + vc + 1).ToString("D3", CultureInfo.InvariantCulture);
                        int c0 = (tc * 10) + (vc * 5), r0 = (tr * 20) + (vr * 4);
                        Regions.Add(new GridFeature(village, "synthetic village " + village, GridFeature.VillageLevel, township,
                            Block(c0, r0, c0 + 5, r0 + 4)));
                        for (int gr = 0; gr < 4; gr++)
                        {
                            for (int gc = 0; gc < 5; gc++)
                            {
                                string grid = village + ((gr * 5) + gc + 1).ToString("D4", CultureInfo.InvariantCulture);
                                Regions.Add(new GridFeature(grid, "synthetic grid " + grid, GridFeature.GridLevel, village,
                                    Block(c0 + gc, r0 + gr, c0 + gc + 1, r0 + gr + 1)));
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Key sites; returns each site's anchor in metres (a point, or the centre of a rectangle) and its half diagonal.</summary>
    private List<(double X, double Y, double Radius)> BuildKeySites(Random random, int count)
    {
        var anchors = new List<(double X, double Y, double Radius)>(count);
        var towns = Enumerable.Range(0, 10)
            .Select(t => (X: -HalfSizeM + ((t % 5) * 4000) + 2000, Y: -HalfSizeM + ((t / 5) * 10_000) + 5000))
            .ToArray();
        var categories = KeySiteCategories.All.Order(StringComparer.Ordinal).ToArray();
        const double margin = 300;
        for (int i = 0; i < count; i++)
        {
            double x, y;
            if (random.NextDouble() < 0.5)
            {
                x = Uniform(random, -HalfSizeM + margin, HalfSizeM - margin);
                y = Uniform(random, -HalfSizeM + margin, HalfSizeM - margin);
            }
            else
            {
                var town = towns[random.Next(towns.Length)];
                x = Math.Clamp(town.X + (Gaussian(random) * 1200), -HalfSizeM + margin, HalfSizeM - margin);
                y = Math.Clamp(town.Y + (Gaussian(random) * 1200), -HalfSizeM + margin, HalfSizeM - margin);
            }

            int priority = 1 + random.Next(5);
            string code = "KS-" + i.ToString("D5", CultureInfo.InvariantCulture);
            string name = "synthetic key site " + i.ToString(CultureInfo.InvariantCulture);
            if (random.NextDouble() < 0.7)
            {
                double roll = random.NextDouble();
                string category = roll switch
                {
                    < 0.45 => "intersection",
                    < 0.60 => "checkpoint",
                    < 0.70 => "traffic-artery",
                    < 0.80 => "road",
                    _ => categories[random.Next(categories.Length)],
                };
                var (lon, lat) = ToWgs84(x, y);
                KeySites.Add(new KeySiteFeature(code, name, category, priority, s_wgs84.CreatePoint(new Coordinate(lon, lat))));
                anchors.Add((x, y, 0));
            }
            else
            {
                double w = Uniform(random, 30, 150), h = Uniform(random, 30, 150);
                var corners = new[] { (x - (w / 2), y - (h / 2)), (x + (w / 2), y - (h / 2)), (x + (w / 2), y + (h / 2)), (x - (w / 2), y + (h / 2)) }
                    .Select(c => ToWgs84(c.Item1, c.Item2)).Select(c => new Coordinate(c.Lon, c.Lat)).ToList();
                corners.Add(corners[0].Copy());
                KeySites.Add(new KeySiteFeature(code, name, s_areaCategories[random.Next(s_areaCategories.Length)], priority,
                    s_wgs84.CreatePolygon(corners.ToArray())));
                anchors.Add((x, y, Math.Sqrt((w * w) + (h * h)) / 2));
            }
        }

        return anchors;
    }

    private void BuildCameras(Random random, int count, List<(double X, double Y, double Radius)> sites)
    {
        for (int i = 0; i < count; i++)
        {
            double hfov = 50 + random.Next(0, 61);
            double range = 30 + random.Next(0, 121);
            bool ptz = random.NextDouble() < 0.15;
            bool online = random.NextDouble() >= 0.08;
            double x, y, azimuth;
            if (sites.Count > 0 && random.NextDouble() < 0.55)
            {
                // Around a key site, aimed at it (±10°).
                var site = sites[random.Next(sites.Count)];
                double distance = site.Radius + (Uniform(random, 0.2, 0.8) * range);
                double bearing = random.NextDouble() * 360;
                x = site.X + (distance * Math.Sin(bearing * Math.PI / 180));
                y = site.Y + (distance * Math.Cos(bearing * Math.PI / 180));
                azimuth = bearing + 180 + Uniform(random, -10, 10);
            }
            else
            {
                x = Uniform(random, -HalfSizeM + 50, HalfSizeM - 50);
                y = Uniform(random, -HalfSizeM + 50, HalfSizeM - 50);
                azimuth = random.NextDouble() * 360;
            }

            x = Math.Clamp(x, -HalfSizeM + 5, HalfSizeM - 5);
            y = Math.Clamp(y, -HalfSizeM + 5, HalfSizeM - 5);
            azimuth = Math.Round(((azimuth % 360) + 360) % 360, 1) % 360;
            var (lon, lat) = ToWgs84(x, y);
            Cameras.Add(new SyntheticCamera(AlarmMessages.CameraId(200_000 + i), lon, lat, x, y, azimuth, hfov, range, ptz, online));
        }
    }

    /// <summary>
    /// Point sites (category checkpoint: one camera needed) with no synthetic camera within its range + 10 m and no
    /// other key site within 200 m, each with its own camera 20 m south aimed north (hfov 60°, range 40 m).
    /// </summary>
    private void BuildProbes(Random random, int count, List<(double X, double Y, double Radius)> sites)
    {
        const double cell = 200;
        var cameraCells = new Dictionary<(int, int), List<SyntheticCamera>>();
        foreach (var camera in Cameras)
        {
            var key = ((int)Math.Floor(camera.X / cell), (int)Math.Floor(camera.Y / cell));
            if (!cameraCells.TryGetValue(key, out var list))
            {
                cameraCells[key] = list = [];
            }

            list.Add(camera);
        }

        var siteCells = new Dictionary<(int, int), List<(double X, double Y)>>();
        void AddSite(double x, double y)
        {
            var key = ((int)Math.Floor(x / cell), (int)Math.Floor(y / cell));
            if (!siteCells.TryGetValue(key, out var list))
            {
                siteCells[key] = list = [];
            }

            list.Add((x, y));
        }

        foreach (var s in sites)
        {
            AddSite(s.X, s.Y);
        }

        bool Free(double x, double y)
        {
            int cx = (int)Math.Floor(x / cell), cy = (int)Math.Floor(y / cell);
            for (int dx = -1; dx <= 1; dx++)
            {
                for (int dy = -1; dy <= 1; dy++)
                {
                    if (cameraCells.TryGetValue((cx + dx, cy + dy), out var cams)
                        && cams.Any(c => Math.Sqrt(((c.X - x) * (c.X - x)) + ((c.Y - y) * (c.Y - y))) <= c.RangeM + 10))
                    {
                        return false;
                    }

                    // 200 m from any key site anchor (an area site's rectangle reaches at most 106 m from its centre).
                    if (siteCells.TryGetValue((cx + dx, cy + dy), out var near)
                        && near.Any(s => Math.Sqrt(((s.X - x) * (s.X - x)) + ((s.Y - y) * (s.Y - y))) < 200))
                    {
                        return false;
                    }
                }
            }

            return true;
        }

        for (int attempt = 0; attempt < 1_000_000 && Probes.Count < count; attempt++)
        {
            double x = Uniform(random, -HalfSizeM + 300, HalfSizeM - 300);
            double y = Uniform(random, -HalfSizeM + 300, HalfSizeM - 300);
            if (!Free(x, y))
            {
                continue;
            }

            int n = Probes.Count;
            var (lon, lat) = ToWgs84(x, y);
            var site = new KeySiteFeature("KS-PROBE-" + n.ToString("D4", CultureInfo.InvariantCulture), "bench probe site " + n.ToString(CultureInfo.InvariantCulture),
                "checkpoint", 3, s_wgs84.CreatePoint(new Coordinate(lon, lat)));
            var (camLon, camLat) = ToWgs84(x, y - 20);
            var camera = new SyntheticCamera(AlarmMessages.CameraId(300_000 + n), camLon, camLat, x, y - 20, 0, 60, 40, Ptz: false, Online: true);
            Probes.Add(new CoverageProbe(site, camera));
            AddSite(x, y);
        }

        if (Probes.Count < count)
        {
            throw new InvalidOperationException($"only {Probes.Count} of {count} probe sites could be placed away from every camera and key site");
        }
    }

    private static double Uniform(Random random, double min, double max) => min + (random.NextDouble() * (max - min));

    private static double Gaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private static void AppendGeometry(StringBuilder sb, Geometry geometry)
    {
        if (geometry is Point p)
        {
            sb.Append("{\"type\":\"Point\",\"coordinates\":");
            AppendCoordinate(sb, p.Coordinate);
            sb.Append('}');
            return;
        }

        var polygon = (Polygon)geometry;
        sb.Append("{\"type\":\"Polygon\",\"coordinates\":[[");
        var coordinates = polygon.ExteriorRing.Coordinates;
        for (int i = 0; i < coordinates.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }

            AppendCoordinate(sb, coordinates[i]);
        }

        sb.Append("]]}");
    }

    private static void AppendCoordinate(StringBuilder sb, Coordinate c) =>
        sb.Append('[').Append(c.X.ToString("R", CultureInfo.InvariantCulture)).Append(',').Append(c.Y.ToString("R", CultureInfo.InvariantCulture)).Append(']');
}
