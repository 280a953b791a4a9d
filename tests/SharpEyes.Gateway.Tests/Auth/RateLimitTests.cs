using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Auth;

/// <summary>
/// A key calling faster than its role's rate limit (SharpEyes:RateLimits) is refused RESOURCE_EXHAUSTED with the delay
/// to wait in grpc-retry-pushback-ms (JSON: 429 with Retry-After), counted by key id in /metrics; another key of the
/// same role is not slowed; admin keys have no limit by default. The limit is a token bucket on real time: the tests
/// bound what may pass by the burst plus the seconds that went by, never by a fixed count.
/// </summary>
public sealed class RateLimitTests
{
    private const int Burst = 3;

    [Fact]
    public async Task A_vendor_over_its_limit_is_refused_with_a_retry_delay_counted_by_key_and_others_are_not_slowed()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs:
            ["--SharpEyes:RateLimits:Vendor:PerSecond=1", $"--SharpEyes:RateLimits:Vendor:Burst={Burst}"]);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "acme");
        var other = await host.CreateKeyAsync(Role.Vendor, "beta");
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);

        var clock = Stopwatch.StartNew();
        var passed = 0;
        var refused = new List<RpcException>();
        for (var i = 0; i < 12; i++)
        {
            try
            {
                await registry.ListDevicesAsync(new ListDevicesRequest(), host.Auth(vendor));
                passed++;
            }
            catch (RpcException e)
            {
                refused.Add(e);
            }
        }

        var seconds = (int)Math.Ceiling(clock.Elapsed.TotalSeconds);
        Assert.InRange(passed, Burst, Burst + seconds + 1);
        Assert.NotEmpty(refused);
        var keyId = vendor.Split('_')[1];
        Assert.All(refused, e =>
        {
            Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
            Assert.StartsWith($"key {keyId} is over its rate limit for role Vendor (SharpEyes:RateLimits:Vendor); retry after ", e.Status.Detail, StringComparison.Ordinal);
            Assert.DoesNotContain(vendor.Split('_', 3)[2], e.Status.Detail, StringComparison.Ordinal);
            var pushback = e.Trailers.GetValue("grpc-retry-pushback-ms");
            Assert.True(long.TryParse(pushback, out var ms) && ms is > 0 and <= 1000, $"grpc-retry-pushback-ms: {pushback}");
        });

        // Another vendor's key has its own bucket.
        await registry.ListDevicesAsync(new ListDevicesRequest(), host.Auth(other));

        // Counted by key, and by kind.
        var metrics = await MetricsScrape.ReadAsync(host.HttpPort);
        Assert.Equal(refused.Count, metrics[$"sharpeyes_rate_limited_total{{key_id=\"{keyId}\"}}"]);
        Assert.False(metrics.ContainsKey($"sharpeyes_rate_limited_total{{key_id=\"{other.Split('_')[1]}\"}}"));
        Assert.Equal(refused.Count, metrics["sharpeyes_refusals_total{kind=\"rate-limited\"}"]);
    }

    [Fact]
    public async Task The_json_api_answers_429_with_retry_after_and_admins_are_not_limited_by_default()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs:
            ["--SharpEyes:RateLimits:Operator:PerSecond=1", $"--SharpEyes:RateLimits:Operator:Burst={Burst}"]);
        var operatorKey = await host.CreateKeyAsync(Role.Operator);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };
        http.DefaultRequestHeaders.Authorization = new("Bearer", operatorKey);

        HttpResponseMessage? tooMany = null;
        for (var i = 0; i < 12 && tooMany is null; i++)
        {
            var response = await http.GetAsync("/api/v1/incidents", TestContext.Current.CancellationToken);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                tooMany = response;
            }
            else
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                response.Dispose();
            }
        }

        Assert.NotNull(tooMany);
        using (tooMany)
        {
            Assert.True(tooMany.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, $"Retry-After: {tooMany.Headers.RetryAfter}");
            using var body = JsonDocument.Parse(await tooMany.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            Assert.Equal(8, body.RootElement.GetProperty("code").GetInt32()); // RESOURCE_EXHAUSTED
            Assert.Contains("over its rate limit for role Operator (SharpEyes:RateLimits:Operator)", body.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        // The admin (no limit by default) makes 50 calls in a row, all answered.
        var admin = new Admin.AdminClient(host.Channel);
        for (var i = 0; i < 50; i++)
        {
            await admin.GetStatsAsync(new GetStatsRequest(), host.AdminAuth);
        }
    }
}
