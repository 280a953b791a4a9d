using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The stream_health table through its repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class StreamHealthRepositoryTests
{
    private const string Gate = "34020000001310000001";
    private const string Yard = "34020000001310000002";

    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);

    private static StreamHealthRecord Health(string deviceId, params string[] faults) => StreamHealthRecord.New(deviceId) with
    {
        Faults = [.. faults],
        FaultySince = faults.Length > 0 ? T0 : null,
        ConsecutiveFailures = faults.Length,
        Measured = new StreamMeasurement("H.264", 1920, 1080, 25, 0, 180, T0),
        Mismatches = [new StreamDifference("codec", "H.265", "H.264", T0)],
        LastLiveness = new CheckResult(T0.AddSeconds(1), faults.Length == 0, faults.Length == 0 ? "" : "timeout", "", 12),
        LastQuality = new PictureCheck(T0.AddSeconds(2), faults.Length == 0, [.. faults], 12.5, 0.9, 0.001, 0.1, 3, 900),
    };

    [Fact]
    public async Task Health_round_trips_and_an_upsert_replaces_it()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            Assert.Null(StreamHealthRepository.Find(tx, Gate)); // never stored
            StreamHealthRepository.Upsert(tx, Gate, Health(Gate, "black", "frozen"));
            StreamHealthRepository.Upsert(tx, Yard, Health(Yard));
            Assert.Equal(Health(Gate, "black", "frozen"), StreamHealthRepository.Find(tx, Gate)); // sees its own write
        });
        await store.WriteAsync(tx => StreamHealthRepository.Upsert(tx, Gate, Health(Gate)));

        var all = store.Read(StreamHealthRepository.LoadAll);
        Assert.Equal(2, all.Count);
        Assert.Equal(Health(Gate), all[Gate]);
        Assert.Equal(Health(Yard), all[Yard]);
    }

    [Fact]
    public async Task Deleting_one_camera_leaves_the_others()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            StreamHealthRepository.Upsert(tx, Gate, Health(Gate, "no-signal"));
            StreamHealthRepository.Upsert(tx, Yard, Health(Yard));
        });

        Assert.Equal(1, await store.WriteAsync(tx => StreamHealthRepository.Delete(tx, Gate)));
        Assert.Equal(0, await store.WriteAsync(tx => StreamHealthRepository.Delete(tx, Gate)));
        Assert.Equal([Yard], store.Read(StreamHealthRepository.LoadAll).Keys);
        Assert.Null(await store.WriteAsync(tx => StreamHealthRepository.Find(tx, Gate)));
    }

    [Fact]
    public async Task A_rolled_back_transaction_leaves_the_stored_health()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx => StreamHealthRepository.Upsert(tx, Gate, Health(Gate)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            StreamHealthRepository.Upsert(tx, Gate, Health(Gate, "black"));
            StreamHealthRepository.Upsert(tx, Yard, Health(Yard, "black"));
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Equal(new Dictionary<string, StreamHealthRecord> { [Gate] = Health(Gate) }, store.Read(StreamHealthRepository.LoadAll));
    }
}
