using Grpc.Core;
using SharpEyes.Gateway.Mqtt;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Cli;

/// <summary>
/// <c>sharpeyes broker mosquitto --out DIR [--group sharpeyes]</c>: mosquitto's password file, topic ACL and settings
/// from the gateway's vendors (active vendor keys) and devices, read over gRPC with an admin key
/// (<see cref="MosquittoConfig"/>).
/// </summary>
internal static class BrokerCli
{
    public static async Task<int> RunAsync(Dictionary<string, string> flags, CallInvoker channel, Metadata headers, TextWriter stdout, TextWriter stderr)
    {
        if (flags.GetValueOrDefault("out") is not { Length: > 0 } directory)
        {
            await stderr.WriteLineAsync("--out DIR: the directory for passwd, acl, credentials and sharpeyes.conf").ConfigureAwait(false);
            return 2;
        }

        var group = flags.GetValueOrDefault("group") ?? "sharpeyes";
        var keys = await new Admin.AdminClient(channel).ListApiKeysAsync(new ListApiKeysRequest(), headers).ConfigureAwait(false);
        var vendors = keys.Keys.Where(k => k.Role == Role.Vendor && !k.Revoked && !k.Expired && k.VendorId.Length > 0).Select(k => k.VendorId).Distinct(StringComparer.Ordinal).ToList();
        var devices = new List<(string VendorId, string DeviceId)>();
        var registry = new DeviceRegistry.DeviceRegistryClient(channel);
        var request = new ListDevicesRequest { PageSize = 1000 };
        do
        {
            var page = await registry.ListDevicesAsync(request, headers).ConfigureAwait(false);
            devices.AddRange(page.Devices.Select(d => (d.VendorId, d.DeviceId)));
            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);

        var issued = await MosquittoConfig.WriteAsync(directory, vendors, devices, group).ConfigureAwait(false);
        await stderr.WriteLineAsync($"wrote {MosquittoConfig.PasswordFile}, {MosquittoConfig.AclFile}, {MosquittoConfig.ConfFile} and {MosquittoConfig.CredentialsFile} (0600) in {directory}: " +
            $"{vendors.Count} vendors, {devices.Count} devices; new passwords for {(issued.Count == 0 ? "nobody" : string.Join(", ", issued))} (in {MosquittoConfig.CredentialsFile}, never printed)").ConfigureAwait(false);
        await stdout.WriteLineAsync(Path.Combine(directory, MosquittoConfig.ConfFile)).ConfigureAwait(false);
        return 0;
    }
}
