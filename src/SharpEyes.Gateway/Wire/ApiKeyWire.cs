using SharpEyes.Gateway.Domain;

namespace SharpEyes.Gateway.Wire;

/// <summary>API keys as Admin answers them (<see cref="V1.ApiKeyInfo"/>).</summary>
public static class ApiKeyWire
{
    public static V1.ApiKeyInfo ToWire(this ApiKeyRecord key) => new()
    {
        KeyId = key.KeyId,
        Role = key.Role,
        VendorId = key.VendorId ?? "",
        Description = key.Description,
        CreatedAt = Timestamp.FromDateTimeOffset(key.CreatedAt),
        ExpiresAt = key.ExpiresAt.ToWire(),
        Revoked = key.Revoked,
        Expired = key.Expired,
    };
}
