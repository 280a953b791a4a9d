namespace SharpEyes.Gateway.Storage;

/// <summary>
/// Files only the gateway's user may read: the data directory and every directory under it are 0700, every file the
/// gateway writes there 0600 (the store holds RTSP credentials, snapshots show what cameras see, temporary stream
/// inputs hold credentials). Modes are set when a file or directory is created, never afterwards, so there is no
/// moment when another user could open it. On Windows these calls do nothing: the directory's ACL applies.
/// </summary>
public static class PrivateFiles
{
    public const UnixFileMode FilePermissions = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode DirectoryPermissions = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates a directory (and its missing parents) with mode 0700. An existing directory is left as it is (see <see cref="Tighten"/>).</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, DirectoryPermissions);
        }
    }

    /// <summary>Opens a new file of mode 0600 for writing, replacing one of the same name.</summary>
    public static FileStream Create(string path, FileMode mode = FileMode.Create)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FilePermissions;
        }

        return new FileStream(path, options);
    }

    /// <summary>Writes a file of mode 0600 under a temporary name and moves it into place, so readers never see half of it.</summary>
    public static async Task WriteAtomicallyAsync(string path, ReadOnlyMemory<byte> bytes, CancellationToken ct = default)
    {
        var temp = path + ".tmp";
        var stream = Create(temp);
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(bytes, ct).ConfigureAwait(false);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// Removes group and other permissions from an existing file or directory (0644 → 0600, 0755 → 0700). Answers the
    /// mode it had and the mode it has now when it was looser, else null (also when it does not exist, or on Windows).
    /// </summary>
    public static (UnixFileMode Was, UnixFileMode Now)? Tighten(string path)
    {
        if (OperatingSystem.IsWindows() || !Path.Exists(path))
        {
            return null;
        }

        var mode = File.GetUnixFileMode(path);
        const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        if ((mode & others) == 0)
        {
            return null;
        }

        File.SetUnixFileMode(path, mode & ~others);
        return (mode, mode & ~others);
    }

    /// <summary>A mode as ls and chmod write it: 0644.</summary>
    public static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8);
}
