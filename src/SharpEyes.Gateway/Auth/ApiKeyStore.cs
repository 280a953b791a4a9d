using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Auth;

/// <summary>
/// API keys of the form <c>se_{keyId}_{secret}</c>. Only SHA-256 of the secret is stored: the secret is 32 random
/// bytes, so a fast hash is enough (the same choice as GitHub's and Stripe's API tokens). The key id is not secret
/// and is what logs and the Admin service show.
/// <para>
/// A key may have an expiry time. From that moment it is refused everywhere as a revoked key is (with its own reason,
/// <see cref="Inactive"/>), and a timer on the gateway's <see cref="TimeProvider"/>, set for the next expiry, ends what
/// is open with it the way a revocation does (<see cref="RevokedToken"/> is cancelled, <see cref="KeyRevoked"/> raised).
/// A key expiring within <see cref="KeyOptions.ExpiryWarning"/> is logged once a day and counted for /metrics.
/// </para>
/// </summary>
public sealed partial class ApiKeyStore : IJournalParticipant, IReplicaChangeFollower, IDisposable
{
    /// <summary>The longest the expiry timer sleeps: a key entering the warning window is reported within it.</summary>
    private static readonly TimeSpan MaxSleep = TimeSpan.FromHours(1);
    private static readonly TimeSpan WarningRepeat = TimeSpan.FromDays(1);

    private readonly Journal _journal;
    private readonly TimeProvider _time;
    private readonly ILogger<ApiKeyStore> _logger;
    private readonly TimeSpan _warning;
    private readonly ConcurrentDictionary<string, ApiKeyRow> _byId = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _revocations = new(StringComparer.Ordinal);

    /// <summary>Keys whose expiry was acted on (streams and connections ended), with the expiry it was for.</summary>
    private readonly ConcurrentDictionary<string, long> _ended = new(StringComparer.Ordinal);

    /// <summary>When each key about to expire was last named in a warning (Unix ms).</summary>
    private readonly ConcurrentDictionary<string, long> _warned = new(StringComparer.Ordinal);
    private readonly Lock _schedule = new();
    private readonly ITimer _expiry;

