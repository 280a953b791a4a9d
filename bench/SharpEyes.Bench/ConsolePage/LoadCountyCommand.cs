using System.Diagnostics;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.Bench.Coverage;
using SharpEyes.V1;

namespace SharpEyes.Bench.ConsolePage;

/// <summary>
/// <c>sharpeyes-bench load-county --grpc-port G --admin-key K</c>: loads the coverage benchmark's synthetic county
/// (2,000 grids, 5,000 key sites, 20,000 cameras, most of them online) into a running gateway for the console bench
/// (bench/console/console-bench.mjs), which then opens the console on it. Prints one JSON line: what it loaded and how long it took.
/// </summary>
internal static class LoadCountyCommand
{
    public static async Task<int> RunAsync(Options options, CancellationToken ct)
    {
        var county = SyntheticCounty.Build(options.Int("cov-sites", 5_000), options.Int("cov-cameras", 20_000), probes: 0);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{options.Int("grpc-port", 0)}",
            new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024, MaxSendMessageSize = 64 * 1024 * 1024 });
        var admin = new Metadata { { "authorization", "Bearer " + options.Get("admin-key", "") } };
        var vendorKey = (await new Admin.AdminClient(channel).CreateApiKeyAsync(
            new CreateApiKeyRequest { Role = Role.Vendor, VendorId = "bench-console", Description = "bench console vendor" }, admin, cancellationToken: ct)).ApiKey;
        var vendor = new Metadata { { "authorization", "Bearer " + vendorKey } };

        var started = Stopwatch.GetTimestamp();
        var geography = new Geography.GeographyClient(channel);
        var regions = await geography.ImportGridsAsync(new ImportGeoJsonRequest { Geojson = county.GridsGeoJson(), Datum = Datum.Wgs84 }, admin,
            deadline: DateTime.UtcNow.AddSeconds(120), cancellationToken: ct);
        var sites = await geography.ImportKeySitesAsync(new ImportGeoJsonRequest { Geojson = county.KeySitesGeoJson(withProbes: false), Datum = Datum.Wgs84 }, admin,
            deadline: DateTime.UtcNow.AddSeconds(120), cancellationToken: ct);

        var registry = new DeviceRegistry.DeviceRegistryClient(channel);
        RegisterDevicesResponse registered;
        using (var call = registry.RegisterDevices(vendor, DateTime.UtcNow.AddSeconds(300), ct))
        {
            foreach (var camera in county.Cameras)
            {
                await call.RequestStream.WriteAsync(CountyDevices.ToRequest(camera), ct);
            }

            await call.RequestStream.CompleteAsync();
            registered = await call.ResponseAsync;
        }

        var online = county.Cameras.Where(c => c.Online).Select(c => c.Id).ToList();
        await CountyDevices.HeartbeatAllAsync(registry, vendor, online, ct);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            regions = regions.Imported,
            grids = county.GridCount,
            keySites = sites.Imported,
            cameras = registered.Accepted,
            rejected = registered.Rejected,
            online = online.Count,
            seconds = Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 1),
        }));
        return registered.Rejected == 0 ? 0 : 1;
    }
}
