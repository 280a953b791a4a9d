using System.Diagnostics;
using Grpc.Core;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Streams;

/// <summary>The StreamHealth gRPC service: what the gateway measured on each camera's stream, snapshots, checks on demand and the KPIs.</summary>
public sealed class StreamHealthService(DeviceCatalog devices, StreamHealthMonitor monitor, CoverageTracker tracker, CoverageReports reports, TimeProvider time)
    : V1.StreamHealth.StreamHealthBase
{
    private const int MaxCheckIds = 10_000;

    public override Task<CameraHealth> GetCameraHealth(GetCameraHealthRequest request, ServerCallContext context) =>
        Task.FromResult(View(FindCamera(request.DeviceId, Caller.Of(context))));

    public override Task<ListCameraHealthResponse> ListCameraHealth(ListCameraHealthRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        CoverageReports.ValidatePrefix(request.RegionPrefix);
        var pageSize = DevicePages.Size(request.PageSize);
        if (!System.Enum.IsDefined(request.Status))
        {
            throw Invalid($"status: unknown value {(int)request.Status}");
        }

        var after = DevicePages.After(request.PageToken);
        var matches = Cameras(request.RegionPrefix, caller)
            .Where(e => string.CompareOrdinal(e.Id, after) > 0)
            .Where(e => !request.FaultyOnly || e.Faulty)
            .Where(e => !request.MismatchedOnly || e.Health.Mismatches.Count > 0)
            .Where(e => request.Status == DeviceStatus.Unspecified || e.Status == request.Status)
            .OrderBy(e => e.Id, StringComparer.Ordinal)
            .Take(pageSize + 1)
            .ToList();
        var response = new ListCameraHealthResponse();
        response.Cameras.AddRange(matches.Take(pageSize).Select(View));
        if (matches.Count > pageSize)
        {
            response.NextPageToken = DevicePages.Token(matches[pageSize - 1].Id);
        }

        return Task.FromResult(response);
    }

    public override async Task<Snapshot> GetSnapshot(GetSnapshotRequest request, ServerCallContext context)
    {
        var entry = FindCamera(request.DeviceId, Caller.Of(context));
        var path = devices.SnapshotPath(entry.Id);
        if (!File.Exists(path))
        {
            throw new RpcException(new Status(StatusCode.NotFound,
                string.IsNullOrEmpty(entry.Device.Camera?.RtspUrl)
                    ? $"device_id: {entry.Id} has no RTSP URL, so no frame is ever grabbed"
                    : $"device_id: {entry.Id} has no snapshot yet (frames are grabbed every {monitor.QualityInterval}; CheckNow with depth QUALITY grabs one now)"));
        }

        var health = entry.Health;
        return new Snapshot
        {
            DeviceId = entry.Id,
            Jpeg = Google.Protobuf.ByteString.CopyFrom(await File.ReadAllBytesAsync(path, context.CancellationToken).ConfigureAwait(false)),
            TakenAt = ((DateTimeOffset?)health.LastQuality?.At).ToWire(),
            Quality = health.LastQuality?.ToWire(),
        };
    }

    public override async Task<CheckNowResponse> CheckNow(CheckNowRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        if (request.DeviceIds.Count > MaxCheckIds)
        {
            throw Invalid($"device_ids: at most {MaxCheckIds} per call, got {request.DeviceIds.Count}");
        }

        if (request.DeviceIds.Count > 0 && request.RegionPrefix.Length > 0)
        {
            throw Invalid("region_prefix: give device_ids or region_prefix, not both");
        }

        if (!System.Enum.IsDefined(request.Depth))
        {
            throw Invalid($"depth: unknown value {(int)request.Depth}");
        }

        CoverageReports.ValidatePrefix(request.RegionPrefix);
        var cameras = request.DeviceIds.Count > 0
            ? request.DeviceIds.Select((id, i) => FindCamera(id, caller, $"device_ids[{i}]")).Distinct().ToList()
            : Cameras(request.RegionPrefix, caller).ToList();
        var depth = request.Depth == CheckDepth.Unspecified ? CheckDepth.Liveness : request.Depth;
        var started = Stopwatch.GetTimestamp();
        var (checkedCameras, ok, peak) = await monitor.CheckNowAsync(cameras, depth, context.CancellationToken).ConfigureAwait(false);
        var response = new CheckNowResponse
        {
            Checked = checkedCameras.Count,
            Ok = ok,
            Failed = checkedCameras.Count - ok,
            ElapsedMs = (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            PeakConcurrentProcesses = peak,
        };
        response.Cameras.AddRange(checkedCameras.Select(e => View(devices.Find(e.Id) ?? e)));
        return response;
    }

    public override Task<HealthReport> GetHealthReport(HealthReportRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        CoverageReports.ValidatePrefix(request.RegionPrefix);
        var maxHours = (int)devices.UptimeRetention.TotalHours;
        var window = request.WindowHours switch
        {
            0 => 24,
            < 0 => throw Invalid($"window_hours: must be 1-{maxHours} (0 = 24)"),
            _ when request.WindowHours > maxHours => throw Invalid($"window_hours: must be 1-{maxHours} (0 = 24); status history is kept for {maxHours} h"),
            _ => request.WindowHours,
        };
        if (!System.Enum.IsDefined(request.GroupBy))
        {
            throw Invalid($"group_by: unknown value {(int)request.GroupBy}");
        }

        var now = time.GetUtcNow();
        var cameras = Cameras(request.RegionPrefix, caller).ToList();
        var level = request.GroupBy == RegionLevel.Unspecified ? CoverageReports.DefaultGroupLevel(request.RegionPrefix) : (int)request.GroupBy;
        var report = new HealthReport
        {
            Summary = Row(request.RegionPrefix, reports.RegionName(request.RegionPrefix), CoverageReports.LevelOf(request.RegionPrefix), cameras, now, window),
            ComputedAt = Timestamp.FromDateTimeOffset(now),
            WindowHours = window,
        };
        foreach (var grid in tracker.Model.Regions.Grids)
        {
            if (grid.Level == level && grid.Code.StartsWith(request.RegionPrefix, StringComparison.Ordinal))
            {
                var inside = cameras.Where(c => c.Device.RegionCode.StartsWith(grid.Code, StringComparison.Ordinal)).ToList();
                report.Rows.Add(Row(grid.Code, grid.Name, grid.Level, inside, now, window));
            }
        }

        return Task.FromResult(report);
    }

    public override Task<CameraHistory> GetCameraHistory(CameraHistoryRequest request, ServerCallContext context)
    {
        var entry = FindCamera(request.DeviceId, Caller.Of(context));
        var now = time.GetUtcNow();
        var since = request.Since?.ToRequestTime("since") ?? now - TimeSpan.FromDays(30);

        if (since >= now)
        {
            throw Invalid($"since: must be before now ({now:O}); got {since:O}");
        }

        // No earlier than the status log keeps, nor than the camera's registration (as the online rate by time counts).
        var kept = now - devices.UptimeRetention;
        var registered = entry.Device.RegisteredAt;
        since = new[] { since, kept, registered }.Max();
        if (since >= now)
        {
            since = now;
        }

        var fromMs = since.ToUnixTimeMilliseconds();
        var toMs = now.ToUnixTimeMilliseconds();
        var (onlineMs, expectedMs) = devices.Uptime.Measure(entry.Id, fromMs, fromMs, toMs);
        var history = new CameraHistory
        {
            DeviceId = entry.Id,
            OnlineFraction = expectedMs == 0 ? 0 : Math.Round((double)onlineMs / expectedMs, 6),
            Since = Timestamp.FromDateTimeOffset(since),
            Until = Timestamp.FromDateTimeOffset(now),
        };
        history.Changes.AddRange(devices.Uptime.Changes(entry.Id, fromMs, toMs).Select(c =>
            new StatusChange { At = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(c.AtMs)), Online = c.Online }));
        return Task.FromResult(history);
    }

    private HealthRow Row(string code, string name, int level, List<DeviceEntry> cameras, DateTimeOffset now, int window)
    {
        var k = CameraKpis.Of(cameras, devices.Uptime, devices.HdMinHeight, now, window);
        var row = new HealthRow
        {
            Code = code,
            Name = name,
            Level = level,
            Cameras = k.Cameras,
            CamerasOnline = k.Online,
            CamerasFaulty = k.Faulty,
            CamerasWorking = k.Working,
            CamerasProbed = k.Probed,
            CamerasMeasured = k.Measured,
            CamerasHd = k.Hd,
            CamerasHdDeclared = k.HdDeclared,
            CamerasMismatched = k.Mismatched,
            OnlineHours = Math.Round(k.OnlineMs / 3_600_000.0, 3),
            ExpectedHours = Math.Round(k.ExpectedMs / 3_600_000.0, 3),
        };
        row.Kpis.Add(k.Kpis());
        return row;
    }

    private CameraHealth View(DeviceEntry entry) =>
        StreamHealthRules.View(entry, devices.HdMinHeight, File.Exists(devices.SnapshotPath(entry.Id)));

    private IEnumerable<DeviceEntry> Cameras(string prefix, Principal caller) => devices.All.Where(e =>
        e.Device.Kind == DeviceKind.Camera
        && e.Device.RegionCode.StartsWith(prefix, StringComparison.Ordinal)
        && caller.Sees(e));

    private DeviceEntry FindCamera(string deviceId, Principal caller, string field = "device_id")
    {
        var entry = devices.FindFor(deviceId, caller, field);
        if (entry.Device.Kind != DeviceKind.Camera)
        {
            throw Invalid($"{field}: {deviceId} is an alarm device, not a camera");
        }

        return entry;
    }

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
