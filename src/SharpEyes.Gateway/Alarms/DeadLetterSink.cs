using System.Buffers;
using System.Text.Json;
using SharpEyes.Gateway.Storage;

namespace SharpEyes.Gateway.Alarms;

/// <summary>
/// Dead letters: every rejected message is stored (reason, detail, topic, the first 4 KiB of the payload in base64),
/// counted, and published at QoS 1 to <c>sharpeyes/v1/deadletter/{vendorId}</c>, where the vendor may subscribe.
/// </summary>
public sealed partial class DeadLetterSink(Journal journal, AlarmStats stats, TimeProvider time, ILogger<DeadLetterSink> logger)
{
    public const string TopicPrefix = "sharpeyes/v1/deadletter/";
    private const int PayloadSampleBytes = 4096;

    /// <summary>Set by the broker once it runs: publishes a dead letter to its topic.</summary>
    public Func<string, byte[], Task>? Publisher { get; set; }

    public async Task RecordAsync(string vendorId, string topic, ReadOnlySequence<byte> payload, Rejection rejection, CancellationToken ct = default)
    {
        var now = time.GetUtcNow();
        var sample = payload.Length > PayloadSampleBytes ? payload.Slice(0, PayloadSampleBytes) : payload;
        var body = JsonSerializer.SerializeToUtf8Bytes(new DeadLetter(
            rejection.Reason, rejection.Detail, vendorId, topic, now, payload.Length,
            Convert.ToBase64String(sample.ToArray()), payload.Length > PayloadSampleBytes), DeadLetterJson.Default.DeadLetter);
        await journal.ExecuteAsync(tx =>
        {
            tx.Execute("INSERT INTO dead_letters(vendor_id, reason, received_at, data) VALUES($p0,$p1,$p2,$p3)",
                vendorId, rejection.Reason, now.ToUnixTimeMilliseconds(), System.Text.Encoding.UTF8.GetString(body));
            tx.AfterCommit(() => stats.CountDeadLetter(rejection.Reason));
            return true;
        }, ct).ConfigureAwait(false);
        LogDeadLetter(logger, vendorId, rejection.Reason, rejection.Detail);
        if (Publisher is { } publish)
        {
            await publish(TopicPrefix + vendorId, body).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dead-lettered a message from vendor {VendorId}: {Reason} ({Detail})")]
    private static partial void LogDeadLetter(ILogger logger, string vendorId, string reason, string detail);
}

/// <summary>The JSON body published on the dead-letter topic.</summary>
public sealed record DeadLetter(
    string Reason, string Detail, string VendorId, string Topic, DateTimeOffset ReceivedAt,
    long PayloadBytes, string PayloadBase64, bool PayloadTruncated);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(DeadLetter))]
internal sealed partial class DeadLetterJson : System.Text.Json.Serialization.JsonSerializerContext;
