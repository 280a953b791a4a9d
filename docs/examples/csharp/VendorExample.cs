using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using SharpEyes.V1;

namespace SharpEyes.Examples;

/// <summary>What the example did: the gateway's answer to the registration, the alarm's event id and its PUBACK.</summary>
public sealed record VendorExampleResult(RegisterDeviceResponse Registration, string EventId, MqttClientPublishResult Puback);

/// <summary>
/// Registers one camera with a SharpEyes gateway over gRPC, then publishes one alarm for it over MQTT at QoS 1 and
/// reports the PUBACK. The gRPC types come from protos/sharpeyes/v1 (Grpc.Tools generates them).
/// </summary>
public static class VendorExample
{
    /// <param name="server">The gateway's gRPC address, e.g. http://127.0.0.1:50051 (plain HTTP/2: no TLS yet).</param>
    /// <param name="mqttUrl">The gateway's MQTT broker, e.g. mqtt://127.0.0.1:1883.</param>
    /// <param name="vendorId">The vendor id the key was created for; also the MQTT user name.</param>
    /// <param name="apiKey">The vendor key (se_...); also the MQTT password.</param>
    /// <param name="deviceId">The camera's GB/T 28181 id.</param>
    /// <param name="output">Where to write what happened.</param>
    public static async Task<VendorExampleResult> RunAsync(Uri server, Uri mqttUrl, string vendorId, string apiKey, string deviceId,
        TextWriter output, CancellationToken cancellationToken = default)
    {
        // 1. Register the camera (an idempotent upsert: running this again changes nothing).
        using var channel = GrpcChannel.ForAddress(server);
        var registry = new DeviceRegistry.DeviceRegistryClient(channel);
        var auth = new Metadata { { "authorization", $"Bearer {apiKey}" } };
        var registration = await registry.RegisterDeviceAsync(new RegisterDeviceRequest
        {
            DeviceId = deviceId,
            Kind = DeviceKind.Camera,
            Name = "东门枪机",
            Model = "DS-2CD2T47",
            Position = new GeoPoint { Lon = 114.603, Lat = 37.606, Datum = Datum.Wgs84 },
            Camera = new CameraSpec
            {
                AzimuthDeg = 90, // facing east
                HfovDeg = 90,
                RangeM = 60,
                MountHeightM = 6,
                RtspUrl = "rtsp://192.0.2.10:554/Streaming/Channels/101",
                RtspUsername = "viewer", // stored apart from the URL, never returned
                RtspPassword = "change-me",
                Streams =
                {
                    new StreamProfile { Role = StreamRole.Main, Codec = "H.265", Width = 2560, Height = 1440, FrameRate = 25, BitrateKbps = 4096 },
                    new StreamProfile { Role = StreamRole.Sub, Codec = "H.264", Width = 640, Height = 360, FrameRate = 15, BitrateKbps = 512 },
                },
            },
        }, auth, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: cancellationToken);
        var device = registration.Device;
        await output.WriteLineAsync($"registered {device.DeviceId} (created: {registration.Created}, changed: {registration.Changed}) " +
            $"in region {device.RegionCode}; rtsp_url {device.Camera.RtspUrl}, has_rtsp_credentials {device.HasRtspCredentials}");

        // 2. Publish one alarm for it at QoS 1. The PUBACK comes once the alarm is stored.
        using var mqtt = new MqttClientFactory().CreateMqttClient();
        var connected = await mqtt.ConnectAsync(new MqttClientOptionsBuilder()
            .WithConnectionUri(mqttUrl)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCredentials(vendorId, apiKey) // the user name must equal the key's vendor id
            .WithClientId($"{vendorId}-example-csharp")
            .WithCleanStart(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(60))
            .WithTimeout(TimeSpan.FromSeconds(10))
            .Build(), cancellationToken);
        if (connected.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new InvalidOperationException($"MQTT CONNECT refused: {connected.ResultCode} {connected.ReasonString}");
        }

        var eventId = $"example-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}"; // unique per vendor
        var payload = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["eventId"] = eventId,
            ["occurredAt"] = DateTimeOffset.Now.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture), // RFC 3339 with an offset
            ["priority"] = 2,
            ["method"] = 5, // video analytics
            ["type"] = 6, // intrusion
            ["description"] = "东门区域入侵",
            ["position"] = new Dictionary<string, object> { ["lon"] = 114.60334, ["lat"] = 37.606, ["datum"] = "WGS84" }, // 30 m east, in view
        });
        var puback = await mqtt.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic($"sharpeyes/v1/alarms/{deviceId}")
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build(), cancellationToken);
        // Success: stored. 0x80 or more: not stored, and the dead letter says why (the reason string names it).
        await output.WriteLineAsync($"PUBACK for {eventId}: reason code 0x{(int)puback.ReasonCode:x2} ({puback.ReasonString ?? puback.ReasonCode.ToString()})");
        await mqtt.DisconnectAsync(cancellationToken: cancellationToken);
        return new VendorExampleResult(registration, eventId, puback);
    }
}
