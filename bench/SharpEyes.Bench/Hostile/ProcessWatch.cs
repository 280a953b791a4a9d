using System.Diagnostics;
using SharpEyes.Bench.Gateway;
using SharpEyes.Bench.Reporting;

namespace SharpEyes.Bench.Hostile;

/// <summary>Samples the gateway's resident set (VmRSS) and open files (/proc/PID/fd) every 250 ms until disposed or the process ends; keeps the peaks.</summary>
internal sealed class ProcessWatch : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _peakRssKb;
    private int _peakFiles;
    private int _samples;

    public ProcessWatch(GatewayProcess gateway)
    {
        _loop = Task.Run(async () =>
        {
            var clock = Stopwatch.StartNew();
            using var timer = new PeriodicTimer(Interval);
            try
            {
                do
                {
                    if (gateway.HasExited)
                    {
                        ExitedAfter = clock.Elapsed;
                        return;
                    }

                    var rss = CpuSnapshot.Memory(gateway.Pid).CurrentKb;
                    var files = CpuSnapshot.OpenFiles(gateway.Pid);
                    // One writer (this loop): plain maxima, published with Volatile.
                    Volatile.Write(ref _peakRssKb, Math.Max(_peakRssKb, rss));
                    Volatile.Write(ref _peakFiles, Math.Max(_peakFiles, files));
                    Volatile.Write(ref _samples, _samples + 1);
                }
                while (await timer.WaitForNextTickAsync(_stop.Token));
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
        });
    }

    public long PeakRssKb => Volatile.Read(ref _peakRssKb);

    public int PeakOpenFiles => Volatile.Read(ref _peakFiles);

    public int Samples => Volatile.Read(ref _samples);

    /// <summary>When the watch first saw the process gone (within 250 ms of its exit), from the watch's start; null while it runs.</summary>
    public TimeSpan? ExitedAfter { get; private set; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
