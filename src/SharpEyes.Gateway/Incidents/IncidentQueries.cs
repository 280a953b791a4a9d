using Grpc.Core;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Incidents;

/// <summary>Reads incidents from the store (committed state), with all their alarms on request.</summary>
public sealed class IncidentQueries(GatewayStore store)
{
    public long OpenCount
    {
        get
        {
            using var connection = store.OpenRead();
            return IncidentRepository.CountOpen(connection);
        }
    }

    /// <summary>Incident <paramref name="id"/> as stored, or null.</summary>
    public IncidentRecord? Get(string id)
    {
        using var connection = store.OpenRead();
        return IncidentRepository.Get(connection, id);
    }

    /// <summary>Incident <paramref name="id"/> as answered: with every alarm still stored, oldest first; null when unknown.</summary>
    public Incident? GetWithAlarms(string id)
    {
        using var connection = store.OpenRead();
        return IncidentRepository.Get(connection, id) is { } incident
            ? incident.ToWire(AlarmRepository.LoadByIncident(connection, id))
            : null;
    }

    /// <summary>Incidents opened at or after <paramref name="since"/>, counted per key site (any attached) and per grid.</summary>
    public (Dictionary<string, int> BySite, Dictionary<string, int> ByGrid) CountsSince(DateTimeOffset since)
    {
        var bySite = new Dictionary<string, int>(StringComparer.Ordinal);
        var byGrid = new Dictionary<string, int>(StringComparer.Ordinal);
        using var connection = store.OpenRead();
        foreach (var incident in IncidentRepository.OpenedSince(connection, since.ToUnixTimeMilliseconds()))
        {
            foreach (var site in incident.KeySites)
            {
                bySite[site.Code] = bySite.GetValueOrDefault(site.Code) + 1;
            }

            if (incident.Region.GridCode.Length > 0)
            {
                byGrid[incident.Region.GridCode] = byGrid.GetValueOrDefault(incident.Region.GridCode) + 1;
            }
        }

        return (bySite, byGrid);
    }

    public ListIncidentsResponse List(ListIncidentsRequest request)
    {
        var pageSize = request.PageSize switch
        {
            0 => 100,
            < 0 or > 1000 => throw new RpcException(new Status(StatusCode.InvalidArgument, "page_size: must be in 1-1000")),
            _ => request.PageSize,
        };
        using var connection = store.OpenRead();
        var page = IncidentRepository.Page(connection, request.PageToken ?? "", request.State, request.RegionPrefix, pageSize + 1);
        var response = new ListIncidentsResponse();
        response.Incidents.AddRange(page.Take(pageSize).Select(i => i.ToWire()));
        if (page.Count > pageSize)
        {
            response.NextPageToken = page[pageSize - 1].IncidentId;
        }

        return response;
    }
}
