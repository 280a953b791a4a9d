using SharpEyes.V1;

namespace SharpEyes.Gateway.Auth;

/// <summary>
/// Who is calling: the key's id, role and, for vendors, the vendor id; <paramref name="CertificateSubject"/> is the
/// subject of the client certificate that authenticated the call (mutual TLS), alone (key id <c>cert:{subject}</c>)
/// or beside the API key, else null.
/// </summary>
public sealed record Principal(string KeyId, Role Role, string? VendorId, string? CertificateSubject = null)
{
    public bool IsAdmin => Role == Role.Admin;

    /// <summary>May this caller read or change a device owned by <paramref name="vendorId"/>?</summary>
    public bool Owns(string vendorId) => IsAdmin || (Role == Role.Vendor && VendorId == vendorId);
}
