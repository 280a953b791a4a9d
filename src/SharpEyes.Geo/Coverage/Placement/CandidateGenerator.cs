using NetTopologySuite.Algorithm.Locate;
using NetTopologySuite.Geometries;
using NetTopologySuite.Index.Strtree;
using SharpEyes.Geo.Projection;

namespace SharpEyes.Geo.Coverage.Placement;

/// <summary>
/// Generates candidate camera positions and azimuths in projection metres (true azimuths, degrees clockwise from
/// north). Key-site candidates come first, then grid candidates, each group in input order; the order matters because
/// <see cref="GreedyPlacement"/> breaks ties by candidate index.
/// </summary>
public static class CandidateGenerator
{
    /// <summary>Positions on the ring around a key site, and azimuths at every other position.</summary>
    public const int Directions = 8;

    /// <summary>Radius of the ring around a key site, as a fraction of the camera range.</summary>
    public const double RingFraction = 0.6;

    /// <summary>
    /// Around each key site (its interior point): 8 positions on a ring at 0.6 · range at grid bearings 0°, 45°, …,
    /// each aimed at the site (true azimuth, corrected for meridian convergence at the position), then the site itself
    /// with the true azimuths 0°, 45°, …, 315°. Along the grids: points every <paramref name="stepM"/> along each
    /// boundary ring, then the points of a global square lattice of <paramref name="stepM"/> strictly inside each grid,
    /// each with the true azimuths 0°, 45°, …, 315°; a grid position closer than step / 2 to an earlier one is dropped
    /// (shared borders are walked by both neighbours). When grids are given, key-site positions outside the region
    /// (the union of the grids; borders count as inside) are dropped; without grids nothing restricts them.
    /// </summary>
    public static List<PlacementCandidate> Generate(
        IEnumerable<(string Code, Geometry Metric)> keySites,
        IEnumerable<(string Code, Geometry Metric)> grids,
        CameraModel model,
        double stepM,
        LocalProjection projection)
    {
        ArgumentNullException.ThrowIfNull(keySites);
        ArgumentNullException.ThrowIfNull(grids);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(projection);
        model.Validate();
        if (!(stepM > 0) || !double.IsFinite(stepM))
        {
            throw new ArgumentOutOfRangeException(nameof(stepM), stepM, "The step must be a positive finite number of metres.");
        }

        var gridList = grids
            .Where(g => g.Metric is not null && !g.Metric.IsEmpty && g.Metric.Dimension == Dimension.Surface)
            .ToList();
        var region = gridList.Count > 0 ? new RegionLocator(gridList.Select(g => g.Metric)) : null;
        var result = new List<PlacementCandidate>();

        double ring = RingFraction * model.RangeM;
        foreach (var (code, metric) in keySites)
        {
            ArgumentException.ThrowIfNullOrEmpty(code);
            if (metric is null || metric.IsEmpty)
            {
                continue;
            }

            string source = "key-site:" + code;
            var site = metric is Point p ? p.Coordinate : metric.InteriorPoint.Coordinate;
            for (int d = 0; d < Directions; d++)
            {
                double bearing = d * (360.0 / Directions) * Math.PI / 180.0;
                double x = site.X + (ring * Math.Sin(bearing));
                double y = site.Y + (ring * Math.Cos(bearing));
                if (region is not null && !region.Contains(x, y))
                {
                    continue;
                }

                // Grid bearing from the position back to the site, turned into a true azimuth at the position.
                double gridBearing = Math.Atan2(site.X - x, site.Y - y) * 180.0 / Math.PI;
                var (lon, lat) = projection.Unproject(x, y);
                double azimuth = Normalize(gridBearing - projection.ConvergenceDegrees(lon, lat));
                result.Add(new PlacementCandidate(x, y, azimuth, source));
            }

            if (region is null || region.Contains(site.X, site.Y))
            {
                AddAllAzimuths(result, site.X, site.Y, source);
            }
        }

        var positions = new PositionSet(stepM / 2.0);
        foreach (var (code, metric) in gridList)
        {
            string source = "grid:" + code;
            WalkBoundary(metric, stepM, (x, y) =>
            {
                if (positions.TryAdd(x, y))
                {
                    AddAllAzimuths(result, x, y, source);
                }
            });
        }

        foreach (var (code, metric) in gridList)
        {
            string source = "grid:" + code;
            var locator = new IndexedPointInAreaLocator(metric);
            var envelope = metric.EnvelopeInternal;
            long i0 = (long)Math.Ceiling((envelope.MinX / stepM) - 0.5);
            long i1 = (long)Math.Floor((envelope.MaxX / stepM) - 0.5);
            long j0 = (long)Math.Ceiling((envelope.MinY / stepM) - 0.5);
            long j1 = (long)Math.Floor((envelope.MaxY / stepM) - 0.5);
            var coordinate = new Coordinate();
            for (long j = j0; j <= j1; j++)
            {
                for (long i = i0; i <= i1; i++)
                {
                    coordinate.X = (i + 0.5) * stepM;
                    coordinate.Y = (j + 0.5) * stepM;
                    if (locator.Locate(coordinate) == Location.Interior && positions.TryAdd(coordinate.X, coordinate.Y))
                    {
                        AddAllAzimuths(result, coordinate.X, coordinate.Y, source);
                    }
                }
            }
        }

        return result;
    }

