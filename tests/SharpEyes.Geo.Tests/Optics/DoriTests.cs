using SharpEyes.Geo.Optics;

namespace SharpEyes.Geo.Tests.Optics;

public sealed class DoriTests
{
    [Fact]
    public void HorizontalFovOfTheDomainExample()
    {
        Assert.Equal(69.98, Dori.HorizontalFovDegrees(4, 5.6), 0.005);
    }

    [Theory]
    [InlineData(DoriLevel.Detection, 54.9)]
    [InlineData(DoriLevel.Observation, 21.9)]
    [InlineData(DoriLevel.Recognition, 11.0)]
    [InlineData(DoriLevel.Identification, 5.5)]
    public void MaxDistanceOfTheDomainExample(DoriLevel level, double expectedMeters)
    {
        Assert.Equal(expectedMeters, Dori.MaxDistanceMeters(4, 5.6, 1920, level), 0.05);
    }

    [Theory]
    [InlineData(DoriLevel.Detection, 25)]
    [InlineData(DoriLevel.Observation, 62.5)]
    [InlineData(DoriLevel.Recognition, 125)]
    [InlineData(DoriLevel.Identification, 250)]
    public void PixelDensities(DoriLevel level, double pxPerMeter)
    {
        Assert.Equal(pxPerMeter, Dori.PixelsPerMeter(level));
        // At D_max the scene width covered by the sensor gives exactly the required density.
        double d = Dori.MaxDistanceMeters(8, 6.4, 2560, level);
        double sceneWidth = 2 * d * Math.Tan(Dori.HorizontalFovDegrees(8, 6.4) / 2 * Math.PI / 180);
        Assert.Equal(pxPerMeter, 2560 / sceneWidth, 1e-9);
    }

    [Fact]
    public void LongerLensNarrowsTheViewAndExtendsTheRange()
    {
        Assert.True(Dori.HorizontalFovDegrees(12, 5.6) < Dori.HorizontalFovDegrees(4, 5.6));
        Assert.Equal(3 * Dori.MaxDistanceMeters(4, 5.6, 1920, DoriLevel.Recognition), Dori.MaxDistanceMeters(12, 5.6, 1920, DoriLevel.Recognition), 1e-9);
    }

    [Fact]
    public void RejectsNonPositiveInputs()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Dori.HorizontalFovDegrees(0, 5.6));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dori.MaxDistanceMeters(4, 5.6, 0, DoriLevel.Detection));
    }
}
