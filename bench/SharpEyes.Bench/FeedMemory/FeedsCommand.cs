using System.Diagnostics;
using System.Globalization;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.Bench.Gateway;
using SharpEyes.Bench.Reporting;
using SharpEyes.V1;

namespace SharpEyes.Bench.FeedMemory;

/// <summary>
/// <c>sharpeyes-bench feeds --gateway-dll sharpeyes.dll --work DIR --admin-key K [--pid-file F] [--out latest.md]</c>:
/// what centres that open Feeds.Subscribe and never read cost the gateway. Two phases, each with its own gateway
/// process (Release, --demo without demo cameras): none of them, then --feed-subscribers of them (default 500, on
/// channels of 50 streams). In each, one reader follows the feed; after the stuck streams are open, --feed-events
/// devices (default 20,000, one DEVICE_REGISTERED event each) are registered and the reader waits for all of them.
/// Before and after the events: the gateway's RSS (/proc) and its live managed heap (<c>dotnet-gcdump report</c>,
/// which forces a full GC; "n/a" without dotnet-gcdump on PATH). The difference between the phases is what the stuck
/// streams hold (the in-memory ring of recent events costs both phases the same). Also reported: how many stuck
/// streams the gateway ended (refusals of kind feed-subscriber-behind, 0 on gateways without the limit).
/// </summary>
internal static class FeedsCommand
{
    private const string Tag = "feeds";
    private const int StreamsPerChannel = 50;

    public static async Task<int> RunAsync(Options options, CancellationToken ct)
    {
        var log = Console.Error;
        var launch = GatewayProcess.Launch.FromOptions(options, Tag);
        var stuck = options.Int("feed-subscribers", 500);
        var events = options.Int("feed-events", 20_000);
        var settle = TimeSpan.FromSeconds(options.Int("feed-settle-s", 5));
        if (!File.Exists(launch.GatewayDll) || launch.AdminKey.Length == 0)
        {
            log.WriteLine("[feeds] --gateway-dll (an existing sharpeyes.dll) and --admin-key are required");
            return 2;
        }

        Directory.CreateDirectory(launch.Work);
        var phases = new List<Phase>();
        foreach (var n in new[] { 0, stuck })
        {
            log.WriteLine($"[feeds] phase: {n} streams that never read, {events:N0} events");
            var phase = await RunPhaseAsync(launch, n, events, settle, options.All("gateway-arg"), ct);
            log.WriteLine($"[feeds]   {phase}");
            phases.Add(phase);
        }

        var section = Render(launch, phases, events, settle);
        Console.WriteLine(section);
        if (options.Get("out", "") is { Length: > 0 } outPath)
        {
            ReportSections.Merge(outPath, Tag, section);
        }

        return 0;
    }

