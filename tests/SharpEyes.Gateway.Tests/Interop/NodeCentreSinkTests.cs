using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Outbox;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Interop;

/// <summary>
/// The gateway's outbox against a centre written independently in Node (tests/node/interop/centre-sink.mjs: grpc-js +
/// proto-loader loading protos/ directly, an in-memory store keeping centre.proto's contract). What the Node centre
/// decoded is compared with what the gateway's own feed says; the bearer key is checked by Node.
/// </summary>
public sealed class NodeCentreSinkTests : IAsyncDisposable
{
    private const string SourceId = "node-oracle";
    private const string VendorId = "vendor-node-centre";
    private const string Centre = "sharpeyes_outbox_delivery_failures_total{endpoint=\"centre\"}";
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(45);

    private readonly List<NodeSink> _sinks = [];
    private GatewayHost? _host;

    [Fact]
    public async Task A_node_centre_receives_every_event_once_in_order_with_the_bearer_key_and_decodes_what_the_feed_says()
    {
        var key = "centre-" + Guid.NewGuid().ToString("N");
        var sink = await StartSinkAsync(key);
        var host = _host = await GatewayHost.StartAsync(extraArgs: ["--centre-url", sink.Url, "--centre-key", key, $"--SharpEyes:Outbox:SourceId={SourceId}"]);
        var eventIds = Enumerable.Range(0, 50).Select(n => $"node-centre-{n:D3}").ToList();
        await PublishAlarmsAsync(host, eventIds);

        var dump = await WaitCaughtUpAsync(host, sink);
        Assert.Equal(SourceId, Assert.Single(dump.Sources.Keys));
        Assert.Equal(0, dump.Unauthenticated); // every call carried "authorization: Bearer <key>", as Node checked it
        var source = dump.Sources[SourceId];
        var last = source.Held;
        Assert.True(last >= eventIds.Count, $"held {last} with {eventIds.Count} alarms published");

        // Every sequence 1..held exactly once, in order, with one decoded kind and region code each.
        Assert.Equal(Enumerable.Range(1, checked((int)last)).Select(i => (long)i), source.Sequences);
        Assert.Equal(source.Sequences.Count, source.Kinds.Count);
        Assert.Equal(source.Sequences.Count, source.RegionCodes.Count);
        Assert.True(source.Calls >= 1);
        Assert.Equal(0, source.Invalid);

        // Every alarm reached the centre inside an incident event (on the feed an incident carries its newest alarm).
        Assert.Empty(eventIds.Except(source.AlarmEventIds, StringComparer.Ordinal));
        Assert.Contains("FEED_EVENT_KIND_COVERAGE_GAP_OPENED", source.Kinds); // the demo start's gaps
        Assert.Contains("FEED_EVENT_KIND_INCIDENT_OPENED", source.Kinds);

        // What Node decoded equals what a C# subscriber of the gateway's own feed gets for the same sequences.
        var centreKey = await host.CreateKeyAsync(Role.Centre);
        await using var reader = new FeedReader(host, centreKey);
        await reader.WaitForCountAsync(_ => true, source.Sequences.Count, $"{source.Sequences.Count} feed events in C#", WaitTimeout);
        var feed = reader.Events.Take(source.Sequences.Count).ToList();
        Assert.Equal(source.Sequences, feed.Select(e => e.Sequence));
        Assert.Equal(source.Kinds, feed.Select(e => ProtoName(e.Kind)));
        Assert.Equal(source.RegionCodes, feed.Select(e => e.RegionCode));
        Assert.Equal(source.AlarmEventIds, feed.Where(e => e.Incident is not null).SelectMany(e => e.Incident.Alarms.Select(a => a.EventId)));

        // Caught up and healthy: nothing was ever refused.
        var (status, health) = await MetricsScrape.HealthAsync(host.HttpPort);
        Assert.Equal(200, status);
        Assert.Contains($"centre: acked {last}", health, StringComparison.Ordinal);
        Assert.DoesNotContain("centre is failing", health, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("the-wrong-key")]
    [InlineData(null)]
    public async Task A_wrong_or_missing_key_is_refused_reported_and_retried_and_nothing_is_lost(string? gatewayKey)
    {
        var key = "centre-" + Guid.NewGuid().ToString("N");
        var sink = await StartSinkAsync(key);
        string[] common = ["--centre-url", sink.Url, $"--SharpEyes:Outbox:SourceId={SourceId}"];
        var host = _host = await GatewayHost.StartAsync(extraArgs: gatewayKey is null ? common : [.. common, "--centre-key", gatewayKey]);
        Assert.True(host.LastSequence > 0, "the demo start holds coverage-gap events to deliver");
        await PublishAlarmsAsync(host, [.. Enumerable.Range(0, 5).Select(n => $"refused-{n}")]);

        // Node refuses each call with UNAUTHENTICATED; the gateway counts the failures, keeps retrying and says why.
        var seen = "";
        await WaitAsync(host, async () =>
        {
            var failures = (await MetricsScrape.ReadAsync(host.HttpPort)).GetValueOrDefault(Centre);
            var (_, health) = await MetricsScrape.HealthAsync(host.HttpPort);
            seen = $"{Centre} = {failures}; healthz:\n{health}";
            return failures >= 2 && health.Contains("outbox: Degraded", StringComparison.Ordinal)
                && health.Contains("centre is failing: Unauthenticated", StringComparison.Ordinal);
        }, () => "the refused deliveries to be counted and reported: " + seen);

        var dump = await sink.DumpAsync();
        Assert.Empty(dump.Sources); // nothing stored, not even a source
        Assert.True(dump.Unauthenticated >= 2, $"Node refused {dump.Unauthenticated} calls");
        Assert.Equal(0, host.Services.GetRequiredService<OutboxService>().Endpoints.Single().AckedSequence);

        // Nothing was dropped: with the right key (after a restart on the same data) the centre gets everything.
        _host = null;
        host = _host = await host.RestartAsync([.. common, "--centre-key", key]);
        dump = await WaitCaughtUpAsync(host, sink);
        var source = dump.Sources[SourceId];
        Assert.Equal(Enumerable.Range(1, checked((int)source.Held)).Select(i => (long)i), source.Sequences);
        Assert.Empty(Enumerable.Range(0, 5).Select(n => $"refused-{n}").Except(source.AlarmEventIds, StringComparer.Ordinal));
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        foreach (var sink in _sinks)
        {
            await sink.DisposeAsync();
        }
    }

    private async Task<NodeSink> StartSinkAsync(string? key)
    {
        var node = InteropPaths.RequireNode();
        var sink = NodeSink.Start(node, key);
        _sinks.Add(sink);
        await sink.WaitReadyAsync(TimeSpan.FromSeconds(20));
        return sink;
    }

    private static async Task PublishAlarmsAsync(GatewayHost host, IReadOnlyList<string> eventIds)
    {
        var key = await host.CreateKeyAsync(Role.Vendor, VendorId);
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        string[] devices = [TestDevices.AlarmId(1), TestDevices.AlarmId(2), TestDevices.AlarmId(3)];
        for (var i = 1; i <= devices.Length; i++)
        {
            try
            {
                await registry.RegisterDeviceAsync(TestDevices.Alarm(i, TestDevices.SeatLon + i * 0.002, TestDevices.SeatLat), host.Auth(key));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.AlreadyExists)
            {
            }
        }

        using var client = await AlarmPublisher.ConnectAsync(host.MqttPort, VendorId, key, "node-centre-" + Guid.NewGuid().ToString("N")[..8]);
        var acked = new ConcurrentDictionary<string, bool>();
        await AlarmPublisher.PublishAsync(client, devices, eventIds, acked);
        Assert.Equal(eventIds.Count, acked.Count);
    }

    /// <summary>Polls the Node centre (moving the gateway's fake clock a second per poll, so retry delays pass) until it holds everything committed.</summary>
    private static async Task<SinkDump> WaitCaughtUpAsync(GatewayHost host, NodeSink sink)
    {
        SinkDump? dump = null;
        long lastSequence = 0;
        await WaitAsync(host, async () =>
        {
            dump = await sink.DumpAsync();
            lastSequence = host.LastSequence;
            return lastSequence > 0 && dump.Sources.TryGetValue(SourceId, out var s) && s.Held == lastSequence;
        }, () => $"the Node centre to hold every event up to {lastSequence}; it holds "
            + (dump?.Sources.TryGetValue(SourceId, out var s) == true ? $"{s.Held} after {s.Calls} calls" : "nothing")
            + $" ({dump?.Unauthenticated} refused for the key)\n{string.Join('\n', host.Logs.Lines.TakeLast(20))}");
        return dump!;
    }

    private static async Task WaitAsync(GatewayHost host, Func<Task<bool>> condition, Func<string> what)
    {
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                host.Time.Advance(TimeSpan.FromSeconds(1));
                return await condition();
            }, "a condition", WaitTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"timed out after {WaitTimeout.TotalSeconds:F0} s waiting for {what()}");
        }
    }

    /// <summary>An enum value's name in the .proto (what proto-loader with enums: String gives).</summary>
    private static string ProtoName<T>(T value) where T : struct, Enum =>
        typeof(T).GetField(value.ToString())!.GetCustomAttributes(typeof(Google.Protobuf.Reflection.OriginalNameAttribute), false)
            .Cast<Google.Protobuf.Reflection.OriginalNameAttribute>().Single().Name;

    /// <summary>One line of centre-sink.mjs's <c>dump</c>.</summary>
    private sealed record SinkDump(Dictionary<string, SinkSource> Sources, int Unauthenticated, string GrpcJsVersion);

    private sealed record SinkSource(long Held, List<long> Sequences, List<string> Kinds, List<string> RegionCodes, List<string> AlarmEventIds,
        int Duplicates, int Calls, int Gaps, int Invalid);

    /// <summary>
    /// node centre-sink.mjs with stdin kept open for its commands (<see cref="ExternalTool"/> closes stdin): stdout
    /// lines go to a channel, stderr is kept for failure messages, and the process is killed if it does not exit on
    /// "exit". The script also exits by itself after 120 s.
    /// </summary>
    private sealed class NodeSink : IAsyncDisposable
    {
        private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

        private readonly Process _process;
        private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
        private readonly ConcurrentQueue<string> _stderr = new();
        private readonly SemaphoreSlim _gate = new(1, 1);

        private NodeSink(Process process) => _process = process;

        public int Port { get; private set; }

        public string Url => $"http://127.0.0.1:{Port}";

        public static NodeSink Start(string node, string? key)
        {
            var start = new ProcessStartInfo(node)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = InteropPaths.NodeDirectory,
                StandardInputEncoding = new UTF8Encoding(false),
                StandardOutputEncoding = Encoding.UTF8,
                StandardErrorEncoding = Encoding.UTF8,
            };
            start.ArgumentList.Add(Path.Combine(InteropPaths.NodeInteropDirectory, "centre-sink.mjs"));
            start.Environment["CENTRE_KEY"] = key ?? "";
            var sink = new NodeSink(new Process { StartInfo = start, EnableRaisingEvents = true });
            sink._process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    sink._stdout.Writer.TryComplete();
                }
                else
                {
                    sink._stdout.Writer.TryWrite(e.Data);
                }
            };
            sink._process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    sink._stderr.Enqueue(e.Data);
                }
            };
            if (!sink._process.Start())
            {
                throw new InvalidOperationException("node centre-sink.mjs did not start");
            }

            sink._process.BeginOutputReadLine();
            sink._process.BeginErrorReadLine();
            return sink;
        }

        public async Task WaitReadyAsync(TimeSpan timeout)
        {
            var line = await ReadLineAsync(timeout, "READY <port>");
            if (!line.StartsWith("READY ", StringComparison.Ordinal) || !int.TryParse(line.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            {
                throw new InvalidOperationException($"centre-sink.mjs printed '{line}' instead of READY <port>{Stderr()}");
            }

            Port = port;
        }

        public async Task<SinkDump> DumpAsync()
        {
            await _gate.WaitAsync();
            try
            {
                while (_stdout.Reader.TryRead(out _))
                {
                    // A line a timed-out dump left behind: not the answer to this one.
                }

                await _process.StandardInput.WriteLineAsync("dump");
                await _process.StandardInput.FlushAsync();
                var line = await ReadLineAsync(TimeSpan.FromSeconds(10), "the dump");
                return JsonSerializer.Deserialize<SinkDump>(line, Json) ?? throw new InvalidOperationException($"centre-sink.mjs dumped '{line}'");
            }
            catch (IOException e)
            {
                throw new InvalidOperationException($"centre-sink.mjs is gone ({e.Message}){Stderr()}", e);
            }
            finally
            {
                _gate.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_process.HasExited)
                {
                    await _process.StandardInput.WriteLineAsync("exit");
                    await _process.StandardInput.FlushAsync();
                    await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
                }
            }
            catch (Exception e) when (e is IOException or TimeoutException or InvalidOperationException)
            {
                // It did not leave when asked: killed below.
            }

            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            _process.Dispose();
            _gate.Dispose();
        }

        private async Task<string> ReadLineAsync(TimeSpan timeout, string what)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            cts.CancelAfter(timeout);
            try
            {
                return await _stdout.Reader.ReadAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"centre-sink.mjs did not print {what} within {timeout.TotalSeconds:F0} s{Stderr()}");
            }
            catch (ChannelClosedException)
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
                throw new InvalidOperationException($"centre-sink.mjs exited ({_process.ExitCode}) before printing {what}{Stderr()}");
            }
        }

        private string Stderr() => _stderr.IsEmpty ? "" : "\n--- stderr ---\n" + string.Join('\n', _stderr);
    }
}
