using System.Buffers;
using System.IO.Pipelines;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Hosting;
using SharpEyes.Gateway.Observability;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Auth;

/// <summary>
/// Puts <see cref="AccessTable"/> onto the endpoints with ASP.NET Core authorization: each mapped endpoint gets the
/// roles its entry names (or is anonymous), an endpoint without an entry stops the start, and every other request is
/// refused by the fallback policy. Refusals on the gRPC port are answered as gRPC statuses, before the body is read; a
/// gRPC method's JSON route (<see cref="JsonApi"/>) carries the method's metadata, so it gets the same rule, and its
/// refusals are the same statuses as JSON.
/// </summary>
public static class AccessEnforcement
{
    /// <summary>The operation an endpoint performs, as <see cref="AccessTable"/> names it.</summary>
    public static string? OperationOf(Endpoint endpoint)
    {
        if (endpoint.Metadata.GetMetadata<GrpcMethodMetadata>() is { } grpc)
        {
            return grpc.Method.FullName;
        }

        return endpoint is RouteEndpoint route ? HttpOperation(endpoint.Metadata.GetMetadata<HttpMethodMetadata>(), route.RoutePattern.RawText) : null;
    }

    /// <summary>"METHOD /path" of an HTTP endpoint; GET when it answers every method (/healthz, /metrics).</summary>
    private static string HttpOperation(HttpMethodMetadata? methods, string? pattern) =>
        (methods?.HttpMethods.FirstOrDefault() ?? "GET") + " /" + pattern?.TrimStart('/');

    /// <summary>Adds each endpoint's rule from the table as authorization metadata (conventions run when endpoints are built).</summary>
    public static TBuilder WithAccessTable<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint =>
        {
            var operation = endpoint.Metadata.OfType<GrpcMethodMetadata>().FirstOrDefault()?.Method.FullName
                ?? (endpoint is RouteEndpointBuilder route ? HttpOperation(endpoint.Metadata.OfType<HttpMethodMetadata>().LastOrDefault(), route.RoutePattern.RawText) : null);
            if (operation is null || IsUnimplementedFallback(endpoint.DisplayName))
            {
                return; // grpc-dotnet's answer UNIMPLEMENTED for unknown methods: the fallback policy asks for a valid key
            }

            if (AccessTable.Find(operation) is not { } rule)
            {
                endpoint.Metadata.Add(new MissingAccessRule(operation));
                return;
            }

            endpoint.Metadata.Add(rule);
            endpoint.Metadata.Add(rule.Anonymous
                ? new AllowAnonymousAttribute()
                : new AuthorizeAttribute { Roles = string.Join(',', rule.Roles), AuthenticationSchemes = SessionAuthentication.Scheme });
        });
        return builder;
    }

    /// <summary>Throws when a mapped endpoint has no rule in <see cref="AccessTable"/>: nothing is served without one.</summary>
    public static void CheckEveryEndpointHasARule(IEndpointRouteBuilder routes)
    {
        var missing = routes.DataSources.SelectMany(d => d.Endpoints)
            .Select(e => e.Metadata.GetMetadata<MissingAccessRule>()?.Operation)
            .OfType<string>()
            .Distinct()
            .ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"no access rule for {string.Join(", ", missing)}: add each to src/SharpEyes.Gateway/Auth/AccessTable.cs (who may call it) before it can be served");
        }
    }

    public static IServiceCollection AddSharpEyesAuthorization(this IServiceCollection services)
    {
        // A Bearer key, or on the HTTP port a session cookie (SessionAuthentication chooses per request).
        services.AddAuthentication(SessionAuthentication.Scheme)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorization(o =>
        {
            // Deny by default: an endpoint that carries no rule (none should exist: the start checks) is refused to everyone.
            o.FallbackPolicy = new AuthorizationPolicyBuilder(SessionAuthentication.Scheme).RequireAuthenticatedUser()
                .RequireAssertion(c => c.Resource is HttpContext http && IsUnimplementedFallback(http.GetEndpoint()?.DisplayName))
                .Build();
        });
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, GrpcAuthorizationResultHandler>();
        services.AddSingleton<GrpcRequestLimits>();
        services.AddSingleton<KeyRateLimits>();
        return services;
    }

    private static bool IsUnimplementedFallback(string? displayName) =>
        displayName?.StartsWith("gRPC - Unimplemented", StringComparison.Ordinal) == true;

    /// <summary>Marks an endpoint whose operation the table does not name.</summary>
    private sealed record MissingAccessRule(string Operation);
}

