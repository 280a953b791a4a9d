using Google.Protobuf;
using Grpc.Core;
using SharpEyes.Gateway.Tests.Alarms;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Observability;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Fuzz.Regressions;

/// <summary>
/// Cases <see cref="RpcFuzzTests"/> found, kept as rows (the replay seed of each in its comment): each answered with
/// a gRPC status that names what is wrong, on a connection that stays usable.
/// </summary>
public sealed class RpcRegressionTests(VendorGatewayFixture fixture) : IClassFixture<VendorGatewayFixture>
{
    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    /// <summary>
    /// Bodies that are not a protobuf message of the request type (truncated, a length past the end, a bad tag) were
    /// answered UNKNOWN "Exception was thrown by handler." and logged as an unhandled error with a stack trace each.
    /// </summary>
    [Theory]
    [InlineData("/sharpeyes.v1.Geography/ListGrids", MethodType.Unary, "0A", "sharpeyes.v1.ListGridsRequest")] // SHARPEYES_FUZZ_SEED=20261151
    [InlineData("/sharpeyes.v1.Geography/Locate", MethodType.Unary, "1A0900", "sharpeyes.v1.GeoPoint")] // SHARPEYES_FUZZ_SEED=20261154
    [InlineData("/sharpeyes.v1.DeviceRegistry/ListDevices", MethodType.Unary, "0A285566776D4F4C35456E47554A414E7A69354A4633453034586B635674543439685870424159EDA08018002807", "sharpeyes.v1.ListDevicesRequest")] // SHARPEYES_FUZZ_SEED=20261144
    [InlineData("/sharpeyes.v1.Admin/GetStats", MethodType.Unary, "00", "sharpeyes.v1.GetStatsRequest")] // field number 0
    [InlineData("/grpc.health.v1.Health/Watch", MethodType.ServerStreaming, "0A1348733678616967674361516139734E676F", "grpc.health.v1.HealthCheckRequest")] // SHARPEYES_FUZZ_SEED=20261123
    [InlineData("/sharpeyes.v1.DeviceRegistry/RegisterDevices", MethodType.ClientStreaming, "0AFF01", "sharpeyes.v1.RegisterDeviceRequest")]
    public async Task A_body_that_is_not_a_message_of_the_request_type_is_invalid_argument_not_an_unhandled_exception(string operation, MethodType type, string hex, string messageType)
    {
        var status = await CallAsync(operation, type, Convert.FromHexString(hex));

        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.StartsWith($"request: not a valid {messageType} message: ", status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(fixture.Host.Logs.Lines, l => l.Contains("Error when executing service method", StringComparison.Ordinal));
    }

    /// <summary>
    /// Messages that quote a field the client sent were as long as the field: a 128 KiB device id made a grpc-message
    /// trailer over the 64 KiB a client accepts, and .NET failed the whole connection, every call on it.
    /// </summary>
    [Theory]
    [InlineData("/sharpeyes.v1.StreamHealth/GetSnapshot", 131_000, 'x')] // SHARPEYES_FUZZ_SEED=20261206
    [InlineData("/sharpeyes.v1.Coverage/ExportCoverageReport", 163_000, 'x')] // SHARPEYES_FUZZ_SEED=20261217
    [InlineData("/sharpeyes.v1.DeviceRegistry/GetDevice", 30_000, '设')] // 9 bytes a character once percent-encoded
    [InlineData("/sharpeyes.v1.Incidents/GetIncident", 100_000, '%')]
    public async Task A_status_message_quoting_a_huge_field_is_cut_and_the_connection_stays_usable(string operation, int length, char c)
    {
        var field = new string(c, length);
        var body = new GetDeviceRequest { DeviceId = field }.ToByteArray(); // field 1, a string, in each of these requests

        var status = await CallAsync(operation, MethodType.Unary, body);

        Assert.NotEqual(StatusCode.Unavailable, status.StatusCode);
        Assert.NotEqual(StatusCode.Internal, status.StatusCode);
        Assert.InRange(GrpcStatusText.WireBytes(status.Detail), 1, GrpcStatusText.MaxWireBytes);
        Assert.EndsWith(" characters)", status.Detail, StringComparison.Ordinal);
        var stats = await fixture.Host.GetStatsAsync(); // the same channel still works
        Assert.NotNull(stats);
    }

    /// <summary>Locate's request is the position itself: its errors named "position.lat", a field the request does not have.</summary>
    [Theory]
    [InlineData(114.6, 95, "lat: must be in [-90, 90]")] // SHARPEYES_FUZZ_SEED=20261584
    [InlineData(2787288.48, 37.6, "lon: must be in [-180, 180]")] // SHARPEYES_FUZZ_SEED=20262014
    [InlineData(0, 0, "lon, lat: 0,0 is not a real position")] // SHARPEYES_FUZZ_SEED=20262186
    public async Task Locate_names_the_fields_of_its_request(double lon, double lat, string expected)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => new V1.Geography.GeographyClient(fixture.Host.Channel)
            .LocateAsync(new GeoPoint { Lon = lon, Lat = lat }, fixture.Host.AdminAuth).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith(expected, e.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>CheckNow's device ids are a list: an empty or unknown one was named "device_id", a field it does not have.</summary>
    [Theory]
    [InlineData("", StatusCode.InvalidArgument, "device_ids[1]: required")] // SHARPEYES_FUZZ_SEED=20261701
    [InlineData("13012799991320099999", StatusCode.NotFound, "device_ids[1]: 13012799991320099999 is not registered")]
    public async Task CheckNow_names_the_list_entry_it_refuses(string second, StatusCode code, string expected)
    {
        var camera = TestDevices.Camera(7);
        await new DeviceRegistry.DeviceRegistryClient(fixture.Host.Channel).RegisterDeviceAsync(camera, fixture.Host.Auth(fixture.VendorKey));
        var request = new CheckNowRequest { DeviceIds = { camera.DeviceId, second } };

        var e = await Assert.ThrowsAsync<RpcException>(() => new StreamHealth.StreamHealthClient(fixture.Host.Channel)
            .CheckNowAsync(request, fixture.Host.AdminAuth).ResponseAsync);

        Assert.Equal(code, e.StatusCode);
        Assert.Equal(expected, e.Status.Detail);
    }

    private async Task<Status> CallAsync(string operation, MethodType type, byte[] body)
    {
        var slash = operation.LastIndexOf('/');
        var method = new Method<byte[], byte[]>(type, operation[1..slash], operation[(slash + 1)..], Bytes, Bytes);
        var invoker = fixture.Host.Channel.CreateCallInvoker();
        var options = new CallOptions(fixture.Host.AdminAuth, DateTime.UtcNow.AddSeconds(10));
        try
        {
            switch (type)
            {
                case MethodType.Unary:
                    await invoker.AsyncUnaryCall(method, null, options, body);
                    return Status.DefaultSuccess;
                case MethodType.ServerStreaming:
                    using (var call = invoker.AsyncServerStreamingCall(method, null, options, body))
                    {
                        while (await call.ResponseStream.MoveNext(CancellationToken.None))
                        {
                        }

                        return call.GetStatus();
                    }

                default:
                    using (var call = invoker.AsyncClientStreamingCall(method, null, options))
                    {
                        await call.RequestStream.WriteAsync(body);
                        await call.RequestStream.CompleteAsync();
                        await call.ResponseAsync;
                        return call.GetStatus();
                    }
            }
        }
        catch (RpcException e)
        {
            return e.Status;
        }
    }
}
