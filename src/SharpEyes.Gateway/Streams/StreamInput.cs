using System.Text;
using SharpEyes.Gateway.Storage;

namespace SharpEyes.Gateway.Streams;

/// <summary>
/// What an ffprobe or ffmpeg run is told to open. A URL without credentials is given as it is. A URL with credentials
/// is written to an ffconcat script — <c>file '&lt;url&gt;'</c> and one <c>option</c> line per input option (the concat
/// demuxer opens the inner input with them) — created with mode 0600 in a 0700 directory and deleted on
/// <see cref="Dispose"/>; the command line then names only the script, with <c>-f concat -safe 0</c> and a protocol
/// whitelist limited to the file itself and RTSP (with what RTSP runs over), so the script can open nothing else.
/// Checked with Debian 12's ffmpeg 5.1: the same codec, size and frame rate as the direct URL, in the same time.
/// </summary>
internal sealed class StreamInput : IDisposable
{
    public const string ScriptExtension = ".ffconcat";
    private const string ProtocolWhitelist = "file,rtsp,rtsps,tcp,udp,rtp,tls";

    /// <summary>Options of the input as a whole, which the concat demuxer takes for itself (the others would be unknown to it).</summary>
    private static readonly HashSet<string> OuterOptions = new(StringComparer.Ordinal) { "analyzeduration", "probesize" };

    private readonly string? _script;

    private StreamInput(string path, string arguments, string? script)
    {
        Path = path;
        Arguments = arguments;
        _script = script;
    }

    /// <summary>The URL, or the script's path: what ffprobe analyses, or ffmpeg's <c>-i</c>.</summary>
    public string Path { get; }

    /// <summary>True when <see cref="Path"/> is a script (the URL carries credentials), false when it is the URL itself.</summary>
    public bool IsScript => _script is not null;

    /// <summary>The input options for the command line (before <c>-i</c> for ffmpeg); never a credential.</summary>
    public string Arguments { get; }

    /// <param name="options">Input options (name without the dash, value), e.g. rtsp_transport tcp.</param>
    public static StreamInput For(Uri url, string directory, IReadOnlyList<(string Name, string Value)> options)
    {
        if (!RtspCredentials.HasCredentials(url))
        {
            return new StreamInput(url.AbsoluteUri, string.Join(' ', options.Select(o => $"-{o.Name} {o.Value}")), null);
        }

        PrivateFiles.CreateDirectory(directory);
        var script = System.IO.Path.Combine(directory, Guid.NewGuid().ToString("N") + ScriptExtension);
        var text = new StringBuilder("ffconcat version 1.0\n");
        text.Append("file ").Append(Quote(url.AbsoluteUri)).Append('\n');
        foreach (var (name, value) in options)
        {
            text.Append("option ").Append(name).Append(' ').Append(Quote(value)).Append('\n');
        }

        using (var stream = PrivateFiles.Create(script, FileMode.CreateNew))
        {
            stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
        }

        var outer = string.Join(' ', options.Where(o => OuterOptions.Contains(o.Name)).Select(o => $"-{o.Name} {o.Value}"));
        return new StreamInput(script, $"-f concat -safe 0 -protocol_whitelist {ProtocolWhitelist} {outer}".TrimEnd(), script);
    }

    /// <summary>Deletes scripts a killed gateway left behind: they hold credentials.</summary>
    public static void DeleteLeftovers(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }

        foreach (var file in Directory.EnumerateFiles(directory, "*" + ScriptExtension))
        {
            File.Delete(file);
        }
    }

    public void Dispose()
    {
        if (_script is not null)
        {
            File.Delete(_script);
        }
    }

    /// <summary>A token of an ffconcat script: single-quoted, a quote inside closed, escaped and reopened.</summary>
    private static string Quote(string value) => "'" + value.Replace("'", @"'\''", StringComparison.Ordinal) + "'";
}
