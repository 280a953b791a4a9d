using System.Diagnostics;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using SharpEyes.Bench.Reporting;

namespace SharpEyes.Bench.Mqtt;

/// <summary>
/// The bare-broker baseline: N publisher connections publish alarm JSON at QoS 1 to a plain broker (mosquitto) and
/// one MQTTnet subscriber receives them at QoS 1. Rate = messages received / (last received − publish start).
/// </summary>
public static class BrokerBaseline
{
    public const int Phase = 9;

    public static async Task<ThroughputResult> RunAsync(int port, int? brokerPid, int connections, int count, int devices, int window, TimeSpan limit, CancellationToken ct)
    {
        var messages = AlarmMessages.Build(Phase, count, devices, DateTimeOffset.UtcNow);
        var received = 0;
        long lastReceived = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        using var subscriber = new MqttClientFactory().CreateMqttClient();
        subscriber.ApplicationMessageReceivedAsync += _ =>
        {
            lastReceived = Stopwatch.GetTimestamp();
            if (Interlocked.Increment(ref received) == count)
            {
                done.TrySetResult();
            }

            return Task.CompletedTask;
        };
        using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            connectTimeout.CancelAfter(TimeSpan.FromSeconds(15));
            await subscriber.ConnectAsync(new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", port)
                .WithClientId($"bench-sub-{connections}-{Environment.ProcessId}")
                .WithCleanStart(true)
                .WithProtocolVersion(MqttProtocolVersion.V500)
                .WithTimeout(TimeSpan.FromSeconds(30))
                .Build(), connectTimeout.Token);
            await subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(AlarmMessages.TopicPrefix + "#", MqttQualityOfServiceLevel.AtLeastOnce)
                .Build(), connectTimeout.Token);
        }

        var publishers = await AlarmPublisher.ConnectAsync(port, null, null, connections, "bench-pub", ct);
        try
        {
            var serverBefore = brokerPid is { } p1 ? CpuSnapshot.Take(p1) : null;
            var benchBefore = CpuSnapshot.Take(Environment.ProcessId);
            var machineBefore = CpuSnapshot.SystemBusy();
            var outcome = await AlarmPublisher.RunAsync(publishers, messages, window, null, limit);
            var remaining = limit - Stopwatch.GetElapsedTime(outcome.StartTicks);
            var complete = true;
            try
            {
                await done.Task.WaitAsync(remaining > TimeSpan.FromSeconds(1) ? remaining : TimeSpan.FromSeconds(1), ct);
            }
            catch (TimeoutException)
            {
                complete = false;
            }

            var serverCpu = brokerPid is { } p2 ? CpuSnapshot.Diff(serverBefore, CpuSnapshot.Take(p2)) : null;
            var benchCpu = CpuSnapshot.Diff(benchBefore, CpuSnapshot.Take(Environment.ProcessId));
            var machineCpu = CpuSnapshot.SystemPercent(machineBefore, CpuSnapshot.SystemBusy());
            var got = Volatile.Read(ref received);
            var end = complete ? Volatile.Read(ref lastReceived) : Stopwatch.GetTimestamp();
            string? note = null;
            if (!complete || outcome.TimedOut || outcome.Failed > 0)
            {
                note = $"INCOMPLETE: {got:N0}/{count:N0} received within {limit.TotalSeconds:F0} s; {outcome.Failed} publish failures {outcome.FirstFailure}";
            }

            return new ThroughputResult("mosquitto", connections, count, outcome.Sent, outcome.Acked, outcome.Failed, got,
                Seconds(outcome.StartTicks, outcome.LastAckTicks), Seconds(outcome.StartTicks, end), complete && !outcome.TimedOut, note, serverCpu, benchCpu, machineCpu);
        }
        finally
        {
            await AlarmPublisher.DisconnectAsync(publishers);
            await AlarmPublisher.DisconnectAsync([subscriber]);
        }
    }

    internal static double Seconds(long start, long end) => end > start ? (end - start) / (double)Stopwatch.Frequency : 0;
}
