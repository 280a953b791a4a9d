using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Feeds;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;

namespace SharpEyes.Gateway.Outbox;

/// <summary>
/// Retention, every <see cref="OutboxOptions.PruneInterval"/> on the gateway clock:
/// <list type="bullet">
/// <item>feed events older than <see cref="OutboxOptions.FeedRetention"/> <em>and</em> acknowledged by every push
/// endpoint's stored cursor (an unacknowledged event is never deleted, however old);</item>
/// <item>alarms and dead letters older than <see cref="AlarmOptions.Retention"/>; the intake counters keep counting them;</item>
/// <item>audit entries older than <see cref="AuditOptions.Retention"/> (counted in <c>sharpeyes_audit_pruned_total</c>).</item>
/// </list>
/// At most 10,000 rows per table per run, so one pass never holds the writer long.
/// </summary>
public sealed partial class RetentionPruner(
    IOptions<GatewayOptions> options,
    Journal journal,
    FeedLog log,
    OutboxCursors cursors,
    Audit.AuditLog audit,
    TimeProvider time,
    ILogger<RetentionPruner> logger) : IHostedService
{
    private const int MaxRowsPerRun = 10_000;
    private ITimer? _timer;
    private int _running;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var interval = options.Value.Outbox.PruneInterval;
        _timer = time.CreateTimer(_ => _ = RunSafelyAsync(), null, interval, interval);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One pass at a time: a tick while the last pass is still queued or running is skipped (a slow store, or a clock
    /// that jumped, would otherwise queue one pass per interval missed: a year's jump is 52,560 passes).
    /// </summary>
    private async Task RunSafelyAsync()
    {
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            return;
        }

        try
        {
            await PruneAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogFailed(logger, ex);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    /// <summary>One retention pass; returns (feed events, alarms, dead letters) deleted.</summary>
    public Task<(long FeedEvents, long Alarms, long DeadLetters)> PruneAsync()
    {
        var o = options.Value;
        var now = time.GetUtcNow();
        var feedCutoff = (now - o.Outbox.FeedRetention).ToUnixTimeMilliseconds();
        var alarmCutoff = (now - o.Alarms.Retention).ToUnixTimeMilliseconds();
        var acked = cursors.Lowest(o.Outbox.Endpoints.Select(e => e.Name)) ?? long.MaxValue;
        return journal.ExecuteAsync(tx =>
        {
            // The newest sequence that is both old enough and acknowledged everywhere (and not the last event: the
            // feed's last sequence must stay readable so sequences are never reused after a restart).
            var through = FeedRepository.PrunableThrough(tx, acked, feedCutoff, MaxRowsPerRun);
            long feed = 0;
            if (through > 0)
            {
                feed = FeedRepository.DeleteThrough(tx, through);
                CounterRepository.RaiseTo(tx, FeedLog.PrunedThroughCounter, through);
                tx.AfterCommit(() => log.Pruned(through));
            }

            var alarms = AlarmRepository.DeleteOlderThan(tx, alarmCutoff, MaxRowsPerRun);
            if (alarms > 0)
            {
                CounterRepository.Add(tx, AlarmStats.AlarmsPrunedCounter, alarms);
            }

            var letters = 0;
            foreach (var (reason, count) in DeadLetterRepository.CountOlderThanByReason(tx, alarmCutoff, MaxRowsPerRun))
            {
                letters += DeadLetterRepository.DeleteOlderThan(tx, reason, alarmCutoff, count);
                CounterRepository.Add(tx, AlarmStats.DeadLettersPrunedPrefix + reason, count);
            }

            var audited = audit.Prune(tx, now - o.Audit.Retention, MaxRowsPerRun);
            if (feed + alarms + letters + audited > 0)
            {
                tx.AfterCommit(() => LogPruned(logger, feed, through, alarms, letters, audited));
            }

            return (feed, (long)alarms, (long)letters);
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention deleted {Feed} feed events (through sequence {Through}), {Alarms} alarms, {Letters} dead letters and {Audit} audit entries")]
    private static partial void LogPruned(ILogger logger, long feed, long through, int alarms, int letters, long audit);

    [LoggerMessage(Level = LogLevel.Error, Message = "A retention pass failed; the next one tries again")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
