using System.Text.Json;
using SharpEyes.Gateway.Tests.Geography;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Interop;

/// <summary>
/// A grpc-js planner imports a file with 5,000 bad features (long non-ASCII codes): it gets INVALID_ARGUMENT with the
/// total, not a deadline (Node refuses a header block above 64 KiB, so a trailer listing every error used to hang the
/// call), and its validate-only request returns every error. The script is tests/node/interop/grpc-import-errors.mjs.
/// </summary>
public sealed class NodeImportErrorsTests
{
    [Fact]
    public async Task A_grpc_js_client_gets_invalid_argument_with_the_total_and_validate_only_lists_every_error()
    {
        var node = InteropPaths.RequireNode();
        await using var host = await GatewayHost.StartAsync(demo: false);
        var planner = await host.CreateKeyAsync(Role.Planner);
        var file = Path.Combine(host.DataDir, "bad-grids.geojson");
        await File.WriteAllTextAsync(file, ImportErrorLimitTests.BadGrids(ImportErrorLimitTests.BadFeatures, hostile: true));

        var run = await ExternalTool.RunAsync(node,
            [Path.Combine(InteropPaths.NodeInteropDirectory, "grpc-import-errors.mjs"), $"127.0.0.1:{host.GrpcPort}", planner, file],
            TimeSpan.FromSeconds(60), InteropPaths.NodeDirectory);

        Assert.True(run.ExitCode == 0, $"grpc-import-errors.mjs failed: {run}");
        using var summary = JsonDocument.Parse(run.Stdout);
        var rejection = summary.RootElement.GetProperty("rejection");
        Assert.Equal("INVALID_ARGUMENT", rejection.GetProperty("code").GetString());
        Assert.StartsWith("rejected, nothing imported: 10,000 errors in 5,000 features; the first ", rejection.GetProperty("details").GetString(), StringComparison.Ordinal);
        Assert.Equal("10000", rejection.GetProperty("errorsTotal").GetString());
        var listed = rejection.GetProperty("listed").EnumerateArray().ToList();
        Assert.InRange(listed.Count, 2, 50);
        Assert.StartsWith("130127村", listed[0].GetProperty("Code").GetString(), StringComparison.Ordinal);

        var report = summary.RootElement.GetProperty("report");
        Assert.Equal("OK", report.GetProperty("code").GetString());
        var errors = report.GetProperty("errors").EnumerateArray().Select(e => (Index: e[0].GetInt32(), Reason: e[1].GetString())).ToList();
        Assert.Equal(2 * ImportErrorLimitTests.BadFeatures, errors.Count);
        Assert.Equal(Enumerable.Range(0, ImportErrorLimitTests.BadFeatures), errors.Select(e => e.Index).Distinct());
        Assert.Equal(["invalid-geometry", "invalid-property"], errors.Select(e => e.Reason).Distinct().Order(StringComparer.Ordinal));
    }
}
