using System.Net;
using System.Text.RegularExpressions;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Audit;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Tests.Http;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Audit;

/// <summary>
/// Nothing that changes something is left out of the audit log: every operation of the access table is a change, data
/// or a read in <see cref="AuditTable"/>, an operation counted as a read is named as one, and every change, called
/// for real, leaves an entry.
/// </summary>
public sealed partial class AuditTableTests
{
    /// <summary>gRPC method names that only read, and the HTTP reads.</summary>
    [GeneratedRegex(@"^(/[^/]+/(Get|List|Locate|Export|Suggest|Subscribe|Query|Watch|ServerReflectionInfo)[A-Za-z]*|/grpc\.health\.v1\.Health/Check|GET /.*)$")]
    private static partial Regex ReadName();

    [Fact]
    public void Every_operation_of_the_access_table_is_a_change_data_or_a_read_named_as_one()
    {
        var unnamedReads = AccessTable.Rules.Select(r => AuditTable.Of(r.Operation))
            .Where(a => a.Kind == AuditKind.Read && !ReadName().IsMatch(a.Operation))
            .Select(a => a.Operation)
            .ToList();
        var unknown = AuditTable.Rules.Where(a => AccessTable.Find(a.Operation) is null).Select(a => a.Operation).ToList();

        Assert.True(unnamedReads.Count == 0,
            $"not named as reads, so they may change something: {string.Join(", ", unnamedReads)}; list each in src/SharpEyes.Gateway/Audit/AuditTable.cs as a change (audited) or data");
        Assert.Empty(unknown);
        Assert.All(AuditTable.Rules.Where(a => a.Kind == AuditKind.Change), a => Assert.NotNull(a.Describe));
        Assert.All(AuditTable.Rules.Where(a => a.Kind == AuditKind.Data), a => Assert.NotEmpty(a.Why));
        Assert.Contains(AuditTable.Rules, a => a.Operation == AccessTable.MqttPublishAlarm && a.Kind == AuditKind.Data);
    }

    [Fact]
    public async Task Every_change_leaves_an_entry_when_it_is_called()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var invoker = host.Channel.CreateCallInvoker();
        var methods = host.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Select(e => e.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method)
            .OfType<IMethod>()
            .DistinctBy(m => m.FullName)
            .Where(m => AuditTable.Of(m.FullName).Kind == AuditKind.Change)
            .ToList();
        foreach (var method in methods)
        {
            await CallAsync(invoker, method, host.AdminKey); // an empty request: refused as invalid or done; recorded either way
        }

        using (var browser = new SessionClient(host))
        {
            Assert.Equal(HttpStatusCode.OK, (await browser.SignInAsync(host.AdminKey)).StatusCode);
            await browser.GetSessionAsync();
            Assert.Equal(HttpStatusCode.NoContent, (await browser.SendAsync(HttpMethod.Delete, "/api/session", csrf: true)).StatusCode);
        }

        var recorded = (await AuditClient.AllAsync(host)).Select(e => e.Action).ToHashSet();
        var changes = AuditTable.Rules.Where(a => a.Kind == AuditKind.Change).Select(a => a.Action).ToList();

        Assert.Equal(changes.Count - 2, methods.Count); // every change but the two HTTP ones is a gRPC method
        Assert.Empty(changes.Except(recorded));
        Assert.DoesNotContain(recorded, a => AuditTable.Rules.All(r => r.Action != a));
    }

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    private static async Task CallAsync(CallInvoker invoker, IMethod described, string key)
    {
        var method = new Method<byte[], byte[]>(described.Type, described.ServiceName, described.Name, Bytes, Bytes);
        var options = new CallOptions(new Metadata { { "authorization", "Bearer " + key } }, DateTime.UtcNow.AddSeconds(30));
        try
        {
            if (described.Type == MethodType.ClientStreaming)
            {
                using var call = invoker.AsyncClientStreamingCall(method, null, options);
                await call.RequestStream.CompleteAsync();
                await call.ResponseAsync;
            }
            else
            {
                await invoker.AsyncUnaryCall(method, null, options, []);
            }
        }
        catch (RpcException)
        {
            // Refused or failed: still a recorded change.
        }
    }
}
