using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.Options;
using NetTopologySuite.IO.Converters;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Demo;
using SharpEyes.Geo.Regions;
using SharpEyes.V1;
using GeoDatum = SharpEyes.Geo.Datums.Datum;

namespace SharpEyes.Gateway.Geography;

/// <summary>Geography: GeoJSON import (all or nothing, errors per feature), the demo dataset, reads and point location.</summary>
public sealed class GeographyService(GeographyState state, GeographyImporter importer, DemoDataset demo, CoverageTracker coverage, IOptions<GatewayOptions> options) : V1.Geography.GeographyBase
{
    private static readonly JsonSerializerOptions GeoJson = new() { Converters = { new GeoJsonConverterFactory() } };

    public override async Task<ImportResponse> ImportGrids(ImportGeoJsonRequest request, ServerCallContext context) =>
        Answer(await importer.ImportGridsAsync(request.Geojson, GeoConvert.ToGeo(request.Datum), context.CancellationToken).ConfigureAwait(false));

    public override async Task<ImportResponse> ImportKeySites(ImportGeoJsonRequest request, ServerCallContext context) =>
        Answer(await importer.ImportKeySitesAsync(request.Geojson, GeoConvert.ToGeo(request.Datum), context.CancellationToken).ConfigureAwait(false));

    public override async Task<ImportResponse> LoadDemo(V1.Empty request, ServerCallContext context)
    {
        var (grids, sites) = await demo.LoadGeographyAsync(context.CancellationToken).ConfigureAwait(false);
        return new ImportResponse { Imported = Answer(grids).Imported + Answer(sites).Imported };
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
            (lon, lat) = DeviceValidator.Position("position", request);
        }
        catch (FieldException e)
        {
            throw e.ToRpc();
        }

        var response = new LocateResponse
        {
            Position = new GeoPoint { Lon = lon, Lat = lat, Datum = V1.Datum.Wgs84 },
            Region = state.Locate(lon, lat),
        };
        response.KeySites.AddRange(state.KeySitesNear(lon, lat, options.Value.Alarms.KeySiteRadiusMeters));
        response.CameraIds.AddRange(state.Cameras.CamerasSeeing(lon, lat));
        return Task.FromResult(response);
    }

    private static ImportResponse Answer<T>(ImportResult<T> result)
    {
        if (result.Ok)
        {
            return new ImportResponse { Imported = result.Features.Count };
        }

        var shown = result.Errors.Take(20).Select(e => $"feature {e.FeatureIndex}{(e.Code is null ? "" : $" ({e.Code})")}: {e.Reason}: {e.Message}");
        var more = result.Errors.Count > 20 ? $" (+{result.Errors.Count - 20} more)" : "";
        // Every error, machine-readable, as a UTF-8 JSON array in a binary trailer.
        var trailers = new Metadata { { "feature-errors-bin", JsonSerializer.SerializeToUtf8Bytes(result.Errors) } };

        throw new RpcException(new Status(StatusCode.InvalidArgument,
            $"rejected, nothing imported: {result.Errors.Count} error(s): {string.Join("; ", shown)}{more}"), trailers);
    }
}
