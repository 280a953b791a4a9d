using System.Globalization;

namespace SharpEyes.Gateway.Streams;

/// <summary>The first video stream of a session description (RFC 8866), as much of it as a liveness check reports.</summary>
internal static class Sdp
{
    /// <summary>Names of the static RTP payload types (RFC 3551) a camera may use without an a=rtpmap line.</summary>
    private static readonly Dictionary<string, string> StaticVideoTypes = new(StringComparer.Ordinal)
    {
        ["26"] = "JPEG", ["31"] = "H261", ["32"] = "MPV", ["34"] = "H263",
    };

    /// <summary>The first m=video section, or null when the description has none.</summary>
    public static SdpVideo? FirstVideo(string sdp)
    {
        var session = new List<string>();
        List<string>? video = null;
        string? payloadType = null;
        var inMedia = false;
        foreach (var raw in sdp.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("m=", StringComparison.Ordinal))
            {
                if (video is not null)
                {
                    break;
                }

                inMedia = true;
                var fields = line[2..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length >= 4 && fields[0] == "video")
                {
                    video = [];
                    payloadType = fields[3]; // the first format is the one a camera sends
                }
            }
            else if (line.StartsWith("a=", StringComparison.Ordinal))
            {
                (inMedia ? video : session)?.Add(line[2..]);
            }
        }

        if (video is null || payloadType is null)
        {
            return null;
        }

        var encoding = Value(video, "rtpmap:" + payloadType + " ")?.Split('/')[0].Trim().ToUpperInvariant()
            ?? StaticVideoTypes.GetValueOrDefault(payloadType)
            ?? "PT" + payloadType;
        var codec = StreamCodecs.NormalizeMeasured(encoding);
        var size = Size(video, payloadType) ?? SizeFromSps(codec, Fmtp(Value(video, "fmtp:" + payloadType + " ")));
        var rate = Rate(video) ?? Rate(session);
        return new SdpVideo(codec, encoding, size?.Width, size?.Height, rate);
    }

    /// <summary>The rest of the first attribute starting with <paramref name="prefix"/>.</summary>
    private static string? Value(List<string> attributes, string prefix) =>
        attributes.FirstOrDefault(a => a.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) is { } a ? a[prefix.Length..].Trim() : null;

    private static Dictionary<string, string> Fmtp(string? parameters)
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in (parameters ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal); // base64 values end in '=': split at the first
            if (eq > 0)
            {
                map.TryAdd(item[..eq].Trim(), item[(eq + 1)..].Trim());
            }
        }

        return map;
    }

    /// <summary>Sizes some cameras state outright: a=framesize:96 1920-1080 (3GPP) or a=x-dimensions:1920,1080.</summary>
    private static (int Width, int Height)? Size(List<string> video, string payloadType)
    {
        if (Value(video, "framesize:" + payloadType + " ") is { } framesize && Pair(framesize, '-') is { } fs)
        {
            return fs;
        }

        return Value(video, "x-dimensions:") is { } dimensions ? Pair(dimensions, ',') : null;
    }

    private static (int Width, int Height)? Pair(string text, char separator)
    {
        var parts = text.Split(separator, StringSplitOptions.TrimEntries);
        return parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var w)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var h)
            && w > 0 && h > 0 ? (w, h) : null;
    }

    private static (int Width, int Height)? SizeFromSps(string codec, Dictionary<string, string> fmtp)
    {
        if (codec == "H.264" && fmtp.TryGetValue("sprop-parameter-sets", out var sets))
        {
            // SPS and PPS in either order: the decoder rejects anything that is not an SPS.
            return sets.Split(',').Select(Base64).Select(nal => nal is null ? null : H26xSps.DecodeH264(nal)).FirstOrDefault(s => s is not null);
        }

        if (codec == "H.265" && fmtp.TryGetValue("sprop-sps", out var sps))
        {
            return sps.Split(',').Select(Base64).Select(nal => nal is null ? null : H26xSps.DecodeH265(nal)).FirstOrDefault(s => s is not null);
        }

        return null;
    }

    /// <summary>Decodes base64 leniently: some cameras drop the padding.</summary>
    private static byte[]? Base64(string text)
    {
        var s = text.Trim();
        s = s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
        try
        {
            return Convert.FromBase64String(s);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>a=framerate (RFC 8866) or the older a=x-framerate, when it is a plausible rate.</summary>
    private static double? Rate(List<string> attributes)
    {
        var text = Value(attributes, "framerate:") ?? Value(attributes, "x-framerate:");
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var fps) && fps is > 0 and <= 1000 ? fps : null;
    }
}
