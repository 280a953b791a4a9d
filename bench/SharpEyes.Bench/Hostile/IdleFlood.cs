using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;

namespace SharpEyes.Bench.Hostile;

/// <summary>
/// Issue 11's idle flood: TCP connections to the MQTT port that never send CONNECT, from 127.0.0.2 on, held, then
/// closed. A process may hold only as many sockets as its open-files limit (here the hard limit is 20,000 and cannot
/// be raised without CAP_SYS_RESOURCE), so the flood is opened by worker processes of this bench
/// (<c>sharpeyes-bench flood-worker</c>), each taking whole source addresses and staying
/// <see cref="FilesKeptFree"/> below its limit; they run at once, each holds its sockets for the hold time after it
/// has opened them, and each reports, for every socket, how long it lived until the gateway closed it (or that it was
/// still open when the hold ended).
/// </summary>
internal static class IdleFlood
{
    private const int FirstAddress = 2;
    private const int ConnectsPerAddressAtOnce = 8;
    private const int FilesKeptFree = 1_000;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan OpenLimit = TimeSpan.FromSeconds(90);

    public static readonly HostileAttack Attack = new("idle-flood", s => string.Create(CultureInfo.InvariantCulture,
        $"TCP connections to the MQTT port that never send CONNECT: {s.FloodPerAddress:N0} from each of 127.0.0.{FirstAddress}..127.0.0.{FirstAddress + s.FloodAddresses - 1} "
        + $"(each socket bound to its source address; {ConnectsPerAddressAtOnce} connects at once per address, {ConnectTimeout.TotalSeconds:0} s each, opening stops after "
        + $"{OpenLimit.TotalSeconds:0} s; opened by {Workers(s).Count} worker process(es) of the bench, as one process may not hold more than its open-files limit), "
        + $"held {s.FloodHold.TotalSeconds:0} s, then closed"),
        "About 21,000 TCP connections to the MQTT port that never send CONNECT: open files reached the process limit (19,999 of 20,000), /healthz and gRPC "
        + "stopped answering, RSS went 291 → 645 MB in 30 s, then `Out of memory.` and exit code 134",
        RunAsync);

    /// <summary>What one worker did: sockets opened, connects that failed by kind, and each opened socket's life until the gateway closed it (null: still open).</summary>
    internal sealed record Share(int Opened, double OpeningSeconds, Dictionary<string, int> Failed, List<double?> ClosedAfterSeconds);

    /// <summary>Source addresses per worker: as many whole addresses as fit under this process's open-files limit (workers inherit it).</summary>
    private static List<(int First, int Count)> Workers(HostileSettings s)
    {
        var perWorker = Math.Max(1, (int)((OpenFilesLimit() - FilesKeptFree) / Math.Max(1, s.FloodPerAddress)));
        var workers = (s.FloodAddresses + perWorker - 1) / perWorker;
        var list = new List<(int, int)>();
        for (int w = 0, first = FirstAddress; w < workers; w++)
        {
            var count = (s.FloodAddresses - (first - FirstAddress) + (workers - w) - 1) / (workers - w); // spread evenly
            list.Add((first, count));
            first += count;
        }

        return list;
    }

