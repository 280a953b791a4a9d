using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;

namespace SharpEyes.Gateway.Mqtt;

/// <summary>
/// Who owns each MQTT client id, and how many sessions each vendor holds. A client id is bound to the vendor whose
/// client first used it, for as long as the broker keeps that session (connected, or kept for a client that left with
/// clean start off); another vendor presenting it is refused, so no vendor can take over another's session, its queued
/// messages or its subscriptions. The binding ends when the broker deletes the session.
/// <para>
/// Sessions cost memory while they live (a subscriber's queue above all), so each vendor may hold at most
/// <see cref="LimitOptions.MqttMaxSessionsPerVendor"/> sessions, of which at most
/// <see cref="LimitOptions.MqttMaxSubscriberSessionsPerVendor"/> subscribe.
/// </para>
/// </summary>
public sealed class MqttSessionPolicy(IOptions<GatewayOptions> options)
{
    private readonly LimitOptions _limits = options.Value.Limits;
    private readonly ConcurrentDictionary<string, Binding> _byClientId = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, VendorSessions> _byVendor = new(StringComparer.Ordinal);

    public enum Claim
    {
        /// <summary>A new session for this vendor, or its own session again.</summary>
        Granted,

        /// <summary>The client id belongs to a session of another vendor.</summary>
        OwnedByAnother,

        /// <summary>The vendor already holds the most sessions it may.</summary>
        TooManySessions,
    }

    /// <summary>Sessions the broker holds for <paramref name="vendorId"/> now.</summary>
    public int Sessions(string vendorId) => _byVendor.TryGetValue(vendorId, out var v) ? Volatile.Read(ref v.Sessions) : 0;

    /// <summary>Binds <paramref name="clientId"/> to <paramref name="vendorId"/> (or confirms the binding) before its CONNECT is accepted.</summary>
    public Claim TryClaim(string clientId, string vendorId)
    {
        var vendor = _byVendor.GetOrAdd(vendorId, static _ => new VendorSessions());
        lock (vendor)
        {
            if (_byClientId.TryGetValue(clientId, out var existing))
            {
                return existing.VendorId == vendorId ? Claim.Granted : Claim.OwnedByAnother;
            }

            if (vendor.Sessions >= _limits.MqttMaxSessionsPerVendor)
            {
                return Claim.TooManySessions;
            }

            if (!_byClientId.TryAdd(clientId, new Binding(vendorId)))
            {
                // Another vendor bound it between the lookup and here.
                return _byClientId.TryGetValue(clientId, out var raced) && raced.VendorId == vendorId ? Claim.Granted : Claim.OwnedByAnother;
            }

            vendor.Sessions++;
            return Claim.Granted;
        }
    }

    /// <summary>
    /// The session of <paramref name="clientId"/> subscribes: true when it already counts as a subscriber or the
    /// vendor has room for one more.
    /// </summary>
    public bool TrySubscribe(string clientId, string vendorId)
    {
        if (!_byClientId.TryGetValue(clientId, out var binding) || binding.VendorId != vendorId)
        {
            return false;
        }

        var vendor = _byVendor.GetOrAdd(vendorId, static _ => new VendorSessions());
        lock (vendor)
        {
            if (binding.Subscriber)
            {
                return true;
            }

            if (vendor.Subscribers >= _limits.MqttMaxSubscriberSessionsPerVendor)
            {
                return false;
            }

            binding.Subscriber = true;
            vendor.Subscribers++;
            return true;
        }
    }

    /// <summary>A claim whose CONNECT was refused after all (or whose session the broker deleted): frees the client id.</summary>
    public void Release(string clientId)
    {
        if (!_byClientId.TryGetValue(clientId, out var binding) || !_byVendor.TryGetValue(binding.VendorId, out var vendor))
        {
            return;
        }

        lock (vendor)
        {
            if (_byClientId.TryRemove(new KeyValuePair<string, Binding>(clientId, binding)))
            {
                vendor.Sessions--;
                if (binding.Subscriber)
                {
                    vendor.Subscribers--;
                }
            }
        }
    }

    private sealed class Binding(string vendorId)
    {
        public string VendorId { get; } = vendorId;

        public bool Subscriber { get; set; }
    }

    private sealed class VendorSessions
    {
        public int Sessions;
        public int Subscribers;
    }
}