    private static async Task<Phase> RunPhaseAsync(GatewayProcess.Launch launch, int stuck, int events, TimeSpan settle, IEnumerable<string> gatewayArgs,
        CancellationToken ct)
    {
        string[] args = ["--demo", "--demo-cameras", "false", "--stream-checks", "false", $"--SharpEyes:Limits:FeedSubscribers={stuck + 16}", .. gatewayArgs];
        await using var gateway = await GatewayProcess.StartAsync(launch, $"{Tag}-{stuck}", args, ct);
        var admin = new Admin.AdminClient(gateway.Channel);
        var adminAuth = Auth(launch.AdminKey);
        var centre = Auth((await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Centre }, adminAuth, cancellationToken: ct)).ApiKey);
        var vendor = Auth((await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Vendor, VendorId = "bench" }, adminAuth, cancellationToken: ct)).ApiKey);

        await using var reader = new Reader(gateway.Channel, centre);
        var head = await reader.WaitQuietAsync(TimeSpan.FromSeconds(1), ct);

        var channels = Enumerable.Range(0, (stuck + StreamsPerChannel - 1) / StreamsPerChannel)
            .Select(_ => GrpcChannel.ForAddress($"http://127.0.0.1:{gateway.GrpcPort}")).ToList();
        var calls = new List<AsyncServerStreamingCall<FeedEvent>>(stuck);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            for (var i = 0; i < stuck; i++)
            {
                var client = new V1.Feeds.FeedsClient(channels[i / StreamsPerChannel]);
                calls.Add(client.Subscribe(new SubscribeRequest { AfterSequence = head }, centre, cancellationToken: stop.Token));
            }

            await Task.Delay(settle, ct); // no signal says the server runs every handler; give them time
            var before = await Measure(gateway.Pid, ct);

            var clock = Stopwatch.StartNew();
            var registry = new DeviceRegistry.DeviceRegistryClient(gateway.Channel);
            using (var call = registry.RegisterDevices(vendor, cancellationToken: ct))
            {
                foreach (var device in DeviceFixtures.Build(events, alarmEvery: 1))
                {
                    await call.RequestStream.WriteAsync(device, ct);
                }

                await call.RequestStream.CompleteAsync();
                await call.ResponseAsync;
            }

            var registered = clock.Elapsed;
            await reader.WaitForAsync(head + events, TimeSpan.FromSeconds(120), ct);
            var delivered = clock.Elapsed;
            await Task.Delay(settle, ct);
            var after = await Measure(gateway.Pid, ct);
            var ended = (await MetricsScrape.ReadAsync(gateway.HttpPort, ct)).GetValueOrDefault("sharpeyes_refusals_total{kind=\"feed-subscriber-behind\"}");
            return new Phase(stuck, before, after, registered, delivered, reader.Gaps, ended);
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var call in calls)
            {
                call.Dispose();
            }

            foreach (var channel in channels)
            {
                channel.Dispose();
            }
        }
    }

    private static Metadata Auth(string key) => new() { { "authorization", "Bearer " + key } };

    private static async Task<Memory> Measure(int pid, CancellationToken ct)
    {
        long? heap = null;
        try
        {
            using var gcdump = Process.Start(new ProcessStartInfo("dotnet-gcdump", ["report", "-p", pid.ToString(CultureInfo.InvariantCulture)])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            var output = await gcdump.StandardOutput.ReadToEndAsync(ct);
            await gcdump.WaitForExitAsync(ct);
            // heapstat: "      12,345,678  GC Heap bytes"
            var line = output.Split('\n').FirstOrDefault(l => l.Contains("GC Heap bytes", StringComparison.Ordinal));
            if (line is not null && long.TryParse(line.Trim().Split(' ')[0], NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var bytes))
            {
                heap = bytes;
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // dotnet-gcdump is not installed: RSS only.
        }

        var rss = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return new Memory(long.Parse(rss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024, heap);
    }

    private static string Render(GatewayProcess.Launch launch, List<Phase> phases, int events, TimeSpan settle)
    {
        static string Mb(long? bytes) => bytes is { } b ? (b / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) : "n/a";
        var b = new StringBuilder();
        b.AppendLine(ReportSections.Begin(Tag));
        b.AppendLine("## Feed subscribers that never read");
        b.AppendLine();
        b.AppendLine(CultureInfo.InvariantCulture, $"{events:N0} events committed (device registrations) while N Feeds.Subscribe streams stay open without reading; "
            + $"memory {settle.TotalSeconds:F0} s after the streams opened and {settle.TotalSeconds:F0} s after one reader received the last event. "
            + $"Gateway: {launch.GatewayDll}.");
        b.AppendLine();
        b.AppendLine("| stuck streams | RSS before → after (MB) | managed heap before → after (MB) | streams ended by the gateway | register / delivered to the reader (s) | reader gaps |");
        b.AppendLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var p in phases)
        {
            b.AppendLine(CultureInfo.InvariantCulture,
                $"| {p.Stuck} | {Mb(p.Before.Rss)} → {Mb(p.After.Rss)} | {Mb(p.Before.Heap)} → {Mb(p.After.Heap)} | {p.Ended:F0} | {p.Registered.TotalSeconds:F1} / {p.Delivered.TotalSeconds:F1} | {p.Gaps} |");
        }

        if (phases is [var none, var some] && some.Stuck > 0)
        {
            var rss = (some.After.Rss - some.Before.Rss - (none.After.Rss - none.Before.Rss)) / (double)some.Stuck;
            var heap = some.After.Heap - some.Before.Heap - (none.After.Heap - none.Before.Heap);
            b.AppendLine();
            b.AppendLine(CultureInfo.InvariantCulture,
                $"Per stuck stream, beyond what the events cost without them: RSS {rss / 1024:F0} KB, managed heap {(heap is { } h ? $"{h / (double)some.Stuck / 1024:F0} KB" : "n/a")}.");
        }

        b.AppendLine(ReportSections.End(Tag));
        return b.ToString();
    }

    private sealed record Memory(long Rss, long? Heap);

    private sealed record Phase(int Stuck, Memory Before, Memory After, TimeSpan Registered, TimeSpan Delivered, long Gaps, double Ended)
    {
        public override string ToString() =>
            $"RSS {Before.Rss / 1048576.0:F1} → {After.Rss / 1048576.0:F1} MB, heap {Before.Heap / 1048576.0:F1} → {After.Heap / 1048576.0:F1} MB, ended {Ended}, gaps {Gaps}";
    }

    /// <summary>One centre reading everything from the start, counting sequence gaps.</summary>
    private sealed class Reader : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private long _last;
        private long _gaps;
        private long _lastArrival = Stopwatch.GetTimestamp();

        public Reader(GrpcChannel channel, Metadata auth)
        {
            var call = new V1.Feeds.FeedsClient(channel).Subscribe(new SubscribeRequest(), auth, cancellationToken: _stop.Token);
            _loop = Task.Run(async () =>
            {
                using (call)
                {
                    await foreach (var e in call.ResponseStream.ReadAllAsync(_stop.Token))
                    {
                        if (_last != 0 && e.Sequence != _last + 1)
                        {
                            Interlocked.Increment(ref _gaps);
                        }

                        Volatile.Write(ref _last, e.Sequence);
                        Volatile.Write(ref _lastArrival, Stopwatch.GetTimestamp());
                    }
                }
            });
        }

        public long Gaps => Interlocked.Read(ref _gaps);

        /// <summary>Waits until no event has arrived for <paramref name="quiet"/>; the last sequence.</summary>
        public async Task<long> WaitQuietAsync(TimeSpan quiet, CancellationToken ct)
        {
            while (Stopwatch.GetElapsedTime(Volatile.Read(ref _lastArrival)) < quiet)
            {
                ThrowIfEnded();
                await Task.Delay(100, ct);
            }

            return Volatile.Read(ref _last);
        }

        public async Task WaitForAsync(long sequence, TimeSpan limit, CancellationToken ct)
        {
            var clock = Stopwatch.StartNew();
            while (Volatile.Read(ref _last) < sequence)
            {
                ThrowIfEnded();
                if (clock.Elapsed > limit)
                {
                    throw new TimeoutException($"the reader reached {_last}, not {sequence}, within {limit.TotalSeconds:F0} s");
                }

                await Task.Delay(50, ct);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _loop;
            }
            catch (Exception e) when (e is OperationCanceledException or RpcException)
            {
            }

            _stop.Dispose();
        }

        private void ThrowIfEnded()
        {
            if (_loop.IsCompleted)
            {
                _loop.GetAwaiter().GetResult();
                throw new InvalidOperationException("the reader's stream ended");
            }
        }
    }
}
