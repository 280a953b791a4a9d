using SharpEyes.V1;

namespace SharpEyes.Gateway.Domain;

/// <summary>
/// An API key as the key store describes it (never its secret): id, role, the vendor of a vendor key, the admin's
/// description, when it was created and when it stops working (null: never), and whether it is revoked or expired now.
/// </summary>
public sealed record ApiKeyRecord(string KeyId, Role Role, string? VendorId, string Description, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, bool Revoked, bool Expired);
