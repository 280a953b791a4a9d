using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.Options;
using NetTopologySuite.IO.Converters;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Demo;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Wire;
using SharpEyes.Geo.Regions;
using SharpEyes.V1;
using GeoDatum = SharpEyes.Geo.Datums.Datum;

namespace SharpEyes.Gateway.Geography;

/// <summary>
/// Geography: GeoJSON import (all or nothing, errors per feature; validate-only for the full list of errors), the
/// demo dataset, reads and point location.
/// </summary>
public sealed class GeographyService(
    GeographyState state, GeographyImporter importer, DemoDataset demo, CoverageTracker coverage, ClientRefusals refusals, IOptions<GatewayOptions> options)
    : V1.Geography.GeographyBase
{
    private const string GridsHint = "CLI: sharpeyes geo validate FILE";
    private const string SitesHint = "CLI: sharpeyes geo validate FILE --sites";
    private static readonly JsonSerializerOptions GeoJson = new() { Converters = { new GeoJsonConverterFactory() } };

    public override async Task<ImportResponse> ImportGrids(ImportGeoJsonRequest request, ServerCallContext context) =>
        request.ValidateOnly
            ? Report(importer.ValidateGrids(request.Geojson, GeoConvert.ToGeo(request.Datum)))
            : Answer(await importer.ImportGridsAsync(request.Geojson, GeoConvert.ToGeo(request.Datum), context.CancellationToken).ConfigureAwait(false), GridsHint, context, g => g.Code);

    public override async Task<ImportResponse> ImportKeySites(ImportGeoJsonRequest request, ServerCallContext context) =>
        request.ValidateOnly
            ? Report(GeographyImporter.ValidateKeySites(request.Geojson, GeoConvert.ToGeo(request.Datum)))
            : Answer(await importer.ImportKeySitesAsync(request.Geojson, GeoConvert.ToGeo(request.Datum), context.CancellationToken).ConfigureAwait(false), SitesHint, context, s => s.Code);

    public override async Task<ImportResponse> LoadDemo(V1.Empty request, ServerCallContext context)
    {
        var (grids, sites) = await demo.LoadGeographyAsync(context.CancellationToken).ConfigureAwait(false);
        return new ImportResponse { Imported = Answer(grids, GridsHint, context, g => g.Code).Imported + Answer(sites, SitesHint, context, s => s.Code).Imported };
    }

    public override Task<ListGridsResponse> ListGrids(ListGridsRequest request, ServerCallContext context)
    {
        var index = state.Index;
        var response = new ListGridsResponse();
        foreach (var g in index.Grids)
        {
            if (g.Code.StartsWith(request.CodePrefix, StringComparison.Ordinal) && (request.Level == 0 || g.Level == request.Level))
            {
                response.Grids.Add(new Grid
                {
                    Code = g.Code,
                    Name = g.Name,
                    Level = g.Level,
                    ParentCode = g.ParentCode ?? "",
                    AreaM2 = Math.Round(index.Projection.AreaM2(g.Geometry), 1),
                    Geojson = request.IncludeGeometry ? JsonSerializer.Serialize(g.Geometry, GeoJson) : "",
                    CoverageTarget = g.Level == GridFeature.GridLevel ? coverage.GridTargetFor(g) : 0,
                });
            }
        }

        return Task.FromResult(response);
    }

    public override Task<ListKeySitesResponse> ListKeySites(ListKeySitesRequest request, ServerCallContext context)
    {
        var index = state.Index;
        var category = request.Category.Length == 0 ? null : KeySiteCategories.Normalize(request.Category);
        var response = new ListKeySitesResponse();
        foreach (var s in index.KeySites)
        {
            var centroid = s.Geometry.Centroid;
            var grid = index.Locate(centroid.X, centroid.Y).GridCode;
            if (grid.StartsWith(request.GridPrefix, StringComparison.Ordinal) && (request.Category.Length == 0 || s.Category == category))
            {
                response.Sites.Add(new KeySite
                {
                    Code = s.Code,
                    Name = s.Name,
                    Category = s.Category,
                    Priority = s.Priority,
                    GridCode = grid,
                    Geojson = request.IncludeGeometry ? JsonSerializer.Serialize(s.Geometry, GeoJson) : "",
                });
            }
        }

        return Task.FromResult(response);
    }

    public override Task<LocateResponse> Locate(GeoPoint request, ServerCallContext context)
    {
        double lon, lat;
        try
        {
            (lon, lat) = DeviceValidator.Position("", request); // the request is the position: its fields are lon, lat and datum
        }
        catch (FieldException e)
        {
            throw e.ToRpc();
        }

        var response = new LocateResponse
        {
            Position = new GeoPosition(lon, lat).ToWire(),
            Region = state.Locate(lon, lat).ToWire(),
        };
        response.KeySites.AddRange(state.KeySitesNear(lon, lat, options.Value.Alarms.KeySiteRadiusMeters).Select(s => s.ToWire()));
        response.CameraIds.AddRange(state.Cameras.CamerasSeeing(lon, lat));
        return Task.FromResult(response);
    }

    /// <summary>
    /// The imported count (the imported codes noted for the audit log), or INVALID_ARGUMENT listing the first
    /// Limits:ImportErrorsListed errors and the total.
    /// </summary>
    private ImportResponse Answer<T>(ImportResult<T> result, string fullListHint, ServerCallContext context, Func<T, string> code)
    {
        if (result.Ok)
        {
            Audit.AuditCall.NoteTargets(context, result.Features.Select(code));
            return new ImportResponse { Imported = result.Features.Count };
        }

        var rejected = ImportErrorReport.Rejected(result.Errors, options.Value.Limits.ImportErrorsListed, fullListHint, out var listed);
        if (listed < result.Errors.Count)
        {
            refusals.Count(ImportErrorReport.TruncatedKind, $"a rejected import lists {listed} of its {result.Errors.Count} errors");
        }

        throw rejected;
    }

    /// <summary>A validate-only answer: OK, with every error (none when the file would import, then how many features it holds).</summary>
    private static ImportResponse Report<T>(ImportResult<T> result)
    {
        var response = new ImportResponse { Imported = result.Ok ? result.Features.Count : 0 };
        response.Errors.AddRange(result.Errors.Select(e => ImportErrorReport.ToProto(ImportErrorReport.Bounded(e))));
        return response;
    }
}