    private static async Task<AttackOutcome> RunAsync(HostileTarget t, HostileSettings s, CancellationToken ct)
    {
        var workers = Workers(s);
        var clock = Stopwatch.StartNew();
        var shares = await Task.WhenAll(workers.Select(w => RunWorkerProcessAsync(t.Gateway.MqttPort, w.First, w.Count, s, ct)));
        var total = s.FloodAddresses * s.FloodPerAddress;
        var opened = shares.Sum(x => x.Opened);
        var failed = new Tally();
        foreach (var (kind, n) in shares.SelectMany(x => x.Failed))
        {
            for (var i = 0; i < n; i++)
            {
                failed.Add(kind);
            }
        }

        var lives = shares.SelectMany(x => x.ClosedAfterSeconds).ToList();
        var closed = lives.Where(l => l is not null).Select(l => l!.Value).Order().ToList();
        var atOnce = closed.Count(l => l < 1);
        var stillOpen = lives.Count(l => l is null);
        var notOpened = failed.Total > 0 ? $"; not opened: {failed}" : "";
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"{opened:N0}/{total:N0} opened in {shares.Max(x => x.OpeningSeconds):F1} s; closed by the gateway within 1 s: {atOnce:N0}, later in the hold: {closed.Count - atOnce:N0}, "
            + $"open at the end: {stillOpen:N0}{notOpened}");
        var lifetimes = closed.Count == 0
            ? "the gateway closed none of them"
            : string.Create(CultureInfo.InvariantCulture, $"life of a connection until the gateway closed it: min {closed[0]:F1} s, median {closed[closed.Count / 2]:F1} s, max {closed[^1]:F1} s");
        return new AttackOutcome(summary,
        [
            string.Create(CultureInfo.InvariantCulture, $"{workers.Count} worker process(es) ({string.Join(", ", workers.Select(w => $"127.0.0.{w.First}..{w.First + w.Count - 1}"))}); "
                + $"opening took {string.Join(" / ", shares.Select(x => $"{x.OpeningSeconds:F1} s"))}; attack {clock.Elapsed.TotalSeconds:F0} s in all"),
            lifetimes,
        ]);
    }

    private static async Task<Share> RunWorkerProcessAsync(int port, int first, int count, HostileSettings s, CancellationToken ct)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            Assembly.GetEntryAssembly()!.Location, "flood-worker", "--port", Text(port), "--first-address", Text(first), "--addresses", Text(count),
            "--flood-per-address", Text(s.FloodPerAddress), "--flood-hold-s", Text((int)s.FloodHold.TotalSeconds),
        })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("the flood worker did not start");
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct).WaitAsync(OpenLimit + s.FloodHold + TimeSpan.FromSeconds(60), ct);
            return process.ExitCode == 0
                ? JsonSerializer.Deserialize<Share>(await output, Options.Json) ?? throw new InvalidOperationException("the flood worker wrote no result")
                : throw new InvalidOperationException($"the flood worker for 127.0.0.{first}.. exited with {process.ExitCode}");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    /// <summary><c>sharpeyes-bench flood-worker --port P --first-address N --addresses K --flood-per-address M --flood-hold-s H</c>: one worker's share, as JSON on stdout.</summary>
    public static async Task<int> RunWorkerAsync(Options o, CancellationToken ct)
    {
        var share = await OpenHoldAndCloseAsync(o.Int("port", 0), o.Int("first-address", FirstAddress), o.Int("addresses", 1), o.Int("flood-per-address", 1_000),
            TimeSpan.FromSeconds(o.Int("flood-hold-s", 30)), ct);
        Console.Out.Write(JsonSerializer.Serialize(share, Options.Json));
        return 0;
    }

    private static async Task<Share> OpenHoldAndCloseAsync(int port, int firstAddress, int addresses, int perAddress, TimeSpan hold, CancellationToken ct)
    {
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var held = new ConcurrentQueue<(Socket Socket, Task<double?> ClosedAfter)>();
        var failed = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        void Fail(string kind) => failed.AddOrUpdate(kind, 1, (_, n) => n + 1);
        using var stopWatching = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, addresses).Select(a => Parallel.ForEachAsync(Enumerable.Range(0, perAddress),
            new ParallelOptions { MaxDegreeOfParallelism = ConnectsPerAddressAtOnce, CancellationToken = ct }, async (_, c) =>
            {
                if (clock.Elapsed > OpenLimit)
                {
                    Fail("not tried (opening time over)");
                    return;
                }

                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(HostileTarget.Loopback(firstAddress + a), 0));
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(c);
                    timeout.CancelAfter(ConnectTimeout);
                    await socket.ConnectAsync(endPoint, timeout.Token);
                    held.Enqueue((socket, ClosedByPeerAsync(socket, stopWatching.Token)));
                }
                catch (SocketException e)
                {
                    socket.Dispose();
                    Fail(e.SocketErrorCode.ToString());
                }
                catch (OperationCanceledException) when (!c.IsCancellationRequested)
                {
                    socket.Dispose();
                    Fail("connect timeout");
                }
            })));
        var opening = clock.Elapsed;
        await Task.Delay(hold, ct);
        await stopWatching.CancelAsync();
        var sockets = held.ToArray();
        var lives = await Task.WhenAll(sockets.Select(h => h.ClosedAfter));
        foreach (var (socket, _) in sockets)
        {
            socket.Dispose();
        }

        return new Share(sockets.Length, Math.Round(opening.TotalSeconds, 2), new Dictionary<string, int>(failed, StringComparer.Ordinal), [.. lives]);
    }

    /// <summary>Seconds from now until the peer closed (end of stream or reset), or null if it had not when <paramref name="stop"/> fired.</summary>
    private static async Task<double?> ClosedByPeerAsync(Socket socket, CancellationToken stop)
    {
        var opened = Stopwatch.GetTimestamp();
        var buffer = new byte[256];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, stop) > 0)
            {
                // A refusing server may write something first; wait for the close.
            }
        }
        catch (SocketException)
        {
            // Reset: closed too.
        }
        catch (OperationCanceledException)
        {
            return null;
        }

        return Math.Round(Stopwatch.GetElapsedTime(opened).TotalSeconds, 3);
    }

    /// <summary>This process's soft open-files limit (/proc/self/limits); 1,024 if unreadable.</summary>
    public static long OpenFilesLimit()
    {
        var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        return long.TryParse(line?.Split(' ', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(3), CultureInfo.InvariantCulture, out var n) ? n : 1_024;
    }

    private static string Text(int n) => n.ToString(CultureInfo.InvariantCulture);
}
