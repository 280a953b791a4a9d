using System.Net;
using System.Text.RegularExpressions;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Tests.Docs;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Http;

/// <summary>
/// Deny-by-default on the JSON API, checked as <see cref="Auth.AuthorizationMatrixTests"/> checks gRPC: every
/// transcoded route the gateway serves is called with each role's key, a revoked key, a wrong secret and no key, and
/// each answer is compared with the row of <see cref="AccessTable"/> of the route's gRPC method. Allowed callers may
/// get 400 or 404 for the placeholder request; only the table's roles may get past 401 and 403.
/// </summary>
public sealed partial class JsonApiAuthorizationMatrixTests(ITestOutputHelper output) : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private readonly Dictionary<string, string?> _callers = [];

    public async ValueTask InitializeAsync()
    {
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

    /// <summary>The transcoded routes as served: HTTP verb, route pattern and the gRPC method behind each.</summary>
    private List<(string Verb, string Pattern, string Operation, string Body)> Routes() =>
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
    public void Every_unary_method_the_gateway_serves_has_an_HTTP_route_and_every_route_in_the_protos_is_served()
    {
        var reference = ApiReference.Load().Files.SelectMany(f => f.Services.SelectMany(s => s.Methods.Select(m => (Operation: $"/{s.FullName}/{m.Name}", Method: m)))).ToList();
        var served = AccessTable.Rules.Select(r => r.Operation).Where(o => o.StartsWith("/sharpeyes.v1.", StringComparison.Ordinal)).ToHashSet();
        var routes = Routes();

        // Unary: all have one. Streaming: none (Feeds.Subscribe is the console's SSE, RegisterDevices needs a stream).
        var unary = reference.Where(r => served.Contains(r.Operation) && r.Method.Kind == "unary").ToList();
        Assert.All(unary, r => Assert.True(r.Method.Http is not null, $"{r.Operation} has no google.api.http route"));
        Assert.All(reference.Where(r => r.Method.Kind != "unary"), r => Assert.Null(r.Method.Http));

        var declared = reference.Where(r => r.Method.Http is not null && served.Contains(r.Operation))
            .Select(r => $"{r.Method.Http!.Verb} {r.Method.Http.Path} {r.Operation}").Order(StringComparer.Ordinal);
        // Transcoding keeps the proto's template as the endpoint's route pattern ("{device.device_id}", "{incident_id}:close").
        var mapped = routes.Select(r => $"{r.Verb} {r.Pattern} {r.Operation}").Order(StringComparer.Ordinal);
        Assert.Equal(declared, mapped);
        Assert.All(routes, r => Assert.StartsWith(SharpEyes.Gateway.Hosting.JsonApi.PathPrefix, r.Pattern, StringComparison.Ordinal));
        Assert.Equal(routes.Count, routes.Select(r => (r.Verb, r.Pattern)).Distinct().Count());
        output.WriteLine($"{routes.Count} routes for {unary.Count} unary methods");
    }

    [Fact]
    public async Task Every_route_answers_each_caller_as_the_access_table_says()
    {
        using var api = new JsonApiClient(_host.HttpPort);
        var failures = new List<string>();
        var calls = 0;
        foreach (var (verb, pattern, operation, body) in Routes())
        {
            var rule = AccessTable.Find(operation)!;
            var path = RouteParameter().Replace(pattern, "x");
            foreach (var (caller, key) in _callers)
            {
                var answer = await api.SendAsync(new HttpMethod(verb), path, key, body.Length > 0 ? "{}" : null);
                calls++;
                var expected = Expected(rule, caller);
                var ok = expected switch
                {
                    HttpStatusCode.OK => answer.Status is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden),
                    HttpStatusCode.Forbidden => answer.Status == expected && answer.Error().Message.StartsWith($"role {caller} may not call {operation}; allowed: ", StringComparison.OrdinalIgnoreCase),
                    _ => answer.Status == expected && answer.Error().Code == (int)StatusCode.Unauthenticated,
                };
                if (!ok)
                {
                    failures.Add($"{verb} {path} ({operation}) as {caller}: {(int)answer.Status} {answer.Body}, expected {(expected == HttpStatusCode.OK ? "to be let through" : expected)}");
                }
            }
        }

        output.WriteLine($"{calls} calls ({Routes().Count} routes x {_callers.Count} callers)");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    private static HttpStatusCode Expected(Access rule, string caller) => caller switch
    {
        _ when rule.Anonymous => HttpStatusCode.OK,
        "revoked admin" or "wrong secret" or "no key" => HttpStatusCode.Unauthorized,
        _ => rule.Allows(Enum.Parse<Role>(caller, ignoreCase: true)) ? HttpStatusCode.OK : HttpStatusCode.Forbidden,
    };

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteParameter();
}
