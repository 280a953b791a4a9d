using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Mqtt;
using SharpEyes.Gateway.Observability;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Hosting;

/// <summary>
/// The TLS material of the listeners (<see cref="TlsOptions"/>): the server certificate and key from PEM files, and the
/// CA bundle client certificates must chain to. Kestrel's own TLS asks it for the options of each handshake
/// (<see cref="OptionsFor"/>), so a reload is seen by the next connection without a restart; open connections keep
/// the certificate they started with. The files' directories are watched; after a change and
/// <see cref="TlsOptions.ReloadDelay"/> of quiet the files are loaded again, and a pair that does not load keeps the
/// previous one (logged as an error, counted in <c>sharpeyes_tls_reload_failures_total</c>).
/// </summary>
public sealed partial class GatewayTls(ILogger<GatewayTls> logger, ClientRefusals refusals, [FromKeyedServices(MqttConnectionGuard.ClockKey)] TimeProvider clock) : IDisposable
{
    /// <summary>The refusal kind of a client certificate that does not chain to SharpEyes:Tls:ClientCaPath.</summary>
    public const string ClientCertificateRefused = "tls-client-certificate";

    private const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private readonly Lock _lock = new();
    private readonly List<FileSystemWatcher> _watchers = [];
    private TlsOptions? _options;
    private volatile TlsMaterial? _current;
    private System.Threading.ITimer? _debounce;
    private long _reloads;
    private long _reloadFailures;

    /// <summary>The server certificate served to new connections (null without TLS).</summary>
    public X509Certificate2? Certificate => _current?.Certificate;

    /// <summary>Reloads that put new files in use since start.</summary>
    public long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>Changes to the files that could not be loaded (the previous certificate stayed in use).</summary>
    public long ReloadFailures => Interlocked.Read(ref _reloadFailures);

    /// <summary>
    /// Why the listeners cannot start: neither TLS configured nor plain text asked for (checked when the listeners
    /// are configured, not by options validation: a configuration that only reads settings need not choose).
    /// </summary>
    public static string? NoListenerChoice(GatewayOptions o) => o.Tls.Enabled || o.ServesPlainText ? null
        : "no TLS configured: set SharpEyes:Tls:CertificatePath and KeyPath (--tls-cert FILE --tls-key FILE; PEM files, "
            + "'bash scripts/dev-ca.sh DIR' makes a development pair) to serve TLS, or pass --insecure-listeners to serve plain text on a network you trust";

    /// <summary>
    /// What is wrong with the TLS settings themselves (files are checked by <see cref="Start"/>): a certificate without
    /// a key, client certificates without a CA, plain text asked for beside TLS, a client certificate entry that maps to nobody.
    /// </summary>
    public static List<string> Problems(GatewayOptions o)
    {
        var t = o.Tls;
        var failures = new List<string>();
        if (t.Enabled && (t.CertificatePath.Length == 0 || t.KeyPath.Length == 0))
        {
            failures.Add("Tls: CertificatePath (--tls-cert) and KeyPath (--tls-key) go together; set both PEM files, or neither");
        }

        if (t.Enabled && o.InsecureListeners)
        {
            failures.Add("InsecureListeners (--insecure-listeners) and Tls:CertificatePath (--tls-cert) are both set; choose TLS or plain text");
        }

        if (t.MutualTls && !t.Enabled)
        {
            failures.Add("Tls: ClientCaPath (--tls-client-ca) needs CertificatePath and KeyPath: client certificates are asked for in the TLS handshake");
        }

        if (t.ClientCertificates.Count > 0 && !t.MutualTls)
        {
            failures.Add("Tls: ClientCertificates are listed but ClientCaPath (--tls-client-ca) is empty: no client certificate would be asked for");
        }

        var subjects = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < t.ClientCertificates.Count; i++)
        {
            var c = t.ClientCertificates[i];
            var at = $"Tls:ClientCertificates:{i}";
            if (ClientCertificateIdentities.Canonical(c.Subject) is not { } subject)
            {
                failures.Add($"{at}: Subject '{c.Subject}' is not a distinguished name such as 'CN=acme-gw-01, O=Acme'");
            }
            else if (!subjects.Add(subject))
            {
                failures.Add($"{at}: Subject '{c.Subject}' is listed twice; a certificate maps to one caller");
            }

            if (c.Role == Role.Unspecified || !Enum.IsDefined(c.Role))
            {
                failures.Add($"{at}: Role must be Vendor, Operator, Planner, Centre or Admin");
            }
            else if (c.Role == Role.Vendor && !ApiKeyStore.VendorIdPattern().IsMatch(c.VendorId))
            {
                failures.Add($"{at}: a Vendor certificate needs its VendorId (lower-case letters, digits, '-' or '_', 2-64 characters); got '{c.VendorId}'");
            }
            else if (c.Role != Role.Vendor && c.VendorId.Length > 0)
            {
                failures.Add($"{at}: VendorId is for Vendor certificates only (Role is {c.Role})");
            }
        }

