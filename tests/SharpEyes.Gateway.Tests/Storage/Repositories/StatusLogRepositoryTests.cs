using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Storage.Repositories;

/// <summary>The status_log table through its repository, on the run's engine (both passes of scripts/test.sh).</summary>
public sealed class StatusLogRepositoryTests
{
    private const string Gate = "34020000001310000001";
    private const string Yard = "34020000001310000002";

    [Fact]
    public async Task Changes_read_back_in_the_order_written_even_at_one_instant()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            StatusLogRepository.Append(tx, Gate, 2_000, online: true);
            StatusLogRepository.Append(tx, Yard, 1_000, online: true);
            StatusLogRepository.Append(tx, Gate, 2_000, online: false); // same instant: order written, not by time
        });
        await store.WriteAsync(tx => StatusLogRepository.Append(tx, Gate, 1_500, online: true)); // an earlier time written later

        Assert.Equal(
            [new StatusChangeRow(Gate, 2_000, true), new StatusChangeRow(Yard, 1_000, true), new StatusChangeRow(Gate, 2_000, false), new StatusChangeRow(Gate, 1_500, true)],
            store.Read(StatusLogRepository.LoadAll));
        Assert.Equal(
            [new StatusChangeRow(Gate, 2_000, true), new StatusChangeRow(Gate, 2_000, false), new StatusChangeRow(Gate, 1_500, true)],
            await store.WriteAsync(tx => StatusLogRepository.LoadDevice(tx, Gate)));
        Assert.Empty(await store.WriteAsync(tx => StatusLogRepository.LoadDevice(tx, "34020000001310000099")));
    }

    [Fact]
    public async Task Pruning_keeps_each_cameras_last_change_before_the_cutoff_and_everything_from_it()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            StatusLogRepository.Append(tx, Gate, 100, online: true);
            StatusLogRepository.Append(tx, Gate, 200, online: false);
            StatusLogRepository.Append(tx, Gate, 300, online: true); // at the cutoff: not before it
            StatusLogRepository.Append(tx, Yard, 50, online: true);
            StatusLogRepository.Append(tx, Yard, 250, online: false); // Yard's last before the cutoff
        });

        Assert.Equal(2, store.Read(c => StatusLogRepository.PruneBefore(c, 300)));
        Assert.Equal(
            [new StatusChangeRow(Gate, 200, false), new StatusChangeRow(Gate, 300, true), new StatusChangeRow(Yard, 250, false)],
            store.Read(StatusLogRepository.LoadAll));
        Assert.Equal(0, store.Read(c => StatusLogRepository.PruneBefore(c, 300))); // nothing more to prune
    }

    [Fact]
    public async Task Deleting_a_camera_removes_only_its_changes()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await store.WriteAsync(tx =>
        {
            StatusLogRepository.Append(tx, Gate, 100, online: true);
            StatusLogRepository.Append(tx, Gate, 200, online: false);
            StatusLogRepository.Append(tx, Yard, 150, online: true);
        });

        Assert.Equal(2, await store.WriteAsync(tx => StatusLogRepository.DeleteDevice(tx, Gate)));
        Assert.Equal([new StatusChangeRow(Yard, 150, true)], store.Read(StatusLogRepository.LoadAll));
    }

    [Fact]
    public async Task A_rolled_back_transaction_records_no_change()
    {
        await using var store = await StoreUnderTest.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(tx =>
        {
            StatusLogRepository.Append(tx, Gate, 100, online: true);
            throw new InvalidOperationException("the item's own failure");
        }));
        Assert.Empty(store.Read(StatusLogRepository.LoadAll));
    }
}
