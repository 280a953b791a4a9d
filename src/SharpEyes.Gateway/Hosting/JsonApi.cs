using System.Globalization;
using System.Text.Json;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Http.Features;
using SharpEyes.Gateway.Observability;

namespace SharpEyes.Gateway.Hosting;

/// <summary>
/// The JSON API: the gRPC services over HTTP/1.1 and JSON on the HTTP listener, by gRPC JSON transcoding
/// (Microsoft.AspNetCore.Grpc.JsonTranscoding) of the routes the protos declare (<c>option (google.api.http)</c>,
/// all under <see cref="PathPrefix"/>). A transcoded route is an endpoint of its gRPC method: it shares the method's
/// row of the access table, its service code (and so the vendor scoping and every error) and its request limit. What
/// the HTTP pipeline answers itself before the service runs (refused keys, roles, bodies over the limit) is written
/// here in the shape transcoding gives an error from a service: google.rpc.Status as JSON with the HTTP status
/// transcoding maps the gRPC code to.
/// </summary>
public static class JsonApi
{
    /// <summary>Every transcoded route starts with this (docs/http-api.md).</summary>
    public const string PathPrefix = "/api/v1/";

    /// <summary>Escaping as transcoding's own (quotes and angle brackets as they are: the answer is JSON, not HTML).</summary>

    /// <summary>Adds JSON transcoding to the gRPC services.</summary>
    public static IGrpcServerBuilder AddSharpEyesJsonApi(this IGrpcServerBuilder grpc) => grpc.AddJsonTranscoding();

    /// <summary>Whether an endpoint (while its conventions run) is a transcoded route rather than the gRPC method itself.</summary>
    public static bool IsTranscoded(EndpointBuilder endpoint) => endpoint.Metadata.Any(m => m is GrpcJsonTranscodingMetadata);

    /// <summary>Whether the request was routed to a transcoded route.</summary>
    public static bool IsTranscoded(HttpContext context) => context.GetEndpoint()?.Metadata.GetMetadata<GrpcJsonTranscodingMetadata>() is not null;

    /// <summary>
    /// Holds a JSON body to <paramref name="limit"/> bytes: one whose Content-Length is over it is refused before a
    /// byte of it is read (413 with RESOURCE_EXHAUSTED, naming <paramref name="what"/>: the method and its setting, and
    /// counted as grpc-request-too-large); one without a length (chunked) is cut off by Kestrel at the limit while
    /// transcoding reads it (400). 413, not the 429 transcoding gives RESOURCE_EXHAUSTED: the same body will never
    /// fit, so it must not be retried.
    /// </summary>
    public static async Task LimitBodyAsync(HttpContext context, int limit, string what, ClientRefusals refusals, RequestDelegate next)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } body)
        {
            body.MaxRequestBodySize = limit;
        }

        if (context.Request.ContentLength is { } length && length > limit)
        {
            var text = $"request body of {length:N0} bytes is over the limit of {limit:N0} bytes for {what}";
            refusals.Count("grpc-request-too-large", $"{context.Connection.RemoteIpAddress}: {text}");
            await WriteStatusAsync(context, StatusCode.ResourceExhausted, text, httpStatus: StatusCodes.Status413PayloadTooLarge).ConfigureAwait(false);
            return;
        }

        await next(context).ConfigureAwait(false);
    }

    /// <summary>
    /// Answers a refusal as transcoding answers an RpcException: HTTP status from the gRPC code, body
    /// <c>{"code": 7, "message": "...", "details": []}</c>. 401 carries <c>WWW-Authenticate: Bearer</c>; a retry delay
    /// becomes <c>Retry-After</c> (whole seconds).
    /// </summary>
    public static Task WriteStatusAsync(HttpContext context, StatusCode code, string message, TimeSpan? retryAfter = null, int? httpStatus = null) =>
        Auth.JsonStatusResponse.WriteAsync(context, httpStatus ?? HttpStatusOf(code), code, message, retryAfter);

    /// <summary>The HTTP status gRPC JSON transcoding answers for a gRPC status code (the mapping of google.rpc.Code).</summary>
    public static int HttpStatusOf(StatusCode code) => code switch
    {
        StatusCode.OK => StatusCodes.Status200OK,
        StatusCode.Cancelled => StatusCodes.Status408RequestTimeout,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.AlreadyExists or StatusCode.Aborted => StatusCodes.Status409Conflict,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };
}
