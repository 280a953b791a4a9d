using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;

namespace SharpEyes.Gateway.Auth;

/// <summary>
/// Who a client certificate authenticates (mutual TLS, <see cref="TlsOptions.ClientCertificates"/>). By the time a
/// call or an MQTT CONNECT sees a certificate, the TLS handshake has checked that it chains to
/// <see cref="TlsOptions.ClientCaPath"/>; this maps its subject to a role and vendor. A certificate's principal has
/// the key id <c>cert:{subject}</c> (<see cref="KeyIdPrefix"/>; API key ids never hold a ':'), which logs, rate limits
/// and metrics show as they show a key id.
/// </summary>
public sealed class ClientCertificateIdentities
{
    /// <summary>The prefix of a certificate principal's key id.</summary>
    public const string KeyIdPrefix = "cert:";

    private readonly Dictionary<string, Principal> _bySubject = new(StringComparer.OrdinalIgnoreCase);

    public ClientCertificateIdentities(IOptions<GatewayOptions> options)
    {
        foreach (var c in options.Value.Tls.ClientCertificates)
        {
            if (Canonical(c.Subject) is { } subject)
            {
                _bySubject[subject] = new Principal(KeyIdPrefix + subject, c.Role, c.Role == V1.Role.Vendor ? c.VendorId : null, subject);
            }
        }
    }

    /// <summary>Is this key id a certificate's (not revocable through the key store: its mapping is configuration)?</summary>
    public static bool IsCertificateKeyId(string keyId) => keyId.StartsWith(KeyIdPrefix, StringComparison.Ordinal);

    /// <summary>
    /// A distinguished name as .NET writes it (<c>CN=a, O=b</c>), from that form or RFC 4514's (<c>CN=a,O=b</c>); null
    /// when it does not parse.
    /// </summary>
    public static string? Canonical(string subject)
    {
        if (string.IsNullOrWhiteSpace(subject))
        {
            return null;
        }

        try
        {
            // Decoded again from its DER form: the parsed string's Name is the string as given.
            return Canonical(new X500DistinguishedName(subject));
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    /// <summary>A distinguished name as .NET writes a certificate's subject: most specific part first, ", " between parts.</summary>
    private static string Canonical(X500DistinguishedName name) => name.Decode(X500DistinguishedNameFlags.Reversed);

    /// <summary>The caller the certificate authenticates, or null when its subject is not listed.</summary>
    public Principal? Map(X509Certificate2 certificate) =>
        _bySubject.TryGetValue(Canonical(certificate.SubjectName), out var principal) ? principal : null;

    /// <summary>Why a valid certificate whose subject is not listed authenticates nobody.</summary>
    public static string Unmapped(X509Certificate2 certificate) =>
        $"client certificate '{Canonical(certificate.SubjectName)}' is not listed in SharpEyes:Tls:ClientCertificates; present a listed certificate or an API key";

    /// <summary>
    /// The caller when both an API key and a listed certificate came: the key's, with the certificate's subject; or
    /// null and why, when they name different roles or vendors.
    /// </summary>
    public static (Principal? Principal, string? Conflict) Combine(Principal key, Principal certificate)
    {
        if (key.Role != certificate.Role || key.VendorId != certificate.VendorId)
        {
            return (null, $"the API key (key {key.KeyId}: {Describe(key)}) and the client certificate ('{certificate.CertificateSubject}': {Describe(certificate)}) "
                + "name different callers; send one of them, or a key and a certificate of the same caller");
        }

        return (key with { CertificateSubject = certificate.CertificateSubject }, null);
    }

    private static string Describe(Principal p) => p.VendorId is null ? $"role {p.Role}" : $"role {p.Role}, vendor {p.VendorId}";
}
