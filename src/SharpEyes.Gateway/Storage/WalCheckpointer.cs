namespace SharpEyes.Gateway.Storage;

/// <summary>
/// Runs SQLite's WAL checkpoints (with their fsync of the database file) on a connection of their own every quarter
/// second, instead of inside whichever commit crosses the auto-checkpoint threshold on the writer. PASSIVE checkpoints
/// never block the writer; once every frame is copied, the next write starts the WAL from its beginning again.
/// </summary>
public sealed partial class WalCheckpointer(GatewayStore store, ILogger<WalCheckpointer> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Real time on purpose: this is I/O housekeeping, not domain time.
        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                store.CheckpointPassive();
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex)
            {
                LogCheckpointFailed(logger, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "WAL checkpoint failed; it is retried on the next tick")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception);
}