    private static void AddAllAzimuths(List<PlacementCandidate> result, double x, double y, string source)
    {
        for (int d = 0; d < Directions; d++)
        {
            result.Add(new PlacementCandidate(x, y, d * (360.0 / Directions), source));
        }
    }

    /// <summary>Calls <paramref name="emit"/> at every ring's start and then every <paramref name="step"/> along it.</summary>
    private static void WalkBoundary(Geometry geometry, double step, Action<double, double> emit)
    {
        for (int g = 0; g < geometry.NumGeometries; g++)
        {
            if (geometry.GetGeometryN(g) is not Polygon polygon)
            {
                continue;
            }

            WalkRing(polygon.ExteriorRing.Coordinates, step, emit);
            foreach (var hole in polygon.InteriorRings)
            {
                WalkRing(hole.Coordinates, step, emit);
            }
        }
    }

    private static void WalkRing(Coordinate[] ring, double step, Action<double, double> emit)
    {
        if (ring.Length == 0)
        {
            return;
        }

        emit(ring[0].X, ring[0].Y);
        double next = step; // distance from the current segment's start to the next point
        for (int s = 0; s + 1 < ring.Length; s++)
        {
            var a = ring[s];
            var b = ring[s + 1];
            double length = a.Distance(b);
            double t = next;
            while (t <= length)
            {
                double f = t / length;
                emit(a.X + ((b.X - a.X) * f), a.Y + ((b.Y - a.Y) * f));
                t += step;
            }

            next = t - length;
        }
    }

    private static double Normalize(double degrees)
    {
        double d = degrees % 360.0;
        return d < 0 ? d + 360.0 : d;
    }

    /// <summary>Point-in-region test against the union of polygons (borders inside), without computing the union.</summary>
    private sealed class RegionLocator
    {
        private readonly STRtree<IPointOnGeometryLocator> _tree = new();

        public RegionLocator(IEnumerable<Geometry> polygons)
        {
            foreach (var polygon in polygons)
            {
                var locator = new IndexedPointInAreaLocator(polygon);
                _tree.Insert(polygon.EnvelopeInternal, locator);
            }

            _tree.Build();
        }

        public bool Contains(double x, double y)
        {
            var coordinate = new Coordinate(x, y);
            foreach (var locator in _tree.Query(new Envelope(coordinate)))
            {
                if (locator.Locate(coordinate) != Location.Exterior)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Positions kept so far, hashed by cells of the minimum separation.</summary>
    private sealed class PositionSet(double minSeparation)
    {
        private readonly Dictionary<(long, long), List<(double X, double Y)>> _cells = [];
        private readonly double _separationSquared = minSeparation * minSeparation;

        /// <summary>Adds the position unless a kept one lies closer than the minimum separation.</summary>
        public bool TryAdd(double x, double y)
        {
            long cx = (long)Math.Floor(x / minSeparation);
            long cy = (long)Math.Floor(y / minSeparation);
            for (long j = cy - 1; j <= cy + 1; j++)
            {
                for (long i = cx - 1; i <= cx + 1; i++)
                {
                    if (!_cells.TryGetValue((i, j), out var kept))
                    {
                        continue;
                    }

                    foreach (var (kx, ky) in kept)
                    {
                        double dx = kx - x;
                        double dy = ky - y;
                        if ((dx * dx) + (dy * dy) < _separationSquared)
                        {
                            return false;
                        }
                    }
                }
            }

            if (!_cells.TryGetValue((cx, cy), out var list))
            {
                list = [];
                _cells[(cx, cy)] = list;
            }

            list.Add((x, y));
            return true;
        }
    }
}
