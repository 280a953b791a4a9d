using System.Globalization;

namespace SharpEyes.Bench.Gateway;

/// <summary>The gateway's /metrics (Prometheus text exposition) read into "name{labels}" → value.</summary>
internal static class MetricsScrape
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    public static async Task<Dictionary<string, double>> ReadAsync(int httpPort, CancellationToken ct)
    {
        var text = await Http.GetStringAsync(new Uri($"http://127.0.0.1:{httpPort}/metrics"), ct);
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var space = line.LastIndexOf(' ');
            if (line.Length > 0 && line[0] != '#' && space > 0
                && double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                values[line[..space]] = value;
            }
        }

        return values;
    }
}
