using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Data.Sqlite;
using MQTTnet;
using SharpEyes.Gateway.Cli;
using SharpEyes.Gateway.Outbox;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Storage;

/// <summary>
/// docs/operations.md, "Backup and restore": <c>sharpeyes backup</c> (the real executable, in its own process) copies
/// the store of a gateway that keeps taking alarms, and a gateway started on the copy in an empty data directory has
/// every alarm acknowledged before the backup began, the same feed (same events, same sequences), the same source id,
/// and numbers on from the copy's last sequence. The alarms are still only in the write-ahead log when the copy is
/// taken, so a copy of sharpeyes.db alone fails this test.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed partial class BackupTests
{
    private const int Devices = 4;

    [Fact]
    public async Task A_backup_taken_mid_stream_restores_every_acknowledged_alarm_the_same_feed_and_source_id_and_numbering_goes_on()
    {
        var backup = Path.Combine(GatewayHost.NewDataDir(), "sharpeyes-backup.db");
        var acked = new ConcurrentDictionary<string, bool>();
        HashSet<string> ackedBeforeBackup;
        long sequenceBefore, sequenceAfter;
        int ackedWhileBackingUp;
        (int Code, string Output) run;
        string sourceId, vendorKey, centreKey;
        List<FeedEvent> original;
        Microsoft.Extensions.Time.Testing.FakeTimeProvider time;
        await using (var gateway = await GatewayHost.StartAsync())
        {
            time = gateway.Time;
            vendorKey = await gateway.CreateKeyAsync(Role.Vendor, "acme");
            centreKey = await gateway.CreateKeyAsync(Role.Centre);
            var registry = new DeviceRegistry.DeviceRegistryClient(gateway.Channel);
            for (var i = 0; i < Devices; i++)
            {
                await registry.RegisterDeviceAsync(TestDevices.Alarm(i), gateway.Auth(vendorKey));
            }

            // A reader holding a snapshot from before the first alarm (as a long feed replay or an export does) keeps
            // every checkpoint from moving the alarms into sharpeyes.db: when the backup runs they are only in
            // sharpeyes.db-wal, so a copy of the database file alone would have none of them.
            using var pin = new SqliteConnection($"Data Source={Path.Combine(gateway.DataDir, "sharpeyes.db")};Pooling=False");
            pin.Open();
            using var snapshot = pin.BeginTransaction(deferred: true);
            using (var read = pin.CreateCommand())
            {
                read.Transaction = snapshot;
                read.CommandText = "SELECT COUNT(*) FROM feed_events";
                read.ExecuteScalar();
            }

            using var stop = new CancellationTokenSource();
            var publishers = Enumerable.Range(0, 2).Select(c => PublishUntilStoppedAsync(gateway.MqttPort, vendorKey, c, acked, stop.Token)).ToList();
            await Eventually.TrueAsync(() => acked.Count >= 500, "500 acknowledged alarms", TimeSpan.FromSeconds(60));

            // Everything acknowledged now was committed before the backup's snapshot.
            ackedBeforeBackup = [.. acked.Keys];
            sequenceBefore = gateway.LastSequence;
            var ackedAtStart = acked.Count;
            run = await RunBackupAsync(gateway.DataDir, backup);
            ackedWhileBackingUp = acked.Count - ackedAtStart;
            sequenceAfter = gateway.LastSequence;
            snapshot.Rollback();
            var ackedAfterBackup = acked.Count;
            await Eventually.TrueAsync(() => acked.Count >= ackedAfterBackup + 200, "intake to go on after the backup", TimeSpan.FromSeconds(60));
            await stop.CancelAsync();
            await Task.WhenAll(publishers);

            sourceId = gateway.Services.GetRequiredService<OutboxCursors>().SourceId;
            original = await ReadFeedAsync(gateway, centreKey, gateway.LastSequence);
        }

        Assert.True(run.Code == 0, run.Output);
        var backupLast = long.Parse(LastSequenceLine().Match(run.Output) is { Success: true } m ? m.Groups[1].Value : "-1", System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(backupLast, sequenceBefore, sequenceAfter);
        Assert.True(backupLast < original[^1].Sequence, "the gateway went on committing after the backup, so the copy is of one moment");
        Assert.True(ackedWhileBackingUp > 0, "the gateway kept acknowledging alarms while the backup command ran");
        Assert.Contains($"source id {sourceId}", run.Output, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(backup));
        Assert.Equal([backup], Directory.EnumerateFiles(Path.GetDirectoryName(backup)!)); // no -wal, -shm or .partial beside it

        // Restore: the copy as sharpeyes.db in an empty data directory.
        var restoredDir = GatewayHost.NewDataDir();
        File.Copy(backup, Path.Combine(restoredDir, "sharpeyes.db"));
        await using var restored = await GatewayHost.StartAsync(demo: false, dataDir: restoredDir, time: time);
        Assert.Equal(backupLast, restored.LastSequence);
        Assert.Equal(sourceId, restored.Services.GetRequiredService<OutboxCursors>().SourceId);

        // The same events under the same sequences, read through the restored gateway with the centre's key of before.
        var restoredFeed = await ReadFeedAsync(restored, centreKey, backupLast);
        var expected = original.TakeWhile(e => e.Sequence <= backupLast).ToList();
        Assert.Equal(expected.Select(e => e.Sequence), restoredFeed.Select(e => e.Sequence));
        var differing = expected.Zip(restoredFeed).FirstOrDefault(p => !p.First.Equals(p.Second));
        Assert.True(differing.First is null, $"feed event {differing.First?.Sequence} differs after the restore");

        var onFeed = restoredFeed.Where(e => e.Incident is { Alarms.Count: > 0 }).SelectMany(e => e.Incident.Alarms.Select(a => a.EventId)).ToHashSet(StringComparer.Ordinal);
        var missing = ackedBeforeBackup.Where(id => !onFeed.Contains(id)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {ackedBeforeBackup.Count} alarms acknowledged before the backup are missing after the restore, e.g. {string.Join(", ", missing.Take(5))}");
        Assert.Equal(onFeed.Count, (await restored.GetStatsAsync()).AlarmsAccepted);

        // Numbering goes on after the copy's last sequence, for the vendor's key of before.
        await using var next = new FeedReader(restored, centreKey, afterSequence: backupLast);
        using var client = await AlarmPublisher.ConnectAsync(restored.MqttPort, "acme", vendorKey, "after-restore");
        var answer = await client.PublishAsync(AlarmPublisher.Alarm(TestDevices.AlarmId(0), "after-restore-1"));
        Assert.Equal(MqttClientPublishReasonCode.Success, answer.ReasonCode);
        var first = await next.WaitForAsync(e => e.Incident?.Alarms.Any(a => a.EventId == "after-restore-1") == true, "the first alarm after the restore on the feed");
        Assert.Equal(backupLast + 1, first.Sequence);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{run.Output.Trim()}\nacknowledged before the backup: {ackedBeforeBackup.Count}; while it ran: {ackedWhileBackingUp}; feed at the backup: {sequenceBefore}..{sequenceAfter}, copy through {backupLast}, original went on to {original[^1].Sequence}");
    }

    [Fact]
    public async Task Backup_refuses_without_an_output_a_store_or_a_new_file_name_and_writes_nothing()
    {
        var dataDir = GatewayHost.NewDataDir();
        await (await GatewayHost.StartAsync(demo: false, dataDir: dataDir)).DisposeAsync();
        var existing = Path.Combine(GatewayHost.NewDataDir(), "existing.db");
        await File.WriteAllTextAsync(existing, "keep me", TestContext.Current.CancellationToken);

        var noOut = await RunInProcessAsync("backup", "--data-dir", dataDir);
        var noStore = await RunInProcessAsync("backup", "--data-dir", GatewayHost.NewDataDir(), "--out", existing + ".new");
        var exists = await RunInProcessAsync("backup", "--data-dir", dataDir, "--out", existing);

        Assert.Equal((2, "backup: --out FILE is required (where the copy of the store goes)"), (noOut.Code, noOut.Err.Trim()));
        Assert.Equal(2, noStore.Code);
        Assert.StartsWith("backup: no store at ", noStore.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(existing + ".new"));
        Assert.Equal(2, exists.Code);
        Assert.Contains("exists; choose a new name", exists.Err, StringComparison.Ordinal);
        Assert.Equal("keep me", await File.ReadAllTextAsync(existing, TestContext.Current.CancellationToken));
    }

    [GeneratedRegex(@"feed through sequence (\d+),")]
    private static partial Regex LastSequenceLine();

    /// <summary>Runs <c>sharpeyes backup</c> as an operator would: the published executable in a process of its own.</summary>
    private static async Task<(int Code, string Output)> RunBackupAsync(string dataDir, string file)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "sharpeyes.dll"), "backup", "--data-dir", dataDir, "--out", file })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout + await stderr);
    }

    private static async Task<(int Code, string Out, string Err)> RunInProcessAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await GatewayCli.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Publishes QoS 1 alarms (32 in flight) until stopped, recording each one whose PUBACK arrived.</summary>
    private static async Task PublishUntilStoppedAsync(int port, string vendorKey, int connection, ConcurrentDictionary<string, bool> acked, CancellationToken stop)
    {
        using var client = await AlarmPublisher.ConnectAsync(port, "acme", vendorKey, $"backup-{connection}");
        var devices = Enumerable.Range(0, Devices).Select(TestDevices.AlarmId).ToList();
        await AlarmPublisher.PublishAsync(client, devices, Enumerable.Range(0, 1_000_000).Select(n => $"c{connection}-{n}"), acked, stop);
    }

    /// <summary>Every feed event through <paramref name="through"/>, in order, read with Feeds.Subscribe from the start.</summary>
    private static async Task<List<FeedEvent>> ReadFeedAsync(GatewayHost host, string centreKey, long through)
    {
        await using var reader = new FeedReader(host, centreKey);
        await Eventually.TrueAsync(() => reader.Events is { Count: > 0 } events && events[^1].Sequence >= through, $"the feed through sequence {through}", TimeSpan.FromSeconds(60));
        return [.. reader.Events.TakeWhile(e => e.Sequence <= through)];
    }
}
