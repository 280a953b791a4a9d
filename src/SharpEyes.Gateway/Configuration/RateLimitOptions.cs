using System.ComponentModel.DataAnnotations;

namespace SharpEyes.Gateway.Configuration;

/// <summary>
/// The "SharpEyes:RateLimits" section: how fast one API key may call the gRPC API and its JSON routes, per role (a
/// token bucket per key: <see cref="RoleRateLimit.Burst"/> calls at once, refilled at
/// <see cref="RoleRateLimit.PerSecond"/> a second). A stream or a bulk registration is one call. A call over the limit
/// gets RESOURCE_EXHAUSTED with <c>grpc-retry-pushback-ms</c> (JSON: 429 with <c>Retry-After</c>), is counted in
/// <c>sharpeyes_rate_limited_total{key_id}</c> and <c>sharpeyes_refusals_total{kind="rate-limited"}</c>, and logged
/// at most once per <see cref="LimitOptions.LogInterval"/>.
/// </summary>
public sealed class RateLimitOptions
{
    /// <summary>Vendors: registrations, updates, heartbeats and reads of their own devices.</summary>
    public RoleRateLimit Vendor { get; set; } = new() { PerSecond = 200, Burst = 1_000 };

    /// <summary>Operators: the console and the CLI of the command centre.</summary>
    public RoleRateLimit Operator { get; set; } = new() { PerSecond = 50, Burst = 300 };

    /// <summary>Planners: the console's planning tab and the CLI.</summary>
    public RoleRateLimit Planner { get; set; } = new() { PerSecond = 50, Burst = 300 };

    /// <summary>The centre's keys (Feeds.Subscribe is one call however long it runs).</summary>
    public RoleRateLimit Centre { get; set; } = new() { PerSecond = 50, Burst = 300 };

    /// <summary>Admins; 0 (the default) is no limit: the CLI, backups and the benchmark run as admin.</summary>
    public RoleRateLimit Admin { get; set; } = new();
}

/// <summary>One role's limit per key.</summary>
public sealed class RoleRateLimit
{
    /// <summary>Calls a second one key of this role may keep up; 0 = no limit.</summary>
    [Range(0, 1_000_000)] public int PerSecond { get; set; }

    /// <summary>Calls one key may make at once after a quiet spell (at least 1 when <see cref="PerSecond"/> is set).</summary>
    [Range(0, 10_000_000)] public int Burst { get; set; }
}
