using System.Globalization;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>Reads the gateway's /metrics (Prometheus text format) into "name{labels}" → value.</summary>
public static class MetricsScrape
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public static async Task<Dictionary<string, double>> ReadAsync(int httpPort) => Parse(await TextAsync(httpPort));

    public static Task<string> TextAsync(int httpPort) => Http.GetStringAsync($"http://127.0.0.1:{httpPort}/metrics");

    public static async Task<(int Status, string Body)> HealthAsync(int httpPort)
    {
        using var response = await Http.GetAsync($"http://127.0.0.1:{httpPort}/healthz");
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public static Dictionary<string, double> Parse(string text)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            values[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }

        return values;
    }
}
