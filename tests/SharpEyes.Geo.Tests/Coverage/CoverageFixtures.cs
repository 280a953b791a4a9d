using NetTopologySuite.Geometries;
using NetTopologySuite.Operation.Overlay;
using NetTopologySuite.Operation.OverlayNG;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Demo;
using SharpEyes.Geo.Projection;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Geo.Tests.Coverage;

/// <summary>Builders for coverage tests: WGS-84 squares, metric rectangles, cameras, random camera sets.</summary>
internal static class CoverageFixtures
{
    public const double Lon0 = 114.6;
    public const double Lat0 = 37.7;

    public static readonly GeometryFactory Wgs84 = new(new PrecisionModel(), 4326);

    /// <summary>A level-4 grid covering a lon/lat box.</summary>
    public static GridFeature Square(string code, double minLon, double minLat, double maxLon, double maxLat) =>
        new(code, code, GridFeature.GridLevel, code[..12], Wgs84.CreatePolygon(
        [
            new Coordinate(minLon, minLat), new Coordinate(maxLon, minLat), new Coordinate(maxLon, maxLat),
            new Coordinate(minLon, maxLat), new Coordinate(minLon, minLat),
        ]));

    /// <summary>A level-4 grid from a WGS-84 polygon.</summary>
    public static GridFeature Grid(string code, Geometry geometry) => new(code, code, GridFeature.GridLevel, code[..12], geometry);

    /// <summary>The projection a <see cref="RegionIndex"/> of these grids will use (centred on their envelope).</summary>
    public static LocalProjection ProjectionFor(IEnumerable<GridFeature> grids)
    {
        var envelope = new Envelope();
        foreach (var grid in grids)
        {
            envelope.ExpandToInclude(grid.Geometry.EnvelopeInternal);
        }

        return LocalProjection.CenteredOn(envelope);
    }

    /// <summary>A WGS-84 polygon whose vertices are the corners of a rectangle in the projection's metres.</summary>
    public static Polygon MetricRectangle(LocalProjection projection, double x0, double y0, double x1, double y1)
    {
        Coordinate C(double x, double y)
        {
            var (lon, lat) = projection.Unproject(x, y);
            return new Coordinate(lon, lat);
        }

        return Wgs84.CreatePolygon([C(x0, y0), C(x1, y0), C(x1, y1), C(x0, y1), C(x0, y0)]);
    }

    /// <summary>The WGS-84 point at a true bearing and distance from (lon, lat), measured in the projection.</summary>
    public static (double Lon, double Lat) At(LocalProjection projection, double lon, double lat, double bearingDeg, double distanceM)
    {
        var (x, y) = projection.Project(lon, lat);
        double b = (bearingDeg + projection.ConvergenceDegrees(lon, lat)) * Math.PI / 180;
        return projection.Unproject(x + (distanceM * Math.Sin(b)), y + (distanceM * Math.Cos(b)));
    }

    public static CameraFov Camera(
        string id,
        double lon,
        double lat,
        double azimuth,
        double hfov,
        double range,
        bool ptz = false,
        bool online = true,
        bool faulty = false) => new(id, lon, lat, azimuth, hfov, range, ptz, online, faulty);

    public static CoverageModel Model(RegionIndex index, CoverageRules? rules = null, params CameraFov[] cameras)
    {
        var model = new CoverageModel(index, rules ?? new CoverageRules());
        foreach (var camera in cameras)
        {
            model.Upsert(camera);
        }

        model.Recompute();
        return model;
    }

