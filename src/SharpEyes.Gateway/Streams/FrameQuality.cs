namespace SharpEyes.Gateway.Streams;

/// <summary>Picture faults a frame grab can show.</summary>
public static class PictureFaults
{
    public const string NoSignal = "no-signal";
    public const string Black = "black";
    public const string Frozen = "frozen";
    public const string LowDetail = "low-detail";
}

/// <summary>Thresholds of the picture check, in grey levels of 8-bit luma.</summary>
public sealed record QualityThresholds(double BlackMaxLuma, double FrozenMaxMotion, double LowDetailMaxEdgeShare)
{
    /// <summary>A neighbouring pixel pair this far apart (grey levels) is an edge.</summary>
    public const int EdgeStep = 20;

    /// <summary>Pixels at or below this count as dark for <see cref="FrameVerdict.DarkFraction"/>.</summary>
    public double DarkPixel => BlackMaxLuma + 8;
}

public sealed record FrameVerdict(IReadOnlyList<string> Faults, double MeanLuma, double DarkFraction, double Detail, double Motion, int Frames)
{
    public bool Ok => Faults.Count == 0;
}

/// <summary>
/// The picture check on a few grey frames grabbed a second apart (downscaled by ffmpeg, so sensor noise and
/// compression artefacts are averaged away). A black picture is reported as black only (it is also still and flat):
/// <list type="bullet">
/// <item><b>black</b>: mean luma at or below the threshold (a lost signal or a lens cap; limited-range black is 16);</item>
/// <item><b>frozen</b>: consecutive frames differ by less than the motion threshold on average (the encoder repeats one
/// picture; a live scene always has some noise or a clock overlay);</item>
/// <item><b>low-detail</b>: almost no edges: the share of neighbouring pixel pairs that differ by at least
/// <see cref="QualityThresholds.EdgeStep"/> grey levels is below the threshold (blur, fog on the lens, a covered or defocused
/// lens, a uniform picture). A blurred picture still has gentle gradients, so the mean difference does not separate it
/// from a plain scene; sharp edges do. A black picture is reported as black only.</item>
/// </list>
/// </summary>
public static class FrameQuality
{
    public static FrameVerdict Analyse(IReadOnlyList<byte[]> frames, int width, int height, QualityThresholds t)
    {
        ArgumentOutOfRangeException.ThrowIfZero(frames.Count);
        foreach (var f in frames)
        {
            if (f.Length != width * height)
            {
                throw new ArgumentException($"a {width}x{height} grey frame has {width * height} bytes, got {f.Length}", nameof(frames));
            }
        }

        double luma = 0, dark = 0, detail = 0;
        foreach (var f in frames)
        {
            var (l, d) = LumaAndDark(f, t.DarkPixel);
            luma += l;
            dark += d;
            detail += EdgeShare(f, width, height);
        }

        luma /= frames.Count;
        dark /= frames.Count;
        detail /= frames.Count;
        double motion = 0;
        for (var i = 1; i < frames.Count; i++)
        {
            motion = Math.Max(motion, MeanAbsoluteDifference(frames[i - 1], frames[i]));
        }

        var faults = new List<string>();
        if (luma <= t.BlackMaxLuma)
        {
            faults.Add(PictureFaults.Black);
        }

        if (frames.Count > 1 && motion < t.FrozenMaxMotion && faults.Count == 0)
        {
            faults.Add(PictureFaults.Frozen);
        }

        if (detail < t.LowDetailMaxEdgeShare && !faults.Contains(PictureFaults.Black))
        {
            faults.Add(PictureFaults.LowDetail);
        }

        return new FrameVerdict(faults, Math.Round(luma, 3), Math.Round(dark, 4), Math.Round(detail, 5), Math.Round(motion, 3), frames.Count);
    }

    private static (double Mean, double DarkFraction) LumaAndDark(byte[] frame, double darkPixel)
    {
        long sum = 0;
        var darkCount = 0;
        foreach (var p in frame)
        {
            sum += p;
            if (p <= darkPixel)
            {
                darkCount++;
            }
        }

        return ((double)sum / frame.Length, (double)darkCount / frame.Length);
    }

    /// <summary>Share of right and lower neighbour pairs that differ by at least <see cref="QualityThresholds.EdgeStep"/>.</summary>
    private static double EdgeShare(byte[] f, int width, int height)
    {
        long edges = 0;
        long pairs = 0;
        for (var y = 0; y < height; y++)
        {
            var row = y * width;
            for (var x = 0; x < width; x++)
            {
                int here = f[row + x];
                if (x + 1 < width)
                {
                    edges += Math.Abs(f[row + x + 1] - here) >= QualityThresholds.EdgeStep ? 1 : 0;
                    pairs++;
                }

                if (y + 1 < height)
                {
                    edges += Math.Abs(f[row + width + x] - here) >= QualityThresholds.EdgeStep ? 1 : 0;
                    pairs++;
                }
            }
        }

        return pairs == 0 ? 0 : (double)edges / pairs;
    }

    private static double MeanAbsoluteDifference(byte[] a, byte[] b)
    {
        long sum = 0;
        for (var i = 0; i < a.Length; i++)
        {
            sum += Math.Abs(a[i] - b[i]);
        }

        return (double)sum / a.Length;
    }
}
