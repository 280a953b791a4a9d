using NetTopologySuite.Algorithm.Locate;
using NetTopologySuite.Geometries;
using NetTopologySuite.Index.Strtree;
using NetTopologySuite.Operation.Distance;
using SharpEyes.Geo.Projection;

namespace SharpEyes.Geo.Regions;

/// <summary>The region codes of a located point; empty strings where the point is outside everything.</summary>
/// <param name="GridCode">The code of the finest feature containing the point (a grid, or a coarser level if no grid does).</param>
public readonly record struct RegionCodes(string GridCode, string VillageCode, string TownshipCode, string CountyCode)
{
    public static readonly RegionCodes None = new(string.Empty, string.Empty, string.Empty, string.Empty);

    public bool IsEmpty => GridCode.Length == 0;

    /// <summary>Derives the county/township/village codes from the prefixes of the finest code.</summary>
    public static RegionCodes FromFinestCode(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (code.Length == 0)
        {
            return None;
        }

        return new RegionCodes(
            code,
            code.Length >= 12 ? code[..12] : string.Empty,
            code.Length >= 9 ? code[..9] : string.Empty,
            code.Length >= 6 ? code[..6] : string.Empty);
    }
}

/// <summary>
/// An immutable spatial index of grids (all levels) and key sites, safe for any number of concurrent readers.
/// The gateway builds a new one after each import.
/// </summary>
public sealed class RegionIndex
{
    /// <summary>Projection centre used when there are no grids and no key sites (roughly the middle of China).</summary>
    public const double DefaultCenterLon = 105.0;

    /// <summary>Projection centre used when there are no grids and no key sites (roughly the middle of China).</summary>
    public const double DefaultCenterLat = 35.0;

    private static readonly GeometryFactory s_metricFactory = new(new PrecisionModel(), 0);

    // Finest level first: Locate returns the first hit.
    private readonly LevelIndex[] _levels;
    private readonly STRtree<SiteEntry> _sites = new();

    public RegionIndex(IEnumerable<GridFeature> grids, IEnumerable<KeySiteFeature> keySites)
    {
        ArgumentNullException.ThrowIfNull(grids);
        ArgumentNullException.ThrowIfNull(keySites);

        // Deterministic order: by code, so a point on a shared border always resolves the same way.
        Grids = grids.OrderBy(g => g.Code, StringComparer.Ordinal).ToList();
        KeySites = keySites.OrderBy(k => k.Code, StringComparer.Ordinal).ToList();

        var envelope = new Envelope();
        foreach (var grid in Grids)
        {
            envelope.ExpandToInclude(grid.Geometry.EnvelopeInternal);
        }

        if (envelope.IsNull)
        {
            foreach (var site in KeySites)
            {
                envelope.ExpandToInclude(site.Geometry.EnvelopeInternal);
            }
        }

        Projection = envelope.IsNull
            ? new LocalProjection(DefaultCenterLon, DefaultCenterLat)
            : LocalProjection.CenteredOn(envelope);

        _levels = Grids
            .GroupBy(g => g.Level)
            .OrderByDescending(g => g.Key)
            .Select(g => new LevelIndex(g))
            .ToArray();

        foreach (var site in KeySites)
        {
            var metric = Projection.Project(site.Geometry);
            IPointOnGeometryLocator? locator = site.Geometry is Polygon or MultiPolygon
                ? new IndexedPointInAreaLocator(site.Geometry)
                : null;
            locator?.Locate(site.Geometry.Coordinate); // Build the locator's index now, not racily on first use.
            _sites.Insert(site.Geometry.EnvelopeInternal, new SiteEntry(site, metric, locator));
        }

        _sites.Build();
    }

    /// <summary>The projection centred on the grids' envelope (or the key sites', or a default when empty).</summary>
    public LocalProjection Projection { get; }

    /// <summary>All grids of every level, ordered by code.</summary>
    public IReadOnlyList<GridFeature> Grids { get; }

