using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.Bench.Mqtt;
using SharpEyes.Bench.Reporting;
using SharpEyes.V1;

namespace SharpEyes.Bench.Coverage;

public sealed record GatewayCoverageOptions(int GrpcPort, int GatewayPid, string AdminKey, int Rounds, int WarmupCycles, TimeSpan PhaseLimit, TimeSpan WaitLimit);

/// <summary>
/// Rows 3 and 5 against a running gateway (started empty, without --demo): imports the synthetic county (grids of
/// every level, key sites plus the probe sites) over Geography.ImportGrids/ImportKeySites, registers its cameras, the
/// probe cameras and one alarm device per probe, heartbeats the cameras the county has online, then measures, per
/// probe: Heartbeat(probe camera) → COVERAGE_GAP_CLOSED of its site, Heartbeat(alarm device) → DEVICE_ONLINE (the
/// same-run baseline without coverage work), DeregisterDevice(probe camera) → COVERAGE_GAP_OPENED; then re-registers
/// both (status unknown again). The offline path (3 missed keepalives, minutes) is not used.
/// </summary>
public sealed class GatewayCoverageBench(SyntheticCounty county, GatewayCoverageOptions o, TextWriter log)
{
    private readonly List<string> _errors = [];
    private int _timeouts;

    public async Task<GatewayCoverageResult> RunAsync(CancellationToken ct)
    {
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{o.GrpcPort}", new GrpcChannelOptions
        {
            MaxReceiveMessageSize = 64 * 1024 * 1024,
            MaxSendMessageSize = 64 * 1024 * 1024,
        });
        using var feedChannel = GrpcChannel.ForAddress($"http://127.0.0.1:{o.GrpcPort}", new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 });
        var (_, rssStart) = CpuSnapshot.Memory(o.GatewayPid);
        var admin = new Admin.AdminClient(channel);
        var adminAuth = Auth(o.AdminKey);
        var vendorKey = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Vendor, VendorId = "bench-coverage", Description = "bench coverage vendor" },
            adminAuth, Deadline(10), ct)).ApiKey;
        var centreKey = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Centre, Description = "bench coverage centre" },
            adminAuth, Deadline(10), ct)).ApiKey;
        var vendorAuth = Auth(vendorKey);

        // The geography: grids of every level, then key sites (so the cameras are placed once, not again per import).
        var geography = new Geography.GeographyClient(channel);
        var gridsJson = county.GridsGeoJson();
        var sitesJson = county.KeySitesGeoJson(withProbes: true);
        log.WriteLine($"[coverage] gateway: importing {county.Regions.Count:N0} regions ({gridsJson.Length / 1024.0:N0} KiB GeoJSON) " +
            $"and {county.KeySites.Count + county.Probes.Count:N0} key sites ({sitesJson.Length / 1024.0:N0} KiB)");
        var start = Stopwatch.GetTimestamp();
        var imported = await geography.ImportGridsAsync(new ImportGeoJsonRequest { Geojson = gridsJson, Datum = Datum.Wgs84 }, adminAuth, Deadline(120), ct);
        var importGrids = Stopwatch.GetElapsedTime(start).TotalSeconds;
        start = Stopwatch.GetTimestamp();
        var importedSites = await geography.ImportKeySitesAsync(new ImportGeoJsonRequest { Geojson = sitesJson, Datum = Datum.Wgs84 }, adminAuth, Deadline(120), ct);
        var importSites = Stopwatch.GetElapsedTime(start).TotalSeconds;
        log.WriteLine($"[coverage]   imported {imported.Imported:N0} regions in {importGrids:F2} s, {importedSites.Imported:N0} key sites in {importSites:F2} s");

        // The county's cameras, the probe cameras and one alarm device per probe.
        var requests = county.Cameras.Select(CountyDevices.ToRequest)
            .Concat(county.Probes.Select(p => CountyDevices.ToRequest(p.Camera)))
            .Concat(county.Probes.Select((_, i) => AlarmRequest(i)))
            .ToList();
        var registry = new DeviceRegistry.DeviceRegistryClient(channel);
        start = Stopwatch.GetTimestamp();
        int registered;
        using (var call = registry.RegisterDevices(vendorAuth, Deadline(o.PhaseLimit.TotalSeconds), ct))
        {
            foreach (var request in requests)
            {
                await call.RequestStream.WriteAsync(request, ct);
            }

            await call.RequestStream.CompleteAsync();
            var response = await call.ResponseAsync;
            registered = response.Accepted;
            if (response.Rejected > 0)
            {
                var bad = response.RejectedResults.FirstOrDefault();
                _errors.Add($"registration: {response.Rejected:N0} rejected, first {bad?.DeviceId}: code {bad?.Code} {bad?.Message}");
            }
        }

        var registerSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        log.WriteLine($"[coverage]   registered {registered:N0}/{requests.Count:N0} devices in {registerSeconds:F2} s");

        // The registered cameras' status is unknown (not working) until they heartbeat; the gateway's coverage, built
        // batch by batch, against a full recompute of the same cameras. Not timed.
        var agreement = CoverageAgreement.FromGeoJson(gridsJson, sitesJson, SyntheticCounty.CountyCode);
        var coverageClient = new V1.Coverage.CoverageClient(channel);
        var agreements = new List<AgreementResult>
        {
            await CoverageAgreement.CompareAsync(coverageClient, adminAuth, agreement.FullRecompute(AllCameras(_ => false)),
                "after the RegisterDevices stream (every camera registered, none online yet)", o.WaitLimit * 3, log, ct),
        };

        var online = county.Cameras.Where(c => c.Online).Select(c => c.Id).ToList();
        start = Stopwatch.GetTimestamp();
        await CountyDevices.HeartbeatAllAsync(registry, vendorAuth, online, ct);
        var heartbeatSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var lastRefresh = Stopwatch.GetTimestamp();
        log.WriteLine($"[coverage]   {online.Count:N0} county cameras online (Heartbeat) in {heartbeatSeconds:F2} s");
        agreements.Add(await CoverageAgreement.CompareAsync(coverageClient, adminAuth, agreement.FullRecompute(AllCameras(c => c.Online)),
            $"after {online.Count:N0} cameras came online (Heartbeat)", o.WaitLimit * 3, log, ct));
        foreach (var a in agreements.Where(a => !a.Equal))
        {
            _errors.Add($"coverage {a.Describe()}: {string.Join("; ", a.FirstDifferences)}");
        }

        var (peakAfterLoad, rssAfterLoad) = CpuSnapshot.Memory(o.GatewayPid);

        var stats = await admin.GetStatsAsync(new GetStatsRequest(), adminAuth, Deadline(10), ct);
        await using var feed = new CoverageFeedWatcher(feedChannel, Auth(centreKey));
        feed.Start(stats.LastSequence);

        var gapClosed = new List<double>();
        var cameraOnline = new List<double>();
        var alarmOnline = new List<double>();
        var gapOpened = new List<double>();
        var heartbeatRpc = new List<double>();
        int cycles = 0;
        int planned = o.WarmupCycles + (o.Rounds * county.Probes.Count);
        var deadline = Stopwatch.GetTimestamp() + (long)(o.PhaseLimit.TotalSeconds * Stopwatch.Frequency);
        log.WriteLine($"[coverage] gateway: {o.WarmupCycles} warm-up cycles, then {o.Rounds} round(s) over {county.Probes.Count} probes");
        CpuSnapshot? cpuBefore = null, benchBefore = null;
        (long, long)? machineBefore = null;
        try
        {
            for (int i = 0; i < planned && Stopwatch.GetTimestamp() < deadline; i++)
            {
                if (i == o.WarmupCycles)
                {
                    cpuBefore = CpuSnapshot.Take(o.GatewayPid);
                    benchBefore = CpuSnapshot.Take(Environment.ProcessId);
                    machineBefore = CpuSnapshot.SystemBusy();
                }

                // Keep the county's cameras online: the gateway marks them offline after 3 missed keepalives (3 min).
                if (Stopwatch.GetElapsedTime(lastRefresh) > TimeSpan.FromSeconds(100))
                {
                    await CountyDevices.HeartbeatAllAsync(registry, vendorAuth, online, ct);
                    lastRefresh = Stopwatch.GetTimestamp();
                }

                var scored = i >= o.WarmupCycles;
                int p = i % county.Probes.Count;
                var probe = county.Probes[p];
                var cameraId = probe.Camera.Id;
                var alarmId = AlarmMessages.AlarmDeviceId(500_000 + p);

                async Task CameraOnlineAsync()
                {
                    var closed = feed.Expect(FeedEventKind.CoverageGapClosed, probe.Site.Code);
                    var deviceOnline = feed.Expect(FeedEventKind.DeviceOnline, cameraId);
                    long t0 = Stopwatch.GetTimestamp();
                    await registry.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { cameraId } }, vendorAuth, Deadline(10), ct);
                    long rpc = Stopwatch.GetTimestamp();
                    var closedAt = await WaitAsync(feed, closed, FeedEventKind.CoverageGapClosed, probe.Site.Code);
                    var onlineAt = await WaitAsync(feed, deviceOnline, FeedEventKind.DeviceOnline, cameraId);
                    if (scored)
                    {
                        heartbeatRpc.Add(Ms(rpc - t0));
                        Add(gapClosed, closedAt, t0);
                        Add(cameraOnline, onlineAt, t0);
                    }
                }

                async Task AlarmOnlineAsync()
                {
                    var deviceOnline = feed.Expect(FeedEventKind.DeviceOnline, alarmId);
                    long t0 = Stopwatch.GetTimestamp();
                    await registry.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { alarmId } }, vendorAuth, Deadline(10), ct);
                    var onlineAt = await WaitAsync(feed, deviceOnline, FeedEventKind.DeviceOnline, alarmId);
                    if (scored)
                    {
                        Add(alarmOnline, onlineAt, t0);
                    }
                }

                // Alternate the order so neither side always runs right after the other's commit.
                if (i % 2 == 0)
                {
                    await CameraOnlineAsync();
                    await AlarmOnlineAsync();
                }
                else
                {
                    await AlarmOnlineAsync();
                    await CameraOnlineAsync();
                }

                // Online → gap opened: deregistering the camera removes its wedge.
                var opened = feed.Expect(FeedEventKind.CoverageGapOpened, probe.Site.Code);
                long d0 = Stopwatch.GetTimestamp();
                await registry.DeregisterDeviceAsync(new DeregisterDeviceRequest { DeviceId = cameraId }, vendorAuth, Deadline(10), ct);
                var openedAt = await WaitAsync(feed, opened, FeedEventKind.CoverageGapOpened, probe.Site.Code);
                if (scored)
                {
                    Add(gapOpened, openedAt, d0);
                }

                // Back to "registered, never heard from" for the next round (not timed; waits until the feed caught up).
                await registry.DeregisterDeviceAsync(new DeregisterDeviceRequest { DeviceId = alarmId }, vendorAuth, Deadline(10), ct);
                var cameraBack = feed.Expect(FeedEventKind.DeviceRegistered, cameraId);
                var alarmBack = feed.Expect(FeedEventKind.DeviceRegistered, alarmId);
                await registry.RegisterDeviceAsync(CountyDevices.ToRequest(probe.Camera), vendorAuth, Deadline(10), ct);
                await registry.RegisterDeviceAsync(AlarmRequest(p), vendorAuth, Deadline(10), ct);
                await WaitAsync(feed, cameraBack, FeedEventKind.DeviceRegistered, cameraId);
                await WaitAsync(feed, alarmBack, FeedEventKind.DeviceRegistered, alarmId);
                cycles += scored ? 1 : 0;
            }
        }
        catch (RpcException e)
        {
            _errors.Add($"{e.StatusCode}: {e.Status.Detail}");
            log.WriteLine($"[coverage] gateway cycle failed: {e}");
        }

        var loopCpu = CpuSnapshot.Diff(cpuBefore, CpuSnapshot.Take(o.GatewayPid));
        var loopBenchCpu = CpuSnapshot.Diff(benchBefore, CpuSnapshot.Take(Environment.ProcessId));
        var loopMachine = CpuSnapshot.SystemPercent(machineBefore, CpuSnapshot.SystemBusy());
        if (cycles < planned - o.WarmupCycles)
        {
            _errors.Add($"{cycles:N0}/{planned - o.WarmupCycles:N0} measured cycles within the {o.PhaseLimit.TotalSeconds:F0} s limit");
        }

        if (feed.Error is not null)
        {
            _errors.Add($"feed: {feed.Error} ({feed.Reconnects} reconnects)");
        }

        var (peakEnd, rssEnd) = CpuSnapshot.Memory(o.GatewayPid);
        return new GatewayCoverageResult(county.Probes.Count, cycles, o.WarmupCycles, Latency.Of(gapClosed), Latency.Of(cameraOnline),
            Latency.Of(alarmOnline), Latency.Of(gapOpened), Latency.Of(heartbeatRpc), importGrids, importSites, registerSeconds, registered,
            heartbeatSeconds, online.Count, rssStart, rssAfterLoad, peakAfterLoad, peakEnd, rssEnd, _timeouts, loopCpu, loopBenchCpu, loopMachine, _errors)
        {
            Agreement = agreements,
        };

        static void Add(List<double> into, long? arrived, long sent)
        {
            if (arrived is { } at)
            {
                into.Add(Ms(at - sent));
            }
        }
    }

    private async Task<long?> WaitAsync(CoverageFeedWatcher feed, Task<long> arrival, FeedEventKind kind, string key)
    {
        try
        {
            return await arrival.WaitAsync(o.WaitLimit);
        }
        catch (TimeoutException)
        {
            feed.Forget(kind, key);
            _timeouts++;
            if (_timeouts <= 5)
            {
                _errors.Add($"no {kind} for {key} within {o.WaitLimit.TotalSeconds:F0} s");
            }

            return null;
        }
    }

    /// <summary>The county's cameras and the probe cameras as the gateway holds them; the probes never heartbeat before row 3.</summary>
    private IEnumerable<Geo.Coverage.CameraFov> AllCameras(Func<SyntheticCamera, bool> online) =>
        county.Cameras.Select(c => c.ToFov(online(c))).Concat(county.Probes.Select(p => p.Camera.ToFov(online: false)));

    private RegisterDeviceRequest AlarmRequest(int probe)
    {
        var near = county.Probes[probe].Camera;
        return new RegisterDeviceRequest
        {
            DeviceId = AlarmMessages.AlarmDeviceId(500_000 + probe),
            Kind = DeviceKind.AlarmDevice,
            Name = "bench coverage alarm input " + probe,
            Model = "bench-pir",
            Position = new GeoPoint { Lon = near.Lon, Lat = near.Lat, Datum = Datum.Wgs84 },
        };
    }

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private static Metadata Auth(string key) => new() { { "authorization", "Bearer " + key } };

    private static DateTime Deadline(double seconds) => DateTime.UtcNow.AddSeconds(seconds);
}
