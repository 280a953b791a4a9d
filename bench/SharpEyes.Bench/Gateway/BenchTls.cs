using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using MQTTnet;

namespace SharpEyes.Bench.Gateway;

/// <summary>
/// The bench's clients over TLS: with a CA file (--tls-ca) the gRPC channels use https and the MQTT publishers TLS,
/// trusting that CA only, as a vendor configured with the county's CA would; without one, plain text as before.
/// </summary>
public static class BenchTls
{
    public static GrpcChannel Channel(int port, string? caFile, int maxReceiveBytes, int? maxSendBytes = null)
    {
        var options = new GrpcChannelOptions { MaxReceiveMessageSize = maxReceiveBytes, MaxSendMessageSize = maxSendBytes };
        if (caFile is null)
        {
            return GrpcChannel.ForAddress($"http://127.0.0.1:{port}", options);
        }

        var roots = Roots(caFile);
        options.HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, cert, _, errors) => Trusted(cert, errors, roots) },
        };
        options.DisposeHttpClient = true;
        return GrpcChannel.ForAddress($"https://127.0.0.1:{port}", options);
    }

    public static MqttClientOptionsBuilder Mqtt(MqttClientOptionsBuilder builder, string? caFile) =>
        caFile is null
            ? builder
            : builder.WithTlsOptions(t => t.UseTls().WithTargetHost("127.0.0.1").WithTrustChain(Roots(caFile)));

    private static X509Certificate2Collection Roots(string caFile)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(caFile);
        return roots;
    }

    private static bool Trusted(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection roots)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}
