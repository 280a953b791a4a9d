using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Google.Protobuf;

namespace SharpEyes.Gateway.Tests.Http;

/// <summary>A curl user of the JSON API, as plain HTTP/1.1: a method, a path under the HTTP port, a key, a JSON body.</summary>
internal sealed class JsonApiClient(int httpPort) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The formatter that writes a request as the JSON mapping of proto3 (lowerCamelCase names, enums by name).</summary>
    public static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default);

    public async Task<Answer> SendAsync(HttpMethod method, string path, string? key, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request);
        return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.MediaType,
            response.Headers.WwwAuthenticate.ToString(), response.Headers.RetryAfter?.Delta);
    }

    public Task<Answer> GetAsync(string path, string? key) => SendAsync(HttpMethod.Get, path, key);

    public Task<Answer> PostAsync(string path, string? key, IMessage message) => SendAsync(HttpMethod.Post, path, key, Formatter.Format(message));

    public void Dispose() => _http.Dispose();

    /// <summary>One answer: status, body, content type, the WWW-Authenticate header and Retry-After (as a delay).</summary>
    public sealed record Answer(HttpStatusCode Status, string Body, string? ContentType, string WwwAuthenticate, TimeSpan? RetryAfter)
    {
        /// <summary>The body as a message, by the proto3 JSON mapping (an unknown field fails: the JSON is the contract's).</summary>
        public T As<T>() where T : IMessage<T>, new()
        {
            Assert.True(Status == HttpStatusCode.OK, $"expected 200, got {(int)Status}: {Body}");
            return JsonParser.Default.Parse<T>(Body);
        }

        /// <summary>The body of an error: google.rpc.Status (code, message, details) and nothing else.</summary>
        public (int Code, string Message) Error()
        {
            Assert.Equal("application/json", ContentType);
            using var document = JsonDocument.Parse(Body);
            var root = document.RootElement;
            Assert.Equal(["code", "message", "details"], root.EnumerateObject().Select(p => p.Name));
            Assert.Equal(0, root.GetProperty("details").GetArrayLength());
            return (root.GetProperty("code").GetInt32(), root.GetProperty("message").GetString()!);
        }
    }
}
