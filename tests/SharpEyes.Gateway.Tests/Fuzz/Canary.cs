using System.Globalization;
using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Fuzz;

/// <summary>
/// What every over-the-wire fuzz target checks after its flood: the gateway still serves a well-behaved client (a
/// valid alarm on a new MQTT connection is accepted and a gRPC call answers), it logged no unhandled exception, and
/// its memory stayed bounded.
/// </summary>
internal static class Canary
{
    /// <summary>Growth of the managed heap (after a full collection) allowed across a fuzz run: generous, to catch only a leak or a hoard.</summary>
    private const double HeapGrowthMiB = 256;

    /// <summary>Growth of the process's resident memory allowed across a fuzz run (the test process holds the clients too).</summary>
    private const double ResidentGrowthMiB = 768;

    /// <summary>A valid alarm on a fresh connection is accepted, and the device it came from reads back over gRPC.</summary>
    public static async Task AssertServingAsync(GatewayHost host, string vendorId, string vendorKey, string deviceId)
    {
        var client = await host.ConnectMqttAsync(vendorId, vendorKey);
        var eventId = "canary-" + Guid.NewGuid().ToString("N");
        var ack = await client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic("sharpeyes/v1/alarms/" + deviceId)
            .WithPayload(TestDevices.AlarmJson(eventId))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.True(ack.ReasonCode == MqttClientPublishReasonCode.Success, $"the canary alarm got {ack.ReasonCode} {ack.ReasonString}");
        var device = await new DeviceRegistry.DeviceRegistryClient(host.Channel)
            .GetDeviceAsync(new GetDeviceRequest { DeviceId = deviceId }, host.Auth(vendorKey), DateTime.UtcNow.AddSeconds(10));
        Assert.Equal(deviceId, device.DeviceId);
        await client.DisconnectAsync();
    }

    /// <summary>
    /// No log line of an unhandled exception: grpc-dotnet's "Error when executing service method", Kestrel's, or any
    /// Error/Critical line with a stack. One is not the gateway's: the library health service's Watch writing its
    /// first answer after the client's deadline ended the call (grpc-dotnet logs its own write as an error), seen
    /// under load with the fuzz's 1 s stream deadline.
    /// </summary>
    public static void AssertNoUnhandledExceptions(CapturedLogs logs)
    {
        var unhandled = logs.Lines.Where(l => !(l.Contains("service method 'Watch'", StringComparison.Ordinal)
                && l.Contains("Writing is not allowed after writer was completed", StringComparison.Ordinal))).Where(l =>
            l.StartsWith("Critical ", StringComparison.Ordinal)
            || (l.StartsWith("Error ", StringComparison.Ordinal) && l.Contains("   at ", StringComparison.Ordinal))
            || l.Contains("Error when executing service method", StringComparison.Ordinal)
            || l.Contains("Exception was thrown by handler", StringComparison.Ordinal)
            || l.Contains("An unhandled exception", StringComparison.Ordinal)).ToList();
        Assert.True(unhandled.Count == 0, $"{unhandled.Count} unhandled exceptions logged; the first:\n{string.Join("\n---\n", unhandled.Take(3).Select(l => Fuzzing.Shorten(l, 3000)))}");
    }

    /// <summary>The managed heap and resident memory now, after a full collection.</summary>
    public static MemoryMark Mark()
    {
        var heap = GC.GetTotalMemory(forceFullCollection: true) / (1024.0 * 1024);
        return new MemoryMark(heap, ProcStats.RssMiB(Environment.ProcessId));
    }

    /// <summary>Fails when the heap or the resident memory grew more than the generous bounds since <paramref name="before"/>; returns the figures for the report.</summary>
    public static string AssertBounded(MemoryMark before)
    {
        var after = Mark();
        var text = string.Create(CultureInfo.InvariantCulture,
            $"managed heap {before.HeapMiB:0} → {after.HeapMiB:0} MiB, resident {before.ResidentMiB:0} → {after.ResidentMiB:0} MiB");
        Assert.True(after.HeapMiB - before.HeapMiB <= HeapGrowthMiB, $"the managed heap grew more than {HeapGrowthMiB} MiB: {text}");
        Assert.True(after.ResidentMiB - before.ResidentMiB <= ResidentGrowthMiB, $"resident memory grew more than {ResidentGrowthMiB} MiB: {text}");
        return text;
    }
}

/// <summary>Memory at one moment, in MiB.</summary>
internal sealed record MemoryMark(double HeapMiB, double ResidentMiB);

/// <summary>
/// The tests that measure the managed heap (<see cref="Canary.AssertBounded"/>) run in a collection of their own, alone:
/// the heap is the whole test process's, and a test running beside them could fill it (a cold run once saw 59 → 680 MiB
/// during the RPC fuzz, from other tests).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessMemoryCollection
{
    public const string Name = "process memory";
}
