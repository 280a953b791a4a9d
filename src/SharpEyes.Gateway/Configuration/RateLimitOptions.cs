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

    /// <summary>
    /// MQTT alarm publishes, per vendor (all of a vendor's connections share one bucket). A vendor over its limit is
    /// slowed, not dropped: its alarms are stored, but the PUBACK (QoS 1; PUBREC for QoS 2) of each one over the limit
    /// is held until the bucket has a token, so a client with a bounded in-flight window publishes at the limit. A
    /// flood is disconnected (MQTT 5: DISCONNECT reason 0x96 "message rate too high"; MQTT 3.1.1: the connection is
    /// closed) and the publish that overflowed is neither stored nor acknowledged, so the client sends it again after
    /// reconnecting. Counted in <c>sharpeyes_mqtt_rate_limited_total{vendor}</c> and
    /// <c>sharpeyes_mqtt_flood_disconnects_total{vendor}</c>, logged at most once per <see cref="LimitOptions.LogInterval"/> per vendor.
    /// </summary>
    public MqttVendorRateLimit MqttVendor { get; set; } = new();
}

/// <summary>
/// One vendor's MQTT publish limit. The defaults hold a county's worst day with room: 2,000 alarms a second is several
/// times what thousands of cameras raise in a mass event, and a burst of 10,000 takes a vendor platform's backlog after
/// a network outage without slowing it. Tests that flood on purpose set <see cref="PerSecond"/> to 0, as the benchmark
/// does (bench/run.sh), since it measures the gateway's capacity, not this limit.
/// </summary>
public sealed class MqttVendorRateLimit
{
    /// <summary>Alarm publishes a second one vendor may keep up, over all its connections; 0 = no limit.</summary>
    [Range(0, 1_000_000)] public int PerSecond { get; set; } = 2_000;

    /// <summary>Publishes one vendor may make at once after a quiet spell (at least 1 when <see cref="PerSecond"/> is set).</summary>
    [Range(0, 10_000_000)] public int Burst { get; set; } = 10_000;

    /// <summary>
    /// The flood threshold: QoS 1 and 2 publishes of one vendor whose acknowledgement may be held at once. A publish
    /// that would be one more disconnects its client as a flood; so does any QoS 0 publish over the limit (it cannot
    /// be slowed). Keep it below what the rate clears within a client's keepalive: a held PUBACK also holds that
    /// client's PINGRESP.
    /// </summary>
    [Range(1, 1_000_000)] public int MaxHeldPublishes { get; set; } = 10_000;
}

/// <summary>One role's limit per key.</summary>
public sealed class RoleRateLimit
{
    /// <summary>Calls a second one key of this role may keep up; 0 = no limit.</summary>
    [Range(0, 1_000_000)] public int PerSecond { get; set; }

    /// <summary>Calls one key may make at once after a quiet spell (at least 1 when <see cref="PerSecond"/> is set).</summary>
    [Range(0, 10_000_000)] public int Burst { get; set; }
}