    /// <summary>All key sites, ordered by code.</summary>
    public IReadOnlyList<KeySiteFeature> KeySites { get; }

    /// <summary>
    /// Codes of the finest feature containing the WGS-84 point (boundaries count as inside; on a shared border the
    /// lowest code wins), with its village/township/county prefixes; <see cref="RegionCodes.None"/> outside everything.
    /// </summary>
    public RegionCodes Locate(double lon, double lat)
    {
        var coordinate = new Coordinate(lon, lat);
        foreach (var level in _levels)
        {
            string? code = level.Locate(coordinate);
            if (code is not null)
            {
                return RegionCodes.FromFinestCode(code);
            }
        }

        return RegionCodes.None;
    }

    /// <summary>
    /// Key sites within <paramref name="radiusM"/> metres of the WGS-84 point, nearest first (ties by code);
    /// the distance is 0 when the point is inside an area site.
    /// </summary>
    public IReadOnlyList<(KeySiteFeature Site, double DistanceM)> KeySitesNear(double lon, double lat, double radiusM)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(radiusM);
        // Degrees per metre with a generous margin (the search box only needs to be large enough).
        double dLat = radiusM / 110_000.0 * 1.01;
        double cosLat = Math.Max(Math.Cos(lat * Math.PI / 180.0), 0.01);
        double dLon = dLat / cosLat;
        var search = new Envelope(lon - dLon, lon + dLon, lat - dLat, lat + dLat);
        var coordinate = new Coordinate(lon, lat);
        Point? metricPoint = null;

        var result = new List<(KeySiteFeature Site, double DistanceM)>();
        foreach (var entry in _sites.Query(search))
        {
            double distance;
            if (entry.Locator is not null && entry.Locator.Locate(coordinate) != Location.Exterior)
            {
                distance = 0;
            }
            else
            {
                if (metricPoint is null)
                {
                    var (x, y) = Projection.Project(lon, lat);
                    metricPoint = s_metricFactory.CreatePoint(new Coordinate(x, y));
                }

                distance = DistanceOp.Distance(metricPoint, entry.Metric);
            }

            if (distance <= radiusM)
            {
                result.Add((entry.Site, distance));
            }
        }

        result.Sort((a, b) =>
        {
            int c = a.DistanceM.CompareTo(b.DistanceM);
            return c != 0 ? c : string.CompareOrdinal(a.Site.Code, b.Site.Code);
        });
        return result;
    }

    private sealed record SiteEntry(KeySiteFeature Site, Geometry Metric, IPointOnGeometryLocator? Locator);

    private sealed class LevelIndex
    {
        private readonly STRtree<(string Code, IPointOnGeometryLocator Locator)> _tree = new();

        public LevelIndex(IEnumerable<GridFeature> features)
        {
            foreach (var feature in features)
            {
                var locator = new IndexedPointInAreaLocator(feature.Geometry);
                locator.Locate(feature.Geometry.Coordinate); // Force the lazy index build before concurrent use.
                _tree.Insert(feature.Geometry.EnvelopeInternal, (feature.Code, locator));
            }

            _tree.Build();
        }

        public string? Locate(Coordinate coordinate)
        {
            var visitor = new FirstHitVisitor(coordinate);
            _tree.Query(new Envelope(coordinate), visitor);
            return visitor.Code;
        }
    }

    /// <summary>Keeps the lowest code among the containing features (candidates arrive in tree order).</summary>
    private sealed class FirstHitVisitor(Coordinate coordinate) : NetTopologySuite.Index.IItemVisitor<(string Code, IPointOnGeometryLocator Locator)>
    {
        public string? Code { get; private set; }

        public void VisitItem((string Code, IPointOnGeometryLocator Locator) item)
        {
            if (Code is not null && string.CompareOrdinal(item.Code, Code) >= 0)
            {
                return;
            }

            if (item.Locator.Locate(coordinate) != Location.Exterior)
            {
                Code = item.Code;
            }
        }
    }
}
