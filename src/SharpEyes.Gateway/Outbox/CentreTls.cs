using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SharpEyes.Gateway.Configuration;

namespace SharpEyes.Gateway.Outbox;

/// <summary>
/// The TLS side of one push endpoint (https:// or mqtts://): verifies the centre's certificate on every handshake
/// against the system trust store, or only against the CA bundle in <see cref="CentreEndpointOptions.CaPath"/>, with the
/// URL's host checked against the certificate's names by the TLS stack; offers the client certificate for mutual TLS;
/// and remembers why the last verification failed, so a delivery failure says "centre certificate not trusted:
/// UntrustedRoot" rather than "the SSL connection could not be established". There is no way to skip verification.
/// <para>
/// The CA and client files are reread when their modification time or size changes, checked at each handshake (a
/// stat per new connection, no file watcher: it also follows a Kubernetes secret's symlink swap). A file that fails to
/// load after a change is reported and the previous contents stay in use; a connection already open keeps the
/// certificate it was made with until it closes.
/// </para>
/// </summary>
public sealed partial class CentreTls
{
    /// <summary>The labels of <see cref="Rejections"/>.</summary>
    public static readonly IReadOnlyList<string> Reasons = ["untrusted", "name_mismatch", "not_time_valid", "no_certificate"];

    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private readonly CentreEndpointOptions _options;
    private readonly Reloading<X509Certificate2Collection>? _roots;
    private readonly Reloading<X509Certificate2>? _client;
    private readonly ConcurrentDictionary<string, long> _rejections = new(StringComparer.Ordinal);
    private string? _lastRejection;

    private CentreTls(CentreEndpointOptions options, string host, ILogger logger)
    {
        _options = options;
        Host = host;
        if (!string.IsNullOrEmpty(options.CaPath))
        {
            _roots = new Reloading<X509Certificate2Collection>("CaPath", [options.CaPath], () => LoadRoots(options.CaPath), options.Name, logger);
        }

        if (!string.IsNullOrEmpty(options.ClientCertificatePath) && !string.IsNullOrEmpty(options.ClientKeyPath))
        {
            _client = new Reloading<X509Certificate2>("ClientCertificatePath", [options.ClientCertificatePath, options.ClientKeyPath],
                () => LoadClient(options.ClientCertificatePath, options.ClientKeyPath), options.Name, logger);
        }

        foreach (var reason in Reasons)
        {
            _rejections[reason] = 0;
        }
    }

    /// <summary>The host the centre's certificate must name (the URL's).</summary>
    public string Host { get; }

    /// <summary>Whether a client certificate is configured.</summary>
    public bool HasClientCertificate => _client is not null;

    /// <summary>Why the last handshake's verification failed; null after one that passed.</summary>
    public string? LastRejection => Volatile.Read(ref _lastRejection);

    /// <summary>Refused centre certificates since start, by reason (<see cref="Reasons"/>).</summary>
    public IReadOnlyDictionary<string, long> Rejections => _rejections;

    /// <summary>The TLS side of an https:// or mqtts:// endpoint; null for a clear-text one.</summary>
    public static CentreTls? For(CentreEndpointOptions options, ILogger logger) =>
        Uri.TryCreate(options.Url, UriKind.Absolute, out var uri) && IsTls(uri) ? new CentreTls(options, uri.IdnHost, logger) : null;

    /// <summary>https and mqtts.</summary>
    public static bool IsTls(Uri url) => url.Scheme is "https" or "mqtts";

    /// <summary>The TLS client options for the gRPC channel's handler (the MQTT client sets the same through its own builder).</summary>
    public SslClientAuthenticationOptions SslOptions() => new()
    {
        TargetHost = Host,
        RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Verify(certificate, chain, errors),
        LocalCertificateSelectionCallback = _client is null ? null : (_, _, _, _, _) => ClientCertificate()!,
        // No CRL or OCSP: a county network seldom reaches the CA's distribution points, and an unreachable one would
        // stop the feed. A compromised centre certificate is dealt with by replacing the CA file (reread at once).
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    };

    /// <summary>The client certificate with its key (reread if the files changed), or null when none is configured.</summary>
    public X509Certificate2? ClientCertificate() => _client?.Current;

    /// <summary>
    /// The certificate check of one handshake. <paramref name="errors"/> is the TLS stack's verdict against the system
    /// trust store, including the host name check; with a CA file the chain is built again against those roots only.
    /// </summary>
    public bool Verify(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        var (reason, detail) = Check(certificate, chain, errors);
        if (reason is null)
        {
            Volatile.Write(ref _lastRejection, null);
            return true;
        }

        _rejections.AddOrUpdate(reason, 1, static (_, n) => n + 1);
        Volatile.Write(ref _lastRejection, detail);
        return false;
    }

