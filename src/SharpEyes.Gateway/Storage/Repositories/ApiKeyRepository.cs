using System.Data.Common;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Storage.Repositories;

/// <summary>The <c>api_keys</c> table: every API key created, with the SHA-256 of its secret (never the secret), revoked or not.</summary>
public static class ApiKeyRepository
{
    private const string SelectKeys = "SELECT key_id, secret_hash, role, vendor_id, description, created_at, revoked, expires_at FROM api_keys";

    /// <summary>
    /// Stores <paramref name="key"/> as an active key (its <see cref="ApiKeyRow.Revoked"/> is not read), replacing a key
    /// with the same id, revoked or not.
    /// </summary>
    public static void Create(JournalTransaction tx, ApiKeyRow key) =>
        tx.Execute("""
            INSERT INTO api_keys(key_id, secret_hash, role, vendor_id, description, created_at, revoked, expires_at) VALUES(@p0,@p1,@p2,@p3,@p4,@p5,0,@p6)
            ON CONFLICT(key_id) DO UPDATE SET secret_hash = excluded.secret_hash, role = excluded.role, vendor_id = excluded.vendor_id,
                description = excluded.description, created_at = excluded.created_at, revoked = 0, expires_at = excluded.expires_at
            """,
            key.KeyId, key.SecretHash, (int)key.Role, key.VendorId, key.Description, key.CreatedAt, key.ExpiresAt);

    /// <summary>Gives key <paramref name="keyId"/> a new expiry (null: none); returns 0 when the key is unknown or revoked.</summary>
    public static int SetExpiry(JournalTransaction tx, string keyId, long? expiresAt) =>
        tx.Execute("UPDATE api_keys SET expires_at = @p0 WHERE key_id = @p1 AND revoked = 0", expiresAt, keyId);

    /// <summary>Marks key <paramref name="keyId"/> revoked; returns 0 when it is unknown.</summary>
    public static int Revoke(JournalTransaction tx, string keyId) =>
        tx.Execute("UPDATE api_keys SET revoked = 1 WHERE key_id = @p0", keyId);

    /// <summary>Every stored key, revoked and expired ones included.</summary>
    public static List<ApiKeyRow> LoadAll(DbConnection connection) => Read(connection, null, null);

    /// <summary>Key <paramref name="keyId"/> as committed or written in <paramref name="tx"/> (null: every key); empty when unknown.</summary>
    public static List<ApiKeyRow> Load(JournalTransaction tx, string? keyId) => Read(tx.Connection, tx.Transaction, keyId);

    private static List<ApiKeyRow> Read(DbConnection connection, DbTransaction? transaction, string? keyId)
    {
        using var command = connection.Sql(SelectKeys + (keyId is null ? "" : " WHERE key_id = @id"), transaction);
        if (keyId is not null)
        {
            command.With("id", keyId);
        }

        using var reader = command.ExecuteReader();
        var records = new List<ApiKeyRow>();
        while (reader.Read())
        {
            records.Add(new ApiKeyRow(reader.GetString(0), (byte[])reader[1], (Role)reader.GetInt32Value(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? "" : reader.GetString(4),
                reader.GetInt64(5), reader.GetInt64(6) != 0, reader.IsDBNull(7) ? null : reader.GetInt64(7)));
        }

        return records;
    }
}

/// <summary>A stored API key: id, SHA-256 of the secret, role, vendor (null for none), description, creation and expiry (Unix ms; null: never), revoked.</summary>
public sealed record ApiKeyRow(string KeyId, byte[] SecretHash, Role Role, string? VendorId, string Description, long CreatedAt, bool Revoked, long? ExpiresAt);
