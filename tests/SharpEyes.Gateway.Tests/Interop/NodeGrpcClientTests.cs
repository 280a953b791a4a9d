using System.Text.Json;
using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Interop;

/// <summary>
/// A vendor and a centre written in Node (grpc-js + proto-loader, loading protos/ directly, no generated code) against
/// the gateway: single and client-streaming registration, field-level INVALID_ARGUMENT, feed replay and resume. The
/// script (tests/node/interop/grpc-vendor.mjs) reports what it saw as JSON; the checks are made here, against C#.
/// </summary>
public sealed class NodeGrpcClientTests : IAsyncLifetime
{
    private const string VendorId = "vendor-node";
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(25);

    private GatewayHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await GatewayHost.StartAsync();

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task A_grpc_js_vendor_registers_devices_and_a_grpc_js_centre_replays_and_resumes_the_feed()
    {
        var node = InteropPaths.RequireNode();
        var vendorKey = await _host.CreateKeyAsync(Role.Vendor, VendorId);
        var centreKey = await _host.CreateKeyAsync(Role.Centre);

        var run = await ExternalTool.RunAsync(node,
            [Path.Combine(InteropPaths.NodeInteropDirectory, "grpc-vendor.mjs"), $"127.0.0.1:{_host.GrpcPort}", vendorKey, centreKey],
            NodeTimeout, InteropPaths.NodeDirectory);
        Assert.True(run.ExitCode == 0, $"grpc-vendor.mjs failed: {run}");
        using var summary = JsonDocument.Parse(run.Stdout);
        var root = summary.RootElement;
        var registry = new DeviceRegistry.DeviceRegistryClient(_host.Channel);

        // (a) Single registrations: stored for the key's vendor, answered (to Node and to C#) in WGS-84 at the intended point.
        foreach (var single in root.GetProperty("single").EnumerateArray())
        {
            var deviceId = single.GetProperty("deviceId").GetString()!;
            var wgs = single.GetProperty("wgs84");
            var (wLon, wLat) = (wgs.GetProperty("lon").GetDouble(), wgs.GetProperty("lat").GetDouble());
            Assert.True(single.GetProperty("created").GetBoolean(), deviceId);
            var returned = single.GetProperty("returned");
            Assert.Equal(VendorId, returned.GetProperty("vendorId").GetString());
            Assert.Equal("DATUM_WGS84", returned.GetProperty("position").GetProperty("datum").GetString());

            var stored = await registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = deviceId }, _host.AdminAuth);
            Assert.Equal(VendorId, stored.VendorId);
            Assert.Equal(Datum.Wgs84, stored.Position.Datum);
            Assert.Equal(stored.Position.Lon, returned.GetProperty("position").GetProperty("lon").GetDouble());
            Assert.Equal(stored.Position.Lat, returned.GetProperty("position").GetProperty("lat").GetDouble());
            var error = Meters(stored.Position.Lon, stored.Position.Lat, wLon, wLat);
            Assert.True(error < 0.5, $"{deviceId}: stored {stored.Position.Lon},{stored.Position.Lat} is {error:F3} m from the WGS-84 point {wLon},{wLat}");
            Assert.Equal(stored.RegionCode, returned.GetProperty("regionCode").GetString());

