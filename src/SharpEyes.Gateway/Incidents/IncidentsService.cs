using Grpc.Core;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Incidents;

public sealed class IncidentsService(IncidentQueries queries, IncidentCorrelator correlator, Journal journal) : V1.Incidents.IncidentsBase
{
    /// <summary>The longest acknowledgement note, as for a close reason.</summary>
    public const int MaxNoteLength = 512;

    public override Task<Incident> GetIncident(GetIncidentRequest request, ServerCallContext context) =>
        Task.FromResult(queries.GetWithAlarms(request.IncidentId) ?? throw NotFound(request.IncidentId));

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
            return closed.ToWire();
        }

        return queries.Get(request.IncidentId) is { } existing
            ? throw new RpcException(new Status(StatusCode.FailedPrecondition, $"incident_id: {request.IncidentId} is already closed ({existing.CloseReason})"))
            : throw NotFound(request.IncidentId);
    }

    public override async Task<Incident> AcknowledgeIncident(AcknowledgeIncidentRequest request, ServerCallContext context)
    {
        var note = request.Note.Trim();
        if (note.Length > MaxNoteLength || note.Any(char.IsControl))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"note: at most {MaxNoteLength} characters, no control characters"));
        }

        var caller = Caller.Of(context);
        var result = await journal.ExecuteAsync(tx => correlator.Acknowledge(tx, request.IncidentId, caller.KeyId, caller.Role, note), context.CancellationToken).ConfigureAwait(false);
        if (result is ({ } incident, true))
        {
            return incident.ToWire();
        }

        var existing = result?.Incident ?? queries.Get(request.IncidentId) ?? throw NotFound(request.IncidentId);
        if (existing.Acknowledgement is { } earlier)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"incident_id: {request.IncidentId} was already acknowledged by key {earlier.KeyId} at {earlier.At:O}; an acknowledgement is recorded once, the first one stands"));
        }

        throw new RpcException(new Status(StatusCode.FailedPrecondition,
            $"incident_id: {request.IncidentId} is closed ({existing.CloseReason}) and can no longer be acknowledged"));
    }

    private static RpcException NotFound(string incidentId) =>
        new(new Status(StatusCode.NotFound, $"incident_id: {incidentId} not found"));
}
