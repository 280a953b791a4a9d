using System.Globalization;
using System.Text;
using MQTTnet;
using MQTTnet.Protocol;

namespace SharpEyes.Bench.Mqtt;

/// <summary>
/// The alarm messages every run publishes: the real alarm JSON (~150 bytes) on <c>sharpeyes/v1/alarms/{deviceId}</c>.
/// Event ids are <c>b{phase}-{index:D7}</c>, so a feed event names the phase and the message it answers.
/// </summary>
public static class AlarmMessages
{
    public const string TopicPrefix = "sharpeyes/v1/alarms/";

    /// <summary>20-digit GB/T 28181 id of alarm input device <paramref name="serial"/>: county 130127, industry 00, type 134, network 0.</summary>
    public static string AlarmDeviceId(int serial) => "13012700001340" + serial.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>20-digit id of camera <paramref name="serial"/>: county 130127, industry 00, type 132 (IPC), network 0.</summary>
    public static string CameraId(int serial) => "13012700001320" + serial.ToString("D6", CultureInfo.InvariantCulture);

    public static string EventId(int phase, int index) =>
        "b" + phase.ToString(CultureInfo.InvariantCulture) + "-" + index.ToString("D7", CultureInfo.InvariantCulture);

    /// <summary>Inverse of <see cref="EventId"/>; false for anything the bench did not send.</summary>
    public static bool TryParseEventId(string eventId, out int phase, out int index)
    {
        phase = index = -1;
        if (eventId.Length != 10 || eventId[0] != 'b' || eventId[2] != '-' || !char.IsAsciiDigit(eventId[1]))
        {
            return false;
        }

        phase = eventId[1] - '0';
        return int.TryParse(eventId.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out index);
    }

    /// <summary>
    /// Builds <paramref name="count"/> QoS 1 messages for phase <paramref name="phase"/>, spread round-robin over
    /// <paramref name="devices"/> alarm devices. Built before the clock starts so generation is not measured. Message i
    /// carries event index <paramref name="first"/> + i (the soak builds its long run interval by interval).
    /// </summary>
    public static MqttApplicationMessage[] Build(int phase, int count, int devices, DateTimeOffset occurredAt, int first = 0)
    {
        var topics = new string[devices];
        for (var d = 0; d < devices; d++)
        {
            topics[d] = TopicPrefix + AlarmDeviceId(d);
        }

        var occurred = OccurredAt(occurredAt);
        var messages = new MqttApplicationMessage[count];
        for (var i = 0; i < count; i++)
        {
            messages[i] = new MqttApplicationMessageBuilder()
                .WithTopic(topics[(first + i) % devices])
                .WithPayload(Payload(phase, first + i, occurred))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build();
        }

        return messages;
    }

    /// <summary>An alarm's occurredAt as vendors send it: Beijing time with its offset, to the second.</summary>
    public static string OccurredAt(DateTimeOffset time) =>
        time.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd'T'HH:mm:ss'+08:00'", CultureInfo.InvariantCulture);

    public static byte[] Payload(int phase, int index, string occurredAt) => Encoding.UTF8.GetBytes(
        "{\"eventId\":\"" + EventId(phase, index) + "\",\"occurredAt\":\"" + occurredAt +
        "\",\"priority\":2,\"method\":5,\"type\":6,\"description\":\"bench: intrusion at the east gate, zone 3\"}");
}
