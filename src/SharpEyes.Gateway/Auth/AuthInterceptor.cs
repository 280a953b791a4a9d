using Grpc.Core;
using Grpc.Core.Interceptors;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Auth;

/// <summary>
/// Checks <c>authorization: Bearer &lt;key&gt;</c> on every SharpEyes call and the caller's role against the method.
/// No or a wrong key is UNAUTHENTICATED; a valid key whose role may not call the method is PERMISSION_DENIED.
/// Health and reflection stay open, as off-the-shelf tools expect.
/// </summary>
public sealed class AuthInterceptor(ApiKeyStore keys) : Interceptor
{
    private const string PrincipalKey = "sharpeyes.principal";

    private static readonly Role[] AnyRole = [Role.Admin, Role.Vendor, Role.Operator, Role.Planner, Role.Centre];

    /// <summary>Which roles may call each service (admin may call everything). Device ownership is checked in the service.</summary>
    private static readonly Dictionary<string, Role[]> ServiceRoles = new(StringComparer.Ordinal)
    {
        ["sharpeyes.v1.Admin"] = [Role.Admin],
        ["sharpeyes.v1.Feeds"] = [Role.Admin, Role.Centre],
        ["sharpeyes.v1.Incidents"] = [Role.Admin, Role.Operator, Role.Centre, Role.Planner],
        ["sharpeyes.v1.Coverage"] = [Role.Admin, Role.Operator, Role.Centre, Role.Planner],
        // Vendors see the health of their own cameras (measured metadata and mismatches); the service filters by owner.
        ["sharpeyes.v1.StreamHealth"] = AnyRole,
    };

    private static readonly Dictionary<string, Role[]> MethodRoles = new(StringComparer.Ordinal)
    {
        ["/sharpeyes.v1.DeviceRegistry/RegisterDevice"] = [Role.Admin, Role.Vendor],
        ["/sharpeyes.v1.DeviceRegistry/RegisterDevices"] = [Role.Admin, Role.Vendor],
        ["/sharpeyes.v1.DeviceRegistry/DeregisterDevice"] = [Role.Admin, Role.Vendor],
        ["/sharpeyes.v1.DeviceRegistry/Heartbeat"] = [Role.Admin, Role.Vendor],
        ["/sharpeyes.v1.DeviceRegistry/GetDevice"] = AnyRole,
        ["/sharpeyes.v1.DeviceRegistry/ListDevices"] = AnyRole,
        ["/sharpeyes.v1.Geography/ImportGrids"] = [Role.Admin, Role.Planner],
        ["/sharpeyes.v1.Geography/ImportKeySites"] = [Role.Admin, Role.Planner],
        ["/sharpeyes.v1.Geography/LoadDemo"] = [Role.Admin, Role.Planner],
        ["/sharpeyes.v1.Incidents/CloseIncident"] = [Role.Admin, Role.Operator],
        ["/sharpeyes.v1.StreamHealth/CheckNow"] = [Role.Admin, Role.Operator],
        ["/sharpeyes.v1.StreamHealth/GetSnapshot"] = [Role.Admin, Role.Operator, Role.Centre],
    };

    public static Principal GetPrincipal(ServerCallContext context) =>
        context.UserState.TryGetValue(PrincipalKey, out var p) && p is Principal principal
            ? principal
            : throw new RpcException(new Status(StatusCode.Unauthenticated, "no principal"));

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authorize(context);
        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authorize(context);
        return continuation(requestStream, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authorize(context);
        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authorize(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Authorize(ServerCallContext context)
    {
        var method = context.Method;
        if (!method.StartsWith("/sharpeyes.", StringComparison.Ordinal))
        {
            return;
        }

        var header = context.RequestHeaders.GetValue("authorization");
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "missing 'authorization: Bearer <api key>' metadata"));
        }

        var principal = keys.Authenticate(header[7..].Trim())
            ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "unknown or revoked API key"));

        var service = method[1..method.LastIndexOf('/')];
        var allowed = MethodRoles.TryGetValue(method, out var m) ? m
            : ServiceRoles.TryGetValue(service, out var s) ? s
            : AnyRole;
        if (!principal.IsAdmin && !allowed.Contains(principal.Role))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"role {principal.Role} may not call {method}; allowed: {string.Join(", ", allowed)}"));
        }

        context.UserState[PrincipalKey] = principal;
    }
}
