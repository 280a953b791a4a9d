using NetTopologySuite.Algorithm;
using NetTopologySuite.Algorithm.Locate;
using NetTopologySuite.Geometries;

namespace SharpEyes.Geo.Coverage;

/// <summary>
/// A fast "do these two polygonal geometries intersect (touching counts)" for a small polygon (a wedge) against a
/// region, with robust orientation tests: their boundaries meet, or a point of one lies in the other.
/// Allocation-free apart from the point locator; safe to call from any thread.
/// </summary>
internal static class Touch
{
    public static bool Intersects(Polygon small, Geometry region)
    {
        if (small.IsEmpty || region.IsEmpty)
        {
            return false;
        }

        var smallEnvelope = small.EnvelopeInternal;
        if (!smallEnvelope.Intersects(region.EnvelopeInternal))
        {
            return false;
        }

        var smallRing = small.ExteriorRing.CoordinateSequence;
        for (int g = 0; g < region.NumGeometries; g++)
        {
            if (region.GetGeometryN(g) is not Polygon polygon || polygon.IsEmpty)
            {
                continue;
            }

            if (BoundariesMeet(smallRing, smallEnvelope, polygon.ExteriorRing.CoordinateSequence))
            {
                return true;
            }

            for (int h = 0; h < polygon.NumInteriorRings; h++)
            {
                if (BoundariesMeet(smallRing, smallEnvelope, polygon.GetInteriorRingN(h).CoordinateSequence))
                {
                    return true;
                }
            }

            // Boundaries apart: this part lies inside the small polygon, or not at all.
            if (SimplePointInAreaLocator.Locate(polygon.ExteriorRing.GetCoordinateN(0), small) != Location.Exterior)
            {
                return true;
            }
        }

        // Boundaries apart and no part inside it: the small polygon lies inside the region, or outside it.
        return SimplePointInAreaLocator.Locate(smallRing.GetCoordinate(0), region) != Location.Exterior;
    }

    private static bool BoundariesMeet(CoordinateSequence small, Envelope smallEnvelope, CoordinateSequence ring)
    {
        int n = ring.Count;
        int m = small.Count;
        var q1 = new Coordinate();
        var q2 = new Coordinate();
        var p1 = new Coordinate();
        var p2 = new Coordinate();
        for (int j = 1; j < n; j++)
        {
            double ax = ring.GetX(j - 1), ay = ring.GetY(j - 1), bx = ring.GetX(j), by = ring.GetY(j);
            if (Math.Max(ax, bx) < smallEnvelope.MinX || Math.Min(ax, bx) > smallEnvelope.MaxX
                || Math.Max(ay, by) < smallEnvelope.MinY || Math.Min(ay, by) > smallEnvelope.MaxY)
            {
                continue;
            }

            q1.X = ax;
            q1.Y = ay;
            q2.X = bx;
            q2.Y = by;
            for (int i = 1; i < m; i++)
            {
                double cx = small.GetX(i - 1), cy = small.GetY(i - 1), dx = small.GetX(i), dy = small.GetY(i);
                if (Math.Max(cx, dx) < Math.Min(ax, bx) || Math.Min(cx, dx) > Math.Max(ax, bx)
                    || Math.Max(cy, dy) < Math.Min(ay, by) || Math.Min(cy, dy) > Math.Max(ay, by))
                {
                    continue;
                }

                p1.X = cx;
                p1.Y = cy;
                p2.X = dx;
                p2.Y = dy;
                int o1 = (int)Orientation.Index(q1, q2, p1);
                int o2 = (int)Orientation.Index(q1, q2, p2);
                int o3 = (int)Orientation.Index(p1, p2, q1);
                int o4 = (int)Orientation.Index(p1, p2, q2);

                // Proper or touching crossing; when all four are collinear, the envelope test above found an overlap.
                if (o1 * o2 <= 0 && o3 * o4 <= 0)
                {
                    return true;
                }
            }
        }

        return false;
    }
}