    /// <summary>
    /// A deterministic random camera set over the demo county: a third aimed at key sites from close by, the rest
    /// anywhere in the county's envelope (so some cross grid borders and some stand outside); mixed statuses and PTZ.
    /// </summary>
    public static List<CameraFov> RandomCameras(RegionIndex index, int count, ulong seed, string prefix = "cam")
    {
        var rng = new SplitMix64(seed);
        var county = index.Grids.Where(g => g.Level == index.Grids.Min(x => x.Level)).Select(g => g.Geometry).ToList();
        var envelope = new Envelope();
        county.ForEach(g => envelope.ExpandToInclude(g.EnvelopeInternal));
        var projection = index.Projection;
        var cameras = new List<CameraFov>(count);
        for (int i = 0; i < count; i++)
        {
            cameras.Add(RandomCamera(index, rng, $"{prefix}-{i:D4}", envelope, projection, i % 3 == 0));
        }

        return cameras;
    }

    public static CameraFov RandomCamera(RegionIndex index, SplitMix64 rng, string id, Envelope envelope, LocalProjection projection, bool nearSite)
    {
        double lon, lat, azimuth;
        if (nearSite && index.KeySites.Count > 0)
        {
            var site = index.KeySites[rng.NextInt(index.KeySites.Count)].Geometry.Centroid;
            double bearing = rng.NextDouble() * 360;
            (lon, lat) = At(projection, site.X, site.Y, bearing, 15 + (rng.NextDouble() * 80));
            azimuth = (bearing + 180 + ((rng.NextDouble() - 0.5) * 30)) % 360;
        }
        else
        {
            lon = envelope.MinX + (rng.NextDouble() * envelope.Width);
            lat = envelope.MinY + (rng.NextDouble() * envelope.Height);
            azimuth = rng.NextDouble() * 360;
        }

        double hfov = rng.NextDouble() < 0.08 ? 360 : 15 + (rng.NextDouble() * 150);
        double range = 30 + (rng.NextDouble() * 370);
        bool ptz = rng.NextDouble() < 0.25;
        bool online = rng.NextDouble() > 0.15;
        bool faulty = rng.NextDouble() < 0.08;
        return new CameraFov(id, lon, lat, azimuth, hfov, range, ptz, online, faulty);
    }

    /// <summary>The camera's footprint for a truth: its wedge, and for Potential a PTZ camera's full circle too.</summary>
    public static Geometry Footprint(LocalProjection projection, CameraFov camera, CoverageTruth truth)
    {
        var wedge = Wedge.Metric(projection, camera);
        return truth == CoverageTruth.Potential && camera.Ptz && !wedge.IsEmpty
            ? OverlayNGRobust.Overlay(wedge, Wedge.Metric(projection, camera, fullCircle: true), SpatialFunction.Union)
            : wedge;
    }

    /// <summary>Reference: area of region ∩ union(pieces) by NetTopologySuite's OverlayNG.</summary>
    public static double OverlayCoveredArea(Geometry region, IEnumerable<Geometry> pieces)
    {
        var list = pieces.Where(p => !p.IsEmpty).ToList();
        if (list.Count == 0)
        {
            return 0;
        }

        var union = OverlayNGRobust.Union(list);
        return OverlayNGRobust.Overlay(region, union, SpatialFunction.Intersection).Area;
    }

    /// <summary>Reference: area of region covered by at least k pieces, by the layered OverlayNG algorithm.</summary>
    public static double OverlayKCoveredArea(Geometry region, IReadOnlyList<Geometry> pieces, int k)
    {
        var clipped = pieces.Select(p => OverlayNGRobust.Overlay(p, region, SpatialFunction.Intersection)).ToList();
        var layers = new Geometry?[k + 1];
        foreach (var w in clipped)
        {
            for (int m = k; m >= 2; m--)
            {
                if (layers[m - 1] is { } below)
                {
                    var overlap = OverlayNGRobust.Overlay(w, below, SpatialFunction.Intersection);
                    layers[m] = layers[m] is { } current ? OverlayNGRobust.Overlay(current, overlap, SpatialFunction.Union) : overlap;
                }
            }

            layers[1] = layers[1] is { } first ? OverlayNGRobust.Overlay(first, w, SpatialFunction.Union) : w;
        }

        return layers[k]?.Area ?? 0;
    }

    public static RegionIndex DemoCounty { get; } = GaoyiDemo.CreateRegionIndex();
}
