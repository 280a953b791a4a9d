using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using NetTopologySuite.Algorithm;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;
using NetTopologySuite.Operation.Overlay;
using NetTopologySuite.Operation.OverlayNG;
using NetTopologySuite.Operation.Polygonize;
using NetTopologySuite.Precision;
using NetTopologySuite.Triangulate;
using SharpEyes.Geo.Datums;
using SharpEyes.Geo.Projection;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Geo.Demo;

/// <summary>
/// The deterministic demo dataset of 高邑县 (Gaoyi County, Hebei, 130127): the real county border (shipped in GCJ-02,
/// converted to WGS-84), its 5 real towns and 107 real village committees with invented but plausible borders
/// (Voronoi partitions of deterministic seed points, clipped to the parent), one grid per village (code = village
/// code + "001"), and 40 generated key sites. All coordinates are snapped to 1e-7° (≈ 1 cm) so the files are stable.
/// </summary>
public static class GaoyiDemo
{
    public const string CountyCode = "130127";

    /// <summary>The county seat town, 高邑镇.</summary>
    public const string CountySeatTownshipCode = "130127100";

    public const string GridsFileName = "grids.wgs84.geojson";
    public const string KeySitesFileName = "keysites.wgs84.geojson";

    private const ulong Seed = 0x5EA7_E7E5_1301_2700UL;
    private const string ResourcePrefix = "SharpEyes.Geo.Demo.";
    private const double Scale = 1e7;

    private static readonly PrecisionModel s_precision = new(Scale);
    private static readonly GeometryFactory s_factory = new(new PrecisionModel(), 4326);
    private static readonly Lazy<string> s_grids = new(() => ReadResource(GridsFileName));
    private static readonly Lazy<string> s_keySites = new(() => ReadResource(KeySitesFileName));

    /// <summary>The shipped grids FeatureCollection (county, townships, villages, grids; WGS-84; properties code, name).</summary>
    public static string GridsGeoJson => s_grids.Value;

    /// <summary>The shipped key-site FeatureCollection (WGS-84; properties code, name, category, priority).</summary>
    public static string KeySitesGeoJson => s_keySites.Value;

    /// <summary>Parses the shipped files into a <see cref="RegionIndex"/>; throws if they do not validate.</summary>
    public static RegionIndex CreateRegionIndex()
    {
        var grids = GeoJsonImport.ParseGrids(GridsGeoJson, Datum.Wgs84, [], new HashSet<string> { CountyCode });
        var sites = GeoJsonImport.ParseKeySites(KeySitesGeoJson, Datum.Wgs84);
        if (!grids.Ok || !sites.Ok)
        {
            var first = grids.Errors.Concat(sites.Errors).First();
            throw new InvalidOperationException($"Shipped demo data does not validate: {first.Reason}: {first.Message}");
        }

        return new RegionIndex(grids.Features, sites.Features);
    }

    /// <summary>Generates both files afresh from the embedded real inputs. Same output on every run.</summary>
    public static (string GridsGeoJson, string KeySitesGeoJson) Generate()
    {
        var county = ReadCountyWgs84();
        var townships = ReadCsv("gaoyi-130127-townships.csv");
        var villages = ReadCsv("gaoyi-130127-villages.csv");
        var rng = new SplitMix64(Seed);

        var countyName = "高邑县";
        var regionFeatures = new List<(string Code, string Name, Geometry Geometry)> { (CountyCode, countyName, county) };

        var townshipGeometries = Partition(county, townships.Count, rng);
        var villageFeatures = new List<(string Code, string Name, Geometry Geometry)>();
        var villagesByTownship = new Dictionary<string, List<(string Code, string Name, Geometry Geometry)>>(StringComparer.Ordinal);
        for (int t = 0; t < townships.Count; t++)
        {
            var (townCode, townName, _) = townships[t];
            regionFeatures.Add((townCode, townName, townshipGeometries[t]));
            var ownVillages = villages.Where(v => v.Parent == townCode).ToList();
            var villageGeometries = Partition(townshipGeometries[t], ownVillages.Count, rng);
            var list = new List<(string Code, string Name, Geometry Geometry)>();
            for (int v = 0; v < ownVillages.Count; v++)
            {
                list.Add((ownVillages[v].Code, ownVillages[v].Name, villageGeometries[v]));
            }

            villagesByTownship[townCode] = list;
            villageFeatures.AddRange(list);
        }

        regionFeatures.AddRange(villageFeatures);
        regionFeatures.AddRange(villageFeatures.Select(v => (v.Code + "001", ShortVillageName(v.Name) + "第一网格", v.Geometry)));

        var sites = GenerateKeySites(townships, villagesByTownship, rng);

        var grids = WriteFeatureCollection(regionFeatures.Select(f =>
            (f.Geometry, (IReadOnlyList<(string, object)>)[("code", f.Code), ("name", f.Name)])));
        var keySites = WriteFeatureCollection(sites.Select(s =>
            (s.Geometry, (IReadOnlyList<(string, object)>)[("code", s.Code), ("name", s.Name), ("category", s.Category), ("priority", s.Priority)])));
        return (grids, keySites);
    }