        return failures;
    }

    /// <summary>
    /// Loads the files (a <see cref="StartupFailureException"/> naming the file and its setting when one is missing,
    /// unreadable or does not match) and starts watching them.
    /// </summary>
    internal void Start(TlsOptions options)
    {
        lock (_lock)
        {
            if (_options is not null)
            {
                return; // Kestrel configured again (a second Listen pass): the same files, already watched
            }

            var material = Load(options);
            _options = options;
            _current = material;
            LogLoaded(logger, material.Describe());
            WarnIfExpiring(material.Certificate);
            _debounce = clock.CreateTimer(_ => Reload(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            foreach (var directory in new[] { options.CertificatePath, options.KeyPath, options.ClientCaPath }
                .Where(p => p.Length > 0).Select(p => Path.GetDirectoryName(Path.GetFullPath(p))!).Distinct(StringComparer.Ordinal))
            {
                // The whole directory, not the file names: an editor or a Kubernetes secret mount replaces files by
                // renaming (…data symlinks), which a watch on one name misses. A change to an unrelated file costs a
                // reload that finds nothing new.
                var watcher = new FileSystemWatcher(directory)
                {
                    NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                    IncludeSubdirectories = false,
                };
                watcher.Changed += (_, _) => Changed();
                watcher.Created += (_, _) => Changed();
                watcher.Deleted += (_, _) => Changed();
                watcher.Renamed += (_, _) => Changed();
                watcher.Error += (_, e) => LogWatchFailed(logger, directory, e.GetException());
                watcher.EnableRaisingEvents = true;
                _watchers.Add(watcher);
            }
        }
    }

    /// <summary>
    /// The TLS options of one handshake on <paramref name="listener"/>: the current certificate (its chain built once per
    /// load), TLS 1.2 and 1.3 only, the listener's ALPN protocol, and with mutual TLS a client certificate asked for and
    /// checked against the client CA bundle alone.
    /// </summary>
    internal SslServerAuthenticationOptions OptionsFor(string listener, ConnectionContext connection)
    {
        var material = _current ?? throw new InvalidOperationException("TLS is not loaded");
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = material.Context,
            EnabledSslProtocols = Protocols,
            AllowRenegotiation = false,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            ApplicationProtocols = listener switch
            {
                GatewayListeners.Grpc => [SslApplicationProtocol.Http2],
                GatewayListeners.Http => [SslApplicationProtocol.Http11],
                _ => [], // MQTT: no ALPN; a client that offers some (mqtt, x-amzn-mqtt-ca) is still served
            },
        };
        if (material.ClientCas is { } cas)
        {
            options.ClientCertificateRequired = true; // asked for; a client without one goes on to key authentication
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.AddRange(cas);
            policy.ApplicationPolicy.Add(ClientAuthentication);
            options.CertificateChainPolicy = policy;
            var remote = connection.RemoteEndPoint;
            options.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => CheckClient(remote, certificate, chain, errors);
        }

        return options;
    }

    /// <summary>
    /// A client certificate is accepted only when it chains, for client authentication, to the client CA bundle
    /// (built with <see cref="X509ChainTrustMode.CustomRootTrust"/>: the system's CAs do not count); any other fails
    /// the handshake. No certificate at all is fine here: the caller may still present an API key.
    /// </summary>
    private bool CheckClient(System.Net.EndPoint? remote, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return true;
        }

        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        var why = chain?.ChainStatus is { Length: > 0 } status
            ? string.Join("; ", status.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct(StringComparer.Ordinal))
            : errors.ToString();
        refusals.Count(ClientCertificateRefused,
            $"{remote}: client certificate '{LogText.Client(certificate.Subject)}' does not chain to SharpEyes:Tls:ClientCaPath ({why}); TLS handshake refused");
        return false;
    }

    /// <summary>
    /// The certificate, key and CA bundle from their files, or a <see cref="StartupFailureException"/> that names the
    /// file, its setting and what is wrong.
    /// </summary>
    internal static TlsMaterial Load(TlsOptions o)
    {
        Readable(o.CertificatePath, "SharpEyes:Tls:CertificatePath (--tls-cert)");
        Readable(o.KeyPath, "SharpEyes:Tls:KeyPath (--tls-key)");
        var chain = new X509Certificate2Collection();
        try
        {
            chain.ImportFromPemFile(o.CertificatePath);
        }
        catch (CryptographicException e)
        {
            throw new StartupFailureException($"SharpEyes:Tls:CertificatePath (--tls-cert): '{o.CertificatePath}' is not a PEM certificate: {e.Message}", e);
        }

        if (chain.Count == 0)
        {
            throw new StartupFailureException($"SharpEyes:Tls:CertificatePath (--tls-cert): '{o.CertificatePath}' holds no '-----BEGIN CERTIFICATE-----' block");
        }

        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(o.CertificatePath, o.KeyPath);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            var text = File.ReadAllText(o.KeyPath);
            var why = text.Contains("PRIVATE KEY-----", StringComparison.Ordinal) && !text.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal)
                ? $"the key in SharpEyes:Tls:KeyPath (--tls-key) '{o.KeyPath}' does not match the certificate in SharpEyes:Tls:CertificatePath (--tls-cert) '{o.CertificatePath}' ({e.Message.TrimEnd('.')})"
                : $"SharpEyes:Tls:KeyPath (--tls-key): '{o.KeyPath}' holds no unencrypted PEM private key ('-----BEGIN PRIVATE KEY-----', 'EC PRIVATE KEY' or 'RSA PRIVATE KEY')";
            throw new StartupFailureException(why, e);
        }

        var intermediates = new X509Certificate2Collection();
        foreach (var c in chain.Skip(1))
        {
            intermediates.Add(c);
        }

        X509Certificate2Collection? cas = null;
        SslCertificateTrust? trust = null;
        if (o.ClientCaPath.Length > 0)
        {
            Readable(o.ClientCaPath, "SharpEyes:Tls:ClientCaPath (--tls-client-ca)");
            cas = [];
            try
            {
                cas.ImportFromPemFile(o.ClientCaPath);
            }
            catch (CryptographicException e)
            {
                throw new StartupFailureException($"SharpEyes:Tls:ClientCaPath (--tls-client-ca): '{o.ClientCaPath}' is not a PEM bundle of CA certificates: {e.Message}", e);
            }

            if (cas.Count == 0)
            {
                throw new StartupFailureException($"SharpEyes:Tls:ClientCaPath (--tls-client-ca): '{o.ClientCaPath}' holds no '-----BEGIN CERTIFICATE-----' block");
            }

            // The CAs' names go to clients in the CertificateRequest, so a client holding several certificates picks one they accept.
            trust = SslCertificateTrust.CreateForX509Collection(cas, sendTrustInHandshake: true);
        }

        // Built once per load (offline: the chain comes from the file, nothing is fetched), not once per handshake.
        var context = SslStreamCertificateContext.Create(certificate, intermediates, offline: true, trust);
        return new TlsMaterial(certificate, context, cas, Fingerprint(o));
    }

    private static void Readable(string path, string setting)
    {
        if (Directory.Exists(path))
        {
            throw new StartupFailureException($"{setting}: '{path}' cannot be read: it is a directory; give the PEM file");
        }

        if (!File.Exists(path))
        {
            throw new StartupFailureException($"{setting}: '{path}' does not exist (full path {Path.GetFullPath(path)})");
        }

        try
        {
            using var _ = File.OpenRead(path);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new StartupFailureException($"{setting}: '{path}' cannot be read: {e.Message}", e);
        }
    }

    /// <summary>What was loaded, to tell a real change from a touched file: the contents' hash.</summary>
    private static string Fingerprint(TlsOptions o) =>
        Convert.ToHexString(SHA256.HashData([.. new[] { o.CertificatePath, o.KeyPath, o.ClientCaPath }
            .Where(p => p.Length > 0).SelectMany(File.ReadAllBytes)]));

    private void Changed()
    {
        if (_options is { } o)
        {
            _debounce?.Change(o.ReloadDelay, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Loads the files again; puts them in use when they changed and load, else keeps the previous ones.</summary>
    internal void Reload()
    {
        lock (_lock)
        {
            if (_options is not { } o || _current is not { } previous)
            {
                return;
            }

            try
            {
                if (previous.Fingerprint == Fingerprint(o))
                {
                    return; // touched or rewritten with the same contents
                }

                var material = Load(o);
                _current = material;
                Interlocked.Increment(ref _reloads);
                LogReloaded(logger, material.Describe());
                WarnIfExpiring(material.Certificate);
            }
            catch (Exception e) when (e is StartupFailureException or IOException or UnauthorizedAccessException or CryptographicException)
            {
                Interlocked.Increment(ref _reloadFailures);
                LogReloadFailed(logger, previous.Certificate.SerialNumber, e.Message);
            }
        }
    }

    private void WarnIfExpiring(X509Certificate2 certificate)
    {
        var now = clock.GetUtcNow();
        if (certificate.NotAfter.ToUniversalTime() < now.UtcDateTime.AddDays(30))
        {
            LogExpiring(logger, certificate.SerialNumber, certificate.NotAfter.ToUniversalTime());
        }
    }

    /// <summary>TLS gauges and counters among the gateway's metrics, read when scraped.</summary>
    public void AddMetrics(GatewayMetrics metrics)
    {
        var reloads = metrics.Counter("sharpeyes_tls_reloads_total", "Changed TLS files (certificate, key, client CA bundle) put in use without a restart");
        var failures = metrics.Counter("sharpeyes_tls_reload_failures_total", "Changes to the TLS files that did not load (the previous certificate stayed in use; the log says why)");
        var notAfter = metrics.Gauge("sharpeyes_tls_certificate_expiry_timestamp_seconds", "When the server certificate in use expires (Unix time); 0 without TLS");
        metrics.OnCollect(() =>
        {
            reloads.IncTo(Reloads);
            failures.IncTo(ReloadFailures);
            notAfter.Set(Certificate is { } c ? new DateTimeOffset(c.NotAfter.ToUniversalTime()).ToUnixTimeSeconds() : 0);
        });
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var w in _watchers)
            {
                w.Dispose();
            }

            _watchers.Clear();
            _debounce?.Dispose();
        }
    }

    [LoggerMessage(EventId = 9101, Level = LogLevel.Information, Message = "TLS: serving {Certificate}")]
    private static partial void LogLoaded(ILogger logger, string certificate);

    [LoggerMessage(EventId = 9102, Level = LogLevel.Information, Message = "TLS files changed: new connections are served {Certificate}")]
    private static partial void LogReloaded(ILogger logger, string certificate);

    [LoggerMessage(EventId = 9103, Level = LogLevel.Error, Message = "TLS files changed but do not load; the previous certificate (serial {Serial}) stays in use: {Reason}")]
    private static partial void LogReloadFailed(ILogger logger, string serial, string reason);

    [LoggerMessage(EventId = 9104, Level = LogLevel.Error, Message = "TLS: cannot watch {Directory} for certificate changes; replace the files and restart to rotate")]
    private static partial void LogWatchFailed(ILogger logger, string directory, Exception error);

    [LoggerMessage(EventId = 9105, Level = LogLevel.Warning, Message = "TLS: the server certificate (serial {Serial}) expires {NotAfter:u}; replace the files (they are reloaded without a restart)")]
    private static partial void LogExpiring(ILogger logger, string serial, DateTime notAfter);
}

/// <summary>One load of the TLS files: the certificate with its key, its chain context, the client CA bundle.</summary>
internal sealed record TlsMaterial(X509Certificate2 Certificate, SslStreamCertificateContext Context, X509Certificate2Collection? ClientCas, string Fingerprint)
{
    public string Describe() =>
        $"certificate '{Certificate.Subject}' serial {Certificate.SerialNumber}, valid until {Certificate.NotAfter.ToUniversalTime():u}"
        + (ClientCas is { } cas ? $"; client certificates asked for, from {cas.Count} CA(s): {string.Join(", ", cas.Select(c => $"'{c.Subject}'"))}" : "");
}
