using System.Collections.Concurrent;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Protocol;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>A dead letter as a vendor receives it on <c>sharpeyes/v1/deadletter/{vendorId}</c>.</summary>
public sealed record ReceivedDeadLetter(string Reason, string Detail, string VendorId, string Topic, byte[] Payload, bool PayloadTruncated);

/// <summary>Subscribes a vendor's MQTT client to its dead-letter topic and keeps every dead letter it receives.</summary>
public sealed class DeadLetterListener
{
    private readonly ConcurrentQueue<ReceivedDeadLetter> _letters = new();

    private DeadLetterListener()
    {
    }

    public IReadOnlyCollection<ReceivedDeadLetter> Letters => _letters;

    public static async Task<DeadLetterListener> SubscribeAsync(IMqttClient client, string vendorId)
    {
        var listener = new DeadLetterListener();
        var topic = "sharpeyes/v1/deadletter/" + vendorId;
        client.ApplicationMessageReceivedAsync += e =>
        {
            if (e.ApplicationMessage.Topic == topic)
            {
                using var json = JsonDocument.Parse(e.ApplicationMessage.Payload);
                var r = json.RootElement;
                listener._letters.Enqueue(new ReceivedDeadLetter(
                    r.GetProperty("reason").GetString()!, r.GetProperty("detail").GetString()!, r.GetProperty("vendorId").GetString()!,
                    r.GetProperty("topic").GetString()!, Convert.FromBase64String(r.GetProperty("payloadBase64").GetString()!),
                    r.GetProperty("payloadTruncated").GetBoolean()));
            }

            return Task.CompletedTask;
        };
        var granted = await client.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, granted.Items.Single().ResultCode);
        return listener;
    }

    /// <summary>The first dead letter whose payload is exactly <paramref name="payload"/>.</summary>
    public Task<ReceivedDeadLetter> WaitForAsync(byte[] payload, string what) =>
        Eventually.WaitAsync(() => Task.FromResult(_letters.FirstOrDefault(l => l.Payload.AsSpan().SequenceEqual(payload))), what);
}
