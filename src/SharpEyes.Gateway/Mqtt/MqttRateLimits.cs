using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Observability;

namespace SharpEyes.Gateway.Mqtt;

/// <summary>
/// How fast one vendor may publish alarms over MQTT (<see cref="MqttVendorRateLimit"/>): a token bucket per vendor whose
/// tokens are the permits of a System.Threading.RateLimiting <see cref="ConcurrencyLimiter"/> (limit = burst; its queue,
/// oldest first, holds the publishes waiting for a token, up to the flood threshold). A publish takes a permit and keeps
/// it as "spent"; the refill returns spent permits at the configured rate, which completes the oldest waiters.
/// <para>
/// The refill runs on the network clock (<see cref="MqttConnectionGuard.ClockKey"/>: the system's, or a test's fake one)
/// rather than on the library's own timers: TokenBucketRateLimiter refills by Stopwatch time even when replenished by
/// hand, which a test cannot move, and the gateway's domain clock jumps in tests while traffic must not follow it.
/// </para>
/// A publish over the limit is held (<see cref="Admission.Hold"/>: the broker holds its PUBACK until it completes), a
/// flood is refused (<see cref="Admission.Flood"/>: the broker disconnects the client); both are counted per vendor and
/// logged at most once per <see cref="LimitOptions.LogInterval"/> per vendor.
/// </summary>
public sealed partial class MqttRateLimits : IDisposable
{
    private static readonly TimeSpan RefillPeriod = TimeSpan.FromMilliseconds(100);

    private readonly MqttVendorRateLimit _limit;
    private readonly TimeProvider _clock;
    private readonly ILogger<MqttRateLimits> _logger;
    private readonly LogThrottle _throttle;
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly Lock _refill = new();
    private readonly ITimer? _timer;
    private long _lastRefill;

    public MqttRateLimits(IOptions<GatewayOptions> options, [FromKeyedServices(MqttConnectionGuard.ClockKey)] TimeProvider clock, ILogger<MqttRateLimits> logger)
    {
        _limit = options.Value.RateLimits.MqttVendor;
        _clock = clock;
        _logger = logger;
        _throttle = new LogThrottle(clock, options.Value.Limits.LogInterval);
        if (_limit.PerSecond > 0)
        {
            _lastRefill = clock.GetTimestamp();
            _timer = clock.CreateTimer(_ => Refill(), null, RefillPeriod, RefillPeriod);
        }
    }

    /// <summary>What the broker does with one publish.</summary>
    /// <param name="Hold">null: acknowledge when committed; else also wait for it: true = a token came, false = the connection ended first.</param>
    /// <param name="Flood">not null: refuse the publish and disconnect the client, for this reason.</param>
    public readonly record struct Admission(Task<bool>? Hold, string? Flood);

    /// <summary>
    /// Admits one alarm publish of <paramref name="vendorId"/>: at once while the vendor has tokens, held (QoS 1 and 2)
    /// while it has none and fewer than <see cref="MqttVendorRateLimit.MaxHeldPublishes"/> are held, else a flood (and
    /// QoS 0 over the limit is a flood: it cannot be slowed). <paramref name="connection"/> ends the wait with the connection.
    /// </summary>
    public Admission Admit(string vendorId, bool acknowledged, CancellationToken connection)
    {
        if (_timer is null)
        {
            return default;
        }

        var bucket = _buckets.GetOrAdd(vendorId, _ => new Bucket(_limit));
        if (!acknowledged)
        {
            var lease = bucket.Limiter.AttemptAcquire();
            return lease.IsAcquired
                ? Spend(bucket, lease)
                : Flood(bucket, vendorId, $"QoS 0 publishes over its limit of {_limit.PerSecond:N0}/s (burst {_limit.Burst:N0}); QoS 0 cannot be slowed");
        }

        var pending = bucket.Limiter.AcquireAsync(1, connection);
        if (pending.IsCompletedSuccessfully)
        {
            var lease = pending.Result;
            if (lease.IsAcquired)
            {
                return Spend(bucket, lease);
            }

            lease.Dispose();
            return Flood(bucket, vendorId, $"{_limit.MaxHeldPublishes:N0} publishes already wait for their PUBACK (SharpEyes:RateLimits:MqttVendor:MaxHeldPublishes)");
        }

        Interlocked.Increment(ref bucket.Held);
        if (_throttle.Due("held:" + vendorId) is { } count)
        {
            LogHeld(_logger, vendorId, count, _limit.PerSecond, _limit.Burst);
        }

        return new Admission(HoldAsync(bucket, pending), null);
    }

