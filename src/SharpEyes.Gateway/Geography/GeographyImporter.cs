using NetTopologySuite.IO;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Storage;
using SharpEyes.Geo.Regions;
using GeoDatum = SharpEyes.Geo.Datums.Datum;

namespace SharpEyes.Gateway.Geography;

/// <summary>
/// Imports grids and key sites: validates the whole file first (a rejected file changes nothing), then stores
/// every feature, swaps the index and re-locates devices in one transaction.
/// </summary>
public sealed partial class GeographyImporter(GeographyState state, DeviceCatalog devices, Journal journal, ILogger<GeographyImporter> logger)
{
    public async Task<ImportResult<GridFeature>> ImportGridsAsync(string geojson, GeoDatum datum, CancellationToken ct = default)
    {
        var result = GeoJsonImport.ParseGrids(geojson, datum, state.Index.Grids, state.KnownCounties);
        if (!result.Ok)
        {
            return result;
        }

        await journal.ExecuteAsync(tx =>
        {
            var writer = new WKBWriter();
            foreach (var g in result.Features)
            {
                tx.Execute("INSERT OR REPLACE INTO grids(code, name, level, parent_code, geometry) VALUES($p0,$p1,$p2,$p3,$p4)",
                    g.Code, g.Name, g.Level, g.ParentCode, writer.Write(g.Geometry));
            }

            var byCode = state.Index.Grids.ToDictionary(g => g.Code);
            foreach (var g in result.Features)
            {
                byCode[g.Code] = g;
            }

            state.Replace([.. byCode.Values.OrderBy(g => g.Code, StringComparer.Ordinal)], state.Index.KeySites);
            devices.Relocate(tx);
            return true;
        }, ct).ConfigureAwait(false);
        LogImported(logger, result.Features.Count, "grids");
        return result;
    }

    public async Task<ImportResult<KeySiteFeature>> ImportKeySitesAsync(string geojson, GeoDatum datum, CancellationToken ct = default)
    {
        var result = GeoJsonImport.ParseKeySites(geojson, datum);
        if (!result.Ok)
        {
            return result;
        }

        await journal.ExecuteAsync(tx =>
        {
            var writer = new WKBWriter();
            foreach (var s in result.Features)
            {
                tx.Execute("INSERT OR REPLACE INTO key_sites(code, name, category, priority, geometry) VALUES($p0,$p1,$p2,$p3,$p4)",
                    s.Code, s.Name, s.Category, s.Priority, writer.Write(s.Geometry));
            }

            var byCode = state.Index.KeySites.ToDictionary(s => s.Code);
            foreach (var s in result.Features)
            {
                byCode[s.Code] = s;
            }

            state.Replace(state.Index.Grids, [.. byCode.Values.OrderBy(s => s.Code, StringComparer.Ordinal)]);
            return true;
        }, ct).ConfigureAwait(false);
        LogImported(logger, result.Features.Count, "key sites");
        return result;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Imported {Count} {What}")]
    private static partial void LogImported(ILogger logger, int count, string what);
}
