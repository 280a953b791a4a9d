using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;

namespace SharpEyes.Gateway.Hosting;

/// <summary>
/// This process's name among the replicas of one store (<see cref="GatewayOptions.ReplicaId"/>): configured, or the
/// host name with a random suffix new at every start, so that a restarted process is a new holder of any lease.
/// </summary>
public sealed class ReplicaIdentity(IOptions<GatewayOptions> options)
{
    public string Id { get; } = string.IsNullOrWhiteSpace(options.Value.ReplicaId) ? Generate() : options.Value.ReplicaId;

    /// <summary>The host name (cut to what <see cref="GatewayOptions.ReplicaId"/> allows) and 6 random hex digits.</summary>
    public static string Generate()
    {
        var host = new string([.. Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-')]).Trim('-', '.', '_');
        var suffix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        return (host.Length == 0 ? "sharpeyes" : host[..Math.Min(host.Length, 90)]) + "-" + suffix;
    }
}
