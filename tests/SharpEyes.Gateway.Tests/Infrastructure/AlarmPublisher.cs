using System.Collections.Concurrent;
using MQTTnet;
using MQTTnet.Protocol;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// A vendor's MQTT publisher for fault tests: QoS 1 alarms with up to 32 in flight, recording each event id whose
/// PUBACK arrived. What was not acknowledged is what a real publisher would send again.
/// </summary>
public static class AlarmPublisher
{
    /// <param name="occurredAt">Defaults to the in-process hosts' clock (<see cref="TestDevices.AlarmJson"/>); a gateway on the
    /// system clock refuses alarms older than its duplicate window (90 days), so tests of a real process pass the time now.</param>
    public static MqttApplicationMessage Alarm(string deviceId, string eventId, DateTimeOffset? occurredAt = null) => new MqttApplicationMessageBuilder()
        .WithTopic("sharpeyes/v1/alarms/" + deviceId)
        .WithPayload(occurredAt is { } at ? TestDevices.AlarmJson(eventId, occurredAt: TestDevices.Rfc3339(at)) : TestDevices.AlarmJson(eventId))
        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();

    public static async Task<IMqttClient> ConnectAsync(int port, string vendorId, string vendorKey, string clientId, bool cleanStart = true)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        // Clean start off keeps the session after a disconnect (MQTT 5 also needs a session expiry interval for that).
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithCleanSession(cleanStart)
            .WithSessionExpiryInterval(cleanStart ? 0u : 3600u)
            .WithClientId(clientId).WithCredentials(vendorId, vendorKey).WithTimeout(TimeSpan.FromSeconds(10)).Build());
        return client;
    }

    /// <summary>
    /// Publishes the event ids (round-robin over <paramref name="devices"/>) with up to 32 in flight until all are
    /// sent, the connection dies or <paramref name="stop"/> fires; returns how many were sent.
    /// </summary>
    public static async Task<int> PublishAsync(IMqttClient client, IReadOnlyList<string> devices, IEnumerable<string> eventIds,
        ConcurrentDictionary<string, bool> acked, CancellationToken stop = default, DateTimeOffset? occurredAt = null)
    {
        var inFlight = new List<Task>();
        var sent = 0;
        try
        {
            foreach (var eventId in eventIds)
            {
                if (stop.IsCancellationRequested || !client.IsConnected)
                {
                    break;
                }

                inFlight.Add(PublishOne(client, Alarm(devices[sent % devices.Count], eventId, occurredAt), eventId, acked));
                sent++;
                if (inFlight.Count >= 32)
                {
                    await Task.WhenAny(inFlight);
                    inFlight.RemoveAll(t => t.IsCompleted);
                }
            }
        }
        catch (Exception)
        {
            // The gateway went away mid-burst: what was acknowledged is recorded.
        }

        await Task.WhenAll(inFlight).WaitAsync(TimeSpan.FromSeconds(30));
        return sent;
    }

    private static async Task PublishOne(IMqttClient client, MqttApplicationMessage message, string eventId, ConcurrentDictionary<string, bool> acked)
    {
        try
        {
            var result = await client.PublishAsync(message);
            if (result.ReasonCode == MqttClientPublishReasonCode.Success)
            {
                acked[eventId] = true;
            }
        }
        catch (Exception)
        {
            // Not acknowledged: the publisher would retry it.
        }
    }
}
