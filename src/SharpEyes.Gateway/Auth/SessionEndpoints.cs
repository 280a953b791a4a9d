using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Grpc.Core;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Hosting;
using SharpEyes.Gateway.Observability;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Auth;

/// <summary>
/// <c>/api/session</c> on the HTTP port: POST signs in with an API key in a JSON body and answers with the session
/// cookie (<see cref="SessionAuthentication"/>), GET says who is signed in (with the CSRF token the page sends on
/// requests that change something), DELETE signs out. The key is checked as the Bearer handler checks it, against the
/// same failed-attempts limit per address.
/// </summary>
public sealed class SessionEndpoints(
    ApiKeyStore keys, AuthFailureLimiter failures, IAntiforgery antiforgery, ClientRefusals refusals, TimeProvider time, IOptions<GatewayOptions> options)
{
    public const string RoleDeniedKind = "session-role-denied";

    /// <summary>A sign-in body is a key of ~60 characters in JSON; anything much larger is refused before it is read.</summary>
    public const int MaxSignInBytes = 4096;

    private const string BodyShape = "send the key as JSON, Content-Type: application/json, body {\"apiKey\": \"se_...\"}";

    private static readonly SessionJson Json = new(JsonStatusResponse.Options(JsonIgnoreCondition.WhenWritingNull));

    private readonly LimitOptions _limits = options.Value.Limits;
    private readonly BrowserSessionOptions _sessions = options.Value.Sessions;

    public async Task SignInAsync(HttpContext context)
    {
        var request = context.Request;
        if (!request.HasJsonContentType())
        {
            await RefuseAsync(context, StatusCodes.Status415UnsupportedMediaType, StatusCode.InvalidArgument, BodyShape).ConfigureAwait(false);
            return;
        }

        if (request.ContentLength > MaxSignInBytes)
        {
            await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, StatusCode.InvalidArgument, $"the body is over {MaxSignInBytes} bytes; {BodyShape}").ConfigureAwait(false);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = MaxSignInBytes;
        }

        SignInRequest? body;
        try
        {
            body = await request.ReadFromJsonAsync(Json.SignInRequest, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, StatusCode.InvalidArgument, $"the body is not valid JSON; {BodyShape}").ConfigureAwait(false);
            return;
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, StatusCode.InvalidArgument, $"the body is over {MaxSignInBytes} bytes; {BodyShape}").ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrWhiteSpace(body?.ApiKey))
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, StatusCode.InvalidArgument, $"apiKey: required; {BodyShape}").ConfigureAwait(false);
            return;
        }

        var address = context.Connection.RemoteIpAddress ?? IPAddress.None;
        if (failures.IsLockedOut(address, "http"))
        {
            await RefuseAsync(context, StatusCodes.Status429TooManyRequests, StatusCode.ResourceExhausted,
                $"{ApiKeyAuthenticationHandler.LockedOut}; try again in at most {_limits.FailedAuthWindow.TotalSeconds:0} s (SharpEyes:Limits:FailedAuthPerAddress)",
                _limits.FailedAuthWindow).ConfigureAwait(false);
            return;
        }

        var presented = body.ApiKey.Trim();
        var principal = ApiKeyAuthenticationHandler.Verify(keys, failures, address, "http", presented, out var refused);
        if (Audit.AuditCall.Of(context) is { } audit && AuthFailureLimiter.KeyIdPart(presented) is { } claimed)
        {
            audit.ServiceTargets.Add(claimed); // the key id the caller presented (never the key), for the audit log
        }

        if (principal is null)
        {
            await RefuseAsync(context, StatusCodes.Status401Unauthorized, StatusCode.Unauthenticated, refused).ConfigureAwait(false);
            return;
        }

        context.Items[ApiKeyAuthenticationHandler.PrincipalItem] = principal; // the actor, also of a refused sign-in
        var rule = AccessTable.Get(AccessTable.SignIn);
        if (!rule.Allows(principal.Role))
        {
            refusals.Count(RoleDeniedKind, $"{address}: a {principal.Role} key tried to sign in{AuthFailureLimiter.KeyIdOf(presented)}");
            await RefuseAsync(context, StatusCodes.Status403Forbidden, StatusCode.PermissionDenied,
                $"role {principal.Role} may not sign in to the console; allowed: {string.Join(", ", rule.Roles)} (vendors use the gRPC API and MQTT, centres Feeds.Subscribe)").ConfigureAwait(false);
            return;
        }

        var now = time.GetUtcNow();
        var user = SessionAuthentication.NewSession(principal, now);
        var endsAt = now + _sessions.MaxLifetime;
        var expires = now + _sessions.IdleTimeout;
        var properties = new AuthenticationProperties
        {
            IsPersistent = false, // a browser-session cookie: closing the browser ends it
            AllowRefresh = true,
            IssuedUtc = now,
            ExpiresUtc = expires < endsAt ? expires : endsAt,
        };
        await context.SignInAsync(SessionAuthentication.CookieScheme, user, properties).ConfigureAwait(false);
        context.User = user; // the CSRF token is bound to this session
        context.Items[ApiKeyAuthenticationHandler.PrincipalItem] = principal;
        await AnswerAsync(context, new Session(principal, now, properties.ExpiresUtc.Value, endsAt)).ConfigureAwait(false);
    }

    public Task GetAsync(HttpContext context) => AnswerAsync(context, SessionAuthentication.Of(context));

    public async Task SignOutAsync(HttpContext context)
    {
        await context.SignOutAsync(SessionAuthentication.CookieScheme).ConfigureAwait(false);
        context.Response.Cookies.Delete(SessionAuthentication.CsrfCookieName, new CookieOptions { Path = "/", Secure = context.Request.IsHttps });
        context.Response.Headers.CacheControl = "no-store";
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>Who is signed in: the key's id and role, and for a session its times and the CSRF token; never a secret.</summary>
    private Task AnswerAsync(HttpContext context, Session? session)
    {
        var principal = context.Items[ApiKeyAuthenticationHandler.PrincipalItem] as Principal
            ?? throw new InvalidOperationException("an authorized request without a principal");
        var answer = new SessionAnswer(principal.KeyId, RoleName(principal.Role), session is null ? "bearer" : "session");
        if (session is not null)
        {
            var tokens = antiforgery.GetAndStoreTokens(context);
            answer = answer with
            {
                SignedInAt = Seconds(session.SignedInAt),
                ExpiresAt = Seconds(session.ExpiresAt),
                AbsoluteExpiresAt = Seconds(session.AbsoluteExpiresAt),
                CsrfToken = tokens.RequestToken,
                CsrfHeader = SessionAuthentication.CsrfHeader,
            };
        }

        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsJsonAsync(answer, Json.SessionAnswer);
    }

    /// <summary>A time to the second, in UTC (the cookie keeps its expiry to the second; the answers do not pretend to more).</summary>
    private static DateTime Seconds(DateTimeOffset time) => new(time.UtcTicks - (time.UtcTicks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);

    private Task RefuseAsync(HttpContext context, int httpStatus, StatusCode code, string message, TimeSpan? retryAfter = null) =>
        JsonStatusResponse.WriteAsync(context, httpStatus, code, message, retryAfter);

    /// <summary>A role as the JSON API spells it (the proto enum value's name, ROLE_OPERATOR).</summary>
    internal static string RoleName(Role role) =>
        CreateApiKeyRequest.Descriptor.FindFieldByNumber(CreateApiKeyRequest.RoleFieldNumber).EnumType.FindValueByNumber((int)role)?.Name ?? role.ToString();
}

/// <summary>The sign-in request's body.</summary>
public sealed record SignInRequest(string? ApiKey);

/// <summary>The answer of POST and GET /api/session.</summary>
public sealed record SessionAnswer(string KeyId, string Role, string AuthenticatedBy)
{
    public DateTime? SignedInAt { get; init; }

    public DateTime? ExpiresAt { get; init; }

    public DateTime? AbsoluteExpiresAt { get; init; }

    public string? CsrfToken { get; init; }

    public string? CsrfHeader { get; init; }
}

[JsonSerializable(typeof(SignInRequest))]
[JsonSerializable(typeof(SessionAnswer))]
internal sealed partial class SessionJson : JsonSerializerContext;

/// <summary>Maps <c>/api/session</c> on the HTTP listener, each with its row of <see cref="AccessTable"/>.</summary>
public static class SessionEndpointRoutes
{
    public static IEndpointRouteBuilder MapSharpEyesSessions(this IEndpointRouteBuilder app)
    {
        var sessions = app.ServiceProvider.GetRequiredService<SessionEndpoints>();
        app.MapPost("/api/session", (RequestDelegate)sessions.SignInAsync).OnListener(GatewayListeners.Http);
        app.MapGet("/api/session", (RequestDelegate)sessions.GetAsync).OnListener(GatewayListeners.Http);
        app.MapDelete("/api/session", (RequestDelegate)sessions.SignOutAsync).OnListener(GatewayListeners.Http);
        return app;
    }
}
