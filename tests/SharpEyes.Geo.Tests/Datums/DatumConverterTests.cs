using NetTopologySuite.Geometries;
using SharpEyes.Geo.Datums;

namespace SharpEyes.Geo.Tests.Datums;

public sealed class DatumConverterTests
{
    private const double Exact = 1e-9;

    [Fact]
    public void PublicVectorWgs84ToGcj02()
    {
        var (lon, lat) = DatumConverter.Wgs84ToGcj02(116.404, 39.915);
        Assert.Equal(116.41024449916938, lon, Exact);
        Assert.Equal(39.91640428150164, lat, Exact);
    }

    [Fact]
    public void PublicVectorGcj02ToBd09()
    {
        var (lon, lat) = DatumConverter.Gcj02ToBd09(116.404, 39.915);
        Assert.Equal(116.41036949371029, lon, Exact);
        Assert.Equal(39.92133699351021, lat, Exact);
    }

    [Fact]
    public void PublicVectorBd09ToGcj02()
    {
        var (lon, lat) = DatumConverter.Bd09ToGcj02(116.404, 39.915);
        Assert.Equal(116.39762729119315, lon, Exact);
        Assert.Equal(39.90865673957631, lat, Exact);
    }

    [Theory]
    [InlineData(116.404, 39.915)]
    [InlineData(114.6107, 37.6057)]
    [InlineData(121.4737, 31.2304)]
    [InlineData(87.6168, 43.8256)]
    [InlineData(91.1409, 29.6456)]
    [InlineData(113.2644, 23.1291)]
    [InlineData(126.6424, 45.7567)]
    [InlineData(109.5119, 18.2528)]
    public void Gcj02InverseRoundTripsWithinAMillimetre(double lon, double lat)
    {
        var gcj = DatumConverter.Wgs84ToGcj02(lon, lat);
        var back = DatumConverter.Gcj02ToWgs84(gcj.Lon, gcj.Lat);

        // 1e-8° is about 1 mm; the requirement is 0.5 m (≈ 4.5e-6°).
        Assert.Equal(lon, back.Lon, 1e-8);
        Assert.Equal(lat, back.Lat, 1e-8);
        // And the offset really is there (hundreds of metres), so the round trip is not trivially the identity.
        Assert.True(Math.Abs(gcj.Lon - lon) + Math.Abs(gcj.Lat - lat) > 1e-3);
    }

    [Theory]
    [InlineData(116.404, 39.915)]
    [InlineData(114.6107, 37.6057)]
    [InlineData(100.0, 25.0)]
    public void Bd09RoundTripsThroughWgs84(double lon, double lat)
    {
        var bd = DatumConverter.FromWgs84(lon, lat, Datum.Bd09);
        var back = DatumConverter.ToWgs84(bd.Lon, bd.Lat, Datum.Bd09);
        // The published BD-09 → GCJ-02 formula is itself only an approximate inverse (≈ 1e-6°, about 0.1 m).
        Assert.Equal(lon, back.Lon, 2e-6);
        Assert.Equal(lat, back.Lat, 2e-6);
        var viaGcj = DatumConverter.Gcj02ToBd09(DatumConverter.Wgs84ToGcj02(lon, lat).Lon, DatumConverter.Wgs84ToGcj02(lon, lat).Lat);
        Assert.Equal(viaGcj, bd);
    }

    [Theory]
    [InlineData(2.3522, 48.8566)] // Paris
    [InlineData(139.6917, 35.6895)] // Tokyo: east of 137.8347
    [InlineData(72.0, 30.0)] // just west of the box
    [InlineData(100.0, 55.9)] // just north of the box
    [InlineData(100.0, 0.8)] // just south of the box
    [InlineData(-74.006, 40.7128)] // New York
    public void OutsideChinaIsUnchanged(double lon, double lat)
    {
        Assert.True(DatumConverter.IsOutsideChina(lon, lat));
        Assert.Equal((lon, lat), DatumConverter.Wgs84ToGcj02(lon, lat));
        Assert.Equal((lon, lat), DatumConverter.Gcj02ToWgs84(lon, lat));
        Assert.Equal((lon, lat), DatumConverter.ToWgs84(lon, lat, Datum.Gcj02));
    }

    [Theory]
    [InlineData(72.004, 30.0, false)]
    [InlineData(137.8347, 30.0, false)]
    [InlineData(100.0, 0.8293, false)]
    [InlineData(100.0, 55.8271, false)]
    [InlineData(72.0039, 30.0, true)]
    [InlineData(137.8348, 30.0, true)]
    [InlineData(100.0, 0.8292, true)]
    [InlineData(100.0, 55.8272, true)]
    public void ChinaBoxEdgesAreInclusive(double lon, double lat, bool outside)
    {
        Assert.Equal(outside, DatumConverter.IsOutsideChina(lon, lat));
    }

    [Fact]
    public void WgsIsIdentity()
    {
        Assert.Equal((116.404, 39.915), DatumConverter.ToWgs84(116.404, 39.915, Datum.Wgs84));
        Assert.Equal((116.404, 39.915), DatumConverter.FromWgs84(116.404, 39.915, Datum.Wgs84));
    }

    [Fact]
    public void GeometryConversionTransformsEveryCoordinateOfACopy()
    {
        var factory = new GeometryFactory(new PrecisionModel(), 4326);
        var shell = factory.CreateLinearRing(
        [
            new Coordinate(114.60, 37.60), new Coordinate(114.61, 37.60), new Coordinate(114.61, 37.61),
            new Coordinate(114.60, 37.61), new Coordinate(114.60, 37.60),
        ]);
        var hole = factory.CreateLinearRing(
        [
            new Coordinate(114.603, 37.603), new Coordinate(114.603, 37.606), new Coordinate(114.606, 37.606),
            new Coordinate(114.603, 37.603),
        ]);
        var polygon = factory.CreatePolygon(shell, [hole]);
        var original = polygon.Copy();

        var converted = DatumConverter.ToWgs84(polygon, Datum.Gcj02);

        Assert.True(polygon.EqualsExact(original), "the input must not be modified");
        Assert.Equal(polygon.NumPoints, converted.NumPoints);
        for (int i = 0; i < polygon.NumPoints; i++)
        {
            var expected = DatumConverter.Gcj02ToWgs84(polygon.Coordinates[i].X, polygon.Coordinates[i].Y);
            Assert.Equal(expected.Lon, converted.Coordinates[i].X, Exact);
            Assert.Equal(expected.Lat, converted.Coordinates[i].Y, Exact);
        }

        Assert.Equal(polygon.EnvelopeInternal.Width, converted.EnvelopeInternal.Width, 1e-5);
        Assert.NotEqual(polygon.EnvelopeInternal.MinX, converted.EnvelopeInternal.MinX);
    }
}
