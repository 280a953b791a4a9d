using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Observability;

namespace SharpEyes.Gateway.Auth;

/// <summary>
/// Browser sessions: an operator's, planner's or admin's API key exchanged at <c>POST /api/session</c>
/// (<see cref="SessionEndpoints"/>) for a session cookie issued by ASP.NET Core cookie authentication. The cookie holds
/// the key's id and role, a session id and the sign-in time, encrypted and signed with Data Protection keys kept in
/// <c>{data-dir}/session-keys</c> (0700; files 0600), so a restart keeps sessions; never the key. Each request with the
/// cookie checks the key again in the in-memory key store (a revoked key ends its sessions at their next request) and
/// the absolute limit. The scheme every endpoint authenticates with, <see cref="Scheme"/>, uses the API key when an
/// Authorization header is present (and for every gRPC call), else the cookie. State-changing requests authenticated by
/// the cookie must carry an antiforgery token (<see cref="UseSharpEyesCsrfProtection"/>).
/// </summary>
public static class SessionAuthentication
{
    /// <summary>The scheme endpoints name: a Bearer key, else the session cookie.</summary>
    public const string Scheme = "SharpEyes";

    public const string CookieScheme = "Session";
    public const string CookieName = "sharpeyes.session";
    public const string CsrfCookieName = "sharpeyes.csrf";
    public const string CsrfHeader = "X-CSRF-Token";

    /// <summary>Under the data directory: the Data Protection key ring that encrypts session and antiforgery cookies.</summary>
    public const string KeysDirectory = "session-keys";

    public const string CsrfKind = "session-csrf";

    /// <summary>The session's id: the claim antiforgery binds its request tokens to.</summary>
    internal const string SessionIdClaim = "sub";
    internal const string SignedInClaim = "sharpeyes:signed-in";

    /// <summary>Items key of the <see cref="Session"/> of a request authenticated by the cookie.</summary>
    internal const string SessionItem = "sharpeyes.session";

    private const string RenewedItem = "sharpeyes.session-renewed";

    internal const string CsrfRefused =
        "missing or invalid CSRF token: a request with the session cookie that changes something must send the header "
        + CsrfHeader + " with the csrfToken from GET /api/session";

    public static IServiceCollection AddSharpEyesSessions(this IServiceCollection services)
    {
        services.AddAuthentication()
            .AddPolicyScheme(Scheme, "API key or session cookie", o => o.ForwardDefaultSelector = SelectScheme)
            .AddCookie(CookieScheme);
        services.AddOptions<CookieAuthenticationOptions>(CookieScheme).Configure<IOptions<GatewayOptions>>((o, g) =>
        {
            o.Cookie.Name = CookieName;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.Path = "/";
            o.Cookie.IsEssential = true;
            o.ExpireTimeSpan = g.Value.Sessions.IdleTimeout;
            o.SlidingExpiration = true;
            o.EventsType = typeof(SessionEvents);
        });
        services.AddSingleton<SessionEvents>();
        services.AddSingleton<SessionEndpoints>();

        // Keys of the cookies' encryption, in the data directory so that a restart (or an upgrade that moves the binary:
        // the application name is fixed) keeps sessions.
        services.AddDataProtection().SetApplicationName("SharpEyes");
        services.AddOptions<KeyManagementOptions>().Configure<IOptions<GatewayOptions>, ILoggerFactory>((o, g, loggers) =>
            o.XmlRepository = new SessionKeyRing(Path.Combine(Path.GetFullPath(g.Value.DataDir), KeysDirectory), loggers));

        services.AddAntiforgery(o =>
        {
            o.HeaderName = CsrfHeader;
            o.Cookie.Name = CsrfCookieName;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.Path = "/";
        });

        // As for API keys: refusals are counted and logged once per interval by ClientRefusals, not a line each.
        services.AddLogging(b => b
            .AddFilter(typeof(CookieAuthenticationHandler).FullName, LogLevel.Warning)
            .AddFilter(typeof(PolicySchemeHandler).FullName, LogLevel.Warning)
            .AddFilter("Microsoft.AspNetCore.Antiforgery", LogLevel.Error));
        return services;
    }

