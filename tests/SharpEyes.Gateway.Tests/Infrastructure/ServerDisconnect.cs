using MQTTnet;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>What an MQTT 5 client learned when the gateway disconnected it.</summary>
public static class ServerDisconnect
{
    /// <summary>
    /// The reason code and string the client read, or null when it read none: the gateway writes DISCONNECT with its
    /// reason and closes, and when the socket still held bytes the gateway had not read (a flood's publishes, a ping in
    /// flight) Linux answers the close with a reset, which can discard the DISCONNECT before the client reads it. The
    /// client then reports a bare <see cref="MqttClientDisconnectReason.NormalDisconnection"/>. Seen twice in about a
    /// dozen full runs on a loaded machine; a caller checks the gateway's own record of the disconnect in that case.
    /// </summary>
    public static (MqttClientDisconnectReason Reason, string? Text)? Seen(MqttClientDisconnectedEventArgs e) =>
        e.Reason == MqttClientDisconnectReason.NormalDisconnection && string.IsNullOrEmpty(e.ReasonString) ? null : (e.Reason, e.ReasonString);
}
