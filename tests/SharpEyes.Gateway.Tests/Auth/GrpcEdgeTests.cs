using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Auth;

/// <summary>
/// The gRPC edge against careless and hostile callers: request sizes (one limit per method, named when refused),
/// guessing keys (counted, then refused unchecked for a while), and bodies that a caller without a key sends anyway.
/// </summary>
public sealed class GrpcEdgeTests(ITestOutputHelper output)
{
    /// <summary>Every call here is bounded: a refused call must end by itself, and a test must never wait for ever.</summary>
    private static DateTime Deadline() => DateTime.UtcNow.AddSeconds(60);

    private static GrpcChannel BigChannel(int port) => GrpcChannel.ForAddress($"http://127.0.0.1:{port}",
        new GrpcChannelOptions { MaxSendMessageSize = null, MaxReceiveMessageSize = null });

    private static ImportGeoJsonRequest Import(int megabytes) => new()
    {
        // A FeatureCollection whose one feature has no geometry, padded to size: read whole, then rejected for what it says.
        Geojson = "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{\"pad\":\"" + new string('x', megabytes * 1024 * 1024) + "\"}}]}",
    };

    [Fact]
    public async Task A_request_between_Kestrels_30_MB_and_the_import_limit_is_read_and_one_above_the_limit_is_refused_naming_it()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        using var channel = BigChannel(host.GrpcPort);
        var geography = new V1.Geography.GeographyClient(channel);
        var planner = host.Auth(await host.CreateKeyAsync(Role.Planner));

