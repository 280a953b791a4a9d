using Grpc.Core;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Coverage;

/// <summary>The Coverage gRPC service: thin, delegating to <see cref="CoverageReports"/> and <see cref="PlacementPlanner"/>.</summary>
public sealed class CoverageService(CoverageTracker tracker, CoverageReports reports, PlacementPlanner planner, DeviceCatalog devices, KpiSnapshots history) : V1.Coverage.CoverageBase
{
    // Placement is CPU-bound for seconds on a large county: one at a time, so planners cannot starve alarm intake.
    private static readonly SemaphoreSlim s_placement = new(1, 1);

    public override Task<CoverageReport> GetCoverageReport(CoverageReportRequest request, ServerCallContext context) =>
        Task.FromResult(reports.Report(request.RegionPrefix, request.GroupBy));

    public override Task<ListGridCoverageResponse> ListGridCoverage(ListGridCoverageRequest request, ServerCallContext context) =>
        Task.FromResult(reports.Grids(request));

    public override Task<ListKeySiteCoverageResponse> ListKeySiteCoverage(ListKeySiteCoverageRequest request, ServerCallContext context) =>
        Task.FromResult(reports.Sites(request));

    public override Task<ListBlindSpotsResponse> ListBlindSpots(ListBlindSpotsRequest request, ServerCallContext context) =>
        Task.FromResult(reports.BlindSpots(request));

    public override Task<CameraCoverage> GetCameraCoverage(GetCameraCoverageRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        if (caller.Role != Role.Vendor)
        {
            return Task.FromResult(reports.Camera(request));
        }

        // A vendor sees its own cameras' coverage, but not the key sites (sensitive: where the county watches).
        devices.FindFor(request.DeviceId, caller);
        var coverage = reports.Camera(request);
        coverage.KeySiteCodes.Clear();
        return Task.FromResult(coverage);
    }

    public override Task<CoverageMapResponse> GetCoverageMap(CoverageMapRequest request, ServerCallContext context) =>
        Task.FromResult(reports.Map(request));

    public override Task<ExportCoverageReportResponse> ExportCoverageReport(ExportCoverageReportRequest request, ServerCallContext context) =>
        Task.FromResult(reports.Export(request));

    public override async Task<SuggestPlacementsResponse> SuggestPlacements(SuggestPlacementsRequest request, ServerCallContext context)
    {
        await s_placement.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        try
        {
            return await Task.Run(() => planner.Suggest(request, context.CancellationToken), context.CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            s_placement.Release();
        }
    }

    public override Task<ListCoverageGapsResponse> ListCoverageGaps(ListCoverageGapsRequest request, ServerCallContext context)
    {
        CoverageReports.ValidatePrefix(request.RegionPrefix);
        var response = new ListCoverageGapsResponse();
        response.Gaps.AddRange(tracker.OpenGaps
            .Where(g => g.GridCode.StartsWith(request.RegionPrefix, StringComparison.Ordinal))
            .OrderBy(g => g.GapId, StringComparer.Ordinal)
            .Select(g => tracker.Current(g).ToWire()));
        return Task.FromResult(response);
    }

    public override Task<KpiHistory> GetKpiHistory(KpiHistoryRequest request, ServerCallContext context) =>
        Task.FromResult(history.Read(request));
}
