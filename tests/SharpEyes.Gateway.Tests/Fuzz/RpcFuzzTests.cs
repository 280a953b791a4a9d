using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Google.Protobuf.Reflection;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Fuzz;

/// <summary>
/// Every RPC the gateway maps (found from its endpoints and the request types' descriptors, so a new RPC is fuzzed
/// without a change here), called over the wire as an admin and as a vendor with generated and mutated request
/// bodies (<see cref="RpcCases"/>) through a raw bytes marshaller: every answer is a gRPC status the method owns
/// (never UNKNOWN or INTERNAL from an exception in a handler, never a dropped connection or a hang), every
/// INVALID_ARGUMENT names the field, streams end within their deadline, and afterwards the gateway serves a canary,
/// logged no unhandled exception and its memory stayed bounded.
/// </summary>
[Collection(ProcessMemoryCollection.Name)]
public sealed partial class RpcFuzzTests : IAsyncLifetime
{
    private const ulong Seed = 20261122;
    private const int CaseCount = 1_500;
    private const int Parallelism = 8;
    private const string VendorId = "vendor-fuzz";

    /// <summary>A unary call slower than this is a hang.</summary>
    private static readonly TimeSpan CallBound = TimeSpan.FromSeconds(20);

    /// <summary>Streams are cancelled after this (their deadline); ending there is expected.</summary>
    private static readonly TimeSpan StreamDeadline = TimeSpan.FromSeconds(1);

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    private GatewayHost _host = null!;
    private string _vendorKey = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync(extraArgs: [GatewayHost.NoVendorRateLimit]);
        _vendorKey = await _host.CreateKeyAsync(Role.Vendor, VendorId);
        var registry = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
        await registry.RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_vendorKey)); // the canary's, never in the generated ids
        await registry.RegisterDeviceAsync(TestDevices.Alarm(5), _host.Auth(_vendorKey));
        await registry.RegisterDeviceAsync(TestDevices.Camera(6), _host.Auth(_vendorKey));
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Every_rpc_answers_generated_and_mutated_requests_with_a_specific_status_and_the_gateway_keeps_serving()
    {
        var methods = MappedMethods(_host);
        Assert.Contains(methods, m => m.Name == "/sharpeyes.v1.Feeds/Subscribe" && m.Type == MethodType.ServerStreaming);
        Assert.Contains(methods, m => m.Name == "/sharpeyes.v1.DeviceRegistry/RegisterDevices" && m.Type == MethodType.ClientStreaming);
        var grids = await new V1.Geography.GeographyClient(_host.Channel).ListGridsAsync(new ListGridsRequest(), _host.AdminAuth);
        string[] ids =
        [
            TestDevices.AlarmId(5), TestDevices.CameraId(6), TestDevices.CameraId(7), TestDevices.AlarmId(8), VendorId, "vendor-other",
            .. grids.Grids.Select(g => g.Code).Where((_, i) => i % 7 == 0),
        ];
        var cases = new RpcCases(ids, GeoJsonSamples());
        var bodies = methods.Select(m => cases.Bodies(m.Request)).ToList();
        var seed = Fuzzing.Seed(Seed);
        var count = Fuzzing.Count(CaseCount);
        var callers = new[] { ("admin", _host.AdminKey), ("vendor", _vendorKey) };

        var memory = Canary.Mark();
        var results = new ConcurrentBag<RpcResult>();
        var clock = Stopwatch.StartNew();
        var invoker = _host.Channel.CreateCallInvoker();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (i, _) =>
        {
            var method = methods[i % methods.Count];
            var (caller, key) = callers[i / methods.Count % callers.Length];
            var body = Fuzzing.Case(bodies[i % methods.Count], seed, i);
            var started = Stopwatch.GetTimestamp();
            var (status, messages) = await CallAsync(invoker, method, key, body.Bytes);
            // Only the head of a body is kept: the huge ones would otherwise count as the gateway's memory.
            results.Add(new RpcResult(i, method, caller, body with { Bytes = body.Bytes[..Math.Min(200, body.Bytes.Length)] }, body.Bytes.Length, status, messages, Stopwatch.GetElapsedTime(started)));
        });
        clock.Stop();

        var wrong = results.OrderBy(r => r.Index).Select(r => (r, Why: Check(r))).Where(x => x.Why is not null).ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} of {count} calls got a wrong answer (seed {seed}); the first:\n" + string.Join('\n', wrong.Take(8).Select(x =>
            $"{Fuzzing.Replay(seed, x.r.Index)}: {x.r.Method.Name} as {x.r.Caller}, {x.r.Body.Kind} body of {x.r.Length:N0} bytes: {x.Why}\n  body: {Convert.ToHexString(x.r.Body.Bytes)}")));

        // Still serving, nothing unhandled, memory bounded.
        await Canary.AssertServingAsync(_host, VendorId, _vendorKey, TestDevices.AlarmId(1));
        Canary.AssertNoUnhandledExceptions(_host.Logs);
        var memoryText = Canary.AssertBounded(memory);
        Report(seed, methods, [.. results], clock.Elapsed, memoryText);
    }

    /// <summary>Every gRPC method the gateway maps, with its request message's descriptor (from the generated Method&lt;TRequest, TResponse&gt;).</summary>
    internal static List<RpcMethod> MappedMethods(GatewayHost host) =>
    [
        .. host.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Select(e => e.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method)
            .OfType<IMethod>()
            .DistinctBy(m => m.FullName)
            .OrderBy(m => m.FullName, StringComparer.Ordinal)
            .Select(m => new RpcMethod(m.FullName, m.Type, RequestDescriptor(m))),
    ];

    private static MessageDescriptor RequestDescriptor(IMethod method)
    {
        var request = method.GetType().GetGenericArguments()[0];
        return (MessageDescriptor)request.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
    }

    /// <summary>A few GeoJSON documents for geojson fields: valid and broken grids and key sites.</summary>
    private static string[] GeoJsonSamples() => [.. Fuzzing.Cases(GeoJsonCases.Any, Seed, 40).Select(c => c.Json)];

    private static async Task<(Status Status, int Messages)> CallAsync(CallInvoker invoker, RpcMethod rpc, string key, byte[] body)
    {
        var slash = rpc.Name.LastIndexOf('/');
        var method = new Method<byte[], byte[]>(rpc.Type, rpc.Name[1..slash], rpc.Name[(slash + 1)..], Bytes, Bytes);
        var headers = new Metadata { { "authorization", "Bearer " + key } };
        var streaming = rpc.Type is MethodType.ServerStreaming or MethodType.DuplexStreaming;
        var options = new CallOptions(headers, DateTime.UtcNow + (streaming ? StreamDeadline : CallBound));
        var messages = 0;
        try
        {
            switch (rpc.Type)
            {
                case MethodType.Unary:
                    await invoker.AsyncUnaryCall(method, null, options, body);
                    return (Status.DefaultSuccess, 1);
                case MethodType.ClientStreaming:
                    using (var call = invoker.AsyncClientStreamingCall(method, null, options))
                    {
                        await WriteAsync(call.RequestStream, body, body);
                        await call.ResponseAsync;
                        return (call.GetStatus(), 1);
                    }

                case MethodType.ServerStreaming:
                    using (var call = invoker.AsyncServerStreamingCall(method, null, options, body))
                    {
                        while (await call.ResponseStream.MoveNext(CancellationToken.None))
                        {
                            messages++;
                        }

                        return (call.GetStatus(), messages);
                    }

                default:
                    using (var call = invoker.AsyncDuplexStreamingCall(method, null, options))
                    {
                        await WriteAsync(call.RequestStream, body);
                        while (await call.ResponseStream.MoveNext(CancellationToken.None))
                        {
                            messages++;
                        }

                        return (call.GetStatus(), messages);
                    }
            }
        }
        catch (RpcException e)
        {
            return (e.Status, messages);
        }
        catch (Exception e) when (e is IOException or HttpRequestException or InvalidOperationException)
        {
            // Not a gRPC status: the connection failed under the call (the answer could not be read, or another call's broke it).
            return (new Status(StatusCode.Unavailable, $"no gRPC status: {e.GetType().Name}: {e.Message} {e.InnerException?.Message}"), messages);
        }
    }

    /// <summary>
    /// Writes the messages and completes the request stream. The server may answer (and end the call) before it read
    /// them all; the write then fails, and the call's status is what counts, read after this.
    /// </summary>
    private static async Task WriteAsync(IClientStreamWriter<byte[]> requests, params byte[][] bodies)
    {
        try
        {
            foreach (var body in bodies)
            {
                await requests.WriteAsync(body);
            }

            await requests.CompleteAsync();
        }
        catch (Exception e) when (e is RpcException or IOException or InvalidOperationException)
        {
            // The call ended first: its status follows.
        }
    }

    /// <summary>Why an answer is wrong (null when it is a specific status the method may give).</summary>
    private static string? Check(RpcResult r)
    {
        var (code, detail) = (r.Status.StatusCode, r.Status.Detail);
        var streaming = r.Method.Type is MethodType.ServerStreaming or MethodType.DuplexStreaming;
        return code switch
        {
            StatusCode.Unknown or StatusCode.Internal or StatusCode.Unavailable or StatusCode.DataLoss or StatusCode.Cancelled => $"{code}: {detail}",
            StatusCode.DeadlineExceeded when !streaming => $"no answer within {CallBound.TotalSeconds} s",
            StatusCode.InvalidArgument when !FieldLevel(detail, r.Method.Request) => $"INVALID_ARGUMENT without a field: {Fuzzing.Shorten(detail, 300)}",
            StatusCode.ResourceExhausted when r.Length < 4 * 1024 * 1024 && !r.Body.Kind.StartsWith("huge", StringComparison.Ordinal) => $"{code}: {detail}",
            _ => null,
        };
    }

    /// <summary>
    /// An INVALID_ARGUMENT message starts with the path of a field of the request ("camera.rtsp_url: ...",
    /// "device_ids[3]: ..."); a rejected GeoJSON import names each feature and its error instead, and a body that is
    /// not a message of the request type says so of the whole request.
    /// </summary>
    private static bool FieldLevel(string detail, MessageDescriptor request)
    {
        if (detail.StartsWith("rejected, nothing imported: ", StringComparison.Ordinal) || detail.StartsWith($"request: not a valid {request.FullName} message: ", StringComparison.Ordinal))
        {
            return true;
        }

        var match = FieldPath().Match(detail);
        return match.Success && match.Groups["first"].Value is var first && FieldNames(request, 0).Contains(first);
    }

    private static HashSet<string> FieldNames(MessageDescriptor message, int depth) =>
    [
        .. message.Fields.InFieldNumberOrder().SelectMany(f => (IEnumerable<string>)[f.Name, f.JsonName,
            .. f.FieldType == FieldType.Message && depth < 4 ? FieldNames(f.MessageType, depth + 1) : []]),
    ];

    [GeneratedRegex(@"^(?<first>[a-z_][a-z0-9_]*)(\[\d+\])?(\.[a-z_][a-z0-9_]*(\[\d+\])?)*(, [a-z_][a-z0-9_.]*)*: \S")]
    private static partial Regex FieldPath();

    private static void Report(ulong seed, List<RpcMethod> methods, List<RpcResult> results, TimeSpan elapsed, string memory)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{methods.Count} methods, {Parallelism} calls at a time, {elapsed.TotalSeconds:0.0} s, slowest ")
            .Append(CultureInfo.InvariantCulture, $"{results.Where(r => r.Method.Type == MethodType.Unary).Max(r => r.Elapsed.TotalMilliseconds):N0} ms; {memory}");
        foreach (var method in results.GroupBy(r => r.Method.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  {method.Key,-52} ")
                .AppendJoin(", ", method.GroupBy(r => r.Status.StatusCode).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"));
        }

        Fuzzing.Report("every RPC over gRPC", seed, results.Count, 0, text.ToString());
    }

    internal sealed record RpcMethod(string Name, MethodType Type, MessageDescriptor Request);

    private sealed record RpcResult(int Index, RpcMethod Method, string Caller, RpcBody Body, int Length, Status Status, int Messages, TimeSpan Elapsed);
}
