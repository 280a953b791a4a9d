namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>What Linux says about a process: resident memory and open file descriptors.</summary>
public static class ProcStats
{
    /// <summary>Resident set size in MiB (VmRSS of /proc/PID/status).</summary>
    public static double RssMiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        throw new InvalidOperationException($"no VmRSS for process {pid}");
    }

    /// <summary>Open file descriptors (entries of /proc/PID/fd).</summary>
    public static int OpenFiles(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Length;
}
