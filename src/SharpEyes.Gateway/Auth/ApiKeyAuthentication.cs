using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Auth;

/// <summary>
/// ASP.NET Core authentication for API keys (<c>authorization: Bearer se_{id}_{secret}</c>) and client certificates
/// (mutual TLS, <see cref="ClientCertificateIdentities"/>). It runs in the HTTP pipeline before routing hands the
/// request to gRPC, so a caller without a valid key or certificate is answered before a byte of its request body is
/// read. The caller's <see cref="Principal"/> travels in <see cref="HttpContext.Items"/>. A listed certificate alone
/// authenticates; with a key beside it, both must name the same role and vendor.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyStore keys,
    AuthFailureLimiter failures,
    ClientCertificateIdentities certificates) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string KeyIdClaim = "sharpeyes:key-id";
    public const string VendorClaim = "sharpeyes:vendor";
    internal const string PrincipalItem = "sharpeyes.principal";
    internal const string FailureItem = "sharpeyes.auth-failure";

    /// <summary>Why authentication failed, in words the caller sees; <see cref="LockedOut"/> marks the failed-attempts limit.</summary>
    internal const string Missing = "missing 'authorization: Bearer <api key>' metadata";
    internal const string LockedOut = "too many failed authentications from this address";
    internal const string Unknown = "unknown or revoked API key";

    /// <summary><see cref="Missing"/> on the HTTP port, where a session cookie also authenticates.</summary>
    internal const string MissingHttp = "missing 'Authorization: Bearer <api key>' header or session cookie (sign in with POST /api/session)";

    /// <summary>
    /// A browser sends a client certificate it holds on every request to the site, whoever's page makes it: a
    /// certificate alone authenticates API clients, not browsers (which sign in with a key and get a session cookie).
    /// </summary>
    internal const string BrowserCertificate =
        "a client certificate alone does not authenticate requests from a browser (Sec-Fetch-Site): sign in to the console with a key (POST /api/session), or send 'Authorization: Bearer <api key>'";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        var certificate = Context.Connection.ClientCertificate; // present only when it chained to SharpEyes:Tls:ClientCaPath
        if (header.Length == 0 && certificate is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var address = Context.Connection.RemoteIpAddress ?? IPAddress.None;
        var transport = GrpcStatusResponse.IsGrpc(Context) ? "grpc" : "http"; // counted as auth-failed-grpc or auth-failed-http
        var byCertificate = certificate is null ? null : certificates.Map(certificate);
        if (header.Length == 0)
        {
            if (byCertificate is null)
            {
                var unmapped = ClientCertificateIdentities.Unmapped(certificate!);
                failures.Failed(address, transport, null, unmapped);
                return Fail(unmapped);
            }

            return Request.Headers.ContainsKey("Sec-Fetch-Site") ? Fail(BrowserCertificate) : Succeed(byCertificate);
        }

        if (failures.IsLockedOut(address, transport))
        {
            return Fail(LockedOut);
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            failures.Failed(address, transport, null, "authorization is not 'Bearer <api key>'");
            return Fail("authorization must be 'Bearer <api key>'");
        }

        var principal = Verify(keys, failures, address, transport, header[7..].Trim(), out var refused);
        if (principal is null)
        {
            return Fail(refused);
        }

        if (byCertificate is not null)
        {
            var (both, conflict) = ClientCertificateIdentities.Combine(principal, byCertificate);
            if (both is null)
            {
                failures.Failed(address, transport, null, conflict!);
                return Fail(conflict!);
            }

            principal = both;
        }

        return Succeed(principal);
    }

    private Task<AuthenticateResult> Succeed(Principal principal)
    {
        Context.Items[PrincipalItem] = principal;
        var identity = new ClaimsIdentity(ClaimsOf(principal), SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    /// <summary>
    /// The check of a presented key, wherever it is presented (this handler; <c>POST /api/session</c>): the key from
    /// the store, or null after counting the failure against <paramref name="address"/>'s failed-attempts limit (the
    /// caller checks <see cref="AuthFailureLimiter.IsLockedOut"/> first); <paramref name="refused"/> is why, in words
    /// the caller sees: <see cref="Unknown"/>, or "API key {id} expired at {time}" for a right key past its expiry.
    /// </summary>
    internal static Principal? Verify(ApiKeyStore keys, AuthFailureLimiter failures, IPAddress address, string transport, string presented, out string refused)
    {
        var principal = keys.Authenticate(presented, out var expired);
        refused = expired ?? Unknown;
        if (principal is null)
        {
            failures.Failed(address, transport, presented, refused);
        }

        return principal;
    }

    /// <summary>The claims of a caller: its role (what [Authorize(Roles)] checks), its key id and, for vendors, the vendor id.</summary>
    internal static List<Claim> ClaimsOf(Principal principal)
    {
        List<Claim> claims = [new(ClaimTypes.Role, principal.Role.ToString()), new(KeyIdClaim, principal.KeyId)];
        if (principal.VendorId is not null)
        {
            claims.Add(new Claim(VendorClaim, principal.VendorId));
        }

        return claims;
    }

    /// <summary>A failed authentication; the reason is kept for the refusal (ASP.NET keeps only successful results).</summary>
    private Task<AuthenticateResult> Fail(string why)
    {
        Context.Items[FailureItem] = why;
        return Task.FromResult(AuthenticateResult.Fail(why));
    }
}

/// <summary>The caller of a gRPC method, as authenticated before the call reached the service.</summary>
public static class Caller
{
    public static Principal Of(ServerCallContext context) =>
        context.GetHttpContext().Items[ApiKeyAuthenticationHandler.PrincipalItem] as Principal
            ?? throw new RpcException(new Status(StatusCode.Unauthenticated, ApiKeyAuthenticationHandler.Missing));
}

/// <summary>Trailers-only gRPC answers written by the HTTP pipeline itself (before the gRPC service runs).</summary>
public static class GrpcStatusResponse
{
    public static bool IsGrpc(HttpContext context) =>
        context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

    public static Task WriteAsync(HttpContext context, StatusCode code, string message, TimeSpan? retryAfter = null)
    {
        Audit.AuditCall.Refused(context, code, message);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = PercentEncode(message);
        if (retryAfter is { } delay)
        {
            // gRPC's own retry pushback (A6): clients that retry honour it; others can read it.
            response.Headers["grpc-retry-pushback-ms"] = ((long)delay.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return response.CompleteAsync();
    }

    /// <summary>grpc-message is percent-encoded UTF-8: printable ASCII except '%' as is, everything else %XX (gRPC over HTTP/2 spec).</summary>
    internal static string PercentEncode(string message)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(message);
        var builder = new System.Text.StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}

/// <summary>
/// Refusals on the HTTP port written by the pipeline itself (authentication, authorization, CSRF, sign-in, event
/// stream starts), in the shape gRPC JSON transcoding gives errors (google.rpc.Status as JSON: code, message, details),
/// so a client of the JSON API reads one kind of error whoever refused it.
/// </summary>
public static class JsonStatusResponse
{
    /// <summary>
    /// Writes the refusal with a Content-Length; 401 carries <c>WWW-Authenticate: Bearer</c>, a retry delay becomes
    /// <c>Retry-After</c> (whole seconds). The JSON API's own refusals (<see cref="Hosting.JsonApi"/>) come here too.
    /// </summary>
    public static async Task WriteAsync(HttpContext context, int httpStatus, StatusCode code, string message, TimeSpan? retryAfter = null)
    {
        Audit.AuditCall.Refused(context, code, message);
        var response = context.Response;
        response.StatusCode = httpStatus;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        if (code == StatusCode.Unauthenticated)
        {
            response.Headers.WWWAuthenticate = "Bearer";
        }

        if (retryAfter is { } delay)
        {
            response.Headers.RetryAfter = Math.Ceiling(delay.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var body = JsonSerializer.SerializeToUtf8Bytes(new JsonStatus((int)code, message, []), Json.JsonStatus);
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// JSON options for answers to API clients: web defaults, and text left readable (quotes, &lt;, &gt; and Chinese
    /// are not escaped as \uXXXX; the answers are application/json, never HTML).
    /// </summary>
    public static JsonSerializerOptions Options(JsonIgnoreCondition ignore = JsonIgnoreCondition.Never) => new(JsonSerializerDefaults.Web)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = ignore,
    };

    private static readonly JsonStatusContext Json = new(Options());
}

/// <summary>google.rpc.Status as protobuf JSON writes it.</summary>
internal sealed record JsonStatus(int Code, string Message, string[] Details);

[JsonSerializable(typeof(JsonStatus))]
internal sealed partial class JsonStatusContext : JsonSerializerContext;
