using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using MQTTnet;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// A development CA made by <c>scripts/dev-ca.sh</c> (openssl) in a temporary directory: the server certificate for a
/// TLS gateway, client certificates for mutual TLS, and clients (gRPC, HTTP, MQTT) that trust this CA only.
/// </summary>
public sealed class DevCa
{
    private DevCa(string directory) => Directory = directory;

    public string Directory { get; }

    public string CaPath => Path.Combine(Directory, "ca.pem");

    public string CertificatePath => Path.Combine(Directory, "server.pem");

    public string KeyPath => Path.Combine(Directory, "server-key.pem");

    /// <summary>The gateway's switches for TLS from this CA's server pair (and, with <paramref name="clientCa"/>, mutual TLS).</summary>
    public string[] GatewayArgs(bool clientCa = false) =>
        ["--tls-cert", CertificatePath, "--tls-key", KeyPath, .. clientCa ? new[] { "--tls-client-ca", CaPath } : []];

    /// <summary>Makes a CA with a server certificate and the named client certificates (subject <c>CN={name}, O=SharpEyes development</c>).</summary>
    public static async Task<DevCa> CreateAsync(params string[] clients)
    {
        var ca = new DevCa(Path.Combine(Path.GetTempPath(), "sharpeyes-tests", "ca-" + Guid.NewGuid().ToString("N")[..12]));
        await ca.IssueAsync(clients);
        return ca;
    }

    /// <summary>Runs dev-ca.sh again: new server (and client) certificates from the same CA, as a rotation would.</summary>
    public async Task IssueAsync(params string[] clients)
    {
        var script = Path.Combine(Interop.InteropPaths.RepoRoot, "scripts", "dev-ca.sh");
        var info = new ProcessStartInfo("bash") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(Directory);
        foreach (var c in clients)
        {
            info.ArgumentList.Add("--client");
            info.ArgumentList.Add(c);
        }

        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(p.ExitCode == 0, "dev-ca.sh failed: " + await stderr);
    }

    public static string Subject(string client) => $"CN={client}, O=SharpEyes development";

    public X509Certificate2 Client(string name) =>
        X509Certificate2.CreateFromPemFile(Path.Combine(Directory, $"client-{name}.pem"), Path.Combine(Directory, $"client-{name}-key.pem"));

    public X509Certificate2 Server() => X509Certificate2.CreateFromPem(File.ReadAllText(CertificatePath));

    private X509Certificate2Collection Roots()
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(CaPath);
        return roots;
    }

    /// <summary>
    /// TLS options of a client that trusts this CA only (and checks the host name), optionally presenting
    /// <paramref name="client"/>; <paramref name="seen"/> receives the server certificate of each handshake.
    /// </summary>
    public SslClientAuthenticationOptions ClientOptions(X509Certificate2? client = null, Action<X509Certificate2>? seen = null)
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.AddRange(Roots());
        return new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            CertificateChainPolicy = policy,
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is not null)
                {
                    seen?.Invoke(new X509Certificate2(certificate));
                }

                return errors == SslPolicyErrors.None;
            },
            // Always present the given certificate, whatever CA names the server asks for (a test of a foreign CA needs it sent).
            ClientCertificates = client is null ? null : [client],
            LocalCertificateSelectionCallback = client is null ? null : (_, _, _, _, _) => client,
        };
    }

    public HttpClient Http(X509Certificate2? client = null, Action<X509Certificate2>? seen = null) =>
        new(new SocketsHttpHandler { SslOptions = ClientOptions(client, seen), PooledConnectionLifetime = TimeSpan.Zero }) { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>A gRPC channel to https://localhost:<paramref name="port"/> trusting this CA (HTTP/2 over TLS, ALPN h2).</summary>
    public GrpcChannel Channel(int port, X509Certificate2? client = null, Action<X509Certificate2>? seen = null) =>
        GrpcChannel.ForAddress($"https://localhost:{port}", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { SslOptions = ClientOptions(client, seen), EnableMultipleHttp2Connections = true },
            DisposeHttpClient = true,
        });

    /// <summary>MQTT over TLS to 127.0.0.1:<paramref name="port"/>, trusting this CA, optionally with a client certificate.</summary>
    public MqttClientOptionsBuilder Mqtt(int port, X509Certificate2? client = null, Action<X509Certificate2>? seen = null)
    {
        var roots = Roots();
        return new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithTimeout(TimeSpan.FromSeconds(10))
            .WithTlsOptions(o =>
            {
                o.UseTls().WithTargetHost("localhost").WithCertificateValidationHandler(e =>
                {
                    var certificate = new X509Certificate2(e.Certificate);
                    seen?.Invoke(certificate);
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                    return chain.Build(certificate);
                });
                if (client is not null)
                {
                    o.WithClientCertificates([client]);
                }
            });
    }
}