/// <summary>
/// Answers a refused call with a message that says why (no key, a wrong key or an ended session, the role, the
/// failed-attempts limit with a retry delay): a gRPC call with its gRPC status, an HTTP request with 401, 403 or 429
/// and the same message as JSON (<see cref="JsonStatusResponse"/>).
/// </summary>
public sealed class GrpcAuthorizationResultHandler(IOptions<GatewayOptions> options) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();
    private readonly TimeSpan _lockout = options.Value.Limits.FailedAuthWindow;

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded)
        {
            return _default.HandleAsync(next, context, policy, authorizeResult);
        }

        var grpc = GrpcStatusResponse.IsGrpc(context);
        var method = context.GetEndpoint() is { } e ? AccessEnforcement.OperationOf(e) : context.Request.Path.Value;
        if (authorizeResult.Challenged)
        {
            var failure = context.Items[ApiKeyAuthenticationHandler.FailureItem] as string;
            if (failure == ApiKeyAuthenticationHandler.LockedOut)
            {
                var text = $"{failure}; try again in at most {_lockout.TotalSeconds:0} s (SharpEyes:Limits:FailedAuthPerAddress)";
                return grpc
                    ? GrpcStatusResponse.WriteAsync(context, StatusCode.ResourceExhausted, text, _lockout)
                    : JsonStatusResponse.WriteAsync(context, StatusCodes.Status429TooManyRequests, StatusCode.ResourceExhausted, text, _lockout);
            }

            return grpc
                ? GrpcStatusResponse.WriteAsync(context, StatusCode.Unauthenticated, failure ?? ApiKeyAuthenticationHandler.Missing)
                : JsonStatusResponse.WriteAsync(context, StatusCodes.Status401Unauthorized, StatusCode.Unauthenticated, failure ?? SessionAuthentication.MissingOrEnded(context));
        }

        var role = context.Items[ApiKeyAuthenticationHandler.PrincipalItem] is Principal p ? p.Role.ToString() : "unknown";
        var rule = context.GetEndpoint()?.Metadata.GetMetadata<Access>();
        var allowed = rule is null ? "nobody" : string.Join(", ", rule.Roles);
        var denied = $"role {role} may not call {method}; allowed: {allowed}";
        return grpc
            ? GrpcStatusResponse.WriteAsync(context, StatusCode.PermissionDenied, denied)
            : JsonStatusResponse.WriteAsync(context, StatusCodes.Status403Forbidden, StatusCode.PermissionDenied, denied);
    }
}

/// <summary>
/// One request-size limit per gRPC method (its <see cref="Access.Limit"/>), answered as RESOURCE_EXHAUSTED naming the
/// limit and its setting, for authorized calls only. For a unary or server-streaming call the gRPC frame header
/// (5 bytes) gives the message length before the message is read; client streams are bounded per message by the
/// gRPC service options set to the same limits. Kestrel's own request-body limit (30 MB) is lifted for gRPC calls so
/// that one limit, this one, applies. A JSON API call answers to its method's limit too, in bytes of JSON: from its
/// Content-Length before the body is read (413), else by Kestrel's body limit set to it.
/// </summary>
public sealed class GrpcRequestLimits(IOptions<GatewayOptions> options, ClientRefusals refusals)
{
    private readonly LimitOptions _limits = options.Value.Limits;

    public int LimitOf(RequestLimit limit) => limit == RequestLimit.Import ? _limits.GrpcMaxImportBytes : _limits.GrpcMaxRequestBytes;

    public static string SettingOf(RequestLimit limit) =>
        limit == RequestLimit.Import ? "SharpEyes:Limits:GrpcMaxImportBytes" : "SharpEyes:Limits:GrpcMaxRequestBytes";

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var endpoint = context.GetEndpoint();
        var grpc = endpoint?.Metadata.GetMetadata<GrpcMethodMetadata>();
        if (grpc is null)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var rule = endpoint!.Metadata.GetMetadata<Access>();
        if (JsonApi.IsTranscoded(context))
        {
            var limit = rule?.Limit ?? RequestLimit.Default;
            await JsonApi.LimitBodyAsync(context, LimitOf(limit), $"{grpc.Method.FullName} ({SettingOf(limit)})", refusals, next).ConfigureAwait(false);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } body)
        {
            body.MaxRequestBodySize = null;
        }

        if (rule is not null && grpc.Method.Type is MethodType.Unary or MethodType.ServerStreaming)
        {
            var length = await PeekMessageLengthAsync(context.Request.BodyReader, context.RequestAborted).ConfigureAwait(false);
            var max = LimitOf(rule.Limit);
            if (length > max)
            {
                var text = $"request message of {length:N0} bytes is over the limit of {max:N0} bytes for {grpc.Method.FullName} ({SettingOf(rule.Limit)})";
                refusals.Count("grpc-request-too-large", $"{context.Connection.RemoteIpAddress}: {text}");
                await GrpcStatusResponse.WriteAsync(context, StatusCode.ResourceExhausted, text).ConfigureAwait(false);
                return;
            }
        }

        await next(context).ConfigureAwait(false);
    }

    /// <summary>The length in the first gRPC frame's header (compressed flag, 4-byte big-endian length), read without consuming it; -1 when the body ends first.</summary>
    private static async Task<long> PeekMessageLengthAsync(PipeReader reader, CancellationToken ct)
    {
        while (true)
        {
            var result = await reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= 5)
            {
                Span<byte> header = stackalloc byte[5];
                buffer.Slice(0, 5).CopyTo(header);
                reader.AdvanceTo(buffer.Start); // nothing consumed or examined: gRPC reads the same bytes next
                return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
            }

            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.Start);
                return -1;
            }

            reader.AdvanceTo(buffer.Start, buffer.End); // wait for more than these few bytes
        }
    }
}
