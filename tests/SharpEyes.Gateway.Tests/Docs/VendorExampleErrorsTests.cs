using System.Globalization;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Docs;

/// <summary>
/// The error tables of docs/vendor-guide.md are what the gateway answers: each row's request is sent to a real
/// gateway with a vendor key (or without one) and the row shows the status and message that came back; each
/// dead-letter row's message is published over MQTT 5 and the row shows the PUBACK and the dead letter that came back.
/// </summary>
public sealed class VendorExampleErrorsTests
{
    private const string VendorId = "acme";
    private const string OtherVendorId = "other-vendor";
    private const string Camera = "13012700001320000001";
    private const string AlarmDevice = "13012700001340000001";
    private const string OthersCamera = "13012700001320000099";
    private const string Unregistered = "13012700001320000404";
    private const string TestFile = "VendorExampleErrorsTests.cs";

    /// <summary>A dead letter carries the first 4 KiB of its payload.</summary>
    private const int DeadLetterSample = 4096;

    private static readonly Metadata NoKey = [];

    [Fact]
    public async Task The_grpc_errors_table_is_what_the_gateway_answers_a_vendor()
    {
        await using var host = await GatewayHost.StartAsync();
        var key = host.Auth(await host.CreateKeyAsync(Role.Vendor, VendorId));
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        var others = host.Auth(await host.CreateKeyAsync(Role.Vendor, OtherVendorId));
        await registry.RegisterDeviceAsync(Valid(OthersCamera), others, deadline: Deadline());
        await registry.RegisterDeviceAsync(Valid(Camera, c => c.Camera.RtspUrl = ""), key, deadline: Deadline());
        await registry.RegisterDeviceAsync(new RegisterDeviceRequest
        {
            DeviceId = AlarmDevice, Kind = DeviceKind.AlarmDevice, Name = "一键报警",
            Position = new GeoPoint { Lon = TestDevices.SeatLon, Lat = TestDevices.SeatLat },
        }, key, deadline: Deadline());
        var health = new StreamHealth.StreamHealthClient(host.Channel);
        var coverage = new V1.Coverage.CoverageClient(host.Channel);

        Task Register(RegisterDeviceRequest request, Metadata? auth = null) => registry.RegisterDeviceAsync(request, auth ?? key, deadline: Deadline()).ResponseAsync;
        Task Update(string path, Action<Device> change, string deviceId = Camera)
        {
            var device = new Device { DeviceId = deviceId, Camera = new CameraSpec() };
            change(device);
            var request = new UpdateDeviceRequest { Device = device, UpdateMask = new FieldMask() };
            if (path.Length > 0)
            {
                request.UpdateMask.Paths.Add(path);
            }

            return registry.UpdateDeviceAsync(request, key, deadline: Deadline()).ResponseAsync;
        }

        // Rows in the order of the guide: authentication, then each method's mistakes, the lockout last (it locks 127.0.0.1 out).
        (string Method, string Sent, Func<Task> Call)[] cases =
        [
            ("any", "no `authorization` metadata", () => Register(Valid(Unregistered), NoKey)),
            ("any", "a key that does not exist or was revoked", () => Register(Valid(Unregistered), host.Auth("se_0123456789ab_not-a-key"))),
            ("any", "a method a vendor key may not call", () => new V1.Incidents.IncidentsClient(host.Channel).ListIncidentsAsync(new ListIncidentsRequest(), key, deadline: Deadline()).ResponseAsync),
            ("RegisterDevice", "an id of 19 digits", () => Register(Valid("1301270000132000001"))),
            ("RegisterDevice", "an id whose county the gateway does not serve", () => Register(Valid("11010100001320000001"))),
            ("RegisterDevice", "an alarm-input id (type 134) registered as a camera", () => Register(Valid(AlarmDevice))),
            ("RegisterDevice", "no kind", () => Register(Valid(Unregistered, d => d.Kind = DeviceKind.Unspecified))),
            ("RegisterDevice", "no name", () => Register(Valid(Unregistered, d => d.Name = " "))),
            ("RegisterDevice", "a vendor_id (a vendor key registers for itself)", () => Register(Valid(Unregistered, d => d.VendorId = OtherVendorId))),
            ("RegisterDevice", "position 0, 0", () => Register(Valid(Unregistered, d => d.Position = new GeoPoint { Datum = Datum.Gcj02 }))),
            ("RegisterDevice", "a latitude out of range", () => Register(Valid(Unregistered, d => d.Position.Lat = 91))),
            ("RegisterDevice", "a camera without a camera spec", () => Register(Valid(Unregistered, d => d.Camera = null))),
            ("RegisterDevice", "an alarm device with a camera spec", () => Register(Valid(AlarmDevice, d => d.Kind = DeviceKind.AlarmDevice))),
            ("RegisterDevice", "an azimuth over 360", () => Register(Valid(Unregistered, d => d.Camera.AzimuthDeg = 400))),
            ("RegisterDevice", "neither hfov_deg + range_m nor a lens", () => Register(Valid(Unregistered, d => (d.Camera.HfovDeg, d.Camera.RangeM) = (0, 0)))),
            ("RegisterDevice", "a range over 5 km", () => Register(Valid(Unregistered, d => d.Camera.RangeM = 6000))),
            ("RegisterDevice", "a lens without a focal length", () => Register(Valid(Unregistered, d => d.Camera.Lens = new Lens { SensorWidthMm = 5.6, HorizontalPixels = 1920 }))),
            ("RegisterDevice", "a resolution width without a height", () => Register(Valid(Unregistered, d => d.Camera.ResolutionHeight = 0))),
            ("RegisterDevice", "an RTSP URL that is not rtsp:// or rtsps://", () => Register(Valid(Unregistered, d => d.Camera.RtspUrl = "http://192.0.2.10/stream"))),
            ("RegisterDevice", "a credential in the URL's path", () => Register(Valid(Unregistered, d => d.Camera.RtspUrl = "rtsp://192.0.2.10/user=admin&password=x/stream"))),
            ("RegisterDevice", "RTSP credentials without a URL", () => Register(Valid(Unregistered, d => (d.Camera.RtspUrl, d.Camera.RtspPassword) = ("", "x")))),
            ("RegisterDevice", "a stream without a role", () => Register(Valid(Unregistered, d => d.Camera.Streams[0].Role = StreamRole.Unspecified))),
            ("RegisterDevice", "two main streams", () => Register(Valid(Unregistered, d => d.Camera.Streams.Add(d.Camera.Streams[0].Clone())))),
            ("RegisterDevice", "an unknown codec", () => Register(Valid(Unregistered, d => d.Camera.Streams[0].Codec = "VP9"))),
            ("RegisterDevice", "a frame rate of 0", () => Register(Valid(Unregistered, d => d.Camera.Streams[0].FrameRate = 0))),
            ("RegisterDevice", "a main stream whose size is not the declared resolution", () => Register(Valid(Unregistered, d => d.Camera.Streams[0].Width = 2560))),
            ("RegisterDevice", "an id another vendor registered", () => Register(Valid(OthersCamera))),
            ("RegisterDevice", "a message over 4 MiB", () => Register(Valid(Unregistered, d => d.Model = new string('x', 5_000_000)))),
            ("UpdateDevice", "no update_mask", () => Update("", _ => { })),
            ("UpdateDevice", "an unknown path", () => Update("camera.zoom", _ => { })),
            ("UpdateDevice", "an output-only field", () => Update("status", _ => { })),
            ("UpdateDevice", "kind", () => Update("kind", _ => { })),
            ("UpdateDevice", "part of the position", () => Update("position.lat", d => d.Position = new GeoPoint { Lat = 37.6 })),
            ("UpdateDevice", "a value the registration rules refuse", () => Update("camera.range_m", d => d.Camera.RangeM = 6000)),
            ("UpdateDevice", "another vendor's device", () => Update("name", d => d.Name = "x", OthersCamera)),
            ("GetDevice", "no device_id", () => registry.GetDeviceAsync(new GetDeviceRequest(), key, deadline: Deadline()).ResponseAsync),
            ("GetDevice", "an id nobody registered", () => registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = Unregistered }, key, deadline: Deadline()).ResponseAsync),
            ("GetDevice", "another vendor's device (the same answer)", () => registry.GetDeviceAsync(new GetDeviceRequest { DeviceId = OthersCamera }, key, deadline: Deadline()).ResponseAsync),
            ("DeregisterDevice", "another vendor's device", () => registry.DeregisterDeviceAsync(new DeregisterDeviceRequest { DeviceId = OthersCamera }, key, deadline: Deadline()).ResponseAsync),
            ("ListDevices", "a page size over 1,000", () => registry.ListDevicesAsync(new ListDevicesRequest { PageSize = 5000 }, key, deadline: Deadline()).ResponseAsync),
            ("ListDevices", "a page token the gateway did not issue", () => registry.ListDevicesAsync(new ListDevicesRequest { PageToken = "page-2" }, key, deadline: Deadline()).ResponseAsync),
            ("Heartbeat", "more than 10,000 ids", () => registry.HeartbeatAsync(new HeartbeatRequest { DeviceIds = { Enumerable.Repeat(Camera, 10_001) } }, key, deadline: Deadline()).ResponseAsync),
            ("StreamHealth.GetCameraHealth", "an alarm device", () => health.GetCameraHealthAsync(new GetCameraHealthRequest { DeviceId = AlarmDevice }, key, deadline: Deadline()).ResponseAsync),
            ("StreamHealth.GetSnapshot", "a camera without an RTSP URL", () => health.GetSnapshotAsync(new GetSnapshotRequest { DeviceId = Camera }, key, deadline: Deadline()).ResponseAsync),
            ("Coverage.GetCameraCoverage", "an alarm device", () => coverage.GetCameraCoverageAsync(new GetCameraCoverageRequest { DeviceId = AlarmDevice }, key, deadline: Deadline()).ResponseAsync),
            ("any", "a right key after 20 wrong keys from the same address within a minute", async () =>
            {
                for (var i = 0; i < 20; i++)
                {
                    await Assert.ThrowsAsync<RpcException>(() => Register(Valid(Unregistered), host.Auth("se_0123456789ab_wrong-" + i)));
                }

                await Register(Valid(Unregistered));
            }),
        ];

        var table = new StringBuilder("| method | what was sent | status | message |\n|---|---|---|---|\n");
        foreach (var (method, sent, call) in cases)
        {
            var error = await Assert.ThrowsAsync<RpcException>(call);
            table.Append(CultureInfo.InvariantCulture, $"| {method} | {VendorGuide.Cell(sent)} | `{StatusName(error.StatusCode)}` | `{VendorGuide.Cell(error.Status.Detail)}` |\n");
        }

        await VendorGuide.CheckAsync([new GuideBlock(VendorGuide.GeneratedBegin("grpc-errors", TestFile), VendorGuide.GeneratedEnd("grpc-errors"), table.ToString(), "the gRPC errors table")]);
    }

    [Fact]
    public async Task The_dead_letter_table_is_what_the_broker_answers_an_MQTT_5_publisher()
    {
        await using var host = await GatewayHost.StartAsync();
        var key = await host.CreateKeyAsync(Role.Vendor, VendorId);
        await new DeviceRegistry.DeviceRegistryClient(host.Channel).RegisterDeviceAsync(Valid(Camera), host.Auth(key), deadline: Deadline());
        var client = await host.ConnectMqttAsync(VendorId, key);
        var letters = await DeadLetterListener.SubscribeAsync(client, VendorId);
        var topic = AlarmIntake.TopicPrefix + Camera;

        // One row per message sent, in the guide's order; every reason has a row (the last two cannot be provoked).
        (string Reason, string When, string Topic, byte[] Payload, bool Retain)[] cases =
        [
            ("malformed", "not UTF-8", topic, [0x7B, 0xFF, 0x7D], false),
            ("malformed", "not JSON, or JSON that is not one object", topic, Encoding.UTF8.GetBytes("[1, 2]"), false),
            ("malformed", "a member twice in one object (also: an escape that decodes to an unpaired surrogate, nesting deeper than 8)", topic,
                Encoding.UTF8.GetBytes(TestDevices.AlarmJson("evt-twice")[..^1] + ",\"priority\":1}"), false),
            ("invalid-field", "a required field missing", topic, Encoding.UTF8.GetBytes("""{"eventId":"evt-1","occurredAt":"2026-11-22T16:00:00+08:00","priority":2,"method":5}"""), false),
            ("invalid-field", "a value out of range", topic, Encoding.UTF8.GetBytes(TestDevices.AlarmJson("evt-2", priority: 5)), false),
            ("invalid-field", "a video-analytics type outside 1-12", topic, Encoding.UTF8.GetBytes(TestDevices.AlarmJson("evt-3", type: 13)), false),
            ("invalid-field", "a time without an offset", topic, Encoding.UTF8.GetBytes(TestDevices.AlarmJson("evt-4", occurredAt: "2026-11-22T16:00:00")), false),
            ("invalid-field", "a time more than a day ahead of the gateway's clock", topic, Encoding.UTF8.GetBytes(TestDevices.AlarmJson("evt-5", occurredAt: "2026-11-24T16:00:00+08:00")), false),
            ("invalid-field", "a time older than the duplicate window (90 days)", topic, Encoding.UTF8.GetBytes(TestDevices.AlarmJson("evt-6", occurredAt: "2026-08-01T00:00:00+08:00")), false),
            ("invalid-field", "a control character in the description", topic, Encoding.UTF8.GetBytes(TestDevices.AlarmJson("evt-7").Replace("\"test\"", "\"a\\u0007b\"", StringComparison.Ordinal)), false),
            ("invalid-field", "a position without a datum", topic, Encoding.UTF8.GetBytes(TestDevices.AlarmJson("evt-8", position: """{"lon":114.6,"lat":37.6}""")), false),
            ("oversized", "a payload over 16 KiB (`Alarms:MaxPayloadBytes`)", topic, Encoding.UTF8.GetBytes(TestDevices.AlarmJson("evt-9").PadRight(17_000)), false),
            ("unknown-device", "a device not registered to you (nobody's, or another vendor's)", AlarmIntake.TopicPrefix + "13012700001320000404",
                Encoding.UTF8.GetBytes(TestDevices.AlarmJson("evt-10")), false),
            ("invalid-topic", "a topic that is not `sharpeyes/v1/alarms/{20-digit id}`", AlarmIntake.TopicPrefix + "camera-1", Encoding.UTF8.GetBytes(TestDevices.AlarmJson("evt-11")), false),
            ("unsupported", "a retained publish (the gateway keeps no retained messages)", topic, Encoding.UTF8.GetBytes(TestDevices.AlarmJson("evt-12")), true),
        ];

        var table = new StringBuilder("| reason | when | MQTT 5 PUBACK | example `detail` |\n|---|---|---|---|\n");
        foreach (var (reason, when, to, payload, retain) in cases)
        {
            var ack = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(to).WithPayload(payload).WithRetainFlag(retain)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            var letter = await letters.WaitForAsync(payload.Length > DeadLetterSample ? payload[..DeadLetterSample] : payload, $"the dead letter of '{when}'");
            Assert.Equal((reason, reason, VendorId, to), (ack.ReasonString, letter.Reason, letter.VendorId, letter.Topic));
            table.Append(CultureInfo.InvariantCulture, $"| `{reason}` | {VendorGuide.Cell(when)} | {PubAck(ack.ReasonCode)} | `{VendorGuide.Cell(letter.Detail)}` |\n");
        }

        // Never sent by a working gateway to a vendor key; the codes are MqttBroker's mapping.
        table.Append(CultureInfo.InvariantCulture, $"| `{DeadLetterReasons.InternalError}` | the gateway failed on this message (a bug); its log has the error id | {PubAck(MqttPubAckReasonCode.UnspecifiedError)} | `the gateway failed to process this message (error 0a1b2c3d4e5f, in its log); the alarm was not stored` |\n");
        table.Append(CultureInfo.InvariantCulture, $"| `{DeadLetterReasons.NotPermitted}` | a key other than a vendor key published (cannot happen: only vendor keys connect) | {PubAck(MqttPubAckReasonCode.NotAuthorized)} | `role Operator may not publish alarms; use a vendor key` |\n");
        Assert.Equal(DeadLetterReasons.All.Order(StringComparer.Ordinal),
            cases.Select(c => c.Reason).Append(DeadLetterReasons.InternalError).Append(DeadLetterReasons.NotPermitted).Distinct().Order(StringComparer.Ordinal));

        await VendorGuide.CheckAsync([new GuideBlock(VendorGuide.GeneratedBegin("dead-letters", TestFile), VendorGuide.GeneratedEnd("dead-letters"), table.ToString(), "the dead-letter table")]);
    }

    /// <summary>A camera every row starts from (valid as it is), changed by <paramref name="change"/>.</summary>
    private static RegisterDeviceRequest Valid(string deviceId, Action<RegisterDeviceRequest>? change = null)
    {
        var request = new RegisterDeviceRequest
        {
            DeviceId = deviceId,
            Kind = DeviceKind.Camera,
            Name = "东门枪机",
            Position = new GeoPoint { Lon = TestDevices.SeatLon, Lat = TestDevices.SeatLat, Datum = Datum.Wgs84 },
            Camera = new CameraSpec
            {
                AzimuthDeg = 90, HfovDeg = 90, RangeM = 60, ResolutionWidth = 1920, ResolutionHeight = 1080,
                RtspUrl = "rtsp://192.0.2.10:554/Streaming/Channels/101",
                Streams = { new StreamProfile { Role = StreamRole.Main, Codec = "H.264", Width = 1920, Height = 1080, FrameRate = 25 } },
            },
        };
        change?.Invoke(request);
        return request;
    }

    private static DateTime Deadline() => DateTime.UtcNow.AddSeconds(30);

    /// <summary>A gRPC status as the protocol names it: InvalidArgument → INVALID_ARGUMENT.</summary>
    private static string StatusName(StatusCode code) =>
        string.Concat(code.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();

    /// <summary>An MQTT 5 reason code with its name in the specification's words: 0x99 payload format invalid.</summary>
    private static string PubAck<T>(T code) where T : struct, System.Enum
    {
        var words = string.Concat(code.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? " " + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
        return string.Create(CultureInfo.InvariantCulture, $"0x{Convert.ToInt32(code, CultureInfo.InvariantCulture):X2} {words}");
    }
}