    /// <summary>Generates the files and writes them into <paramref name="directory"/> (normally demo/gaoyi).</summary>
    public static void WriteFiles(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var (grids, keySites) = Generate();
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        File.WriteAllText(Path.Combine(directory, GridsFileName), grids, utf8);
        File.WriteAllText(Path.Combine(directory, KeySitesFileName), keySites, utf8);
    }

    private static string ReadResource(string fileName)
    {
        var assembly = typeof(GaoyiDemo).Assembly;
        using var stream = assembly.GetManifestResourceStream(ResourcePrefix + fileName)
            ?? throw new InvalidOperationException($"Embedded resource '{ResourcePrefix + fileName}' is missing; run the generator (REGENERATE_DEMO=1).");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static Geometry ReadCountyWgs84()
    {
        using var document = JsonDocument.Parse(ReadResource("gaoyi-130127-county.gcj02.geojson"));
        var geometryElement = document.RootElement.GetProperty("features")[0].GetProperty("geometry");
        var options = new JsonSerializerOptions();
        options.Converters.Add(new GeoJsonConverterFactory(s_factory));
        var gcj = geometryElement.Deserialize<Geometry>(options)
            ?? throw new InvalidOperationException("The county file has no geometry.");
        var wgs = DatumConverter.ToWgs84(gcj, Datum.Gcj02);
        var snapped = GeometryPrecisionReducer.Reduce(wgs, s_precision);
        return Single(snapped);
    }

    private static List<(string Code, string Name, string Parent)> ReadCsv(string fileName)
    {
        var rows = new List<(string Code, string Name, string Parent)>();
        var lines = ReadResource(fileName).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',').Select(c => c.Trim().Trim('"')).ToArray();
            rows.Add((cells[0], cells[1], cells.Length > 2 ? cells[2] : string.Empty));
        }

