using Google.Protobuf;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Http.Features;
using SharpEyes.Gateway.Auth;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Audit;

/// <summary>
/// What one audited call has told so far: its rule, the status it was refused or failed with (set by whoever
/// answered: the pipeline's refusals through <see cref="GrpcStatusResponse"/> and <see cref="JsonStatusResponse"/>,
/// the service through <see cref="AuditInterceptor"/>), and what it changed.
/// </summary>
public sealed class AuditCall(AuditRule rule)
{
    public AuditRule Rule { get; } = rule;

    public StatusCode? Code { get; private set; }

    public string Message { get; private set; } = "";

    public AuditNote? Note { get; set; }

    /// <summary>Device ids a RegisterDevices stream sent (bounded by the caller).</summary>
    public List<string> StreamedTargets { get; } = [];

    public long StreamedTargetsDropped { get; set; }

    /// <summary>Targets the service itself noted (the codes a geography import stored).</summary>
    public List<string> ServiceTargets { get; } = [];

    /// <summary>Records the first status the call was answered with (a later one does not replace it).</summary>
    public void Answered(StatusCode code, string message)
    {
        if (Code is null)
        {
            Code = code;
            Message = message;
        }
    }

    /// <summary>The audited call of a request, or null when it is not a change (or not a request of ours).</summary>
    public static AuditCall? Of(HttpContext? context) => context?.Features.Get<AuditCall>();

    /// <summary>Notes the status a refusal answered (called by the status writers of the pipeline).</summary>
    public static void Refused(HttpContext context, StatusCode code, string message) => Of(context)?.Answered(code, message);

    /// <summary>Lets a service name the ids its change touched (for example the codes of an imported file).</summary>
    public static void NoteTargets(ServerCallContext context, IEnumerable<string> targets)
    {
        if (Of(context.GetHttpContext()) is { } call)
        {
            call.ServiceTargets.AddRange(targets);
        }
    }
}

/// <summary>
/// Records every call of a change operation (<see cref="AuditTable"/>), from every surface: gRPC, the JSON API (the
/// same endpoints, transcoded), the console (the JSON API with its session cookie, and /api/session), and the CLI
/// (a gRPC client). It runs in the HTTP pipeline before authentication, so refusals by authentication,
/// authorization, CSRF protection, rate and size limits are recorded as well as the service's own answers; the entry
/// is committed before the answer ends. Reads are not recorded.
/// </summary>
public sealed class AuditTrail(AuditLog log, TimeProvider time)
{
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var endpoint = context.GetEndpoint();
        var operation = endpoint is null ? null : AccessEnforcement.OperationOf(endpoint);
        if (operation is null || AuditTable.Of(operation) is not { Kind: AuditKind.Change } rule)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var call = new AuditCall(rule);
        context.Features.Set(call);
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            call.Answered(StatusCode.Internal, "internal error");
            throw;
        }
        finally
        {
            await log.RecordAsync(Entry(context, call)).ConfigureAwait(false);
        }
    }

    private AuditRecord Entry(HttpContext context, AuditCall call)
    {
        var principal = context.Items[ApiKeyAuthenticationHandler.PrincipalItem] as Principal;
        var (code, message) = call.Code is { } answered ? (answered, call.Message) : StatusOf(context);
        var note = call.Note ?? call.Rule.Describe?.Invoke(null, null) ?? new AuditNote([], "");
        // A call refused before its service ran has no request read; a JSON route still names its ids in the path.
        var routeIds = call.Note is null
            ? context.Request.RouteValues.Where(v => v.Key.EndsWith("_id", StringComparison.Ordinal) && v.Value is string { Length: > 0 }).Select(v => AuditTable.Text((string)v.Value!, 64))
            : [];
        var targets = note.Targets.Concat(call.StreamedTargets).Concat(call.ServiceTargets).Concat(routeIds).Distinct(StringComparer.Ordinal).ToList();
        var max = log.Options.MaxTargetsPerEntry;
        var dropped = call.StreamedTargetsDropped + Math.Max(0, targets.Count - max);
        var summary = note.Summary;
        if (dropped > 0)
        {
            targets = targets[..Math.Min(targets.Count, max)];
            log.CountDroppedTargets(dropped);
            summary += $"; {dropped} more target ids not listed (SharpEyes:Audit:MaxTargetsPerEntry)";
        }

        var connection = context.Connection;
        return new AuditRecord(
            time.GetUtcNow(),
            principal?.KeyId,
            principal?.Role ?? Role.Unspecified,
            principal?.VendorId,
            connection.RemoteIpAddress is { } ip ? new System.Net.IPEndPoint(ip, connection.RemotePort).ToString() : "",
            principal?.CertificateSubject ?? connection.ClientCertificate?.Subject,
            call.Rule.Action,
            targets,
            summary,
            OutcomeOf(code),
            code == StatusCode.OK ? "" : AuditTable.Text(message, 512));
    }

    /// <summary>The status of an answer nobody noted: gRPC's grpc-status, else from the HTTP status.</summary>
    private static (StatusCode, string) StatusOf(HttpContext context)
    {
        var response = context.Response;
        var trailers = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers;
        var grpc = trailers?["grpc-status"].ToString() is { Length: > 0 } t ? t : response.Headers["grpc-status"].ToString();
        if (int.TryParse(grpc, System.Globalization.CultureInfo.InvariantCulture, out var code))
        {
            return ((StatusCode)code, "");
        }

        return response.StatusCode switch
        {
            < 400 => (StatusCode.OK, ""),
            400 or 413 or 415 => (StatusCode.InvalidArgument, $"HTTP {response.StatusCode}"),
            401 => (StatusCode.Unauthenticated, "HTTP 401"),
            403 => (StatusCode.PermissionDenied, "HTTP 403"),
            404 => (StatusCode.NotFound, "HTTP 404"),
            429 => (StatusCode.ResourceExhausted, "HTTP 429"),
            _ => (StatusCode.Internal, $"HTTP {response.StatusCode}"),
        };
    }

    /// <summary>"OK", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED": the status as gRPC's specification spells it.</summary>
    public static string OutcomeOf(StatusCode code) => code switch
    {
        StatusCode.OK => AuditRecord.Ok,
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.DataLoss => "DATA_LOSS",
        _ => code.ToString().ToUpperInvariant(),
    };
}

