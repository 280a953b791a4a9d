using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;

namespace SharpEyes.Gateway.Alarms;

/// <summary>
/// Dead letters: every rejected message is stored (reason, detail, topic, the first 4 KiB of the payload in base64),
/// counted, and published at QoS 1 to <c>sharpeyes/v1/deadletter/{vendorId}</c>, where the vendor may subscribe. On a
/// shared store (several replicas) the commit tells the others (<see cref="ChangeChannel"/>, with the row's id), and each
/// publishes the stored letter to its own broker: a vendor subscribed on any replica gets it, whichever refused.
/// </summary>
public sealed partial class DeadLetterSink(
    Journal journal, AlarmStats stats, TimeProvider time, IOptions<GatewayOptions> options, ILogger<DeadLetterSink> logger)
    : IReplicaChangeFollower
{
    /// <summary>The notification channel on which a replica announces a stored dead letter's id.</summary>
    public const string ChangeChannel = "sharpeyes_dead_letters";

    string IReplicaChangeFollower.Channel => ChangeChannel;

    /// <summary>
    /// Another replica stored a dead letter (<paramref name="announced"/>: the row's id; this replica's own
    /// announcements never reach here): count it and publish the stored letter to this replica's broker after this
    /// commit. Null (the listener reconnected): letters announced meanwhile stay in the store, unpublished here (their
    /// counts are rebuilt by <see cref="AlarmStats"/>).
    /// </summary>
    void IReplicaChangeFollower.Changed(ReplicaAnnouncement? announced, JournalTransaction tx)
    {
        if (announced is null
            || !long.TryParse(announced.What, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var row)
            || DeadLetterRepository.Find(tx, row) is not { } letter)
        {
            return;
        }

        stats.CountForeignDeadLetter(tx, announced.Transaction, letter.Reason); // the store-wide count, as the refusing replica counted it
        tx.AfterCommit(() =>
        {
            if (Publisher is { } publish)
            {
                _ = PublishAsync(publish, TopicPrefix + letter.VendorId, letter.Body);
            }
        });
    }

    private async Task PublishAsync(Func<string, byte[], Task> publish, string topic, byte[] body)
    {
        try
        {
            await publish(topic, body).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogFollowPublishFailed(logger, topic, e.Message);
        }
    }

    /// <summary>One line per vendor and reason per interval: a vendor sending thousands of bad alarms does not flood the log (each is counted and stored).</summary>
    private readonly LogThrottle _logs = new(time, options.Value.Limits.LogInterval);

    public const string TopicPrefix = "sharpeyes/v1/deadletter/";
    private const int PayloadSampleBytes = 4096;

    /// <summary>Set by the broker once it runs: publishes a dead letter to its topic.</summary>
    public Func<string, byte[], Task>? Publisher { get; set; }

    /// <summary>A copy of what a dead letter keeps of a payload (its first 4 KiB), taken while the broker's buffer is still valid.</summary>
    public static PayloadSample Sample(in ReadOnlySequence<byte> payload) =>
        new((payload.Length > PayloadSampleBytes ? payload.Slice(0, PayloadSampleBytes) : payload).ToArray(), payload.Length);

    /// <summary>
    /// Stores, counts, logs and publishes one dead letter. Any payload will do: it is kept as base64, and the client
    /// text in the detail is escaped in the log line (and, if it held unpaired surrogates, replaced by U+FFFD in the JSON).
    /// </summary>
    public async Task RecordAsync(string vendorId, string topic, PayloadSample payload, Rejection rejection, CancellationToken ct = default)
    {
        var now = time.GetUtcNow();
        var body = JsonSerializer.SerializeToUtf8Bytes(new DeadLetter(
            rejection.Reason, rejection.Detail, vendorId, topic, now, payload.Length,
            Convert.ToBase64String(payload.Bytes), payload.Length > payload.Bytes.Length), DeadLetterJson.Default.DeadLetter);
        await journal.ExecuteAsync(tx =>
        {
            var id = DeadLetterRepository.Insert(tx, vendorId, rejection.Reason, now.ToUnixTimeMilliseconds(), body);
            tx.NotifyReplicas(ChangeChannel, id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            tx.AfterCommit(() => stats.CountDeadLetter(rejection.Reason));
            return true;
        }, ct).ConfigureAwait(false);
        if (_logs.Due(vendorId + "\n" + rejection.Reason) is { } count)
        {
            LogDeadLetter(logger, vendorId, rejection.Reason, count, LogText.Client(rejection.Detail, 300));
        }

        if (Publisher is { } publish)
        {
            await publish(TopicPrefix + vendorId, body).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish another replica's dead letter to {Topic}: {Reason}")]
    private static partial void LogFollowPublishFailed(ILogger logger, string topic, string reason);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Dead-lettered a message from vendor {VendorId}: {Reason} (x{Count} since the last such line; latest: {Detail})")]
    private static partial void LogDeadLetter(ILogger logger, string vendorId, string reason, long count, string detail);
}

/// <summary>The first bytes of a payload (at most 4 KiB) and its whole length.</summary>
public sealed record PayloadSample(byte[] Bytes, long Length);

/// <summary>The JSON body published on the dead-letter topic.</summary>
public sealed record DeadLetter(
    string Reason, string Detail, string VendorId, string Topic, DateTimeOffset ReceivedAt,
    long PayloadBytes, string PayloadBase64, bool PayloadTruncated);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(DeadLetter))]
internal sealed partial class DeadLetterJson : System.Text.Json.Serialization.JsonSerializerContext;
