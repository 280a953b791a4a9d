using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using SharpEyes.Gateway.Storage;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Auth;

/// <summary>
/// API keys of the form <c>se_{keyId}_{secret}</c>. Only SHA-256 of the secret is stored: the secret is 32 random
/// bytes, so a fast hash is enough (the same choice as GitHub's and Stripe's API tokens). The key id is not secret
/// and is what logs and the Admin service show.
/// </summary>
public sealed partial class ApiKeyStore : IJournalParticipant
{
    private readonly Journal _journal;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, KeyRecord> _byId = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _revocations = new(StringComparer.Ordinal);

    public ApiKeyStore(Journal journal, TimeProvider time)
    {
        _journal = journal;
        _time = time;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{1,63}$")]
    public static partial Regex VendorIdPattern();

    public bool HasAdminKey => _byId.Values.Any(k => k.Role == Role.Admin && !k.Revoked);

    /// <summary>No key was ever created in this store (revoked keys count as created).</summary>
    public bool IsEmpty => _byId.IsEmpty;

    public void Load(SqliteConnection connection)
    {
        _byId.Clear();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT key_id, secret_hash, role, vendor_id, description, created_at, revoked FROM api_keys";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var record = new KeyRecord(reader.GetString(0), (byte[])reader[1], (Role)reader.GetInt32(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? "" : reader.GetString(4),
                reader.GetInt64(5), reader.GetInt64(6) != 0);
            _byId[record.KeyId] = record;
        }
    }

    /// <summary>Resolves a presented key, or null when it is malformed, unknown or revoked.</summary>
    public Principal? Authenticate(string? presented)
    {
        if (!TryParse(presented, out var keyId, out var secret) || !_byId.TryGetValue(keyId, out var record) || record.Revoked)
        {
            return null;
        }

        var hash = Hash(secret);
        return CryptographicOperations.FixedTimeEquals(hash, record.SecretHash)
            ? new Principal(record.KeyId, record.Role, record.VendorId)
            : null;
    }

    /// <summary>The key with this id while it is not revoked (a session's key, checked on each of its requests), else null.</summary>
    public Principal? Active(string keyId) =>
        _byId.TryGetValue(keyId, out var record) && !record.Revoked ? new Principal(record.KeyId, record.Role, record.VendorId) : null;

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

    /// <summary>Raised (on the thread pool, after the commit) with the id of each key revoked: the MQTT broker closes its connections.</summary>
    public event Action<string>? KeyRevoked;

    /// <summary>Creates a key; returns its info and the key itself, which is never stored or shown again.</summary>
    public async Task<(ApiKeyInfo Info, string Key)> CreateAsync(Role role, string? vendorId, string description, string? presetKey = null)
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

        var record = new KeyRecord(keyId, Hash(secret), role, vendorId, description, _time.GetUtcNow().ToUnixTimeMilliseconds(), false);
        await _journal.ExecuteAsync(tx =>
        {
            tx.Execute("INSERT OR REPLACE INTO api_keys(key_id, secret_hash, role, vendor_id, description, created_at, revoked) VALUES($p0,$p1,$p2,$p3,$p4,$p5,0)",
                record.KeyId, record.SecretHash, (int)record.Role, record.VendorId, record.Description, record.CreatedAt);
            tx.AfterCommit(() => _byId[record.KeyId] = record);
            return true;
        }).ConfigureAwait(false);
        var key = presetKey ?? $"se_{keyId}_{secret}";
        return (record.ToInfo(), key);
    }

    public async Task<bool> RevokeAsync(string keyId)
    {
        if (!_byId.TryGetValue(keyId, out var record) || record.Revoked)
        {
            return false;
        }

        await _journal.ExecuteAsync(tx =>
        {
            tx.Execute("UPDATE api_keys SET revoked = 1 WHERE key_id = $p0", keyId);
            tx.AfterCommit(() =>
            {
                _byId[keyId] = record with { Revoked = true };
                // Off the journal's thread: the streams and connections end on their own threads.
                if (_revocations.TryRemove(keyId, out var source))
                {
                    _ = source.CancelAsync();
                }

                if (KeyRevoked is { } revoked)
                {
                    _ = Task.Run(() => revoked(keyId));
                }
            });
            return true;
        }).ConfigureAwait(false);
        return true;
    }

    public IReadOnlyList<ApiKeyInfo> List() => [.. _byId.Values.OrderBy(k => k.CreatedAt).Select(k => k.ToInfo())];

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

    private sealed record KeyRecord(string KeyId, byte[] SecretHash, Role Role, string? VendorId, string Description, long CreatedAt, bool Revoked)
    {
        public ApiKeyInfo ToInfo() => new()
        {
            KeyId = KeyId,
            Role = Role,
            VendorId = VendorId ?? "",
            Description = Description,
            CreatedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt)),
            Revoked = Revoked,
        };
    }
}
