using System.Globalization;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using SharpEyes.Gateway.Cli;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;
using Microsoft.Extensions.DependencyInjection;

namespace SharpEyes.Gateway.Tests.Geography;

/// <summary>
/// A rejected import with thousands of errors: the answer lists the first Limits:ImportErrorsListed of them and the
/// total, in a message and trailer far below HTTP/2's 64 KiB header limit whatever the features contain; the full
/// list comes from a validate-only request (<c>sharpeyes geo validate FILE</c>).
/// </summary>
public sealed class ImportErrorLimitTests
{
    public const int BadFeatures = 5_000;

    /// <summary>
    /// <paramref name="count"/> grid features with two errors each: a missing name and a self-intersecting polygon, or
    /// (<paramref name="hostile"/>) an invalid code of ~600 non-ASCII characters, repeated in its error message.
    /// </summary>
    public static string BadGrids(int count, bool hostile = false)
    {
        var filler = new string('村', 600);
        var features = Enumerable.Range(0, count).Select(i => FormattableString.Invariant($$$"""
            {"type":"Feature","properties":{{{(hostile ? $$"""{"code":"130127{{filler}}{{i}}","name":"名{{filler}}"}""" : $$"""{"code":"{{1301271000000 + i}}"}""")}}},"geometry":{"type":"Polygon","coordinates":[[[114.5,37.5],[114.6,37.6],[114.6,37.5],[114.5,37.6],[114.5,37.5]]]}}
            """));
        return $$"""{"type":"FeatureCollection","features":[{{string.Join(",", features)}}]}""";
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Five_thousand_bad_features_are_rejected_with_the_first_errors_and_the_total_in_a_small_answer(bool hostile)
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var geo = new V1.Geography.GeographyClient(host.Channel);

        var e = await Assert.ThrowsAsync<RpcException>(() => geo.ImportGridsAsync(
            new ImportGeoJsonRequest { Geojson = BadGrids(BadFeatures, hostile), Datum = Datum.Wgs84 }, host.AdminAuth,
            deadline: DateTime.UtcNow.AddSeconds(60)).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("10000", e.Trailers.GetValue("feature-errors-total"));
        var listed = JsonDocument.Parse(e.Trailers.GetValueBytes("feature-errors-bin")!).RootElement.EnumerateArray().ToList();
        // Ordinary errors: the first Limits:ImportErrorsListed (50). Hostile ones: as many as fit the byte budget.
        Assert.InRange(listed.Count, hostile ? 2 : 50, 50);
        Assert.StartsWith($"rejected, nothing imported: 10,000 errors in 5,000 features; the first {listed.Count}: feature 0 (", e.Status.Detail, StringComparison.Ordinal);
        Assert.EndsWith("; validate_only lists every error (CLI: sharpeyes geo validate FILE)", e.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(listed.Count, e.Status.Detail.Split("; feature ").Length);
        Assert.Equal(Enumerable.Range(0, listed.Count).Select(i => i / 2), listed.Select(x => x.GetProperty("FeatureIndex").GetInt32()));
        Assert.All(listed, x => Assert.InRange(x.GetProperty("Message").GetString()!.Length, 10, 300));
        // What crossed the wire as trailers: the status message percent-encoded, the binary trailer base64-encoded.
        var trailerBytes = PercentEncoded(e.Status.Detail).Length + Base64Length(e.Trailers.GetValueBytes("feature-errors-bin")!.Length);
        TestContext.Current.TestOutputHelper?.WriteLine($"{listed.Count} errors listed; trailers of {trailerBytes} bytes on the wire");
        Assert.True(trailerBytes < 24 * 1024, $"trailers of {trailerBytes} bytes");
        Assert.Empty((await geo.ListGridsAsync(new ListGridsRequest(), host.AdminAuth)).Grids);
        Assert.Equal(1, host.Services.GetRequiredService<ClientRefusals>()["import-errors-listed"]);
    }

    [Fact]
    public async Task The_cli_import_names_the_total_and_geo_validate_prints_every_error()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var file = Path.Combine(host.DataDir, "bad-grids.geojson");
        await File.WriteAllTextAsync(file, BadGrids(BadFeatures, hostile: true));
        string[] client = ["--server", $"http://127.0.0.1:{host.GrpcPort}", "--key", host.AdminKey];

        var (importCode, _, importErr) = await RunCliAsync(["geo", "import-grids", file, .. client]);
        var (validateCode, validateOut, validateErr) = await RunCliAsync(["geo", "validate", file, .. client]);

        Assert.Equal(1, importCode);
        Assert.Matches("^error: InvalidArgument: rejected, nothing imported: 10,000 errors in 5,000 features; the first [0-9]+: feature 0 \\(130127村", importErr);
        Assert.Contains("sharpeyes geo validate", importErr, StringComparison.Ordinal);
        Assert.Equal(1, validateCode);
        var lines = validateOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2 * BadFeatures, lines.Length);
        Assert.Equal(Enumerable.Range(0, BadFeatures), lines.Select(l => int.Parse(l.Split('\t')[0], CultureInfo.InvariantCulture)).Distinct());
        Assert.All(lines, l => Assert.Matches("^[0-9]+\t130127村{58}…\\(6[01][0-9] chars\\)\t(invalid-property|invalid-geometry)\t", l));
        Assert.Contains("10,000 errors in 5,000 features", validateErr, StringComparison.Ordinal);
        Assert.Empty((await new V1.Geography.GeographyClient(host.Channel).ListGridsAsync(new ListGridsRequest(), host.AdminAuth)).Grids);
    }

    [Fact]
    public async Task A_validate_only_request_stores_nothing_and_says_how_many_features_a_good_file_would_import()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var geo = new V1.Geography.GeographyClient(host.Channel);
        const string good = """
            {"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"130127","name":"高邑县"},"geometry":{"type":"Polygon","coordinates":[[[114.5,37.5],[114.7,37.5],[114.7,37.7],[114.5,37.7],[114.5,37.5]]]}}]}
            """;

        var checkedOnly = await geo.ImportGridsAsync(new ImportGeoJsonRequest { Geojson = good, ValidateOnly = true }, host.AdminAuth);
        var bad = await geo.ImportGridsAsync(new ImportGeoJsonRequest { Geojson = "{oops", ValidateOnly = true }, host.AdminAuth);

        Assert.Equal(1, checkedOnly.Imported);
        Assert.Empty(checkedOnly.Errors);
        Assert.Empty((await geo.ListGridsAsync(new ListGridsRequest(), host.AdminAuth)).Grids);
        Assert.Equal(0, bad.Imported);
        Assert.Equal("invalid-json", Assert.Single(bad.Errors).Reason);
        Assert.Equal(-1, bad.Errors[0].FeatureIndex);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunCliAsync(string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await GatewayCli.RunAsync([.. args, "--timeout", "60"], stdout, stderr); // bounded: a test never waits for ever
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static int Base64Length(int bytes) => (bytes + 2) / 3 * 4;

    /// <summary>gRPC's percent-encoding of grpc-message: printable ASCII except '%' as is, every other UTF-8 byte as %XX.</summary>
    private static string PercentEncoded(string text)
    {
        var builder = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            builder.Append(b is >= 0x20 and <= 0x7E and not (byte)'%' ? ((char)b).ToString() : $"%{b:X2}");
        }

        return builder.ToString();
    }
}
