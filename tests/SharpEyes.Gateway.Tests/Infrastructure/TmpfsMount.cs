using System.Diagnostics;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// A small tmpfs mounted for one test, to make a data directory that really fills up (ENOSPC) or is read-only.
/// Mounting needs root (CI runs as root); elsewhere the test is skipped, and under CI=true it fails instead.
/// </summary>
public sealed class TmpfsMount : IDisposable
{
    private TmpfsMount(string path) => Path = path;

    public string Path { get; }

    public static TmpfsMount Create(int megabytes)
    {
        var path = GatewayHost.NewDataDir();
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m,mode=0755", "tmpfs", path);
        if (code != 0)
        {
            InteropPaths.SkipUnlessCi($"mounting a tmpfs failed (needs root): {output.Trim()}");
        }

        return new TmpfsMount(path);
    }

    /// <summary>Remounts read-only; works only while no file on it is open for writing.</summary>
    public void MakeReadOnly()
    {
        var (code, output) = Run("mount", "-o", "remount,ro", Path);
        Assert.True(code == 0, "remount read-only: " + output);
    }

    /// <summary>Writes zeros until the file system is full; returns the filler file.</summary>
    public string Fill()
    {
        var filler = System.IO.Path.Combine(Path, "filler");
        var chunk = new byte[256 * 1024];
        using var stream = new FileStream(filler, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
        try
        {
            for (var i = 0; i < 100_000; i++)
            {
                stream.Write(chunk);
            }
        }
        catch (IOException)
        {
            // ENOSPC: full.
        }

        return filler;
    }

    public void Dispose() => Run("umount", "-l", Path);

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        try
        {
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit(30_000);
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