            var sent = single.GetProperty("sent");
            if (sent.GetProperty("datum").GetString() == "DATUM_GCJ02")
            {
                Assert.Equal(DeviceKind.Camera, stored.Kind);
                // gcoord (Node) and SharpEyes.Geo agree on the WGS-84 → GCJ-02 forward transform.
                var (gLon, gLat) = Geo.Datums.DatumConverter.FromWgs84(wLon, wLat, Geo.Datums.Datum.Gcj02);
                Assert.Equal(gLon, sent.GetProperty("lon").GetDouble(), 1e-7);
                Assert.Equal(gLat, sent.GetProperty("lat").GetDouble(), 1e-7);
                // Credentials embedded in the URL were split off and are never returned, to Node or to C#.
                Assert.Equal("rtsp://127.0.0.1:8554/node1", returned.GetProperty("rtspUrl").GetString());
                Assert.Equal("", returned.GetProperty("rtspPassword").GetString());
                Assert.True(returned.GetProperty("hasRtspCredentials").GetBoolean());
                Assert.DoesNotContain("node-secret", stored.ToString(), StringComparison.Ordinal);
            }
            else
            {
                Assert.Equal(DeviceKind.AlarmDevice, stored.Kind);
            }
        }

        // (b) Bulk: the counts, and only the invalid device listed, naming its field.
        var bulk = root.GetProperty("bulk");
        var sentIds = bulk.GetProperty("sent").EnumerateArray().Select(e => e.GetString()!).ToList();
        var invalidIndex = bulk.GetProperty("invalidIndex").GetInt32();
        Assert.Equal(100, sentIds.Count);
        Assert.Equal(99, bulk.GetProperty("accepted").GetInt32());
        Assert.Equal(1, bulk.GetProperty("rejected").GetInt32());
        Assert.Equal(99, bulk.GetProperty("created").GetInt32());
        Assert.Equal(99, bulk.GetProperty("changed").GetInt32());
        Assert.Equal(0, bulk.GetProperty("rejectedNotListed").GetInt32());
        var r = Assert.Single(bulk.GetProperty("rejectedResults").EnumerateArray());
        Assert.Equal(invalidIndex, r.GetProperty("index").GetInt32());
        Assert.Equal(sentIds[invalidIndex], r.GetProperty("deviceId").GetString());
        Assert.Equal((int)StatusCode.InvalidArgument, r.GetProperty("code").GetInt32());
        Assert.StartsWith("position.lat:", r.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(r.GetProperty("created").GetBoolean());

        var rejected = await Assert.ThrowsAsync<RpcException>(async () =>
            await registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = sentIds[invalidIndex] }, _host.AdminAuth));
        Assert.Equal(StatusCode.NotFound, rejected.StatusCode);
        var listed = await registry.ListDevicesAsync(new ListDevicesRequest { PageSize = 1000 }, _host.Auth(vendorKey));
        var expectedIds = root.GetProperty("single").EnumerateArray().Select(s => s.GetProperty("deviceId").GetString()!)
            .Concat(sentIds.Where((_, i) => i != invalidIndex)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expectedIds, listed.Devices.Select(d => d.DeviceId).Order(StringComparer.Ordinal));
        Assert.All(listed.Devices, d => Assert.Equal(Datum.Wgs84, d.Position.Datum));

        // (c) A bad device on the unary call: INVALID_ARGUMENT, the message starting with the field's name.
        var bad = root.GetProperty("badDevice");
        Assert.Equal((int)StatusCode.InvalidArgument, bad.GetProperty("code").GetInt32());
        Assert.Equal("INVALID_ARGUMENT", bad.GetProperty("codeName").GetString());
        Assert.StartsWith("device_id:", bad.GetProperty("details").GetString(), StringComparison.Ordinal);

        // (d) The feed from the beginning: strictly increasing sequences, one DEVICE_REGISTERED per device, in WGS-84.
        var feed = root.GetProperty("feed").GetProperty("events").EnumerateArray().Select(FeedItem.From).ToList();
        Assert.NotEmpty(feed);
        Assert.All(feed.Zip(feed.Skip(1)), p => Assert.True(p.Second.Sequence > p.First.Sequence, $"sequence {p.Second.Sequence} after {p.First.Sequence}"));
        var registered = feed.Where(e => e.Kind == "FEED_EVENT_KIND_DEVICE_REGISTERED").ToList();
        Assert.Equal(expectedIds, registered.Select(e => e.DeviceId).Order(StringComparer.Ordinal));
        Assert.All(registered, e => Assert.Equal(("device", "DATUM_WGS84"), (e.DataCase, e.Datum)));

        // ... the same events, with the same sequences, as a C# subscriber sees them.
        await using (var reader = new FeedReader(_host, centreKey))
        {
            await reader.WaitForCountAsync(_ => true, feed.Count, $"{feed.Count} feed events in C#");
            var csharp = reader.Events.Take(feed.Count).Select(e => new FeedItem(e.Sequence, ProtoName(e.Kind), e.RegionCode,
                e.Device?.DeviceId ?? "", e.Device is null ? "" : ProtoName(e.Device.Position.Datum), e.DataCase switch
                {
                    FeedEvent.DataOneofCase.Device => "device",
                    FeedEvent.DataOneofCase.CoverageGap => "coverage_gap",
                    _ => "incident",
                }));
            Assert.Equal(feed, csharp);
        }

        // Resumed after a sequence in the middle: exactly the events after it, none before, none missing.
        var resume = root.GetProperty("resume");
        var after = long.Parse(resume.GetProperty("afterSequence").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var resumed = resume.GetProperty("events").EnumerateArray().Select(FeedItem.From).ToList();
        Assert.Contains(feed, e => e.Sequence == after);
        Assert.True(after > feed[0].Sequence && after < feed[^1].Sequence, $"resume point {after} is not in the middle of {feed[0].Sequence}..{feed[^1].Sequence}");
        Assert.Equal(feed.First(e => e.Sequence > after).Sequence, resumed[0].Sequence);
        Assert.Equal(feed.Where(e => e.Sequence > after), resumed);
    }

    /// <summary>An enum value's name in the .proto (what proto-loader with enums: String gives): Datum.Wgs84 → DATUM_WGS84.</summary>
    private static string ProtoName<T>(T value) where T : struct, Enum =>
        typeof(T).GetField(value.ToString())!.GetCustomAttributes(typeof(Google.Protobuf.Reflection.OriginalNameAttribute), false)
            .Cast<Google.Protobuf.Reflection.OriginalNameAttribute>().Single().Name;

    private static double Meters(double lon1, double lat1, double lon2, double lat2)
    {
        var dy = (lat2 - lat1) * 110_574;
        var dx = (lon2 - lon1) * 111_320 * Math.Cos(lat1 * Math.PI / 180);
        return Math.Sqrt(dx * dx + dy * dy);
    }

    private sealed record FeedItem(long Sequence, string Kind, string RegionCode, string DeviceId, string Datum, string DataCase)
    {
        public static FeedItem From(JsonElement e) => new(
            long.Parse(e.GetProperty("sequence").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
            e.GetProperty("kind").GetString()!, e.GetProperty("regionCode").GetString()!, e.GetProperty("deviceId").GetString()!,
            e.GetProperty("datum").GetString()!, e.GetProperty("dataCase").GetString()!);
    }
}
