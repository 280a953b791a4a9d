using System.Net;
using System.Security.Claims;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Http;

/// <summary>
/// Browser sessions on a real gateway over HTTP, as a page's fetch calls make them (an HttpClient with a cookie jar):
/// signing in with an API key at /api/session, the cookie's flags and contents, who may sign in, the failed-attempts
/// limit, revocation, sliding and absolute expiry on the gateway's clock, CSRF tokens, a restart, and gRPC unchanged.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SessionTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Signing_in_sets_an_HttpOnly_SameSite_Strict_cookie_without_the_key_and_signing_out_removes_it()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var key = await host.CreateKeyAsync(Role.Operator);
        using var browser = new SessionClient(host);

        using var response = await browser.SignInAsync(key);
        var body = await SessionClient.ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var keyId = key.Split('_')[1];
        Assert.Equal(keyId, body.GetProperty("keyId").GetString());
        Assert.Equal("ROLE_OPERATOR", body.GetProperty("role").GetString());
        Assert.Equal("session", body.GetProperty("authenticatedBy").GetString());
        Assert.Equal(Start.UtcDateTime, body.GetProperty("signedInAt").GetDateTime());
        Assert.Equal(Start.AddHours(8).UtcDateTime, body.GetProperty("expiresAt").GetDateTime()); // Sessions:IdleTimeout
        Assert.Equal(Start.AddHours(12).UtcDateTime, body.GetProperty("absoluteExpiresAt").GetDateTime()); // Sessions:MaxLifetime
        Assert.Equal("X-CSRF-Token", body.GetProperty("csrfHeader").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("csrfToken").GetString()));
        Assert.DoesNotContain(key[(key.IndexOf('_', 3) + 1)..], body.GetRawText(), StringComparison.Ordinal);

        // The cookie: HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP, a browser-session cookie (no Expires).
        var setCookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("sharpeyes.session=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.Contains("; httponly", setCookie, StringComparison.Ordinal);
        Assert.Contains("; samesite=strict", setCookie, StringComparison.Ordinal);
        Assert.Contains("; path=/", setCookie, StringComparison.Ordinal);
        Assert.DoesNotContain("secure", setCookie, StringComparison.Ordinal);
        Assert.DoesNotContain("expires=", setCookie, StringComparison.Ordinal);
        Assert.DoesNotContain("max-age", setCookie, StringComparison.Ordinal);
        var csrfCookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("sharpeyes.csrf=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.Contains("; httponly", csrfCookie, StringComparison.Ordinal);
        Assert.Contains("; samesite=strict", csrfCookie, StringComparison.Ordinal);

        // Inside the cookie (decrypted with the gateway's own keys): the key's id and role, a session id and the sign-in time; not the key.
        var cookie = browser.SessionCookie!;
        Assert.DoesNotContain(key[(key.IndexOf('_', 3) + 1)..], cookie, StringComparison.Ordinal);
        var format = host.Services.GetRequiredService<IOptionsMonitor<CookieAuthenticationOptions>>().Get(SessionAuthentication.CookieScheme).TicketDataFormat;
        var ticket = format.Unprotect(cookie)!;
        var claims = ticket.Principal.Claims.ToList();
        Assert.Equal(["role", "sharpeyes:key-id", "sub", "sharpeyes:signed-in"], claims.Select(c => c.Type == ClaimTypes.Role ? "role" : c.Type));
        Assert.Equal(keyId, ticket.Principal.FindFirst("sharpeyes:key-id")!.Value);
        Assert.All(claims, c => Assert.DoesNotContain(key[(key.IndexOf('_', 3) + 1)..], c.Value, StringComparison.Ordinal));

        var (status, who) = await browser.GetSessionAsync();
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(keyId, who.GetProperty("keyId").GetString());

        using var signOut = await browser.SendAsync(HttpMethod.Delete, "/api/session", csrf: true);
        Assert.Equal(HttpStatusCode.NoContent, signOut.StatusCode);
        Assert.Null(browser.SessionCookie);
        using var after = await browser.Http.GetAsync("/api/session");
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Equal((16, "missing 'Authorization: Bearer <api key>' header or session cookie (sign in with POST /api/session)"), await SessionClient.ReadErrorAsync(after));
    }

    [Theory]
    [InlineData(Role.Admin, "ROLE_ADMIN")]
    [InlineData(Role.Planner, "ROLE_PLANNER")]
    public async Task Admins_and_planners_sign_in_too(Role role, string name)
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        using var browser = new SessionClient(host);

        var body = await browser.SignInOrFailAsync(role == Role.Admin ? host.AdminKey : await host.CreateKeyAsync(role));

        Assert.Equal(name, body.GetProperty("role").GetString());
    }

    [Fact]
    public async Task Vendor_and_centre_keys_are_refused_with_403_and_get_no_cookie()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        using var browser = new SessionClient(host);

        using var vendor = await browser.SignInAsync(await host.CreateKeyAsync(Role.Vendor, "acme"));
        using var centre = await browser.SignInAsync(await host.CreateKeyAsync(Role.Centre));

        Assert.Equal(HttpStatusCode.Forbidden, vendor.StatusCode);
        Assert.Equal((7, "role Vendor may not sign in to the console; allowed: Admin, Operator, Planner (vendors use the gRPC API and MQTT, centres Feeds.Subscribe)"),
            await SessionClient.ReadErrorAsync(vendor));
        Assert.Equal(HttpStatusCode.Forbidden, centre.StatusCode);
        Assert.StartsWith("role Centre may not sign in to the console", (await SessionClient.ReadErrorAsync(centre)).Message, StringComparison.Ordinal);
        Assert.False(vendor.Headers.Contains("Set-Cookie") || centre.Headers.Contains("Set-Cookie"));
        Assert.Null(browser.SessionCookie);
        Assert.Equal(2, host.Services.GetRequiredService<ClientRefusals>()[SessionEndpoints.RoleDeniedKind]);
    }

    [Fact]
    public async Task A_wrong_key_is_401_and_counts_toward_the_same_failed_attempts_limit_as_gRPC()
    {
        await using var host = await GatewayHost.StartAsync(demo: false, extraArgs: "--SharpEyes:Limits:FailedAuthPerAddress=3");
        var key = await host.CreateKeyAsync(Role.Operator);
        var refusals = host.Services.GetRequiredService<ClientRefusals>();
        using var browser = new SessionClient(host);

        foreach (var wrong in new[] { "se_nosuchkey_secret", string.Join('_', key.Split('_')[..2]) + "_wrong-secret", "not even a key" })
        {
            using var refused = await browser.SignInAsync(wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal((16, "unknown or revoked API key"), await SessionClient.ReadErrorAsync(refused));
        }

        // The address has used its attempts: even the right key is refused unchecked, here and over gRPC.
        using var locked = await browser.SignInAsync(key);
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        Assert.Equal("60", locked.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal((8, "too many failed authentications from this address; try again in at most 60 s (SharpEyes:Limits:FailedAuthPerAddress)"),
            await SessionClient.ReadErrorAsync(locked));
        var grpc = await Assert.ThrowsAsync<RpcException>(() =>
            new V1.Incidents.IncidentsClient(host.Channel).ListIncidentsAsync(new ListIncidentsRequest(), host.Auth(key)).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, grpc.StatusCode);
        Assert.Equal(3, refusals["auth-failed-http"]);
        Assert.Equal(2, refusals[AuthFailureLimiter.LockedOut]);
        Assert.Null(browser.SessionCookie);
    }

    [Theory]
    [InlineData("application/x-www-form-urlencoded", "apiKey=se_x_y", 415, "send the key as JSON, Content-Type: application/json, body {\"apiKey\": \"se_...\"}")]
    [InlineData("text/plain", "{\"apiKey\": \"se_x_y\"}", 415, "send the key as JSON, Content-Type: application/json, body {\"apiKey\": \"se_...\"}")]
    [InlineData("application/json", "{\"apiKey\": ", 400, "the body is not valid JSON; send the key as JSON, Content-Type: application/json, body {\"apiKey\": \"se_...\"}")]
    [InlineData("application/json", "{\"key\": \"se_x_y\"}", 400, "apiKey: required; send the key as JSON, Content-Type: application/json, body {\"apiKey\": \"se_...\"}")]
    public async Task A_sign_in_that_is_not_the_JSON_it_should_be_gets_a_clear_error(string contentType, string body, int status, string message)
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        using var browser = new SessionClient(host);

        using var response = await browser.PostJsonAsync("/api/session", body, contentType);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal((3, message), await SessionClient.ReadErrorAsync(response));
    }

    [Fact]
    public async Task A_sign_in_body_over_4_KiB_is_refused_before_it_is_read()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        using var browser = new SessionClient(host);

        using var declared = await browser.PostJsonAsync("/api/session", $"{{\"apiKey\": \"{new string('x', 5000)}\"}}");
        var chunked = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes($"{{\"apiKey\": \"{new string('x', 5000)}\"}}")));
        chunked.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        using var streamed = await browser.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
        Assert.StartsWith("the body is over 4096 bytes", (await SessionClient.ReadErrorAsync(streamed)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoking_the_key_ends_its_session_at_the_next_request()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var key = await host.CreateKeyAsync(Role.Planner);
        using var browser = new SessionClient(host);
        await browser.SignInOrFailAsync(key);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetSessionAsync()).Status);

        await new Admin.AdminClient(host.Channel).RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = key.Split('_')[1] }, host.AdminAuth);
        using var after = await browser.Http.GetAsync("/api/session");

        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Equal((16, "the session has ended: its API key was revoked; sign in again with POST /api/session"), await SessionClient.ReadErrorAsync(after));
        Assert.Null(browser.SessionCookie); // and the cookie is deleted
        using var again = await browser.SignInAsync(key);
        Assert.Equal(HttpStatusCode.Unauthorized, again.StatusCode);
    }

    [Fact]
    public async Task A_session_slides_while_used_ends_when_idle_and_ends_at_its_absolute_limit_whatever_happens()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var key = await host.CreateKeyAsync(Role.Operator);
        using var busy = new SessionClient(host);
        using var idle = new SessionClient(host);
        await busy.SignInOrFailAsync(key);
        await idle.SignInOrFailAsync(key);

        // Used every 5 hours (past half of the 8-hour idle timeout, so each use renews it): alive at 10 hours.
        host.Time.Advance(TimeSpan.FromHours(5));
        var (status, renewed) = await busy.GetSessionAsync();
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(Start.AddHours(12).UtcDateTime, renewed.GetProperty("expiresAt").GetDateTime()); // 5 h + 8 h, capped at the absolute limit
        host.Time.Advance(TimeSpan.FromHours(5));
        Assert.Equal(HttpStatusCode.OK, (await busy.GetSessionAsync()).Status);

        // The one left alone for 10 hours has expired.
        using var expired = await idle.Http.GetAsync("/api/session");
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Equal((16, "the session has ended (it expired or was signed out); sign in again with POST /api/session"), await SessionClient.ReadErrorAsync(expired));

        // 12 hours after sign-in the busy one ends too.
        host.Time.Advance(TimeSpan.FromHours(2));
        using var ended = await busy.Http.GetAsync("/api/session");
        Assert.Equal(HttpStatusCode.Unauthorized, ended.StatusCode);
        Assert.Equal((16, "the session has ended: it reached its absolute limit of 12:00:00 after sign-in (SharpEyes:Sessions:MaxLifetime); sign in again with POST /api/session"),
            await SessionClient.ReadErrorAsync(ended));
    }

    [Fact]
    public async Task A_cookie_request_that_changes_something_needs_its_sessions_CSRF_token_and_a_Bearer_request_needs_none()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var key = await host.CreateKeyAsync(Role.Operator);
        using var browser = new SessionClient(host);
        using var other = new SessionClient(host);
        await browser.SignInOrFailAsync(key);
        await other.SignInOrFailAsync(key);

        using var without = await browser.SendAsync(HttpMethod.Delete, "/api/session", csrf: false);
        using var garbage = await browser.SendAsync(HttpMethod.Delete, "/api/session", csrf: true, token: "not-a-token");
        using var othersToken = await browser.SendAsync(HttpMethod.Delete, "/api/session", csrf: true, token: other.CsrfToken);

        foreach (var refused in new[] { without, garbage, othersToken })
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal((7, "missing or invalid CSRF token: a request with the session cookie that changes something must send the header X-CSRF-Token with the csrfToken from GET /api/session"),
                await SessionClient.ReadErrorAsync(refused));
        }

        Assert.NotNull(browser.SessionCookie); // nothing happened
        Assert.Equal(3, host.Services.GetRequiredService<ClientRefusals>()[SessionAuthentication.CsrfKind]);

        // Signing in again needs no token (its body must be JSON, which a cross-site form cannot send).
        await browser.SignInOrFailAsync(key);

        // A Bearer request carries no ambient credential: no token needed, even with the cookie beside it.
        using var bearer = await browser.SendAsync(HttpMethod.Delete, "/api/session", csrf: false, bearer: key);
        Assert.Equal(HttpStatusCode.NoContent, bearer.StatusCode);

        using var withToken = await other.SendAsync(HttpMethod.Delete, "/api/session", csrf: true);
        Assert.Equal(HttpStatusCode.NoContent, withToken.StatusCode);
        Assert.Null(other.SessionCookie);
    }

    [Fact]
    public async Task A_Bearer_key_works_on_the_HTTP_port_and_a_role_outside_the_table_gets_a_clear_403()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        using var browser = new SessionClient(host);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "acme");

        using var admin = await browser.SendAsync(HttpMethod.Get, "/api/session", csrf: false, bearer: host.AdminKey);
        using var refused = await browser.SendAsync(HttpMethod.Get, "/api/session", csrf: false, bearer: vendor);

        var body = await SessionClient.ReadJsonAsync(admin);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        Assert.Equal("bearer", body.GetProperty("authenticatedBy").GetString());
        Assert.Equal("ROLE_ADMIN", body.GetProperty("role").GetString());
        Assert.False(body.TryGetProperty("csrfToken", out _));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal((7, "role Vendor may not call GET /api/session; allowed: Admin, Operator, Planner"), await SessionClient.ReadErrorAsync(refused));
    }

    [Fact]
    public async Task A_session_cookie_does_not_authenticate_gRPC_calls()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        using var browser = new SessionClient(host);
        await browser.SignInOrFailAsync(host.AdminKey);

        var error = await Assert.ThrowsAsync<RpcException>(() => new Admin.AdminClient(host.Channel)
            .ListApiKeysAsync(new ListApiKeysRequest(), new Metadata { { "cookie", $"sharpeyes.session={browser.SessionCookie}" } }).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Equal("missing 'authorization: Bearer <api key>' metadata", error.Status.Detail);
    }

    [Fact]
    public async Task Sessions_survive_a_restart_and_their_keys_are_readable_only_by_the_gateways_user()
    {
        var host = await GatewayHost.StartAsync(demo: false);
        var key = await host.CreateKeyAsync(Role.Operator);
        using var browser = new SessionClient(host);
        await browser.SignInOrFailAsync(key);
        var token = browser.CsrfToken;

        host = await host.RestartAsync();
        await using var _ = host;
        browser.Use(host);

        Assert.Equal(HttpStatusCode.OK, (await browser.GetSessionAsync()).Status);
        using var signOut = await browser.SendAsync(HttpMethod.Delete, "/api/session", csrf: true, token: token); // the old token too
        Assert.Equal(HttpStatusCode.NoContent, signOut.StatusCode);
        var directory = Path.Combine(host.DataDir, SessionAuthentication.KeysDirectory);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
        var files = Directory.GetFiles(directory);
        Assert.Single(files); // one key, made at the first start and kept
        Assert.All(files, f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
    }
}
