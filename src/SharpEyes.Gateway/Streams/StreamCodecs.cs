namespace SharpEyes.Gateway.Streams;

/// <summary>One name per video codec, whether it came from a vendor, an SDP rtpmap or ffprobe's codec_name.</summary>
public static class StreamCodecs
{
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["h264"] = "H.264", ["h.264"] = "H.264", ["avc"] = "H.264", ["avc1"] = "H.264",
        ["h265"] = "H.265", ["h.265"] = "H.265", ["hevc"] = "H.265", ["hvc1"] = "H.265", ["hev1"] = "H.265",
        ["mjpeg"] = "MJPEG", ["mjpg"] = "MJPEG", ["jpeg"] = "MJPEG",
        ["mpeg4"] = "MPEG-4", ["mpeg-4"] = "MPEG-4", ["mp4v"] = "MPEG-4", ["mp4v-es"] = "MPEG-4",
        ["svac"] = "SVAC",
    };

    public static IEnumerable<string> Known => Aliases.Values.Distinct(StringComparer.Ordinal);

    /// <summary>The canonical name, or null for a codec this gateway does not know.</summary>
    public static string? Normalize(string? codec) =>
        codec is not null && Aliases.TryGetValue(codec.Trim(), out var name) ? name : null;

    /// <summary>The canonical name when known, else the name as given, upper-case (a measurement is reported as found).</summary>
    public static string NormalizeMeasured(string codec) => Normalize(codec) ?? codec.ToUpperInvariant();
}