    /// <summary>
    /// What a failed delivery or connection attempt was, when the TLS handshake failed: the certificate check's reason,
    /// else the handshake's own error (the centre refused the client certificate, no common protocol). Null when the
    /// failure was not the handshake's.
    /// </summary>
    public string? Explain(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException ?? (e as Grpc.Core.RpcException)?.Status.DebugException)
        {
            if (e is AuthenticationException authentication)
            {
                return LastRejection ?? $"TLS handshake with the centre failed: {Innermost(authentication).Message}";
            }
        }

        return null;
    }

    private (string? Reason, string Detail) Check(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return ("no_certificate", "the centre sent no certificate");
        }

        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return ("name_mismatch", $"centre certificate name mismatch: it does not name {Host} (it names {Names(leaf)})");
        }

        string[] problems;
        if (_roots is null)
        {
            problems = errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors)
                ? [.. (chain?.ChainStatus ?? []).Select(s => s.Status.ToString()).DefaultIfEmpty("UntrustedRoot").Distinct()]
                : [];
        }
        else
        {
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(_roots.Current);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            custom.ChainPolicy.ApplicationPolicy.Add(ServerAuth);
            if (chain is not null)
            {
                custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore); // the intermediates the centre sent
            }

            var built = custom.Build(leaf);
            problems = built ? [] : [.. custom.ChainStatus.Select(s => s.Status.ToString()).DefaultIfEmpty("UntrustedRoot").Distinct()];
            foreach (var element in custom.ChainElements)
            {
                if (!ReferenceEquals(element.Certificate, leaf))
                {
                    element.Certificate.Dispose();
                }
            }
        }

        if (problems.Length == 0)
        {
            return (null, "");
        }

        var roots = _roots is null ? "the system trust store" : $"the CA file {_options.CaPath}";
        return (problems.Contains(nameof(X509ChainStatusFlags.NotTimeValid)) ? "not_time_valid" : "untrusted",
            $"centre certificate not trusted: {string.Join(", ", problems.Select(Meaning))} (subject {leaf.Subject}, issuer {leaf.Issuer}; trusted roots: {roots})");
    }

    /// <summary>A chain status flag with a few words for the operator who reads the log.</summary>
    private static string Meaning(string flag) => flag switch
    {
        nameof(X509ChainStatusFlags.UntrustedRoot) => "UntrustedRoot (its root CA is not a trusted one)",
        nameof(X509ChainStatusFlags.PartialChain) => "PartialChain (it does not chain to a trusted CA)",
        nameof(X509ChainStatusFlags.NotTimeValid) => "NotTimeValid (expired or not yet valid)",
        nameof(X509ChainStatusFlags.NotSignatureValid) => "NotSignatureValid (a signature in its chain is wrong)",
        nameof(X509ChainStatusFlags.NotValidForUsage) => "NotValidForUsage (not issued for TLS servers)",
        _ => flag,
    };

    private static string Names(X509Certificate2 certificate)
    {
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        var names = san is null ? [] : san.EnumerateDnsNames().Concat(san.EnumerateIPAddresses().Select(a => a.ToString())).ToList();
        return names.Count > 0 ? string.Join(", ", names) : certificate.Subject;
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is { } inner)
        {
            e = inner;
        }

        return e;
    }

    /// <summary>Every certificate in a PEM file; throws when there is none.</summary>
    public static X509Certificate2Collection LoadRoots(string path)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(path);
        return roots.Count > 0 ? roots : throw new CryptographicException($"no certificate in {path}");
    }

    /// <summary>The first certificate of a PEM file with its PEM private key; throws when the key is not the certificate's.</summary>
    public static X509Certificate2 LoadClient(string certificatePath, string keyPath) => X509Certificate2.CreateFromPemFile(certificatePath, keyPath);

    /// <summary>What is wrong with an endpoint's URL scheme and TLS settings (for the start's validation).</summary>
    public static IEnumerable<string> Problems(CentreEndpointOptions e)
    {
        if (e.Kind == CentreEndpointKind.Gb28181)
        {
            if (!Uri.TryCreate(e.Url, UriKind.Absolute, out var sip) || sip.Scheme != "sip" || !Devices.GbDeviceId.IsWellFormed(Uri.UnescapeDataString(sip.UserInfo)))
            {
                yield return $"Outbox:Endpoints '{e.Name}': Url '{OutboxService.Redact(e.Url)}' must be sip://{{the upper platform's 20-digit server ID}}@host:port";
            }
            else if (new[] { e.CaPath, e.ClientCertificatePath, e.ClientKeyPath }.Any(f => !string.IsNullOrEmpty(f)))
            {
                yield return $"Outbox:Endpoints '{e.Name}': CaPath, ClientCertificatePath and ClientKeyPath do not apply to a sip:// (GB/T 28181) endpoint";
            }

            yield break;
        }

        var schemes = e.Kind == CentreEndpointKind.Mqtt ? new[] { "mqtt", "mqtts" } : ["http", "https"];
        if (!Uri.TryCreate(e.Url, UriKind.Absolute, out var uri) || !schemes.Contains(uri.Scheme))
        {
            yield return $"Outbox:Endpoints '{e.Name}': Url '{OutboxService.Redact(e.Url)}' must be an absolute {string.Join(" or ", schemes)}:// URL";
            yield break;
        }

        var files = new[] { e.CaPath, e.ClientCertificatePath, e.ClientKeyPath };
        if (!IsTls(uri))
        {
            if (files.Any(f => !string.IsNullOrEmpty(f)))
            {
                yield return $"Outbox:Endpoints '{e.Name}': CaPath, ClientCertificatePath and ClientKeyPath need a {schemes[1]}:// Url; over {uri.Scheme}:// they would protect nothing";
            }

            yield break;
        }

        if (string.IsNullOrEmpty(e.ClientCertificatePath) != string.IsNullOrEmpty(e.ClientKeyPath))
        {
            yield return $"Outbox:Endpoints '{e.Name}': give both ClientCertificatePath and ClientKeyPath, or neither";
        }

        if (!string.IsNullOrEmpty(e.CaPath) && LoadError(() => Dispose(LoadRoots(e.CaPath))) is { } ca)
        {
            yield return $"Outbox:Endpoints '{e.Name}': CaPath '{e.CaPath}': {ca}";
        }

        if (!string.IsNullOrEmpty(e.ClientCertificatePath) && !string.IsNullOrEmpty(e.ClientKeyPath)
            && LoadError(() => LoadClient(e.ClientCertificatePath, e.ClientKeyPath).Dispose()) is { } client)
        {
            yield return $"Outbox:Endpoints '{e.Name}': ClientCertificatePath '{e.ClientCertificatePath}' with ClientKeyPath '{e.ClientKeyPath}': {client}";
        }
    }

    private static void Dispose(X509Certificate2Collection certificates)
    {
        foreach (var certificate in certificates)
        {
            certificate.Dispose();
        }
    }

    private static string? LoadError(Action load)
    {
        try
        {
            load();
            return null;
        }
        catch (Exception ex) when (IsLoadFailure(ex))
        {
            return ex.Message;
        }
    }

    private static bool IsLoadFailure(Exception ex) => ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException;

    /// <summary>A value loaded from files, loaded again when one of them changes (modification time or size).</summary>
    private sealed class Reloading<T>(string setting, string[] paths, Func<T> load, string endpoint, ILogger logger) where T : class
    {
        private readonly Lock _lock = new();
        private (DateTime, long)[] _stamp = Stamp(paths);
        private T _value = load();

        public T Current
        {
            get
            {
                lock (_lock)
                {
                    var stamp = Stamp(paths);
                    if (!stamp.SequenceEqual(_stamp))
                    {
                        _stamp = stamp; // a broken file is reported once per change, not at every handshake
                        try
                        {
                            _value = load();
                            LogReloaded(logger, endpoint, setting, paths[0]);
                        }
                        catch (Exception ex) when (IsLoadFailure(ex))
                        {
                            LogReloadFailed(logger, endpoint, setting, paths[0], ex.Message);
                        }
                    }

                    return _value;
                }
            }
        }

        private static (DateTime, long)[] Stamp(string[] paths) =>
            [.. paths.Select(p => new FileInfo(p) is { Exists: true } f ? (f.LastWriteTimeUtc, f.Length) : (DateTime.MinValue, -1L))];
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox {Endpoint}: {Setting} {Path} changed and was reloaded; new connections use it")]
    private static partial void LogReloaded(ILogger logger, string endpoint, string setting, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox {Endpoint}: {Setting} {Path} changed but cannot be loaded ({Error}); the previous contents stay in use")]
    private static partial void LogReloadFailed(ILogger logger, string endpoint, string setting, string path, string error);
}

/// <summary>A delivery attempt whose TLS handshake with the centre failed; the message says why. Retried like any failure.</summary>
public sealed class CentreTlsException(string message, Exception inner) : Exception(message, inner);
