using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Gateway.Tests.Interop;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Http;

/// <summary>
/// The event stream read by an EventSource nobody here wrote: Node's own (undici's implementation of the WHATWG
/// standard, tests/node/interop/eventsource-console.mjs), signed in with the session cookie. It parses the frames and,
/// when the gateway restarts, reconnects by itself with Last-Event-ID; every feed event must arrive exactly once.
/// </summary>
public sealed class EventStreamNodeTests
{
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task Nodes_EventSource_gets_every_event_once_and_resumes_by_itself_after_a_gateway_restart()
    {
        var node = InteropPaths.FindOnPath("node");
        if (node is null)
        {
            InteropPaths.SkipUnlessCi("node is not on PATH; install Node 20.18+ to run the Node EventSource test.");
        }

        var host = await GatewayHost.StartAsync(demo: false);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "vendor-a");
        using var browser = new SessionClient(host);
        await browser.SignInOrFailAsync(await host.CreateKeyAsync(Role.Operator));
        var start = host.LastSequence;
        await using var client = NodeClient.Start(node, host, $"sharpeyes.session={browser.SessionCookie}", $"/api/events?after={start}");
        await client.WaitForAsync(l => l.TryGetProperty("event", out var e) && e.GetString() == "ready", "the ready event");

        await RegisterAsync(host, vendor, 0, 20);
        await client.WaitForAsync(l => l.TryGetProperty("event", out var e) && e.GetString()!.StartsWith("FEED_", StringComparison.Ordinal), "a first feed event");

        host = await host.RestartAsync();
        await using var restarted = host;
        await client.WaitForAsync(l => l.TryGetProperty("event", out var e) && e.GetString() == "end", "the end event as the gateway stops");
        client.Send($"target http://127.0.0.1:{host.HttpPort}");
        await RegisterAsync(host, await host.CreateKeyAsync(Role.Vendor, "vendor-b"), 100, 20);
        var last = host.LastSequence.ToString(CultureInfo.InvariantCulture);
        await client.WaitForAsync(l => l.TryGetProperty("id", out var id) && id.GetString() == last, "the last event after the restart");

        var lines = client.Lines;
        var events = lines.Where(l => l.TryGetProperty("event", out var e) && e.GetString()!.StartsWith("FEED_", StringComparison.Ordinal)).ToList();
        var ids = events.Select(l => long.Parse(l.GetProperty("id").GetString()!, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(1, (int)(host.LastSequence - start)).Select(i => start + i), ids); // each once, in order
        Assert.All(events, l =>
        {
            Assert.Equal(l.GetProperty("id").GetString(), l.GetProperty("data").GetProperty("sequence").GetString()); // protobuf JSON: int64 as a string
            Assert.Equal(l.GetProperty("event").GetString(), l.GetProperty("data").GetProperty("kind").GetString());
        });
        var end = lines.First(l => l.TryGetProperty("event", out var e) && e.GetString() == "end").GetProperty("data");
        Assert.Equal(14, end.GetProperty("code").GetInt32());
        Assert.True(end.GetProperty("reconnect").GetBoolean());

        // It reconnected by itself, sending the id of the last event it had before the restart.
        var requests = lines.Where(l => l.TryGetProperty("request", out var _)).ToList();
        var lastBefore = lines.TakeWhile(l => !(l.TryGetProperty("event", out var e) && e.GetString() == "end"))
            .Last(l => l.TryGetProperty("event", out var e) && e.GetString()!.StartsWith("FEED_", StringComparison.Ordinal)).GetProperty("id").GetString();
        Assert.True(requests.Count >= 2, $"{requests.Count} requests");
        Assert.Equal(JsonValueKind.Null, requests[0].GetProperty("lastEventId").ValueKind);
        Assert.Equal(lastBefore, requests[^1].GetProperty("lastEventId").GetString());
    }

    private static async Task RegisterAsync(GatewayHost host, string vendorKey, int first, int count)
    {
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        for (var i = first; i < first + count; i++)
        {
            await registry.RegisterDeviceAsync(TestDevices.Alarm(i), host.Auth(vendorKey));
        }
    }

    /// <summary>The Node EventSource client: its stdout lines as JSON, its stdin for commands.</summary>
    private sealed class NodeClient : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<JsonElement> _lines = new();
        private readonly ConcurrentQueue<string> _errors = new();

        private NodeClient(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) =>
            {
                if (!string.IsNullOrEmpty(e.Data))
                {
                    _lines.Enqueue(JsonDocument.Parse(e.Data).RootElement.Clone());
                }
            };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    _errors.Enqueue(e.Data);
                }
            };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public List<JsonElement> Lines => [.. _lines];

        public static NodeClient Start(string node, GatewayHost host, string cookie, string path)
        {
            var info = new ProcessStartInfo(node)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = InteropPaths.NodeInteropDirectory,
            };
            foreach (var arg in new[] { "--experimental-eventsource", "--no-warnings", "eventsource-console.mjs", $"http://127.0.0.1:{host.HttpPort}", cookie, path })
            {
                info.ArgumentList.Add(arg);
            }

            return new NodeClient(Process.Start(info)!);
        }

        public void Send(string line)
        {
            _process.StandardInput.WriteLine(line);
            _process.StandardInput.Flush();
        }

        public Task WaitForAsync(Func<JsonElement, bool> match, string what) =>
            Eventually.TrueAsync(() =>
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"node exited with {_process.ExitCode}: {string.Join('\n', _errors)}");
                }

                return _lines.Any(match);
            }, what, WaitTimeout);

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                Send("close");
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await _process.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }

            _process.Dispose();
        }
    }
}