        // 31 MB: over Kestrel's default body limit, under the 64 MiB import limit: the file itself is judged.
        var judged = await Assert.ThrowsAsync<RpcException>(() => geography.ImportGridsAsync(Import(31), planner, Deadline()).ResponseAsync);
        var over = await Assert.ThrowsAsync<RpcException>(() => geography.ImportGridsAsync(Import(65), planner, Deadline()).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, judged.StatusCode);
        Assert.Equal(StatusCode.ResourceExhausted, over.StatusCode);
        Assert.StartsWith("request message of 68,157,", over.Status.Detail, StringComparison.Ordinal);
        Assert.EndsWith("is over the limit of 67,108,864 bytes for /sharpeyes.v1.Geography/ImportGrids (SharpEyes:Limits:GrpcMaxImportBytes)", over.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1, host.Services.GetRequiredService<ClientRefusals>()["grpc-request-too-large"]);
    }

    [Fact]
    public async Task Other_methods_answer_to_the_default_limit_unary_by_name_and_client_streams_per_message()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        using var channel = BigChannel(host.GrpcPort);
        var registry = new DeviceRegistry.DeviceRegistryClient(channel);
        var vendor = host.Auth(await host.CreateKeyAsync(Role.Vendor, "acme"));
        var huge = TestDevices.Alarm(1);
        huge.Name = new string('n', 5 * 1024 * 1024);

        var unary = await Assert.ThrowsAsync<RpcException>(() => registry.RegisterDeviceAsync(huge, vendor, Deadline()).ResponseAsync);
        using var stream = registry.RegisterDevices(vendor, Deadline());
        await stream.RequestStream.WriteAsync(TestDevices.Alarm(2));
        // The server answers as soon as it reads the huge message's header, while the client may still be sending it:
        // the answer is awaited, not the write (disposing the call ends the write).
        _ = stream.RequestStream.WriteAsync(huge).ContinueWith(t => t.Exception, TaskScheduler.Default);
        var streamed = await Assert.ThrowsAsync<RpcException>(() => stream.ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, unary.StatusCode);
        Assert.Contains("over the limit of 4,194,304 bytes for /sharpeyes.v1.DeviceRegistry/RegisterDevice (SharpEyes:Limits:GrpcMaxRequestBytes)", unary.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.ResourceExhausted, streamed.StatusCode);
    }

    [Fact]
    public async Task Guessed_keys_are_counted_then_the_address_is_refused_unchecked_with_a_retry_delay()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: ["--SharpEyes:Limits:FailedAuthPerAddress=3"]);
        var admin = new Admin.AdminClient(host.Channel);
        for (var i = 0; i < 3; i++)
        {
            var wrong = await Assert.ThrowsAsync<RpcException>(() => admin.GetStatsAsync(new GetStatsRequest(), host.Auth($"se_guess{i}_not-a-secret"), Deadline()).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        }

        var locked = await Assert.ThrowsAsync<RpcException>(() => admin.GetStatsAsync(new GetStatsRequest(), host.AdminAuth, Deadline()).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, locked.StatusCode);
        Assert.StartsWith("too many failed authentications from this address; try again in at most 60 s", locked.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("60000", locked.Trailers.GetValue("grpc-retry-pushback-ms"));
        var refusals = host.Services.GetRequiredService<ClientRefusals>();
        Assert.Equal(3, refusals["auth-failed-grpc"]);
        Assert.Equal(1, refusals["auth-locked-out"]);
        Assert.Contains(host.Logs.Lines, l => l.Contains("Refused auth-failed-grpc", StringComparison.Ordinal) && l.Contains("key id guess0", StringComparison.Ordinal));
        Assert.DoesNotContain("not-a-secret", host.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_thousand_refused_calls_write_a_few_log_lines()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: ["--SharpEyes:Limits:FailedAuthPerAddress=20"]);
        var vendor = host.Auth(await host.CreateKeyAsync(Role.Vendor, "acme"));
        var admin = new Admin.AdminClient(host.Channel);
        var before = host.Logs.Lines.Count;

        // A valid key calling a method its role may not, then wrong keys (refused unchecked after 20).
        var denied = 0;
        for (var i = 0; i < 500; i++)
        {
            denied += (await Assert.ThrowsAsync<RpcException>(() => admin.GetStatsAsync(new GetStatsRequest(), vendor, Deadline()).ResponseAsync)).StatusCode == StatusCode.PermissionDenied ? 1 : 0;
        }

        var codes = new List<StatusCode>();
        for (var i = 0; i < 500; i++)
        {
            codes.Add((await Assert.ThrowsAsync<RpcException>(() => admin.GetStatsAsync(new GetStatsRequest(), host.Auth($"se_guess{i}_wrong"), Deadline()).ResponseAsync)).StatusCode);
        }

        var lines = host.Logs.Lines.Skip(before).ToList();
        output.WriteLine($"1,000 refused calls ({codes.Count(c => c == StatusCode.Unauthenticated)} unauthenticated, {codes.Count(c => c == StatusCode.ResourceExhausted)} locked out, {denied} denied): {lines.Count} log lines");
        Assert.Equal(500, denied);
        Assert.Equal(20, codes.Count(c => c == StatusCode.Unauthenticated));
        Assert.Equal(480, codes.Count(c => c == StatusCode.ResourceExhausted));
        Assert.True(lines.Count <= 4, string.Join('\n', lines));
    }

    [Fact]
    public async Task Large_bodies_sent_without_a_key_are_refused_before_they_are_read_and_cost_no_memory()
    {
        const string adminKey = "se_edgeadmin_0123456789abcdefghijklmnopqrstuvwxyz";
        await using var gateway = await GatewayProcess.StartAsync(GatewayHost.NewDataDir(), adminKey);
        using var channel = BigChannel(gateway.GrpcPort);
        var geography = new V1.Geography.GeographyClient(channel);
        var request = Import(28);
        var rssBefore = ProcStats.RssMiB(gateway.Pid);

        var codes = await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            try
            {
                await geography.ImportGridsAsync(request, deadline: DateTime.UtcNow.AddSeconds(60));
                return StatusCode.OK;
            }
            catch (RpcException e)
            {
                return e.StatusCode;
            }
        }));
        var canary = await new Admin.AdminClient(gateway.Channel).GetStatsAsync(new GetStatsRequest(), GatewayProcess.Auth(adminKey), Deadline());
        var rssAfter = ProcStats.RssMiB(gateway.Pid);
        output.WriteLine($"16 ImportGrids of 28 MB without a key: {string.Join(", ", codes.GroupBy(c => c).Select(g => $"{g.Count()} {g.Key}"))}; gateway RSS {rssBefore:F0} -> {rssAfter:F0} MiB");

        Assert.All(codes, c => Assert.Equal(StatusCode.Unauthenticated, c));
        Assert.NotNull(canary);
        Assert.True(rssAfter - rssBefore < 100, $"RSS grew {rssAfter - rssBefore:F0} MiB");
    }
}
