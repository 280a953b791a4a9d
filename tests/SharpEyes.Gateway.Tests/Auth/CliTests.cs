using SharpEyes.Gateway.Cli;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Auth;

/// <summary>The CLI against a running gateway: create keys for each role, import geography, read stats.</summary>
public sealed class CliTests
{
    [Fact]
    public async Task Admins_create_keys_and_load_geography_from_the_command_line()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var server = $"http://127.0.0.1:{host.GrpcPort}";
        var file = Path.Combine(host.DataDir, "county.geojson");
        await File.WriteAllTextAsync(file, Geo.Demo.GaoyiDemo.GridsGeoJson, TestContext.Current.CancellationToken);

        var (code1, key, _) = await Run("keys", "create", "--role", "vendor", "--vendor-id", "acme", "--server", server, "--key", host.AdminKey);
        var (code2, _, _) = await Run("geo", "import-grids", file, "--datum", "wgs84", "--server", server, "--key", host.AdminKey);
        var (code3, list, _) = await Run("keys", "list", "--server", server, "--key", host.AdminKey);
        var (code4, _, denied) = await Run("keys", "list", "--server", server, "--key", key.Trim());
        var (code5, _, usage) = await Run("keys", "create", "--role", "wizard", "--server", server, "--key", host.AdminKey);

        Assert.Equal(0, code1);
        Assert.StartsWith("se_", key.Trim(), StringComparison.Ordinal);
        Assert.Equal(0, code2);
        Assert.Equal(0, code3);
        Assert.Contains("acme", list, StringComparison.Ordinal);
        Assert.DoesNotContain(key.Trim(), list, StringComparison.Ordinal);
        Assert.Equal(1, code4);
        Assert.Contains("PermissionDenied", denied, StringComparison.Ordinal);
        Assert.Equal(2, code5);
        Assert.Contains("--role", usage, StringComparison.Ordinal);
        var grids = await new V1.Geography.GeographyClient(host.Channel).ListGridsAsync(new V1.ListGridsRequest { Level = 1 }, host.AdminAuth);
        Assert.Equal("130127", Assert.Single(grids.Grids).Code);
    }

    [Fact]
    public async Task A_command_against_a_server_that_never_answers_fails_at_its_timeout()
    {
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start(); // accepts connections (the kernel's backlog) and never answers
        var server = $"http://127.0.0.1:{((System.Net.IPEndPoint)silent.LocalEndpoint).Port}";

        var (code, _, error) = await Run("stats", "--server", server, "--key", "se_x_y", "--timeout", "1");
        var (badCode, _, badError) = await Run("stats", "--server", server, "--key", "se_x_y", "--timeout", "soon");

        Assert.Equal(1, code);
        Assert.StartsWith("error: DeadlineExceeded", error, StringComparison.Ordinal);
        Assert.Equal(2, badCode);
        Assert.Contains("--timeout", badError, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        // Bounded: a test never waits for ever (a --timeout given by the test comes later and wins).
        var code = await GatewayCli.RunAsync(["--timeout", "60", .. args], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