/// <summary>
/// The service side of <see cref="AuditTrail"/>: describes an audited gRPC call (over gRPC or transcoded JSON) from
/// its request and answer, and notes the status of an exception the service threw. A RegisterDevices stream's device
/// ids are gathered as the service reads them.
/// </summary>
public sealed class AuditInterceptor(AuditLog log) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var call = AuditCall.Of(context.GetHttpContext());
        if (call is null)
        {
            return await continuation(request, context).ConfigureAwait(false);
        }

        return await Audited(call, request, () => continuation(request, context)).ConfigureAwait(false);
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context,
        ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var call = AuditCall.Of(context.GetHttpContext());
        if (call is null)
        {
            return await continuation(requestStream, context).ConfigureAwait(false);
        }

        var reader = new TargetReader<TRequest>(requestStream, call, log.Options.MaxTargetsPerEntry);
        return await Audited(call, null, () => continuation(reader, context)).ConfigureAwait(false);
    }

    private static async Task<TResponse> Audited<TResponse>(AuditCall call, object? request, Func<Task<TResponse>> run)
    {
        try
        {
            var response = await run().ConfigureAwait(false);
            call.Note = Describe(call, request, response);
            call.Answered(StatusCode.OK, "");
            return response;
        }
        catch (RpcException e)
        {
            call.Note = Describe(call, request, null);
            call.Answered(e.StatusCode, e.Status.Detail);
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            call.Note = Describe(call, request, null);
            call.Answered(StatusCode.Internal, "internal error");
            throw;
        }
    }

    /// <summary>
    /// The rule's note on the call; a summary that cannot be made from what the client sent (a value the service refuses,
    /// such as a timestamp out of range) must not change the call's answer, so it becomes a note saying so.
    /// </summary>
    private static AuditNote? Describe(AuditCall call, object? request, object? response)
    {
        try
        {
            return call.Rule.Describe?.Invoke(request as IMessage, response as IMessage);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new AuditNote([], $"(no summary: the request could not be described, {e.GetType().Name})");
        }
    }

    /// <summary>Passes a request stream through, keeping the device id of each registration (up to the limit; the rest counted).</summary>
    private sealed class TargetReader<T>(IAsyncStreamReader<T> inner, AuditCall call, int max) : IAsyncStreamReader<T>
    {
        public T Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (!await inner.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            if (inner.Current is RegisterDeviceRequest { DeviceId.Length: > 0 } device)
            {
                if (call.StreamedTargets.Count < max)
                {
                    call.StreamedTargets.Add(AuditTable.Text(device.DeviceId, 64));
                }
                else
                {
                    call.StreamedTargetsDropped++;
                }
            }

            return true;
        }
    }
}
