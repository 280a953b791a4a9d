using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace SharpEyes.Gateway.Cli;

/// <summary>How the CLI prints messages and times, the same in every command.</summary>
internal static class CliText
{
    /// <summary>A whole message as indented protobuf JSON (field names as in the API reference).</summary>
    public static readonly JsonFormatter IndentedJson = new(JsonFormatter.Settings.Default.WithIndentation());

    /// <summary>A UTC time to the second (2026-12-03T06:01:10Z), or "-" when there is none.</summary>
    public static string Time(Timestamp? t) =>
        t is null ? "-" : t.ToDateTimeOffset().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}
