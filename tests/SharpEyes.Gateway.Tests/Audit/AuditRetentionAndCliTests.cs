using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Cli;
using SharpEyes.Gateway.Outbox;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Audit;

/// <summary>The audit log's retention and counters, a rate-limited change, and <c>sharpeyes audit</c>.</summary>
public sealed class AuditRetentionAndCliTests
{
    [Fact]
    public async Task Retention_deletes_entries_older_than_the_setting_and_counts_them()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs:
            ["--SharpEyes:Audit:Retention=2.00:00:00", "--SharpEyes:Audit:RefusalInterval=01:00:00", "--SharpEyes:Outbox:PruneInterval=06:00:00"]);
        var old = await host.CreateKeyAsync(Role.Operator);
        await host.CreateKeyAsync(Role.Planner);
        host.Time.Advance(TimeSpan.FromDays(1.5));
        var recent = await host.CreateKeyAsync(Role.Centre);
        host.Time.Advance(TimeSpan.FromDays(1)); // the first two are 2.5 days old, the last 1 day

        await host.Services.GetRequiredService<RetentionPruner>().PruneAsync(); // the timer's pass may have run already
        var left = await AuditClient.AllAsync(host);
        var metrics = await MetricsScrape.ReadAsync(host.HttpPort);

        Assert.Equal([AuditClient.KeyId(recent)], left.Select(e => e.TargetIds.Single()));
        Assert.Equal(2, metrics["sharpeyes_audit_pruned_total"]);
        Assert.Equal(3, metrics["sharpeyes_audit_entries_total{outcome=\"OK\"}"]); // recorded since the store was created
        Assert.DoesNotContain(AuditClient.KeyId(old), string.Join(' ', left));

        // The counters survive a restart (kept in the store), as the others in /metrics do.
        await using var restarted = await host.RestartAsync();
        var again = await MetricsScrape.ReadAsync(restarted.HttpPort);
        Assert.Equal((2, 3), (again["sharpeyes_audit_pruned_total"], again["sharpeyes_audit_entries_total{outcome=\"OK\"}"]));
    }

    [Fact]
    public async Task A_call_over_its_keys_rate_limit_is_recorded_as_RESOURCE_EXHAUSTED_with_its_actor()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: ["--SharpEyes:RateLimits:Vendor:PerSecond=1", "--SharpEyes:RateLimits:Vendor:Burst=2"]);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "acme");
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        RpcException? limited = null;
        for (var i = 0; i < 10 && limited is null; i++)
        {
            try
            {
                await registry.RegisterDeviceAsync(TestDevices.Camera(i), host.Auth(vendor));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                limited = e;
            }
        }

        Assert.NotNull(limited);
        var entry = (await AuditClient.WaitAsync(host, new QueryAuditRequest { Outcome = "RESOURCE_EXHAUSTED" })).Single();
        Assert.Equal((AuditClient.KeyId(vendor), Role.Vendor, "acme", "DeviceRegistry.RegisterDevice", limited.Status.Detail),
            (entry.KeyId, entry.Role, entry.VendorId, entry.Action, entry.Message));
        Assert.Contains("over its rate limit", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_CLI_lists_the_audit_log_with_filters_and_a_limit()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var server = $"http://127.0.0.1:{host.GrpcPort}";
        var vendor = await host.CreateKeyAsync(Role.Vendor, "acme");
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        for (var i = 1; i <= 3; i++)
        {
            await registry.RegisterDeviceAsync(TestDevices.Camera(i), host.Auth(vendor));
        }

        var (code, output, error) = await Run("audit", "--actor", AuditClient.KeyId(vendor), "--limit", "2", "--since", "2026-11-22T07:00:00Z", "--server", server, "--key", host.AdminKey);
        var (targetCode, byTarget, _) = await Run("audit", "--target", TestDevices.CameraId(1), "--action", "DeviceRegistry.", "--server", server, "--key", host.AdminKey);
        var (keysCode, keys, _) = await Run("audit", "--action", "Admin.CreateApiKey", "--outcome", "OK", "--until", "2030-01-01T00:00:00Z", "--server", server, "--key", host.AdminKey);
        var (badCode, _, badError) = await Run("audit", "--since", "yesterday", "--server", server, "--key", host.AdminKey);
        var (deniedCode, _, denied) = await Run("audit", "--server", server, "--key", vendor);

        Assert.Equal(0, code);
        var lines = output.TrimEnd('\n').Split('\n');
        Assert.Equal("id\tat\toutcome\taction\tkey\trole\tvendor\tclient\ttargets\tsummary\tmessage\tcount", lines[0]);
        Assert.Equal([TestDevices.CameraId(3), TestDevices.CameraId(2)], lines[1..].Select(l => l.Split('\t')[8]));
        Assert.All(lines[1..], l => Assert.Equal(["OK", "DeviceRegistry.RegisterDevice", AuditClient.KeyId(vendor), "Vendor", "acme"], l.Split('\t')[2..7]));
        Assert.Equal("2 entries shown; more match (--limit)\n", error);
        Assert.Equal(0, targetCode);
        Assert.Equal(2, byTarget.TrimEnd('\n').Split('\n').Length);
        Assert.Equal(0, keysCode);
        Assert.Contains("created Vendor key for vendor acme", keys, StringComparison.Ordinal);
        Assert.Equal(2, badCode);
        Assert.StartsWith("--since: an ISO 8601 time", badError, StringComparison.Ordinal);
        Assert.Equal(1, deniedCode);
        Assert.Contains("PermissionDenied", denied, StringComparison.Ordinal);
        Assert.DoesNotContain(vendor, output + byTarget + keys, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30m", -30 * 60)]
    [InlineData("24h", -24 * 3600)]
    [InlineData("7d", -7 * 86400)]
    [InlineData("2026-11-22T08:00:00Z", null)]
    public void Times_are_ISO_8601_or_a_duration_back_from_now(string text, int? seconds)
    {
        var now = new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
        var expected = seconds is { } s ? now.AddSeconds(s) : new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);
        Assert.Equal(expected, AuditCli.ParseTime(text, now));
    }

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await GatewayCli.RunAsync(["--timeout", "60", .. args], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
