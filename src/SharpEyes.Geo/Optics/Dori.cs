namespace SharpEyes.Geo.Optics;

/// <summary>IEC 62676-4 pixel-density levels.</summary>
public enum DoriLevel
{
    /// <summary>25 px/m: a person can be detected.</summary>
    Detection,

    /// <summary>62.5 px/m: characteristic details (clothing) are visible.</summary>
    Observation,

    /// <summary>125 px/m: a known person can be recognised.</summary>
    Recognition,

    /// <summary>250 px/m: an unknown person can be identified.</summary>
    Identification,
}

/// <summary>Camera optics: field of view and DORI ranges for a pinhole camera model.</summary>
public static class Dori
{
    /// <summary>Pixels per metre needed at the target for <paramref name="level"/>.</summary>
    public static double PixelsPerMeter(DoriLevel level) => level switch
    {
        DoriLevel.Detection => 25.0,
        DoriLevel.Observation => 62.5,
        DoriLevel.Recognition => 125.0,
        DoriLevel.Identification => 250.0,
        _ => throw new ArgumentOutOfRangeException(nameof(level), level, "Unknown DORI level."),
    };

    /// <summary>HFOV = 2·atan(sensor width / (2·focal length)), in degrees.</summary>
    public static double HorizontalFovDegrees(double focalMm, double sensorWidthMm)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(focalMm);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sensorWidthMm);
        return 2.0 * Math.Atan(sensorWidthMm / (2.0 * focalMm)) * 180.0 / Math.PI;
    }

    /// <summary>D_max = focal length · horizontal pixels / (sensor width · px/m), in metres.</summary>
    public static double MaxDistanceMeters(double focalMm, double sensorWidthMm, int horizontalPixels, DoriLevel level)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(focalMm);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sensorWidthMm);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(horizontalPixels);
        return focalMm * horizontalPixels / (sensorWidthMm * PixelsPerMeter(level));
    }
}
