using NetTopologySuite.Algorithm.Locate;
using NetTopologySuite.Geometries;

namespace SharpEyes.Geo.Coverage.Placement;

/// <summary>
/// Turns what must be seen (uncovered grid area, key sites) into weighted <see cref="DemandPoint"/>s in projection
/// metres. <c>workingCamerasAt(x, y)</c> is called with projection metres and returns how many working cameras
/// already see that point.
/// </summary>
public static class DemandSampler
{
    /// <summary>
    /// Uncovered grid area as demand points on one square lattice of <paramref name="spacingM"/> shared by all grids
    /// (points at ((i + ½)·s, (j + ½)·s), so neighbouring grids never sample the same spot twice). Only points strictly
    /// inside a polygon are produced; a point already seen by at least one working camera is skipped. Each point has
    /// weight <paramref name="areaWeightPerM2"/> · s², area s², Required 1, Current 0 and no site code.
    /// </summary>
    public static IEnumerable<DemandPoint> GridArea(
        IEnumerable<(string Code, Geometry Metric)> grids,
        double spacingM,
        double areaWeightPerM2,
        Func<double, double, int> workingCamerasAt)
    {
        ArgumentNullException.ThrowIfNull(grids);
        ArgumentNullException.ThrowIfNull(workingCamerasAt);
        CheckPositive(spacingM, nameof(spacingM));
        CheckPositive(areaWeightPerM2, nameof(areaWeightPerM2));
        return GridAreaCore(grids, spacingM, areaWeightPerM2, workingCamerasAt);
    }

    /// <summary>
    /// A key site as demand points. A point site (or an area site of zero area) gives one point carrying
    /// <paramref name="weight"/>; an area site gives the points of a square lattice centred on its envelope, with spacing
    /// min(<paramref name="spacingM"/>, √area / 4), that lie strictly inside it (its interior point if none does), each
    /// carrying an equal share of the weight and of the area. Required = <paramref name="requiredCameras"/>, Current =
    /// <c>workingCamerasAt</c> at the point; points already satisfied (Current ≥ Required) are dropped, after the shares
    /// are computed, so what remains is the uncovered part of the site.
    /// </summary>
    public static IEnumerable<DemandPoint> KeySite(
        string code,
        Geometry metric,
        double weight,
        int requiredCameras,
        double spacingM,
        Func<double, double, int> workingCamerasAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(code);
        ArgumentNullException.ThrowIfNull(metric);
        ArgumentNullException.ThrowIfNull(workingCamerasAt);
        CheckPositive(weight, nameof(weight));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(requiredCameras);
        CheckPositive(spacingM, nameof(spacingM));
        if (metric.IsEmpty)
        {
            throw new ArgumentException($"Key site '{code}' has an empty geometry.", nameof(metric));
        }

        return KeySiteCore(code, metric, weight, requiredCameras, spacingM, workingCamerasAt);
    }

    private static IEnumerable<DemandPoint> GridAreaCore(
        IEnumerable<(string Code, Geometry Metric)> grids,
        double spacing,
        double areaWeightPerM2,
        Func<double, double, int> workingCamerasAt)
    {
        double cellArea = spacing * spacing;
        double weight = areaWeightPerM2 * cellArea;
        foreach (var (_, metric) in grids)
        {
            if (metric is null || metric.IsEmpty || metric.Dimension != Dimension.Surface)
            {
                continue;
            }

            var locator = new IndexedPointInAreaLocator(metric);
            var envelope = metric.EnvelopeInternal;
            long i0 = (long)Math.Ceiling((envelope.MinX / spacing) - 0.5);
            long i1 = (long)Math.Floor((envelope.MaxX / spacing) - 0.5);
            long j0 = (long)Math.Ceiling((envelope.MinY / spacing) - 0.5);
            long j1 = (long)Math.Floor((envelope.MaxY / spacing) - 0.5);
            var coordinate = new Coordinate();
            for (long j = j0; j <= j1; j++)
            {
                double y = (j + 0.5) * spacing;
                for (long i = i0; i <= i1; i++)
                {
                    double x = (i + 0.5) * spacing;
                    coordinate.X = x;
                    coordinate.Y = y;
                    if (locator.Locate(coordinate) != Location.Interior || workingCamerasAt(x, y) > 0)
                    {
                        continue;
                    }

                    yield return new DemandPoint(x, y, weight, 1, 0, null, cellArea);
                }
            }
        }
    }

    private static IEnumerable<DemandPoint> KeySiteCore(
        string code,
        Geometry metric,
        double weight,
        int required,
        double spacingM,
        Func<double, double, int> workingCamerasAt)
    {
        double area = metric.Dimension == Dimension.Surface ? metric.Area : 0.0;
        if (area <= 0)
        {
            var p = metric is Point point ? point.Coordinate : metric.InteriorPoint.Coordinate;
            int current = workingCamerasAt(p.X, p.Y);
            if (current < required)
            {
                yield return new DemandPoint(p.X, p.Y, weight, required, current, code, 0.0);
            }

            yield break;
        }

        double spacing = Math.Min(spacingM, Math.Sqrt(area) / 4.0);
        var locator = new IndexedPointInAreaLocator(metric);
        var envelope = metric.EnvelopeInternal;
        int columns = Math.Max(1, (int)Math.Ceiling(envelope.Width / spacing));
        int rows = Math.Max(1, (int)Math.Ceiling(envelope.Height / spacing));
        double x0 = envelope.Centre.X - ((columns - 1) * spacing / 2.0);
        double y0 = envelope.Centre.Y - ((rows - 1) * spacing / 2.0);
        var inside = new List<(double X, double Y)>();
        var coordinate = new Coordinate();
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                coordinate.X = x0 + (c * spacing);
                coordinate.Y = y0 + (r * spacing);
                if (locator.Locate(coordinate) == Location.Interior)
                {
                    inside.Add((coordinate.X, coordinate.Y));
                }
            }
        }

        if (inside.Count == 0)
        {
            var p = metric.InteriorPoint.Coordinate;
            inside.Add((p.X, p.Y));
        }

        double shareWeight = weight / inside.Count;
        double shareArea = area / inside.Count;
        foreach (var (x, y) in inside)
        {
            int current = workingCamerasAt(x, y);
            if (current < required)
            {
                yield return new DemandPoint(x, y, shareWeight, required, current, code, shareArea);
            }
        }
    }

    private static void CheckPositive(double value, string name)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be a positive finite number.");
        }
    }
}