        return rows;
    }

    /// <summary>
    /// Splits <paramref name="parent"/> into <paramref name="count"/> parts: the Voronoi cells of deterministic seeds
    /// (well spread: at least half the mean spacing apart, relaxed if needed) clipped to the parent on the 1e-7° grid.
    /// </summary>
    private static List<Geometry> Partition(Geometry parent, int count, SplitMix64 rng)
    {
        var projection = LocalProjection.CenteredOn(parent.EnvelopeInternal);
        double minSpacing = 0.5 * Math.Sqrt(projection.AreaM2(parent) / count);
        var seeds = new List<Coordinate>(count);
        var envelope = parent.EnvelopeInternal;
        int attempts = 0;
        while (seeds.Count < count)
        {
            if (++attempts % 2000 == 0)
            {
                minSpacing *= 0.8;
            }

            var candidate = SnapCoordinate(
                envelope.MinX + (rng.NextDouble() * envelope.Width),
                envelope.MinY + (rng.NextDouble() * envelope.Height));
            if (!parent.Contains(s_factory.CreatePoint(candidate)))
            {
                continue;
            }

            bool farEnough = seeds.All(s => projection.DistanceM(s.X, s.Y, candidate.X, candidate.Y) >= minSpacing);
            if (farEnough)
            {
                seeds.Add(candidate);
            }
        }

        var builder = new VoronoiDiagramBuilder();
        builder.SetSites(seeds);
        var clip = envelope.Copy();
        clip.ExpandBy(Math.Max(envelope.Width, envelope.Height));
        builder.ClipEnvelope = clip;
        var diagram = builder.GetDiagram(s_factory);

        // Node the parent's border and every cell border together on the 1e-7° grid, polygonise, and give each face
        // inside the parent to the seed whose cell holds it. Neighbours then share exactly the same edges, so the
        // parts tile the parent with no sliver gaps or overlaps (clipping each cell separately would leave some).
        var linework = new List<Geometry> { parent.Boundary };
        var cells = new Geometry[seeds.Count];
        var seedIndex = new Dictionary<(double, double), int>();
        for (int i = 0; i < seeds.Count; i++)
        {
            seedIndex[(seeds[i].X, seeds[i].Y)] = i;
        }

        for (int i = 0; i < diagram.NumGeometries; i++)
        {
            var cell = diagram.GetGeometryN(i);
            var site = (Coordinate)cell.UserData;
            cells[seedIndex[(site.X, site.Y)]] = cell;
            linework.Add(cell.Boundary);
        }

        var noded = UnaryUnionNG.Union(s_factory.BuildGeometry(linework), s_precision);
        var polygonizer = new Polygonizer();
        polygonizer.Add(noded);
        var faces = new List<Geometry>[seeds.Count];
        for (int i = 0; i < faces.Length; i++)
        {
            faces[i] = [];
        }

        foreach (var face in polygonizer.GetPolygons())
        {
            var inner = face.InteriorPoint;
            if (!parent.Contains(inner))
            {
                continue;
            }

            int owner = -1;
            double best = double.MaxValue;
            for (int i = 0; i < cells.Length; i++)
            {
                // The Voronoi cell holding a point is the one of its nearest seed.
                double d = inner.Coordinate.Distance(seeds[i]);
                if (d < best)
                {
                    best = d;
                    owner = i;
                }
            }

            faces[owner].Add(face);
        }

        return faces
            .Select(f => Single(UnaryUnionNG.Union(s_factory.BuildGeometry(f), new PrecisionModel())))
            .ToList();
    }

    /// <summary>Keeps polygonal output only and returns a Polygon or MultiPolygon.</summary>
    private static Geometry Single(Geometry geometry)
    {
        var polygons = new List<Polygon>();
        for (int i = 0; i < geometry.NumGeometries; i++)
        {
            if (geometry.GetGeometryN(i) is Polygon { IsEmpty: false } p)
            {
                polygons.Add(p);
            }
        }

        return polygons.Count == 1 ? polygons[0] : s_factory.CreateMultiPolygon(polygons.ToArray());
    }

    private static Coordinate SnapCoordinate(double x, double y) =>
        new(Math.Round(x * Scale) / Scale, Math.Round(y * Scale) / Scale);

    private static string ShortVillageName(string name) =>
        name.EndsWith("村民委员会", StringComparison.Ordinal) ? name[..^"村民委员会".Length] + "村"
        : name.EndsWith("居民委员会", StringComparison.Ordinal) ? name[..^"居民委员会".Length] + "社区"
        : name;

    private sealed record SiteSpec(string Name, string Category, int Priority, double WidthM, double HeightM);

    private static List<(string Code, string Name, string Category, int Priority, Geometry Geometry)> GenerateKeySites(
        List<(string Code, string Name, string Parent)> townships,
        Dictionary<string, List<(string Code, string Name, Geometry Geometry)>> villagesByTownship,
        SplitMix64 rng)
    {
        var sites = new List<(string Code, string Name, string Category, int Priority, Geometry Geometry)>();
        foreach (var (townCode, townName, _) in townships)
        {
            var specs = new List<SiteSpec>
            {
                new($"{townName}人民政府", "government", 5, 100, 80),
                new($"{townName}中心小学", "school", 5, 120, 80),
                new($"{townName}卫生院", "hospital", 4, 80, 60),
                new($"{townName}集贸市场", "market", 3, 150, 100),
                new($"{townName}东西大街十字路口", "intersection", 4, 0, 0),
                new($"{townName}南北大街十字路口", "intersection", 3, 0, 0),
            };
            if (townCode == CountySeatTownshipCode)
            {
                specs.AddRange(
                [
                    new("高邑站", "station", 5, 200, 60),
                    new("高邑县汽车站", "station", 4, 100, 80),
                    new("高邑县人民政府", "government", 5, 150, 100),
                    new("高邑县医院", "hospital", 5, 120, 100),
                    new("高邑县人民广场", "square", 4, 150, 150),
                    new("高邑县体育场", "stadium", 3, 180, 120),
                    new("高邑县第一中学", "school", 5, 200, 150),
                    new("高邑县商贸中心", "commercial", 3, 120, 90),
                    new("高邑县公安检查站", "checkpoint", 4, 0, 0),
                    new("高邑县城区主干道路口", "traffic-artery", 4, 0, 0),
                ]);
            }

            var villages = villagesByTownship[townCode];
            int serial = 0;
            foreach (var spec in specs)
            {
                serial++;
                var geometry = PlaceSite(spec, villages, sites.Select(s => s.Geometry).ToList(), rng);
                sites.Add(($"KS-{townCode}-{serial:D3}", spec.Name, spec.Category, spec.Priority, geometry));
            }
        }

        return sites;
    }

    /// <summary>
    /// Places a site inside a randomly chosen village of its township: a point at least 20 m inside the village, or
    /// a north-aligned rectangle of the spec's size wholly inside it; not touching earlier sites.
    /// </summary>
    private static Geometry PlaceSite(
        SiteSpec spec,
        List<(string Code, string Name, Geometry Geometry)> villages,
        List<Geometry> placed,
        SplitMix64 rng)
    {
        for (int attempt = 0; attempt < 100_000; attempt++)
        {
            var village = villages[rng.NextInt(villages.Count)].Geometry;
            var envelope = village.EnvelopeInternal;
            var centre = SnapCoordinate(
                envelope.MinX + (rng.NextDouble() * envelope.Width),
                envelope.MinY + (rng.NextDouble() * envelope.Height));
            var projection = new LocalProjection(centre.X, centre.Y);
            Geometry candidate;
            if (spec.WidthM <= 0)
            {
                candidate = s_factory.CreatePoint(centre);
                if (!village.Contains(candidate) || projection.Project(village.Boundary).Distance(projection.Project(candidate)) < 20)
                {
                    continue;
                }
            }
            else
            {
                double w = spec.WidthM / 2, h = spec.HeightM / 2;
                var corners = new (double X, double Y)[] { (-w, -h), (w, -h), (w, h), (-w, h), (-w, -h) };
                var ring = corners.Select(c =>
                {
                    var (lon, lat) = projection.Unproject(c.X, c.Y);
                    return SnapCoordinate(lon, lat);
                }).ToArray();
                candidate = s_factory.CreatePolygon(ring);
                if (!village.Contains(candidate))
                {
                    continue;
                }
            }

            if (placed.Any(p => p.IsWithinDistance(candidate, 0.0005)))
            {
                continue;
            }

            return candidate;
        }

        throw new InvalidOperationException($"Could not place key site '{spec.Name}'.");
    }

    private static string WriteFeatureCollection(IEnumerable<(Geometry Geometry, IReadOnlyList<(string Key, object Value)> Properties)> features)
    {
        var options = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var sb = new StringBuilder();
        sb.Append("{\"type\":\"FeatureCollection\",\"features\":[\n");
        bool first = true;
        foreach (var (geometry, properties) in features)
        {
            if (!first)
            {
                sb.Append(",\n");
            }

            first = false;
            sb.Append("{\"type\":\"Feature\",\"properties\":{");
            for (int i = 0; i < properties.Count; i++)
            {
                if (i > 0)
                {
                    sb.Append(',');
                }

                sb.Append(JsonSerializer.Serialize(properties[i].Key, options)).Append(':');
                sb.Append(properties[i].Value switch
                {
                    string s => JsonSerializer.Serialize(s, options),
                    int n => n.ToString(CultureInfo.InvariantCulture),
                    var other => throw new InvalidOperationException($"Unsupported property value {other}."),
                });
            }

            sb.Append("},\"geometry\":");
            WriteGeometry(sb, geometry);
            sb.Append('}');
        }

        sb.Append("\n]}\n");
        return sb.ToString();
    }

    /// <summary>Writes RFC 7946 geometry: exterior rings counter-clockwise, holes clockwise.</summary>
    private static void WriteGeometry(StringBuilder sb, Geometry geometry)
    {
        switch (geometry)
        {
            case Point p:
                sb.Append("{\"type\":\"Point\",\"coordinates\":");
                WritePosition(sb, p.Coordinate);
                sb.Append('}');
                break;
            case Polygon polygon:
                sb.Append("{\"type\":\"Polygon\",\"coordinates\":");
                WritePolygon(sb, polygon);
                sb.Append('}');
                break;
            case MultiPolygon multi:
                sb.Append("{\"type\":\"MultiPolygon\",\"coordinates\":[");
                for (int i = 0; i < multi.NumGeometries; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(',');
                    }

                    WritePolygon(sb, (Polygon)multi.GetGeometryN(i));
                }

                sb.Append("]}");
                break;
            default:
                throw new InvalidOperationException($"Unsupported geometry {geometry.GeometryType}.");
        }
    }

    private static void WritePolygon(StringBuilder sb, Polygon polygon)
    {
        sb.Append('[');
        WriteRing(sb, polygon.ExteriorRing.Coordinates, counterClockwise: true);
        foreach (var hole in polygon.InteriorRings)
        {
            sb.Append(',');
            WriteRing(sb, hole.Coordinates, counterClockwise: false);
        }

        sb.Append(']');
    }

    private static void WriteRing(StringBuilder sb, Coordinate[] ring, bool counterClockwise)
    {
        var coordinates = Orientation.IsCCW(ring) == counterClockwise ? ring : ring.Reverse().ToArray();
        sb.Append('[');
        for (int i = 0; i < coordinates.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }

            WritePosition(sb, coordinates[i]);
        }

        sb.Append(']');
    }

    private static void WritePosition(StringBuilder sb, Coordinate c)
    {
        sb.Append('[')
            .Append(c.X.ToString("R", CultureInfo.InvariantCulture))
            .Append(',')
            .Append(c.Y.ToString("R", CultureInfo.InvariantCulture))
            .Append(']');
    }
}
