using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Hosting;

/// <summary>The listeners: port 0 reported as bound, each endpoint served on its own listener, a port in use named and refused.</summary>
public sealed class ListenerTests
{
    [Theory]
    [InlineData("--grpc-port", "gRPC")]
    [InlineData("--http-port", "HTTP")]
    [InlineData("--mqtt-port", "MQTT")]
    public async Task A_port_in_use_stops_the_start_naming_the_listener_and_its_switch_with_exit_code_2(string option, string listener)
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        string[] ports = ["--grpc-port", "0", "--http-port", "0", "--mqtt-port", "0", "--sip-port", "0"];
        ports[Array.IndexOf(ports, option) + 1] = port.ToString();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "sharpeyes.dll"), "--bind", "127.0.0.1", "--insecure-listeners", "--data-dir", GatewayHost.NewDataDir() }.Concat(ports))
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, process.ExitCode);
        var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"sharpeyes: the {listener} listener cannot bind 127.0.0.1:{port}: Address already in use (choose another with {option}, or stop what holds it)", lines[^1]);
        Assert.DoesNotContain(lines, l => l.StartsWith("Unhandled exception", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Port_0_binds_what_the_system_gives_and_each_endpoint_answers_only_on_its_own_listener()
    {
        const string adminKey = "se_listeneradmin_0123456789abcdefghijklmnopqrstuvwxyz";
        await using var gateway = await GatewayProcess.StartAsync(GatewayHost.NewDataDir(), adminKey);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var grpcOnHttpPort = GrpcChannel.ForAddress($"http://127.0.0.1:{gateway.HttpPort}");

        var health = await http.GetAsync($"http://127.0.0.1:{gateway.HttpPort}/healthz");
        var stats = await new Admin.AdminClient(gateway.Channel).GetStatsAsync(new GetStatsRequest(), GatewayProcess.Auth(adminKey));
        using var healthOnGrpcPort = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{gateway.GrpcPort}/healthz") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var wrongListener = await http.SendAsync(healthOnGrpcPort);
        var grpcOnHttp = await Assert.ThrowsAsync<RpcException>(() => new Admin.AdminClient(grpcOnHttpPort).GetStatsAsync(new GetStatsRequest(), GatewayProcess.Auth(adminKey)).ResponseAsync);

        Assert.True(gateway.GrpcPort > 0 && gateway.HttpPort > 0 && gateway.MqttPort > 0);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.NotNull(stats);
        Assert.False(wrongListener.IsSuccessStatusCode, $"/healthz on the gRPC port answered {wrongListener.StatusCode}");
        Assert.NotEqual(StatusCode.OK, grpcOnHttp.StatusCode);
        Assert.Contains($"MQTT listening on mqtt://127.0.0.1:{gateway.MqttPort}", gateway.Output, StringComparison.Ordinal);
        // The gen0 cap in the gateway's runtimeconfig.json reached the GC of the process it starts (the test's own
        // environment sets no DOTNET_GCGen0MaxBudget, which would override it).
        Assert.Contains("Garbage collector: workstation, concurrent; gen0 budget at most 16 MiB", gateway.Output, StringComparison.Ordinal);
        // So did the JIT's call counting from the start (unless the test's environment overrides it).
        if (Environment.GetEnvironmentVariable("DOTNET_TC_CallCountingDelayMs") is null)
        {
            Assert.Contains("JIT: tiered, call counting delay 0 ms (System.Runtime.TieredCompilation.CallCountingDelayMs)", gateway.Output, StringComparison.Ordinal);
        }
        // Where to point a browser, when the console is built beside the binary (it is for the test run).
        if (Directory.Exists(SharpEyes.Gateway.Hosting.ConsoleFiles.DefaultDirectory))
        {
            Assert.Contains($"Browser console at http://127.0.0.1:{gateway.HttpPort}/ (sign in with an operator, planner or admin key)", gateway.Output, StringComparison.Ordinal);
        }
    }
}