    public ApiKeyStore(Journal journal, TimeProvider time, IOptions<GatewayOptions> options, ILogger<ApiKeyStore> logger)
    {
        _journal = journal;
        _time = time;
        _logger = logger;
        _warning = options.Value.Keys.ExpiryWarning;
        _expiry = time.CreateTimer(_ => Sweep(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{1,63}$")]
    public static partial Regex VendorIdPattern();

    public bool HasAdminKey => _byId.Values.Any(k => k.Role == Role.Admin && !k.Revoked && !k.IsExpired(NowMs));

    /// <summary>What <see cref="KeyOptions.ExpiryWarning"/> says: keys expiring within it are reported.</summary>
    public TimeSpan ExpiryWarning => _warning;

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>No key was ever created in this store (revoked keys count as created).</summary>
    public bool IsEmpty => _byId.IsEmpty;

    public void Load(DbConnection connection)
    {
        _byId.Clear();
        foreach (var record in ApiKeyRepository.LoadAll(connection))
        {
            _byId[record.KeyId] = record;
        }

        Reschedule();
    }

    /// <summary>The channel other replicas announce key changes on (payload: the key id).</summary>
    public const string ChangeChannel = "sharpeyes_keys";

    string IReplicaChangeFollower.Channel => ChangeChannel;

    /// <summary>
    /// Another replica created, revoked or re-dated the key <paramref name="announced"/> names (null: any key): re-read from the store. A
    /// key revoked there ends here too (its streams, sessions and MQTT connections), as if revoked here.
    /// </summary>
    void IReplicaChangeFollower.Changed(ReplicaAnnouncement? announced, JournalTransaction tx)
    {
        foreach (var record in ApiKeyRepository.Load(tx, announced?.What))
        {
            var before = _byId.GetValueOrDefault(record.KeyId);
            _byId[record.KeyId] = record;
            if (before is null || before.ExpiresAt != record.ExpiresAt)
            {
                Forget(record.KeyId);
            }

            if (record.Revoked && before is { Revoked: false })
            {
                End(record.KeyId);
            }
        }

        Reschedule();
    }

    /// <summary>Resolves a presented key, or null when it is malformed, unknown, revoked or expired.</summary>
    public Principal? Authenticate(string? presented) => Authenticate(presented, out _);

    /// <summary>
    /// Resolves a presented key, or null when it is malformed, unknown, revoked or expired; for a key whose secret is
    /// right but which has expired, <paramref name="refusal"/> says so ("API key {id} expired at {time}"), else it is null.
    /// </summary>
    public Principal? Authenticate(string? presented, out string? refusal)
    {
        refusal = null;
        if (!TryParse(presented, out var keyId, out var secret) || !_byId.TryGetValue(keyId, out var record) || record.Revoked)
        {
            return null;
        }

        var hash = Hash(secret);
        if (!CryptographicOperations.FixedTimeEquals(hash, record.SecretHash))
        {
            return null;
        }

        if (record.IsExpired(NowMs))
        {
            refusal = Expired(record);
            return null;
        }

        return new Principal(record.KeyId, record.Role, record.VendorId);
    }

    /// <summary>The key with this id while it is neither revoked nor expired (a session's key, checked on each of its requests), else null.</summary>
    public Principal? Active(string keyId) =>
        _byId.TryGetValue(keyId, out var record) && !record.Revoked && !record.IsExpired(NowMs) ? new Principal(record.KeyId, record.Role, record.VendorId) : null;

    /// <summary>
    /// Why the key with this id no longer works ("the API key {id} was revoked", "API key {id} expired at {time}",
    /// "the API key {id} is unknown"), or null while it is active, and for a client certificate's caller (its mapping is
    /// configuration, not a key): the reason given when a stream or session ends.
    /// </summary>
    public string? Inactive(string keyId) =>
        ClientCertificateIdentities.IsCertificateKeyId(keyId) ? null
        : !_byId.TryGetValue(keyId, out var record) ? $"the API key {keyId} is unknown"
        : record.Revoked ? $"the API key {keyId} was revoked"
        : record.IsExpired(NowMs) ? Expired(record)
        : null;

    /// <summary>"API key {id} expired at {time}" for a key that is past its expiry and not revoked, else null.</summary>
    public string? ExpiredReason(string keyId) =>
        _byId.TryGetValue(keyId, out var record) && !record.Revoked && record.IsExpired(NowMs) ? Expired(record) : null;

    private static string Expired(ApiKeyRow record) =>
        $"API key {record.KeyId} expired at {Format(record.ExpiresAt!.Value)}";

    private static string Format(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Active keys that expire within <see cref="ExpiryWarning"/> from now (for /metrics).</summary>
    public int ExpiringSoon()
    {
        var now = NowMs;
        var until = now + (long)_warning.TotalMilliseconds;
        return _byId.Values.Count(k => !k.Revoked && k.ExpiresAt is { } at && at > now && at <= until);
    }

    /// <summary>The key was revoked (or never existed); never true of a client certificate's principal (<c>cert:…</c>).</summary>
    public bool IsRevoked(string keyId) => !ClientCertificateIdentities.IsCertificateKeyId(keyId) && Active(keyId) is null;

    /// <summary>
    /// A token cancelled when the key is revoked, already cancelled for a revoked or unknown key: what a stream or a
    /// connection opened with the key follows, so that revoking it ends them at once rather than at their next call.
    /// </summary>
    public CancellationToken RevokedToken(string keyId)
    {
        if (ClientCertificateIdentities.IsCertificateKeyId(keyId))
        {
            return CancellationToken.None; // a client certificate's mapping is configuration, not a key to revoke
        }

        if (Active(keyId) is null)
        {
            return new CancellationToken(canceled: true);
        }

        var source = _revocations.GetOrAdd(keyId, _ => new CancellationTokenSource());
        if (Active(keyId) is null)
        {
            // Revoked between the check and the lookup: RevokeAsync may have missed this source.
            _ = source.CancelAsync();
        }

        return source.Token;
    }

    /// <summary>
    /// Raised (on the thread pool, after the commit) with the id of each key revoked, and of each key at its expiry:
    /// the MQTT broker closes its connections (<see cref="Inactive"/> says which of the two).
    /// </summary>
    public event Action<string>? KeyRevoked;

    /// <summary>Creates a key; returns its info and the key itself, which is never stored or shown again.</summary>
    public async Task<(ApiKeyRecord Info, string Key)> CreateAsync(Role role, string? vendorId, string description, string? presetKey = null, DateTimeOffset? expiresAt = null)
    {
        string keyId;
        string secret;
        if (presetKey is not null)
        {
            if (!TryParse(presetKey, out keyId, out secret))
            {
                // An operator-chosen key (SHARPEYES_ADMIN_KEY) need not follow our format: derive an id from it.
                secret = presetKey;
                keyId = Convert.ToHexStringLower(Hash(presetKey))[..12];
            }
        }
        else
        {
            keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
            secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        }

        var record = new ApiKeyRow(keyId, Hash(secret), role, vendorId, description, NowMs, false, expiresAt?.ToUnixTimeMilliseconds());
        await _journal.ExecuteAsync(tx =>
        {
            ApiKeyRepository.Create(tx, record);
            tx.NotifyReplicas(ChangeChannel, record.KeyId);
            tx.AfterCommit(() =>
            {
                _byId[record.KeyId] = record;
                Forget(record.KeyId);
            });
            return true;
        }).ConfigureAwait(false);
        if (record.ExpiresAt is not null)
        {
            Reschedule();
        }

        var key = presetKey ?? $"se_{keyId}_{secret}";
        return (record.ToInfo(NowMs), key);
    }

    /// <summary>What <see cref="SetExpiryAsync"/> found.</summary>
    public enum ExpiryChange
    {
        Changed,
        Unknown,
        Revoked,
    }

    /// <summary>
    /// Gives the key a new expiry (null: none). An expired key given a later expiry works again; a revoked key cannot
    /// be changed. The caller checks that a new expiry is in the future.
    /// </summary>
    public async Task<(ExpiryChange Outcome, ApiKeyRecord? Info)> SetExpiryAsync(string keyId, DateTimeOffset? expiresAt)
    {
        if (!_byId.TryGetValue(keyId, out var record))
        {
            return (ExpiryChange.Unknown, null);
        }

        if (record.Revoked)
        {
            return (ExpiryChange.Revoked, record.ToInfo(NowMs));
        }

        var changed = record with { ExpiresAt = expiresAt?.ToUnixTimeMilliseconds() };
        await _journal.ExecuteAsync(tx =>
        {
            ApiKeyRepository.SetExpiry(tx, keyId, changed.ExpiresAt);
            tx.NotifyReplicas(ChangeChannel, keyId);
            tx.AfterCommit(() =>
            {
                // A revocation committed in between wins.
                if (_byId.TryGetValue(keyId, out var now) && !now.Revoked)
                {
                    _byId[keyId] = now with { ExpiresAt = changed.ExpiresAt };
                    Forget(keyId);
                }
            });
            return true;
        }).ConfigureAwait(false);
        Reschedule();
        var after = _byId[keyId];
        return (after.Revoked ? ExpiryChange.Revoked : ExpiryChange.Changed, after.ToInfo(NowMs));
    }

    /// <summary>A key's expiry changed: its end and its warnings are due again.</summary>
    private void Forget(string keyId)
    {
        _ended.TryRemove(keyId, out _);
        _warned.TryRemove(keyId, out _);
    }

    public async Task<bool> RevokeAsync(string keyId)
    {
        if (!_byId.TryGetValue(keyId, out var record) || record.Revoked)
        {
            return false;
        }

        await _journal.ExecuteAsync(tx =>
        {
            ApiKeyRepository.Revoke(tx, keyId);
            tx.NotifyReplicas(ChangeChannel, keyId);
            tx.AfterCommit(() =>
            {
                _byId[keyId] = _byId[keyId] with { Revoked = true };
                End(keyId);
            });
            return true;
        }).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Ends what is open with the key (revoked, or at its expiry): its <see cref="RevokedToken"/> is cancelled and
    /// <see cref="KeyRevoked"/> raised, off the caller's thread (the journal's or the timer's): the streams and
    /// connections end on their own threads.
    /// </summary>
    private void End(string keyId)
    {
        if (_revocations.TryRemove(keyId, out var source))
        {
            _ = source.CancelAsync();
        }

        if (KeyRevoked is { } revoked)
        {
            _ = Task.Run(() => revoked(keyId));
        }
    }

    /// <summary>
    /// The expiry timer: ends what is open with each key that has just expired (once per expiry), warns once a day
    /// about each key expiring within <see cref="ExpiryWarning"/>, and sets itself for the next expiry.
    /// </summary>
    private void Sweep()
    {
        lock (_schedule)
        {
            var now = NowMs;
            var warnUntil = now + (long)_warning.TotalMilliseconds;
            foreach (var record in _byId.Values)
            {
                if (record.Revoked || record.ExpiresAt is not { } at)
                {
                    continue;
                }

                if (at <= now)
                {
                    if (!_ended.TryGetValue(record.KeyId, out var ended) || ended != at)
                    {
                        _ended[record.KeyId] = at;
                        LogExpired(_logger, record.KeyId, Format(at));
                        End(record.KeyId);
                    }
                }
                else if (at <= warnUntil && (!_warned.TryGetValue(record.KeyId, out var last) || now - last >= (long)WarningRepeat.TotalMilliseconds))
                {
                    _warned[record.KeyId] = now;
                    LogExpiring(_logger, record.KeyId, record.Role, Format(at), TimeSpan.FromMilliseconds(at - now).ToString(@"d\d\ hh\:mm", CultureInfo.InvariantCulture));
                }
            }

            Reschedule();
        }
    }

    /// <summary>
    /// Sets the expiry timer for the next thing due: a key's expiry, or its next warning (when it enters the warning
    /// window, then a day after the previous one); at most <see cref="MaxSleep"/> ahead.
    /// </summary>
    private void Reschedule()
    {
        lock (_schedule)
        {
            var now = NowMs;
            var warning = (long)_warning.TotalMilliseconds;
            long? next = null;
            foreach (var record in _byId.Values)
            {
                if (record.Revoked || record.ExpiresAt is not { } at || (_ended.TryGetValue(record.KeyId, out var ended) && ended == at))
                {
                    continue;
                }

                var warnAt = _warned.TryGetValue(record.KeyId, out var last) ? last + (long)WarningRepeat.TotalMilliseconds : at - warning;
                var due = Math.Max(0, Math.Min(at, warnAt) - now);
                next = next is { } n ? Math.Min(n, due) : due;
            }

            _expiry.Change(next is { } ms ? TimeSpan.FromMilliseconds(Math.Min(ms, MaxSleep.TotalMilliseconds)) : Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose() => _expiry.Dispose();

    public IReadOnlyList<ApiKeyRecord> List()
    {
        var now = NowMs;
        return [.. _byId.Values.OrderBy(k => k.CreatedAt).Select(k => k.ToInfo(now))];
    }

    private static bool TryParse(string? presented, out string keyId, out string secret)
    {
        keyId = secret = "";
        if (presented is null || !presented.StartsWith("se_", StringComparison.Ordinal))
        {
            return TryPreset(presented, out keyId, out secret);
        }

        var underscore = presented.IndexOf('_', 3);
        if (underscore < 0)
        {
            return false;
        }

        keyId = presented[3..underscore];
        secret = presented[(underscore + 1)..];
        return keyId.Length > 0 && secret.Length > 0;
    }

    private static bool TryPreset(string? presented, out string keyId, out string secret)
    {
        keyId = secret = "";
        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }

        keyId = Convert.ToHexStringLower(Hash(presented))[..12];
        secret = presented;
        return true;
    }

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "API key {KeyId} expired at {ExpiresAt}: it is refused from now on, and its streams, sessions and MQTT connections are closed")]
    private static partial void LogExpired(ILogger logger, string keyId, string expiresAt);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "API key {KeyId} ({Role}) expires at {ExpiresAt}, in {Left}: give its holder a new key, or extend it with Admin.SetApiKeyExpiry (sharpeyes keys set-expiry)")]
    private static partial void LogExpiring(ILogger logger, string keyId, Role role, string expiresAt, string left);
}

/// <summary>What the key store reads off a stored key.</summary>
file static class ApiKeyRowExtensions
{
    public static bool IsExpired(this ApiKeyRow key, long nowMs) => key.ExpiresAt is { } at && at <= nowMs;

    public static ApiKeyRecord ToInfo(this ApiKeyRow key, long nowMs) => new(
        key.KeyId, key.Role, key.VendorId, key.Description, DateTimeOffset.FromUnixTimeMilliseconds(key.CreatedAt),
        key.ExpiresAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null, key.Revoked, key.IsExpired(nowMs));
}
