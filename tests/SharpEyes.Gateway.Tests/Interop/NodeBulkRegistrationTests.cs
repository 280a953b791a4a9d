using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Interop;

/// <summary>
/// A bulk registration as a grpc-js vendor makes it, with grpc-js's default 4 MB receive limit: the answer carries the
/// counts and only the rejected devices, so 50,000 devices in one stream get a small answer (one result per device made
/// it 4.98 MB, and grpc-js failed with "Received message larger than max" after every device had been committed).
/// </summary>
public sealed class NodeBulkRegistrationTests : IAsyncLifetime
{
    private const int Devices = 50_000;

    private GatewayHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await GatewayHost.StartAsync();

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Fifty_thousand_devices_in_one_grpc_js_stream_get_a_small_answer_within_the_default_receive_limit()
    {
        var vendorKey = await _host.CreateKeyAsync(Role.Vendor, "vendor-bulk");

        var (answer, bytes) = await RegisterAsync(vendorKey, Devices, first: 0, county: "130127");

        Assert.Equal(Devices, answer.GetProperty("accepted").GetInt32());
        Assert.Equal(0, answer.GetProperty("rejected").GetInt32());
        Assert.Equal(Devices, answer.GetProperty("created").GetInt32());
        Assert.Equal(Devices, answer.GetProperty("changed").GetInt32());
        Assert.Equal(0, answer.GetProperty("rejectedResults").GetInt32());
        Assert.Equal(0, answer.GetProperty("rejectedNotListed").GetInt32());
        Assert.Equal(0, answer.GetProperty("results").GetInt32());
        // Counts only: a few bytes, against 4,194,304 allowed (one result per device was 1.58 MB here).
        Assert.InRange(bytes, 1, 64);
        Assert.Equal(Devices, _host.Services.GetRequiredService<DeviceCatalog>().All.Count(d => d.VendorId == "vendor-bulk"));
    }

    [Fact]
    public async Task Fifty_thousand_rejected_devices_are_counted_and_only_the_first_thousand_listed()
    {
        var vendorKey = await _host.CreateKeyAsync(Role.Vendor, "vendor-wrong-county");

        // 110101 is not a county this gateway serves: every device is rejected with an 80-character reason, which
        // made the old one-result-per-device answer 5.7 MB, over grpc-js's limit ("Received message larger than max").
        var (answer, bytes) = await RegisterAsync(vendorKey, Devices, first: 0, county: "110101");

        Assert.Equal(0, answer.GetProperty("accepted").GetInt32());
        Assert.Equal(Devices, answer.GetProperty("rejected").GetInt32());
        Assert.Equal(1_000, answer.GetProperty("rejectedResults").GetInt32()); // Limits:BulkRejectedResults
        Assert.Equal(Devices - 1_000, answer.GetProperty("rejectedNotListed").GetInt32());
        Assert.InRange(bytes, 1, 150_000);
        Assert.Equal(0, _host.Services.GetRequiredService<DeviceCatalog>().All.Count(d => d.VendorId == "vendor-wrong-county"));
    }

    private async Task<(JsonElement Answer, int Bytes)> RegisterAsync(string vendorKey, int count, int first, string county)
    {
        var node = InteropPaths.RequireNode();
        var run = await ExternalTool.RunAsync(node,
            [Path.Combine(InteropPaths.NodeInteropDirectory, "grpc-bulk.mjs"), $"127.0.0.1:{_host.GrpcPort}", vendorKey,
                count.ToString(CultureInfo.InvariantCulture), first.ToString(CultureInfo.InvariantCulture), county],
            TimeSpan.FromMinutes(3), InteropPaths.NodeDirectory);
        Assert.True(run.ExitCode == 0, $"grpc-bulk.mjs failed: {run}");
        var root = JsonDocument.Parse(run.Stdout).RootElement;
        Assert.False(root.TryGetProperty("error", out var error), $"grpc-js: {error}");
        TestContext.Current.TestOutputHelper?.WriteLine($"{count} devices ({county}): answer {root.GetProperty("answerBytes").GetInt32()} bytes in {root.GetProperty("elapsedMs").GetInt32()} ms");
        return (root.GetProperty("response"), root.GetProperty("answerBytes").GetInt32());
    }
}
