using MQTTnet;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>Counts the disconnections of MQTT clients, so a test can assert that their connections stayed up throughout.</summary>
public sealed class DisconnectCounter
{
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public static DisconnectCounter Watch(params IEnumerable<IMqttClient> clients)
    {
        var counter = new DisconnectCounter();
        foreach (var client in clients)
        {
            client.DisconnectedAsync += _ =>
            {
                Interlocked.Increment(ref counter._count);
                return Task.CompletedTask;
            };
        }

        return counter;
    }
}
