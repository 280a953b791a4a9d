using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Observability;

namespace SharpEyes.Gateway.Auth;

/// <summary>
/// Bounds guessing: each IP address may fail authentication (a wrong, unknown or revoked API key, over gRPC or MQTT)
/// <see cref="LimitOptions.FailedAuthPerAddress"/> times per <see cref="LimitOptions.FailedAuthWindow"/> (a fixed
/// window from System.Threading.RateLimiting). Once it has used them up, its attempts are refused without looking at
/// the key until the window ends: gRPC answers RESOURCE_EXHAUSTED with a retry delay, MQTT a CONNACK refusal. Every
/// failure and every refusal is counted (<c>sharpeyes_refusals_total{kind="auth-failed-grpc"|"auth-failed-mqtt"|"auth-locked-out"}</c>)
/// and logged once per interval with the address and the key id presented (never the secret).
/// </summary>
public sealed class AuthFailureLimiter : IDisposable
{
    public const string LockedOut = "auth-locked-out";

    private readonly PartitionedRateLimiter<IPAddress> _failures;
    private readonly ClientRefusals _refusals;

    public AuthFailureLimiter(IOptions<GatewayOptions> options, ClientRefusals refusals)
    {
        _refusals = refusals;
        var limits = options.Value.Limits;
        Window = limits.FailedAuthWindow;
        _failures = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address => RateLimitPartition.GetFixedWindowLimiter(address, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = limits.FailedAuthPerAddress,
            Window = limits.FailedAuthWindow,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    /// <summary>The longest an address stays refused after using up its failures.</summary>
    public TimeSpan Window { get; }

    /// <summary>True (and counted) when <paramref name="address"/> has used up its failed attempts for this window.</summary>
    public bool IsLockedOut(IPAddress address, string transport)
    {
        if (_failures.GetStatistics(address)?.CurrentAvailablePermits > 0)
        {
            return false;
        }

        _refusals.Count(LockedOut, $"{address} ({transport}): too many failed authentications; refused unchecked for up to {Window.TotalSeconds:0} s (SharpEyes:Limits:FailedAuthPerAddress)");
        return true;
    }

    /// <summary>Records a failed authentication from <paramref name="address"/>; <paramref name="presented"/> is the key as sent (only its id part is logged).</summary>
    public void Failed(IPAddress address, string transport, string? presented, string why)
    {
        using var _ = _failures.AttemptAcquire(address);
        _refusals.Count("auth-failed-" + transport, $"{address}: {why}{KeyIdOf(presented)}");
    }

    /// <summary>" (key id X)" for a presented key of our form se_{id}_{secret}; nothing for anything else (it may be a secret).</summary>
    public static string KeyIdOf(string? presented) => KeyIdPart(presented) is { } id ? $" (key id {id})" : "";

    /// <summary>The id part of a presented key of our form se_{id}_{secret} (escaped, at most 32 characters); null for anything else (it may be a secret).</summary>
    public static string? KeyIdPart(string? presented)
    {
        if (presented is null || !presented.StartsWith("se_", StringComparison.Ordinal))
        {
            return null;
        }

        var end = presented.IndexOf('_', 3);
        return end > 3 ? LogText.Client(presented[3..end], 32) : null;
    }

    public void Dispose() => _failures.Dispose();
}
