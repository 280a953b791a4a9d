using Grpc.Core;
using SharpEyes.Gateway.Storage;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Incidents;

public sealed class IncidentsService(IncidentQueries queries, IncidentCorrelator correlator, Journal journal) : V1.Incidents.IncidentsBase
{
    public override Task<Incident> GetIncident(GetIncidentRequest request, ServerCallContext context) =>
        Task.FromResult(queries.Get(request.IncidentId, withAlarms: true)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"incident_id: {request.IncidentId} not found")));

    public override Task<ListIncidentsResponse> ListIncidents(ListIncidentsRequest request, ServerCallContext context) =>
        Task.FromResult(queries.List(request));

    public override async Task<Incident> CloseIncident(CloseIncidentRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.Reason) || request.Reason.Length > 512)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "reason: required, at most 512 characters"));
        }

        var closed = await journal.ExecuteAsync(tx => correlator.CloseByOperator(tx, request.IncidentId, request.Reason.Trim()), context.CancellationToken).ConfigureAwait(false);
        if (closed is not null)
        {
            return closed;
        }

        return queries.Get(request.IncidentId, withAlarms: false) is { } existing
            ? throw new RpcException(new Status(StatusCode.FailedPrecondition, $"incident_id: {request.IncidentId} is already closed ({existing.CloseReason})"))
            : throw new RpcException(new Status(StatusCode.NotFound, $"incident_id: {request.IncidentId} not found"));
    }
}
