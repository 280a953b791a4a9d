using NetTopologySuite.IO;
using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Storage;
using SharpEyes.Geo.Regions;
using GeoDatum = SharpEyes.Geo.Datums.Datum;

namespace SharpEyes.Gateway.Geography;

/// <summary>
/// Imports grids and key sites: validates the whole file first (a rejected file changes nothing), then stores
/// every feature, swaps the index and re-locates devices in one transaction.
/// </summary>
public sealed partial class GeographyImporter(GeographyState state, DeviceCatalog devices, CoverageTracker coverage, Journal journal, ILogger<GeographyImporter> logger)
{
    public Task<ImportResult<GridFeature>> ImportGridsAsync(string geojson, GeoDatum datum, CancellationToken ct = default) =>
        ImportGridsAsync(geojson, datum, g => g, ct);

    /// <summary>Imports grids, letting <paramref name="adjust"/> amend each validated feature (the demo sets its planned targets).</summary>
    public Task<ImportResult<GridFeature>> ImportGridsAsync(string geojson, GeoDatum datum, Func<GridFeature, GridFeature> adjust, CancellationToken ct = default) =>
        StoreAsync(
            Adjust(ValidateGrids(geojson, datum), adjust),
            "grids",
            g => g.Code,
            () => state.Index.Grids,
            (tx, g, wkb) => tx.Execute("""
                INSERT INTO grids(code, name, level, parent_code, geometry, coverage_target) VALUES(@p0,@p1,@p2,@p3,@p4,@p5)
                ON CONFLICT(code) DO UPDATE SET name = excluded.name, level = excluded.level, parent_code = excluded.parent_code,
                    geometry = excluded.geometry, coverage_target = excluded.coverage_target
                """,
                g.Code, g.Name, g.Level, g.ParentCode, wkb.Write(g.Geometry), g.CoverageTarget),
            (tx, merged) =>
            {
                state.Replace(merged, state.Index.KeySites);
                devices.Relocate(tx);
                coverage.GeographyChanged(tx, devices.All);
            },
            ct);

    public Task<ImportResult<KeySiteFeature>> ImportKeySitesAsync(string geojson, GeoDatum datum, CancellationToken ct = default) =>
        StoreAsync(
            ValidateKeySites(geojson, datum),
            "key sites",
            s => s.Code,
            () => state.Index.KeySites,
            (tx, s, wkb) => tx.Execute("""
                INSERT INTO key_sites(code, name, category, priority, geometry) VALUES(@p0,@p1,@p2,@p3,@p4)
                ON CONFLICT(code) DO UPDATE SET name = excluded.name, category = excluded.category, priority = excluded.priority,
                    geometry = excluded.geometry
                """,
                s.Code, s.Name, s.Category, s.Priority, wkb.Write(s.Geometry)),
            (tx, merged) =>
            {
                state.Replace(state.Index.Grids, merged);
                coverage.GeographyChanged(tx, devices.All);
            },
            ct);

    /// <summary>What an import of these grids would do now (checked against the grids and counties already loaded), storing nothing.</summary>
    public ImportResult<GridFeature> ValidateGrids(string geojson, GeoDatum datum) =>
        GeoJsonImport.ParseGrids(geojson, datum, state.Index.Grids, state.KnownCounties);

    /// <summary>What an import of these key sites would do, storing nothing.</summary>
    public static ImportResult<KeySiteFeature> ValidateKeySites(string geojson, GeoDatum datum) => GeoJsonImport.ParseKeySites(geojson, datum);

    private static ImportResult<GridFeature> Adjust(ImportResult<GridFeature> result, Func<GridFeature, GridFeature> adjust) =>
        result.Ok ? result with { Features = [.. result.Features.Select(adjust)] } : result;

    /// <summary>Stores a validated import, merges it over the current features by code and swaps the index, in one journal item.</summary>
    private async Task<ImportResult<T>> StoreAsync<T>(
        ImportResult<T> result,
        string what,
        Func<T, string> codeOf,
        Func<IReadOnlyList<T>> current,
        Action<JournalTransaction, T, WKBWriter> insert,
        Action<JournalTransaction, List<T>> swap,
        CancellationToken ct)
        where T : class
    {
        if (!result.Ok)
        {
            return result;
        }

        await journal.ExecuteAsync(tx =>
        {
            var writer = new WKBWriter();
            var byCode = current().ToDictionary(codeOf, StringComparer.Ordinal);
            foreach (var feature in result.Features)
            {
                insert(tx, feature, writer);
                byCode[codeOf(feature)] = feature;
            }

            swap(tx, [.. byCode.Values.OrderBy(codeOf, StringComparer.Ordinal)]);
            return true;
        }, ct).ConfigureAwait(false);
        LogImported(logger, result.Features.Count, what);
        return result;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Imported {Count} {What}")]
    private static partial void LogImported(ILogger logger, int count, string what);
}
