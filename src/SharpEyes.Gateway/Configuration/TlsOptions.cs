using System.ComponentModel.DataAnnotations;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Configuration;

/// <summary>
/// The "SharpEyes:Tls" section: TLS on the gateway's own listeners (gRPC, HTTP, MQTT) from PEM files, and mutual TLS.
/// The files are watched: a changed certificate or CA bundle is loaded without a restart, for new connections (a
/// broken new pair keeps the old one, with an error in the log and <c>sharpeyes_tls_reload_failures_total</c>).
/// </summary>
public sealed class TlsOptions
{
    /// <summary>
    /// PEM file of the server certificate, followed by any intermediate CA certificates (the chain sent to clients).
    /// Set with <see cref="KeyPath"/>: every listener then serves TLS 1.2 or 1.3 only (gRPC: HTTP/2 with ALPN h2;
    /// HTTP: HTTPS; MQTT: MQTT over TLS, default port 8883). Empty: no TLS, and the gateway starts only with
    /// <c>--insecure-listeners</c> (or <c>--demo</c>).
    /// </summary>
    public string CertificatePath { get; set; } = "";

    /// <summary>PEM file of the server certificate's private key (PKCS#8, RSA or EC; unencrypted, mode 0600).</summary>
    public string KeyPath { get; set; } = "";

    /// <summary>
    /// PEM bundle of the CAs whose client certificates are accepted (mutual TLS). Set: clients are asked for a
    /// certificate (optional: a client may still authenticate with an API key alone), and one that does not chain to
    /// one of these CAs, and only these, for client authentication fails the TLS handshake. Empty: no client
    /// certificate is asked for.
    /// </summary>
    public string ClientCaPath { get; set; } = "";

    /// <summary>
    /// Client certificates that authenticate a caller, by subject: a certificate chaining to <see cref="ClientCaPath"/>
    /// whose subject is listed here acts as that role (and vendor), instead of an API key or beside one (both must
    /// then name the same role and vendor). A valid certificate not listed here authenticates nobody (UNAUTHENTICATED).
    /// </summary>
    public List<ClientCertificateOptions> ClientCertificates { get; set; } = [];

    /// <summary>
    /// After a change to one of the files, the gateway waits this long without a further change before reloading
    /// them, so that a certificate and its key written one after the other are read as a pair.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")] public TimeSpan ReloadDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A server certificate and key are configured: the listeners serve TLS.</summary>
    public bool Enabled => CertificatePath.Length > 0 || KeyPath.Length > 0;

    /// <summary>Client certificates are asked for and checked.</summary>
    public bool MutualTls => ClientCaPath.Length > 0;
}

/// <summary>One client certificate that authenticates a caller: its subject, and the role (and vendor) it acts as.</summary>
public sealed class ClientCertificateOptions
{
    /// <summary>
    /// The certificate's subject distinguished name, most specific part first, as .NET's
    /// <c>X500DistinguishedName.Name</c> writes it: <c>CN=acme-gw-01, O=Acme</c>. The RFC 4514 form
    /// (<c>openssl x509 -noout -subject -nameopt RFC2253</c>: <c>CN=acme-gw-01,O=Acme</c>) means the same and matches too;
    /// attribute order matters, case and spaces after commas do not.
    /// </summary>
    [Required] public string Subject { get; set; } = "";

    /// <summary>The role the certificate acts as: Vendor, Operator, Planner, Centre or Admin.</summary>
    public Role Role { get; set; } = Role.Unspecified;

    /// <summary>With Role Vendor: the vendor the certificate acts for (it may register and publish for that vendor only). Empty for other roles.</summary>
    public string VendorId { get; set; } = "";
}
