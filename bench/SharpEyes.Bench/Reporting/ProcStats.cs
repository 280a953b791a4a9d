using System.Diagnostics;
using System.Globalization;

namespace SharpEyes.Bench.Reporting;

/// <summary>A point-in-time reading of a process's CPU counters from /proc (Linux), per thread.</summary>
public sealed class CpuSnapshot
{
    /// <summary>USER_HZ: the unit of utime/stime in /proc. 100 on every mainstream Linux build.</summary>
    private const double ClockTicksPerSecond = 100;

    private CpuSnapshot(long wallTicks, long processJiffies, Dictionary<int, (string Name, long Jiffies)> threads)
    {
        WallTicks = wallTicks;
        ProcessJiffies = processJiffies;
        Threads = threads;
    }

    public long WallTicks { get; }

    public long ProcessJiffies { get; }

    public Dictionary<int, (string Name, long Jiffies)> Threads { get; }

    /// <summary>Null when the process is gone or /proc is unavailable.</summary>
    public static CpuSnapshot? Take(int pid)
    {
        try
        {
            var wall = Stopwatch.GetTimestamp();
            var (_, processJiffies) = ReadStat($"/proc/{pid}/stat");
            var threads = new Dictionary<int, (string, long)>();
            foreach (var dir in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var tid))
                {
                    try
                    {
                        threads[tid] = ReadStat(Path.Combine(dir, "stat"));
                    }
                    catch (IOException)
                    {
                        // The thread ended between listing and reading.
                    }
                }
            }

            return new CpuSnapshot(wall, processJiffies, threads);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>CPU used between two snapshots of the same process; 100 % is one core busy for the whole interval.</summary>
    public static CpuUsage? Diff(CpuSnapshot? before, CpuSnapshot? after, int top = 3)
    {
        if (before is null || after is null)
        {
            return null;
        }

        var seconds = (after.WallTicks - before.WallTicks) / (double)Stopwatch.Frequency;
        if (seconds <= 0)
        {
            return null;
        }

        double Percent(long jiffies) => jiffies / ClockTicksPerSecond / seconds * 100;
        var threads = after.Threads
            .Select(t => (Tid: t.Key, t.Value.Name, Used: t.Value.Jiffies - (before.Threads.TryGetValue(t.Key, out var b) ? b.Jiffies : 0)))
            .Where(t => t.Used > 0)
            .OrderByDescending(t => t.Used)
            .Take(top)
            .Select(t => new ThreadUsage(t.Tid, t.Name, Math.Round(Percent(t.Used), 1)))
            .ToList();
        return new CpuUsage(Math.Round(Percent(after.ProcessJiffies - before.ProcessJiffies), 1), threads);
    }

    /// <summary>Whole-machine busy jiffies (all CPUs, everything but idle and iowait) from /proc/stat; null if unreadable.</summary>
    public static (long WallTicks, long BusyJiffies)? SystemBusy()
    {
        try
        {
            var first = File.ReadLines("/proc/stat").First();
            var fields = first.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
            var total = fields.Take(Math.Min(8, fields.Length)).Sum();
            return (Stopwatch.GetTimestamp(), total - idle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Machine-wide CPU between two <see cref="SystemBusy"/> readings; 100 % = one core.</summary>
    public static double? SystemPercent((long WallTicks, long BusyJiffies)? before, (long WallTicks, long BusyJiffies)? after)
    {
        if (before is not { } b || after is not { } a || a.WallTicks <= b.WallTicks)
        {
            return null;
        }

        return Math.Round((a.BusyJiffies - b.BusyJiffies) / ClockTicksPerSecond / ((a.WallTicks - b.WallTicks) / (double)Stopwatch.Frequency) * 100, 1);
    }

    /// <summary>Peak and current resident set (VmHWM, VmRSS) in KiB; zeros when unreadable.</summary>
    public static (long PeakKb, long CurrentKb) Memory(int pid)
    {
        long peak = 0, current = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    peak = ParseKb(line);
                }
                else if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    current = ParseKb(line);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone: report zeros.
        }

        return (peak, current);
    }

    /// <summary>Open file descriptors (entries of /proc/PID/fd); 0 when unreadable (the process is gone).</summary>
    public static int OpenFiles(int pid)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static long ParseKb(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    /// <summary>comm and utime+stime from a /proc stat line ("pid (comm) state ppid ... utime stime ...").</summary>
    private static (string Name, long Jiffies) ReadStat(string path)
    {
        var text = File.ReadAllText(path);
        var open = text.IndexOf('(', StringComparison.Ordinal);
        var close = text.LastIndexOf(')');
        var name = text[(open + 1)..close];
        var fields = text[(close + 2)..].Split(' ');
        // fields[0] is field 3 (state); utime is field 14, stime field 15.
        var utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
        var stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
        return (name, utime + stime);
    }
}
