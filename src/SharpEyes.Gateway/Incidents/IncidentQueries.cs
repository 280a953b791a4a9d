using Grpc.Core;
using SharpEyes.Gateway.Storage;
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
            using var command = connection.Sql("SELECT COUNT(*) FROM incidents WHERE state = 1");
            return command.ScalarInt64();
        }
    }

    public Incident? Get(string id, bool withAlarms)
    {
        using var connection = store.OpenRead();
        Incident incident;
        using (var command = connection.Sql("SELECT data FROM incidents WHERE id = @id").With("id", id))
        {
            if (command.ExecuteScalar() is not byte[] data)
            {
                return null;
            }

            incident = Incident.Parser.ParseFrom(data);
        }

        if (withAlarms)
        {
            incident.Alarms.Clear();
            using var command = connection.Sql("SELECT data FROM alarms WHERE incident_id = @id ORDER BY received_at").With("id", id);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                incident.Alarms.Add(Alarm.Parser.ParseFrom((byte[])reader[0]));
            }
        }

        return incident;
    }

    /// <summary>Incidents opened at or after <paramref name="since"/>, counted per key site (any attached) and per grid.</summary>
    public (Dictionary<string, int> BySite, Dictionary<string, int> ByGrid) CountsSince(DateTimeOffset since)
    {
        var bySite = new Dictionary<string, int>(StringComparer.Ordinal);
        var byGrid = new Dictionary<string, int>(StringComparer.Ordinal);
        using var connection = store.OpenRead();
        using var command = connection.Sql("SELECT data FROM incidents WHERE opened_at >= @since").With("since", since.ToUnixTimeMilliseconds());
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var incident = Incident.Parser.ParseFrom((byte[])reader[0]);
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
        using var command = connection.Sql("""
            SELECT id, data FROM incidents
            WHERE id > @after AND (@state = 0 OR state = @state) AND region_code LIKE @prefix ESCAPE '\'
            ORDER BY id LIMIT @n
            """)
            .With("after", request.PageToken ?? "")
            .With("state", (long)request.State)
            .With("prefix", request.RegionPrefix.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + "%")
            .With("n", pageSize + 1);
        using var reader = command.ExecuteReader();
        var response = new ListIncidentsResponse();
        var lastId = "";
        while (reader.Read())
        {
            if (response.Incidents.Count == pageSize)
            {
                response.NextPageToken = lastId;
                break;
            }

            lastId = reader.GetString(0);
            response.Incidents.Add(Incident.Parser.ParseFrom((byte[])reader[1]));
        }

        return response;
    }
}
