using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Hosting;
using SharpEyes.Gateway.Observability;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Auth;

/// <summary>
/// How fast one key may call the gRPC API and its JSON routes (<see cref="RateLimitOptions"/>): a token bucket per key
/// (System.Threading.RateLimiting), after authentication and authorization, before the service reads the request. A
/// call over the limit is refused RESOURCE_EXHAUSTED with the delay after which a call will pass
/// (<c>grpc-retry-pushback-ms</c>; JSON: 429 and <c>Retry-After</c>), counted per key and per kind, and logged at most
/// once per interval. Anonymous and session-only endpoints (the console's files, /api/session, /api/events) are not
/// counted here; they have limits of their own.
/// </summary>
public sealed class KeyRateLimits : IDisposable
{
    public const string Kind = "rate-limited";

    private readonly PartitionedRateLimiter<Principal> _limiter;
    private readonly ConcurrentDictionary<string, long[]> _refusedByKey = new(StringComparer.Ordinal);
    private readonly ClientRefusals _refusals;

    public KeyRateLimits(IOptions<GatewayOptions> options, ClientRefusals refusals)
    {
        _refusals = refusals;
        var limits = options.Value.RateLimits;
        _limiter = PartitionedRateLimiter.Create<Principal, string>(principal => Of(limits, principal.Role) is { PerSecond: > 0 } limit
            ? RateLimitPartition.GetTokenBucketLimiter(principal.KeyId, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = Math.Max(1, limit.Burst),
                TokensPerPeriod = limit.PerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                AutoReplenishment = true,
                QueueLimit = 0,
            })
            : RateLimitPartition.GetNoLimiter(principal.KeyId));
    }

    /// <summary>Calls refused per key id since start (for /metrics).</summary>
    public IReadOnlyList<(string KeyId, long Count)> Snapshot() =>
        [.. _refusedByKey.Select(p => (p.Key, Interlocked.Read(ref p.Value[0]))).OrderBy(p => p.Key, StringComparer.Ordinal)];

    private static RoleRateLimit? Of(RateLimitOptions limits, Role role) => role switch
    {
        Role.Vendor => limits.Vendor,
        Role.Operator => limits.Operator,
        Role.Planner => limits.Planner,
        Role.Centre => limits.Centre,
        Role.Admin => limits.Admin,
        _ => null,
    };

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is not { } grpc
            || context.Items[ApiKeyAuthenticationHandler.PrincipalItem] is not Principal principal)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        using var lease = _limiter.AttemptAcquire(principal);
        if (lease.IsAcquired)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) && after > TimeSpan.Zero ? after : TimeSpan.FromSeconds(1);
        Interlocked.Increment(ref _refusedByKey.GetOrAdd(principal.KeyId, static _ => new long[1])[0]);
        var setting = $"SharpEyes:RateLimits:{principal.Role}";
        _refusals.Count(Kind, $"key {principal.KeyId} ({principal.Role}) called {grpc.Method.FullName} over its rate limit ({setting})");
        var message = $"key {principal.KeyId} is over its rate limit for role {principal.Role} ({setting}); retry after {retry.TotalMilliseconds:0} ms";
        if (JsonApi.IsTranscoded(context))
        {
            await JsonStatusResponse.WriteAsync(context, StatusCodes.Status429TooManyRequests, StatusCode.ResourceExhausted, message, retry).ConfigureAwait(false);
        }
        else
        {
            await GrpcStatusResponse.WriteAsync(context, StatusCode.ResourceExhausted, message, retry).ConfigureAwait(false);
        }
    }

    public void Dispose() => _limiter.Dispose();
}