    /// <summary>
    /// Refuses a request that changes something (POST, PUT, PATCH, DELETE), was authenticated by the session cookie
    /// and carries no valid antiforgery token: 403 with the reason, counted as <see cref="CsrfKind"/>. Requests with
    /// a Bearer key need none (a browser never adds that header by itself), nor does signing in (its body must be JSON,
    /// which a cross-site form cannot send).
    /// </summary>
    public static IApplicationBuilder UseSharpEyesCsrfProtection(this IApplicationBuilder app)
    {
        var antiforgery = app.ApplicationServices.GetRequiredService<IAntiforgery>();
        var refusals = app.ApplicationServices.GetRequiredService<ClientRefusals>();
        return app.Use(async (context, next) =>
        {
            var request = context.Request;
            if (context.Items.ContainsKey(SessionItem) && ChangesState(request.Method)
                && (context.GetEndpoint() is not { } endpoint || AccessEnforcement.OperationOf(endpoint) != AccessTable.SignIn)
                && !await antiforgery.IsRequestValidAsync(context).ConfigureAwait(false))
            {
                refusals.Count(CsrfKind, $"{context.Connection.RemoteIpAddress}: {request.Method} {LogText.Client(request.Path.Value)} with the session cookie and no valid {CsrfHeader}");
                await JsonStatusResponse.WriteAsync(context, StatusCodes.Status403Forbidden, Grpc.Core.StatusCode.PermissionDenied, CsrfRefused).ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });
    }

    /// <summary>Why an HTTP request is not authenticated when nothing more specific is known.</summary>
    internal static string MissingOrEnded(HttpContext context) =>
        context.Request.Headers.Authorization.Count == 0 && context.Request.Cookies.ContainsKey(CookieName)
            ? "the session has ended (it expired or was signed out); sign in again with POST /api/session"
            : ApiKeyAuthenticationHandler.MissingHttp;

    /// <summary>
    /// A Bearer key wherever one is sent, and for every gRPC call (which keeps them exactly as they were); a client
    /// certificate when no session cookie came with it; else the cookie.
    /// </summary>
    private static string SelectScheme(HttpContext context) =>
        context.Request.Headers.Authorization.Count > 0 || GrpcStatusResponse.IsGrpc(context)
            || (context.Connection.ClientCertificate is not null && !context.Request.Cookies.ContainsKey(CookieName))
            ? ApiKeyAuthenticationHandler.SchemeName
            : CookieScheme;

    private static bool ChangesState(string method) =>
        HttpMethods.IsPost(method) || HttpMethods.IsPut(method) || HttpMethods.IsPatch(method) || HttpMethods.IsDelete(method);

    /// <summary>The claims of a new session of <paramref name="principal"/>.</summary>
    internal static ClaimsPrincipal NewSession(Principal principal, DateTimeOffset signedInAt)
    {
        var claims = ApiKeyAuthenticationHandler.ClaimsOf(principal);
        claims.Add(new Claim(SessionIdClaim, Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16))));
        claims.Add(new Claim(SignedInClaim, signedInAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, CookieScheme));
    }

    /// <summary>The session of a request authenticated by the cookie, or null (a Bearer key, or none).</summary>
    internal static Session? Of(HttpContext context) => context.Items[SessionItem] as Session;

    /// <summary>
    /// Checks every request that comes with the session cookie: its key must still be active with the same role (the
    /// key store is in memory), and the session within <see cref="BrowserSessionOptions.MaxLifetime"/> of its sign-in. Otherwise
    /// the session ends: the request is unauthenticated with the reason, and the cookie is deleted.
    /// </summary>
    internal sealed class SessionEvents(ApiKeyStore keys, TimeProvider time, IOptions<GatewayOptions> options) : CookieAuthenticationEvents
    {
        private readonly BrowserSessionOptions _sessions = options.Value.Sessions;

        public override Task CheckSlidingExpiration(CookieSlidingExpirationContext context)
        {
            context.HttpContext.Items[RenewedItem] = context.ShouldRenew;
            return Task.CompletedTask;
        }

        public override async Task ValidatePrincipal(CookieValidatePrincipalContext context)
        {
            var user = context.Principal;
            var keyId = user?.FindFirst(ApiKeyAuthenticationHandler.KeyIdClaim)?.Value;
            var role = user?.FindFirst(ClaimTypes.Role)?.Value;
            var sessionId = user?.FindFirst(SessionIdClaim)?.Value;
            var signedIn = long.TryParse(user?.FindFirst(SignedInClaim)?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
                ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
                : (DateTimeOffset?)null;
            var principal = keyId is null ? null : keys.Active(keyId);
            var now = time.GetUtcNow();
            string? ended = null;
            if (principal is null || principal.Role.ToString() != role || sessionId is null || signedIn is null)
            {
                // Revoked, or expired: say which ("the API key {id} was revoked", "API key {id} expired at {time}").
                ended = (keyId is null ? null : keys.ExpiredReason(keyId)) ?? "its API key was revoked";
            }
            else if (now >= signedIn.Value + _sessions.MaxLifetime)
            {
                ended = $"it reached its absolute limit of {_sessions.MaxLifetime} after sign-in (SharpEyes:Sessions:MaxLifetime)";
            }

            var http = context.HttpContext;
            if (ended is not null)
            {
                context.RejectPrincipal();
                await http.SignOutAsync(CookieScheme).ConfigureAwait(false);
                http.Items[ApiKeyAuthenticationHandler.FailureItem] = $"the session has ended: {ended}; sign in again with POST /api/session";
                return;
            }

            var renewed = http.Items[RenewedItem] is true;
            var expires = renewed || context.Properties.ExpiresUtc is null ? now + _sessions.IdleTimeout : context.Properties.ExpiresUtc.Value;
            var endsAt = signedIn!.Value + _sessions.MaxLifetime;
            http.Items[ApiKeyAuthenticationHandler.PrincipalItem] = principal;
            http.Items[SessionItem] = new Session(principal!, signedIn.Value, expires < endsAt ? expires : endsAt, endsAt);
        }

        // An API answers 401 and 403 itself (GrpcAuthorizationResultHandler); the cookie handler must not redirect to a login page.
        public override Task RedirectToLogin(RedirectContext<CookieAuthenticationOptions> context)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Task.CompletedTask;
        }

        public override Task RedirectToAccessDenied(RedirectContext<CookieAuthenticationOptions> context)
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return Task.CompletedTask;
        }
    }
}

/// <summary>A signed-in browser session: whose key, when it signed in, when it ends unless renewed, and when it ends at the latest.</summary>
public sealed record Session(Principal Principal, DateTimeOffset SignedInAt, DateTimeOffset ExpiresAt, DateTimeOffset AbsoluteExpiresAt);
