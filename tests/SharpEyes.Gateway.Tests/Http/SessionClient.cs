using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Http;

/// <summary>
/// A browser's side of the console's HTTP API: an HttpClient with its own cookie jar, as a page's fetch calls would
/// send them (cookies go to every port of 127.0.0.1, so the jar survives a gateway restart on a new port).
/// </summary>
public sealed class SessionClient : IDisposable
{
    private HttpClient _http;

    public SessionClient(GatewayHost host, CookieContainer? cookies = null)
    {
        Cookies = cookies ?? new CookieContainer();
        _http = NewClient(host.HttpPort);
    }

    public CookieContainer Cookies { get; }

    public HttpClient Http => _http;

    /// <summary>The CSRF request token from the last sign-in or GET /api/session.</summary>
    public string? CsrfToken { get; private set; }

    public Uri BaseAddress => _http.BaseAddress!;

    /// <summary>Talks to <paramref name="host"/> from now on (a restarted gateway listens on a new port), with the same cookies.</summary>
    public void Use(GatewayHost host)
    {
        _http.Dispose();
        _http = NewClient(host.HttpPort);
    }

    /// <summary>POST /api/session with the key; a successful answer's CSRF token is kept.</summary>
    public async Task<HttpResponseMessage> SignInAsync(string key)
    {
        var response = await PostJsonAsync("/api/session", $"{{\"apiKey\": {JsonSerializer.Serialize(key)}}}");
        if (response.StatusCode == HttpStatusCode.OK)
        {
            Remember(await ReadJsonAsync(response));
        }

        return response;
    }

    /// <summary>Signs in and keeps the CSRF token; fails the test unless it succeeds.</summary>
    public async Task<JsonElement> SignInOrFailAsync(string key)
    {
        using var response = await SignInAsync(key);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"sign-in: {(int)response.StatusCode} {body}");
        return Remember(JsonDocument.Parse(body).RootElement.Clone());
    }

    public async Task<(HttpStatusCode Status, JsonElement Body)> GetSessionAsync()
    {
        using var response = await _http.GetAsync("/api/session");
        var body = await ReadJsonAsync(response);
        if (response.IsSuccessStatusCode)
        {
            Remember(body);
        }

        return (response.StatusCode, body);
    }

    /// <summary>Sends a request with the cookies; <paramref name="csrf"/> adds the X-CSRF-Token header (the token kept, or this one).</summary>
    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, bool csrf, string? token = null, string? bearer = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (csrf)
        {
            request.Headers.Add("X-CSRF-Token", token ?? CsrfToken);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        return _http.SendAsync(request);
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json, string contentType = "application/json") =>
        _http.PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, contentType));

    /// <summary>The session cookie's value as the jar holds it, or null.</summary>
    public string? SessionCookie => Cookies.GetCookies(BaseAddress)["sharpeyes.session"]?.Value;

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>The message of a JSON error (google.rpc.Status: code, message, details).</summary>
    public static async Task<(int Code, string Message)> ReadErrorAsync(HttpResponseMessage response)
    {
        var body = await ReadJsonAsync(response);
        return (body.GetProperty("code").GetInt32(), body.GetProperty("message").GetString()!);
    }

    private JsonElement Remember(JsonElement body)
    {
        if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("csrfToken", out var token))
        {
            CsrfToken = token.GetString();
        }

        return body;
    }

    private HttpClient NewClient(int port) =>
        new(new SocketsHttpHandler { CookieContainer = Cookies, UseCookies = true })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
            Timeout = TimeSpan.FromSeconds(30),
        };

    public void Dispose() => _http.Dispose();
}
