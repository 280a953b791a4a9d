using SharpEyes.Gateway.Coverage;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Geo.Regions;
using GeoDatum = SharpEyes.Geo.Datums.Datum;

namespace SharpEyes.Gateway.Geography;

/// <summary>
/// Imports grids and key sites: validates the whole file first (a rejected file changes nothing), then stores
/// every feature, swaps the index and re-locates devices in one transaction. On a shared store (PostgreSQL) the commit
/// tells the other replicas (<see cref="ChangeChannel"/>), which load the stored geography, re-locate their devices and
/// rebuild their coverage model the same way (the stored gap rows decide which replica announces a gap: the importer,
/// in the import's own transaction).
/// </summary>
public sealed partial class GeographyImporter(GeographyState state, DeviceCatalog devices, CoverageTracker coverage, Journal journal, ILogger<GeographyImporter> logger)
    : IReplicaChangeFollower
{
    /// <summary>The notification channel on which an import tells other replicas ("grids" or "key sites").</summary>
    public const string ChangeChannel = "sharpeyes_geography";

    string IReplicaChangeFollower.Channel => ChangeChannel;

    /// <summary>
    /// A replica imported grids or key sites (or the listener reconnected, <paramref name="announced"/> null, and may have
    /// missed one): unless this replica holds what is stored already, load it and do what the import did here.
    /// </summary>
    void IReplicaChangeFollower.Changed(ReplicaAnnouncement? announced, JournalTransaction tx)
    {
        var stored = GeographyRepository.Load(tx.Connection);
        if (Same(stored.Grids, state.Index.Grids) && Same(stored.KeySites, state.Index.KeySites))
        {
            return; // this replica's own import (its listener hears it too), or nothing missed
        }

        state.Replace(stored.Grids, stored.KeySites);
        devices.Relocate(tx);
        coverage.GeographyChanged(tx, devices.All);
        LogFollowed(logger, stored.Grids.Count, stored.KeySites.Count);
    }

    private static bool Same<T>(IReadOnlyList<T> stored, IReadOnlyList<T> loaded) => stored.SequenceEqual(loaded);

    public Task<ImportResult<GridFeature>> ImportGridsAsync(string geojson, GeoDatum datum, CancellationToken ct = default) =>
        ImportGridsAsync(geojson, datum, g => g, ct);

    /// <summary>Imports grids, letting <paramref name="adjust"/> amend each validated feature (the demo sets its planned targets).</summary>
    public Task<ImportResult<GridFeature>> ImportGridsAsync(string geojson, GeoDatum datum, Func<GridFeature, GridFeature> adjust, CancellationToken ct = default) =>
        StoreAsync(
            Adjust(ValidateGrids(geojson, datum), adjust),
            "grids",
            g => g.Code,
            () => state.Index.Grids,
            GeographyRepository.UpsertGrids,
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
            GeographyRepository.UpsertKeySites,
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
        Action<JournalTransaction, IReadOnlyList<T>> upsert,
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
            upsert(tx, result.Features);
            var byCode = current().ToDictionary(codeOf, StringComparer.Ordinal);
            foreach (var feature in result.Features)
            {
                byCode[codeOf(feature)] = feature;
            }

            swap(tx, [.. byCode.Values.OrderBy(codeOf, StringComparer.Ordinal)]);
            tx.NotifyReplicas(ChangeChannel, what);
            return true;
        }, ct).ConfigureAwait(false);
        LogImported(logger, result.Features.Count, what);
        return result;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Followed another replica's geography import: {Grids} grids and {KeySites} key sites loaded, devices re-located, coverage rebuilt")]
    private static partial void LogFollowed(ILogger logger, int grids, int keySites);

    [LoggerMessage(Level = LogLevel.Information, Message = "Imported {Count} {What}")]
    private static partial void LogImported(ILogger logger, int count, string what);
}
