using System.Net;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Tests.Docs;
using SharpEyes.Gateway.Tests.Http;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Auth;

/// <summary>
/// Deny-by-default, checked exhaustively: every method of every service the gateway maps is called with each role's
/// key, a revoked key, a wrong secret and no key, and each outcome is compared with <see cref="AccessTable"/>.
/// Allowed callers may still get INVALID_ARGUMENT or NOT_FOUND for the empty request; what matters is that only
/// the table's roles get past UNAUTHENTICATED and PERMISSION_DENIED. The JSON API's routes (gRPC JSON transcoding on
/// the HTTP port) are called the same way and answer to the row of their gRPC method.
/// </summary>
public sealed partial class AuthorizationMatrixTests(ITestOutputHelper output) : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private readonly Dictionary<string, string?> _callers = [];

    public async ValueTask InitializeAsync()
    {
        // Hundreds of wrong keys from one address: the failed-attempt limit has its own test.
        _host = await GatewayHost.StartAsync(extraArgs: ["--SharpEyes:Limits:FailedAuthPerAddress=100000"]);
        _callers["admin"] = _host.AdminKey;
        _callers["vendor"] = await _host.CreateKeyAsync(Role.Vendor, "acme");
        _callers["operator"] = await _host.CreateKeyAsync(Role.Operator);
        _callers["planner"] = await _host.CreateKeyAsync(Role.Planner);
        _callers["centre"] = await _host.CreateKeyAsync(Role.Centre);
        var revoked = await _host.CreateKeyAsync(Role.Admin);
        await new Admin.AdminClient(_host.Channel).RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = revoked.Split('_')[1] }, _host.AdminAuth);
        _callers["revoked admin"] = revoked;
        _callers["wrong secret"] = string.Join('_', _callers["operator"]!.Split('_')[..2]) + "_not-the-secret";
        _callers["no key"] = null;
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private IReadOnlyList<(string Operation, MethodType Type)> MappedMethods() =>
    [
        .. _host.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Select(e => e.Metadata.GetMetadata<GrpcMethodMetadata>())
            .OfType<GrpcMethodMetadata>()
            .Select(m => (m.Method.FullName, m.Method.Type))
            .Distinct()
            .OrderBy(m => m.FullName, StringComparer.Ordinal),
    ];

    [Fact]
    public void Every_method_of_every_service_descriptor_is_mapped_and_every_rule_names_a_mapped_operation()
    {
        var descriptors = new[]
        {
            DevicesReflection.Descriptor, AdminReflection.Descriptor, GeographyReflection.Descriptor, IncidentsReflection.Descriptor,
            FeedsReflection.Descriptor, CoverageReflection.Descriptor, StreamsReflection.Descriptor,
        };
        var declared = descriptors.SelectMany(f => f.Services).SelectMany(s => s.Methods).Select(m => $"/{m.Service.FullName}/{m.Name}").ToHashSet();
        var mapped = MappedMethods().Select(m => m.Operation).ToHashSet();
        // The HTTP endpoints the gateway maps (health, metrics, sessions, events, the console), as AccessEnforcement names them.
        var http = _host.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Where(e => e.Metadata.GetMetadata<GrpcMethodMetadata>() is null && e.DisplayName?.StartsWith("gRPC - ", StringComparison.Ordinal) != true)
            .Select(AccessEnforcement.OperationOf)
            .OfType<string>()
            .ToHashSet();
        var mqtt = AccessTable.Rules.Select(r => r.Operation).Where(o => o.StartsWith("MQTT ", StringComparison.Ordinal));

        Assert.Empty(declared.Except(mapped));
        Assert.DoesNotContain(mapped, m => AccessTable.Find(m) is null);
        Assert.Empty(AccessTable.Rules.Select(r => r.Operation).Except(mapped).Except(http).Except(mqtt));
        Assert.Superset(new HashSet<string> { "GET /healthz", "GET /metrics", "POST /api/session", "GET /api/session", "DELETE /api/session", "GET /api/events", "GET /api/console/config" }, http);
        Assert.DoesNotContain(http, o => AccessTable.Find(o) is null);
    }

    /// <summary>
    /// The console's HTTP endpoints with every caller: signing in with each key in the body, each key as a Bearer
    /// header, and the session cookie of each role that may sign in (with its CSRF token where it changes something).
    /// </summary>
    [Fact]
    public async Task The_session_and_event_endpoints_answer_each_caller_as_the_access_table_says()
    {
        var failures = new List<string>();
        var calls = 0;
        var signIn = AccessTable.Get(AccessTable.SignIn);
        string[] operations = ["GET /api/session", "GET /api/events", "GET /api/console/config", "DELETE /api/session"];
        foreach (var (caller, key) in _callers)
        {
            using var browser = new Http.SessionClient(_host);
            using (var response = key is null ? await browser.PostJsonAsync("/api/session", "{}") : await browser.SignInAsync(key))
            {
                calls++;
                var expected = key is null ? HttpStatusCode.BadRequest
                    : Expected(signIn with { Anonymous = false }, caller) switch
                    {
                        StatusCode.OK => HttpStatusCode.OK,
                        StatusCode.Unauthenticated => HttpStatusCode.Unauthorized,
                        _ => HttpStatusCode.Forbidden,
                    };
                Check(failures, $"{AccessTable.SignIn} with the {caller} key in the body", response.StatusCode, expected);
            }

            foreach (var operation in operations)
            {
                var rule = AccessTable.Get(operation);
                var expected = Expected(rule, caller) switch
                {
                    StatusCode.OK => operation.StartsWith("DELETE", StringComparison.Ordinal) ? HttpStatusCode.NoContent : HttpStatusCode.OK,
                    StatusCode.Unauthenticated => HttpStatusCode.Unauthorized,
                    _ => HttpStatusCode.Forbidden,
                };
                if (browser.SessionCookie is not null)
                {
                    // Signed in above: the same with the cookie (DELETE, last, with the session's CSRF token).
                    using var cookie = await SendAsync(browser, operation, null, csrf: true);
                    calls++;
                    Check(failures, $"{operation} with the {caller} session cookie", cookie.StatusCode, expected);
                }

                using var bearer = await SendAsync(browser, operation, key, csrf: false);
                calls++;
                Check(failures, $"{operation} with the {caller} key as Bearer", bearer.StatusCode, expected);
            }
        }

        output.WriteLine($"{calls} calls ({operations.Length + 1} HTTP operations x {_callers.Count} callers, with a key and with a session)");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    private static async Task<HttpResponseMessage> SendAsync(Http.SessionClient browser, string operation, string? bearer, bool csrf)
    {
        var (method, path) = (operation.Split(' ')[0], operation.Split(' ')[1]);
        if (method == "GET" && path == "/api/events")
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (bearer is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
            }

            return await browser.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead); // the status is enough; disposing closes it
        }

        return await browser.SendAsync(new HttpMethod(method), path, csrf && method != "GET", bearer: bearer);
    }

    private static void Check(List<string> failures, string what, HttpStatusCode got, HttpStatusCode expected)
    {
        if (got != expected)
        {
            failures.Add($"{what}: {(int)got} {got}, expected {(int)expected} {expected}");
        }
    }

    [Fact]
    public async Task Every_method_answers_each_caller_as_the_access_table_says()
    {
        var invoker = _host.Channel.CreateCallInvoker();
        var failures = new List<string>();
        var calls = 0;
        foreach (var (operation, type) in MappedMethods())
        {
            var rule = AccessTable.Find(operation)!;
            foreach (var (caller, key) in _callers)
            {
                var code = await CallAsync(invoker, operation, type, key);
                calls++;
                var expected = Expected(rule, caller);
                var ok = expected switch
                {
                    StatusCode.OK => code is not (StatusCode.Unauthenticated or StatusCode.PermissionDenied),
                    _ => code == expected,
                };
                if (!ok)
                {
                    failures.Add($"{operation} as {caller}: {code}, expected {(expected == StatusCode.OK ? "to be let through" : expected)}");
                }
            }
        }

        output.WriteLine($"{calls} calls ({MappedMethods().Count} methods x {_callers.Count} callers)");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    /// <summary>The JSON API's routes as served: HTTP verb, route pattern, the gRPC method behind each and its body field.</summary>
    private List<(string Verb, string Pattern, string Operation, string Body)> JsonRoutes() =>
    [
        .. _host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<GrpcJsonTranscodingMetadata>() is not null)
            .Select(e => (
                e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Single(),
                e.RoutePattern.RawText!,
                e.Metadata.GetMetadata<GrpcMethodMetadata>()!.Method.FullName,
                e.Metadata.GetMetadata<GrpcJsonTranscodingMetadata>()!.HttpRule.Body))
            .OrderBy(r => r.Item2, StringComparer.Ordinal).ThenBy(r => r.Item1, StringComparer.Ordinal),
    ];

    [Fact]
    public void Every_unary_method_has_a_JSON_route_and_every_route_the_protos_declare_is_served()
    {
        var reference = ApiReference.Load().Files.SelectMany(f => f.Services.SelectMany(s => s.Methods.Select(m => (Operation: $"/{s.FullName}/{m.Name}", Method: m)))).ToList();
        var mapped = MappedMethods().Select(m => m.Operation).ToHashSet();
        var routes = JsonRoutes();

        // Unary: each has one. Streaming: none (Feeds.Subscribe reaches browsers as server-sent events, RegisterDevices needs a stream).
        var unary = reference.Where(r => mapped.Contains(r.Operation) && r.Method.Kind == "unary").ToList();
        Assert.All(unary, r => Assert.True(r.Method.Http is not null, $"{r.Operation} has no google.api.http route"));
        Assert.All(reference.Where(r => r.Method.Kind != "unary"), r => Assert.Null(r.Method.Http));

        // Transcoding keeps the proto's template as the endpoint's route pattern ("{device.device_id}", "{incident_id}:close").
        var declared = reference.Where(r => r.Method.Http is not null && mapped.Contains(r.Operation))
            .Select(r => $"{r.Method.Http!.Verb} {r.Method.Http.Path} {r.Operation}").Order(StringComparer.Ordinal);
        Assert.Equal(declared, routes.Select(r => $"{r.Verb} {r.Pattern} {r.Operation}").Order(StringComparer.Ordinal));
        Assert.All(routes, r => Assert.StartsWith(SharpEyes.Gateway.Hosting.JsonApi.PathPrefix, r.Pattern, StringComparison.Ordinal));
        Assert.Equal(routes.Count, routes.Select(r => (r.Verb, r.Pattern)).Distinct().Count());
    }

    [Fact]
    public async Task Every_JSON_route_answers_each_caller_as_the_access_table_says()
    {
        using var api = new JsonApiClient(_host.HttpPort);
        var failures = new List<string>();
        var routes = JsonRoutes();
        foreach (var (verb, pattern, operation, body) in routes)
        {
            var rule = AccessTable.Find(operation)!;
            var path = RouteParameter().Replace(pattern, "x");
            foreach (var (caller, key) in _callers)
            {
                var answer = await api.SendAsync(new HttpMethod(verb), path, key, body.Length > 0 ? "{}" : null);
                var expected = Expected(rule, caller);
                var ok = expected switch
                {
                    // Let through: whatever the service makes of the placeholder request, but no refusal.
                    StatusCode.OK => answer.Status is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden),
                    StatusCode.Unauthenticated => answer.Status == HttpStatusCode.Unauthorized && answer.Error().Code == (int)expected,
                    _ => answer.Status == HttpStatusCode.Forbidden && answer.Error().Code == (int)expected
                        && answer.Error().Message.StartsWith($"role {caller} may not call {operation}; allowed: ", StringComparison.OrdinalIgnoreCase),
                };
                if (!ok)
                {
                    failures.Add($"{verb} {path} ({operation}) as {caller}: {(int)answer.Status} {answer.Body}, expected {(expected == StatusCode.OK ? "to be let through" : expected)}");
                }
            }
        }

        output.WriteLine($"{routes.Count * _callers.Count} calls ({routes.Count} routes x {_callers.Count} callers)");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteParameter();

    [Fact]
    public async Task Refusals_name_the_reason_and_the_allowed_roles()
    {
        var vendor = new Admin.AdminClient(_host.Channel);

        var denied = await Assert.ThrowsAsync<RpcException>(() => vendor.ListApiKeysAsync(new ListApiKeysRequest(), _host.Auth(_callers["vendor"]!)).ResponseAsync);
        var missing = await Assert.ThrowsAsync<RpcException>(() => vendor.ListApiKeysAsync(new ListApiKeysRequest()).ResponseAsync);
        var wrong = await Assert.ThrowsAsync<RpcException>(() => vendor.ListApiKeysAsync(new ListApiKeysRequest(), _host.Auth(_callers["wrong secret"]!)).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Equal("role Vendor may not call /sharpeyes.v1.Admin/ListApiKeys; allowed: Admin", denied.Status.Detail);
        Assert.Equal(StatusCode.Unauthenticated, missing.StatusCode);
        Assert.Equal("missing 'authorization: Bearer <api key>' metadata", missing.Status.Detail);
        Assert.Equal("unknown or revoked API key", wrong.Status.Detail);
    }

    [Fact]
    public async Task The_HTTP_endpoints_are_the_tables_and_answer_without_a_key()
    {
        using var http = new HttpClient();
        foreach (var path in new[] { "/healthz", "/metrics" })
        {
            Assert.True(AccessTable.Find("GET " + path)!.Anonymous);
            var response = await http.GetAsync($"http://127.0.0.1:{_host.HttpPort}{path}");
            Assert.True(response.IsSuccessStatusCode, $"{path}: {response.StatusCode}");
        }

        // Anything else on the HTTP port is refused, not served.
        var other = await http.GetAsync($"http://127.0.0.1:{_host.HttpPort}/sharpeyes.v1.Admin/ListApiKeys");
        Assert.False(other.IsSuccessStatusCode);
    }

    [Fact]
    public async Task MQTT_connections_are_answered_as_the_access_table_says()
    {
        var rule = AccessTable.Get(AccessTable.MqttConnect);
        foreach (var (caller, key) in _callers)
        {
            var user = caller == "vendor" ? "acme" : caller.Replace(' ', '-');
            string outcome;
            try
            {
                var client = await _host.ConnectMqttAsync(user, key ?? "");
                outcome = client.IsConnected ? "Success" : "not connected";
                client.Dispose();
            }
            catch (Exception e)
            {
                outcome = e.Message + e.InnerException?.Message;
            }

            var allowed = caller switch
            {
                "admin" => rule.Allows(Role.Admin),
                "vendor" => rule.Allows(Role.Vendor),
                "operator" => rule.Allows(Role.Operator),
                "planner" => rule.Allows(Role.Planner),
                "centre" => rule.Allows(Role.Centre),
                _ => false,
            };
            var expected = allowed ? "Success" : caller is "revoked admin" or "wrong secret" or "no key" ? "BadUserNameOrPassword" : "NotAuthorized";
            Assert.True(outcome.Contains(expected, StringComparison.Ordinal), $"{caller}: {outcome}, expected {expected}");
        }
    }

    [Fact]
    public async Task The_roles_table_in_the_docs_is_the_access_table()
    {
        var path = Path.Combine(InteropPaths.RepoRoot, "docs", "security.md");
        const string begin = "<!-- access-table:begin (generated from src/SharpEyes.Gateway/Auth/AccessTable.cs; SHARPEYES_UPDATE_DOCS=1 rewrites it) -->\n";
        const string end = "<!-- access-table:end -->";
        var text = await File.ReadAllTextAsync(path);
        var from = text.IndexOf(begin, StringComparison.Ordinal);
        var to = text.IndexOf(end, StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, $"{path} has no access-table markers");
        var rendered = AccessTable.RenderMarkdown();
        if (Environment.GetEnvironmentVariable("SHARPEYES_UPDATE_DOCS") == "1")
        {
            await File.WriteAllTextAsync(path, text[..(from + begin.Length)] + rendered + text[to..]);
            return;
        }

        Assert.Equal(rendered, text[(from + begin.Length)..to]);
    }

    private static StatusCode Expected(Access rule, string caller) => caller switch
    {
        _ when rule.Anonymous => StatusCode.OK,
        "revoked admin" or "wrong secret" or "no key" => StatusCode.Unauthenticated,
        _ => rule.Allows(Enum.Parse<Role>(caller, ignoreCase: true)) ? StatusCode.OK : StatusCode.PermissionDenied,
    };

    /// <summary>
    /// Sends the request side of a stream. A refused call may already be over by then (the refusal does not wait for
    /// the request), so a failed write is not the answer: the status comes from the response side.
    /// </summary>
    private static async Task CompleteRequestsAsync(IClientStreamWriter<byte[]> requests, bool write)
    {
        try
        {
            if (write)
            {
                await requests.WriteAsync([]);
            }

            await requests.CompleteAsync();
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException)
        {
            // The call ended first; its status is read from the response.
        }
    }

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    private static async Task<StatusCode> CallAsync(CallInvoker invoker, string operation, MethodType type, string? key)
    {
        var slash = operation.LastIndexOf('/');
        var method = new Method<byte[], byte[]>(type, operation[1..slash], operation[(slash + 1)..], Bytes, Bytes);
        var headers = new Metadata();
        if (key is not null)
        {
            headers.Add("authorization", "Bearer " + key);
        }

        var options = new CallOptions(headers, DateTime.UtcNow.AddSeconds(15));
        try
        {
            switch (type)
            {
                case MethodType.Unary:
                    await invoker.AsyncUnaryCall(method, null, options, []);
                    break;
                case MethodType.ClientStreaming:
                    using (var call = invoker.AsyncClientStreamingCall(method, null, options))
                    {
                        await CompleteRequestsAsync(call.RequestStream, write: false);
                        await call.ResponseAsync;
                    }

                    break;
                case MethodType.ServerStreaming:
                    using (var call = invoker.AsyncServerStreamingCall(method, null, options.WithDeadline(DateTime.UtcNow.AddSeconds(3)), []))
                    {
                        await call.ResponseStream.MoveNext(CancellationToken.None); // the first answer (or the refusal) is enough
                    }

                    break;
                default:
                    using (var call = invoker.AsyncDuplexStreamingCall(method, null, options.WithDeadline(DateTime.UtcNow.AddSeconds(3))))
                    {
                        await CompleteRequestsAsync(call.RequestStream, write: true);
                        await call.ResponseStream.MoveNext(CancellationToken.None);
                    }

                    break;
            }

            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
    }
}
