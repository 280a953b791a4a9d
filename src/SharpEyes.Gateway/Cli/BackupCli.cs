using System.Globalization;
using Microsoft.Data.Sqlite;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Streams;

namespace SharpEyes.Gateway.Cli;

/// <summary>
/// <c>sharpeyes backup --data-dir DIR --out FILE</c>: a consistent copy of the store, taken while the gateway runs.
/// <para>
/// A SQLite file in WAL mode cannot be copied file by file while it is written: the copy would mix pages of different
/// commits and miss whatever is still only in <c>sharpeyes.db-wal</c>. SQLite's online backup API instead copies one
/// read snapshot of the database — every transaction committed before the copy began, none after — and in WAL mode a
/// reader never blocks the writer, so the gateway keeps acknowledging alarms meanwhile. The command works on the files
/// (not over gRPC), so it runs on the gateway's machine as the gateway's user.
/// </para>
/// <para>
/// The copy is one self-contained file (rollback-journal mode: no -wal or -shm beside it), mode 0600 (it holds RTSP
/// credentials and key hashes), written under a temporary name, checked with <c>PRAGMA integrity_check</c> and only
/// then given its name. Restoring it is putting it, as sharpeyes.db, in an empty data directory.
/// </para>
/// <para>
/// The RTSP credentials in the store are encrypted with the key ring <c>{data-dir}/secret-keys</c> (or
/// <c>--secret-keys DIR</c>, for a gateway with <c>SharpEyes:Secrets:KeyRingPath</c>): it is copied to
/// <c>FILE.secret-keys/</c> (0700, files 0600) after the store, so every key the copy's credentials need is in it (keys
/// are only ever added). Restoring puts it back as <c>secret-keys</c> beside sharpeyes.db; without it the restored
/// cameras have no usable credentials.
/// </para>
/// </summary>
internal static class BackupCli
{
    public static async Task<int> RunAsync(Dictionary<string, string> flags, TextWriter stdout, TextWriter stderr)
    {
        var dataDir = flags.GetValueOrDefault("data-dir") ?? Environment.GetEnvironmentVariable("SHARPEYES_DATA_DIR") ?? "./data";
        if (flags.GetValueOrDefault("out") is not { Length: > 0 } outArg || outArg == "true")
        {
            await stderr.WriteLineAsync("backup: --out FILE is required (where the copy of the store goes)").ConfigureAwait(false);
            return 2;
        }

        if ((flags.GetValueOrDefault("store") ?? Environment.GetEnvironmentVariable("SHARPEYES_STORE")) is { Length: > 0 } store && store != "sqlite")
        {
            await stderr.WriteLineAsync("backup: the store is a PostgreSQL database, not a file: back it up with PostgreSQL's own tools " +
                "(pg_dump, or a base backup with WAL archiving), and copy --secret-keys with it (docs/scale-out.md#backup)").ConfigureAwait(false);
            return 2;
        }

        var source = Path.GetFullPath(Path.Combine(dataDir, "sharpeyes.db"));
        var target = Path.GetFullPath(outArg);
        if (!File.Exists(source))
        {
            var why = Directory.Exists(dataDir) && !CanList(dataDir)
                ? $"this user may not read {Path.GetFullPath(dataDir)}; run it as the gateway's user"
                : "--data-dir must name the gateway's data directory";
            await stderr.WriteLineAsync($"backup: no store at {source}: {why}").ConfigureAwait(false);
            return 2;
        }

        if (File.Exists(target))
        {
            await stderr.WriteLineAsync($"backup: {target} exists; choose a new name (a backup never overwrites a file)").ConfigureAwait(false);
            return 2;
        }

        if (!Directory.Exists(Path.GetDirectoryName(target)))
        {
            await stderr.WriteLineAsync($"backup: the directory of {target} does not exist").ConfigureAwait(false);
            return 2;
        }

        var partial = target + ".partial";
        try
        {
            var summary = await SqliteBackup.CopyAsync(source, partial).ConfigureAwait(false);
            var keys = CopyKeyRing(Path.GetFullPath(flags.GetValueOrDefault("secret-keys") ?? Path.Combine(dataDir, RtspSecretProtector.KeysDirectory)), target + ".secret-keys");
            File.Move(partial, target);
            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"backed up {source} to {target} ({new FileInfo(target).Length:N0} bytes): feed through sequence {summary.LastSequence}, schema version {summary.SchemaVersion}, source id {summary.SourceId}; {keys}"))
                .ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            File.Delete(partial);
            var why = e is SqliteException sqlite ? $"{SqliteEngine.Describe(sqlite)} (SQLite error {sqlite.SqliteErrorCode})" : e.Message;
            var hint = e is UnauthorizedAccessException or SqliteException { SqliteErrorCode: 8 or 14 } ? "; run it as the gateway's user" : "";
            await stderr.WriteLineAsync($"backup: failed, nothing was written to {target}: {why}{hint}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>Copies the secret key ring's files into <paramref name="into"/> (created 0700, files 0600); says what it did.</summary>
    private static string CopyKeyRing(string from, string into)
    {
        if (!Directory.Exists(from))
        {
            return $"no secret key ring at {from} (no RTSP credentials were ever stored)";
        }

        if (Directory.Exists(into))
        {
            Directory.Delete(into, recursive: true); // a leftover of an interrupted run: the store's copy has no name yet
        }

        PrivateFiles.CreateDirectory(into);
        var files = Directory.GetFiles(from, "*.xml");
        foreach (var file in files)
        {
            using var source = File.OpenRead(file);
            using var copy = PrivateFiles.Create(Path.Combine(into, Path.GetFileName(file)), FileMode.CreateNew);
            source.CopyTo(copy);
        }

        return string.Create(CultureInfo.InvariantCulture, $"secret key ring ({files.Length} keys) copied to {into}: restore it as secret-keys beside sharpeyes.db");
    }

    private static bool CanList(string directory)
    {
        try
        {
            _ = Directory.EnumerateFileSystemEntries(directory).FirstOrDefault();
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
