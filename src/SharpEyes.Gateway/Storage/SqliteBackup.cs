using Microsoft.Data.Sqlite;
using SharpEyes.Gateway.Storage.Repositories;

namespace SharpEyes.Gateway.Storage;

/// <summary>
/// A consistent copy of the SQLite store while the gateway writes it (<c>sharpeyes backup</c>, Cli/BackupCli.cs): SQLite's
/// online backup API copies one read snapshot, which is made self-contained (rollback-journal mode) and checked.
/// </summary>
internal static class SqliteBackup
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int BusyAttempts = 50;
    private static readonly TimeSpan BusyPause = TimeSpan.FromMilliseconds(100);

    /// <summary>What the copy holds: its last feed sequence, schema version and source id.</summary>
    internal sealed record Summary(long LastSequence, int SchemaVersion, string SourceId);

    /// <summary>Copies the store to <paramref name="partial"/> (created 0600), makes it self-contained and checks it.</summary>
    public static async Task<Summary> CopyAsync(string source, string partial)
    {
        // A leftover of an interrupted run is ours: start again. SQLite takes an empty file as a new database, so
        // creating it first gives the copy its mode from the start.
        File.Delete(partial);
        PrivateFiles.Create(partial, FileMode.CreateNew).Dispose();
        using var from = Open(source, SqliteOpenMode.ReadWrite);
        using var to = Open(partial, SqliteOpenMode.ReadWrite);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // One step over every page, inside one read transaction of the source: a snapshot of one moment.
                from.BackupDatabase(to);
                break;
            }
            catch (SqliteException e) when (e.SqliteErrorCode is SqliteBusy or SqliteLocked && attempt < BusyAttempts)
            {
                await Task.Delay(BusyPause).ConfigureAwait(false);
            }
        }

        to.Execute("PRAGMA journal_mode=DELETE;");
        using var integrity = to.Sql("PRAGMA integrity_check");
        var check = integrity.ExecuteScalar() as string;
        if (check != "ok")
        {
            throw new InvalidDataException($"the copy failed SQLite's integrity check: {check}");
        }

        return new Summary(FeedRepository.LastSequence(to), SchemaMigrations.StoredVersion(to), MetaRepository.SourceId(to) ?? "none yet");
    }

    private static SqliteConnection Open(string path, SqliteOpenMode mode)
    {
        // No pooling: closing the connection closes the file, so nothing of the copy stays open or half-written.
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }
}