    /// <summary>Per vendor since start: publishes whose PUBACK was held, clients disconnected as a flood (for /metrics).</summary>
    public IReadOnlyList<(string VendorId, long Held, long Floods)> Snapshot() =>
        [.. _buckets.Select(p => (p.Key, Interlocked.Read(ref p.Value.Held), Interlocked.Read(ref p.Value.Floods))).OrderBy(p => p.Key, StringComparer.Ordinal)];

    private static Admission Spend(Bucket bucket, RateLimitLease lease)
    {
        bucket.Spent.Enqueue(lease);
        return default;
    }

    private Admission Flood(Bucket bucket, string vendorId, string reason)
    {
        Interlocked.Increment(ref bucket.Floods);
        if (_throttle.Due("flood:" + vendorId) is { } count)
        {
            LogFlood(_logger, vendorId, count, reason);
        }

        return new Admission(null, $"vendor {vendorId}: {reason}");
    }

    private static async Task<bool> HoldAsync(Bucket bucket, ValueTask<RateLimitLease> pending)
    {
        try
        {
            var lease = await pending.ConfigureAwait(false);
            if (lease.IsAcquired)
            {
                bucket.Spent.Enqueue(lease);
                return true;
            }

            lease.Dispose();
            return false;
        }
        catch (OperationCanceledException)
        {
            return false; // the connection ended while its publish waited
        }
    }

    /// <summary>Returns spent permits at <see cref="MqttVendorRateLimit.PerSecond"/> for the time gone by; a full bucket banks nothing.</summary>
    private void Refill()
    {
        lock (_refill)
        {
            var now = _clock.GetTimestamp();
            var elapsed = _clock.GetElapsedTime(_lastRefill, now);
            _lastRefill = now;
            foreach (var bucket in _buckets.Values)
            {
                bucket.Credit += _limit.PerSecond * elapsed.TotalSeconds;
                while (bucket.Credit >= 1 && bucket.Spent.TryDequeue(out var lease))
                {
                    lease.Dispose(); // a token back: the limiter hands it to the oldest held publish, if any
                    bucket.Credit -= 1;
                }

                if (bucket.Spent.IsEmpty)
                {
                    bucket.Credit = 0;
                }
            }
        }
    }

    public void Dispose()
    {
        _timer?.Dispose();
        foreach (var bucket in _buckets.Values)
        {
            bucket.Limiter.Dispose();
        }
    }

    [LoggerMessage(EventId = 2020, Level = LogLevel.Warning, Message = "MQTT vendor {VendorId} is over its publish rate limit of {PerSecond}/s (burst {Burst}, SharpEyes:RateLimits:MqttVendor): PUBACKs held (x{Count} since the last such line)")]
    private static partial void LogHeld(ILogger logger, string vendorId, long count, int perSecond, int burst);

    [LoggerMessage(EventId = 2021, Level = LogLevel.Warning, Message = "MQTT vendor {VendorId} flooded: client disconnected, message rate too high (x{Count} since the last such line): {Reason}")]
    private static partial void LogFlood(ILogger logger, string vendorId, long count, string reason);

    private sealed class Bucket(MqttVendorRateLimit limit)
    {
        public readonly ConcurrencyLimiter Limiter = new(new ConcurrencyLimiterOptions
        {
            PermitLimit = Math.Max(1, limit.Burst),
            QueueLimit = limit.MaxHeldPublishes,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });

        /// <summary>Permits taken and not yet returned by the refill: the tokens missing from the bucket.</summary>
        public readonly ConcurrentQueue<RateLimitLease> Spent = new();

        /// <summary>Tokens owed by the refill but not yet returned (a fraction, or none spent to return).</summary>
        public double Credit;

        public long Held;
        public long Floods;
    }
}
