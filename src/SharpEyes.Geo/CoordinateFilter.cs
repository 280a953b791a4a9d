using NetTopologySuite.Geometries;

namespace SharpEyes.Geo;

/// <summary>Applies a (x, y) → (x, y) function to every coordinate of a geometry in place (Z/M are kept).</summary>
internal sealed class CoordinateFilter(Func<double, double, (double X, double Y)> transform) : IEntireCoordinateSequenceFilter
{
    private readonly Func<double, double, (double X, double Y)> _transform = transform;

    public bool Done => false;

    public bool GeometryChanged => true;

    public void Filter(CoordinateSequence seq)
    {
        for (int i = 0; i < seq.Count; i++)
        {
            var (x, y) = _transform(seq.GetX(i), seq.GetY(i));
            seq.SetX(i, x);
            seq.SetY(i, y);
        }
    }
}
