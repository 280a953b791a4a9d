using System.Collections.Concurrent;
using Grpc.Core;
using MQTTnet;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Mqtt;

/// <summary>
/// Floods against the real gateway process (so its memory and file descriptors can be read from /proc), with a
/// canary vendor on another loopback address that must be served throughout: idle sockets that never send CONNECT,
/// CONNECT packets declaring hundreds of megabytes, authenticated publishes of 50 MB.
/// </summary>
public sealed class MqttFloodTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string AdminKey = "se_floodadmin_0123456789abcdefghijklmnopqrstuvwxyz";
    private readonly string _dataDir = GatewayHost.NewDataDir();
    private GatewayProcess _gateway = null!;
    private string _vendor = null!;

    public async ValueTask InitializeAsync()
    {
        _gateway = await GatewayProcess.StartAsync(_dataDir, AdminKey, "--demo", "--SharpEyes:DemoCameras=false", "--SharpEyes:Streams:Enabled=false",
            "--SharpEyes:Limits:MqttConnectTimeout=00:00:08", "--SharpEyes:Limits:MqttMaxConnectionsPerAddress=1000",
            "--SharpEyes:Limits:MqttMaxConnections=2000");
        _vendor = await _gateway.AddVendorWithAlarmDevicesAsync(AdminKey, "canary", 1);
    }

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Idle_sockets_from_one_address_are_capped_and_timed_out_while_gRPC_HTTP_and_other_MQTT_clients_are_served()
    {
        var canary = await AlarmPublisher.ConnectAsync(_gateway.MqttPort, "canary", _vendor, "canary-1");
        var (rssBefore, filesBefore) = (ProcStats.RssMiB(_gateway.Pid), ProcStats.OpenFiles(_gateway.Pid));

        var flood = new List<RawMqtt>();
        try
        {
            for (var i = 0; i < 3000; i++)
            {
                flood.Add(await RawMqtt.OpenAsync(_gateway.MqttPort, from: "127.0.0.2"));
            }

            var closedAtOnce = await CountClosedAsync(flood, TimeSpan.FromSeconds(1));
            // Sampled once the refused ones were seen closed: what the gateway still holds is the admitted 1,000.
            var filesDuring = ProcStats.OpenFiles(_gateway.Pid);
            // Served during the flood: an alarm, a gRPC call, /healthz, a new MQTT client.
            var acked = new ConcurrentDictionary<string, bool>();
            await AlarmPublisher.PublishAsync(canary, [TestDevices.AlarmId(0)], ["during-flood"], acked);
            var stats = await new Admin.AdminClient(_gateway.Channel).GetStatsAsync(new GetStatsRequest(), GatewayProcess.Auth(AdminKey), deadline: DateTime.UtcNow.AddSeconds(10));
            var health = await MetricsScrape.HealthAsync(_gateway.HttpPort);
            var late = await AlarmPublisher.ConnectAsync(_gateway.MqttPort, "canary", _vendor, "canary-2");

            // The 1,000 admitted ones are closed at the CONNECT timeout (8 s here).
            await Eventually.TrueAsync(async () => await CountClosedAsync(flood, TimeSpan.FromMilliseconds(50)) == 3000, "every flood socket closed", TimeSpan.FromSeconds(40));
            var metrics = await MetricsScrape.ReadAsync(_gateway.HttpPort);
            var (rssAfter, filesAfter) = (ProcStats.RssMiB(_gateway.Pid), ProcStats.OpenFiles(_gateway.Pid));
            output.WriteLine($"idle flood of 3,000 from one address: refused at once {closedAtOnce}; gateway RSS {rssBefore:F0} -> {rssAfter:F0} MiB; open files {filesBefore} -> {filesDuring} (flood) -> {filesAfter}");

            // Refused at once: 2,000 (those admitted may already have reached the CONNECT timeout on a slow machine).
            Assert.InRange(closedAtOnce, 2000, 3000);
            // The 1,000 admitted hold a socket each (and a little slack for the gateway's own files); the 2,000 refused
            // hold none once closed. Held, they would be 2,000 more.
            Assert.True(filesDuring < filesBefore + 1200, $"open files went {filesBefore} -> {filesDuring}");
            Assert.True(acked.ContainsKey("during-flood"));
            Assert.True(stats.AlarmsAccepted >= 1);
            Assert.Equal(200, health.Status);
            Assert.True(late.IsConnected && canary.IsConnected);
            Assert.Equal(2000, metrics["sharpeyes_refusals_total{kind=\"mqtt-connections-per-address\"}"]);
            Assert.Equal(1000, metrics["sharpeyes_refusals_total{kind=\"mqtt-connect-timeout\"}"]);
            Assert.True(rssAfter - rssBefore < 150, $"RSS grew {rssAfter - rssBefore:F0} MiB");
            late.Dispose();
        }
        finally
        {
            foreach (var socket in flood)
            {
                await socket.DisposeAsync();
            }

            canary.Dispose();
        }
    }

    [Fact]
    public async Task Huge_CONNECTs_and_huge_authenticated_publishes_are_refused_on_their_headers_without_growing_memory()
    {
        var canary = await AlarmPublisher.ConnectAsync(_gateway.MqttPort, "canary", _vendor, "canary-1");
        var rssBefore = ProcStats.RssMiB(_gateway.Pid);
        var acked = new ConcurrentDictionary<string, bool>();

        // Four unauthenticated CONNECTs of 250 MB each (wrong password, user properties), as in the report.
        var connects = Enumerable.Range(0, 4).Select(async i =>
        {
            await using var raw = await RawMqtt.OpenAsync(_gateway.MqttPort, from: "127.0.0.3");
            await raw.SendAsync(RawMqtt.Header(0x10, 250_000_000));
            return await raw.SendFillerAsync(250_000_000, TimeSpan.FromSeconds(15));
        }).ToList();
        // Ten authenticated PUBLISHes of 50 MB.
        var publishes = Enumerable.Range(0, 10).Select(async i =>
        {
            await using var raw = await RawMqtt.OpenAsync(_gateway.MqttPort, from: "127.0.0.4");
            await raw.SendAsync(RawMqtt.Connect("big-" + i, "canary", _vendor));
            Assert.Equal(0, (await raw.ReadPacketAsync())!.Value.Body[1]);
            await raw.SendAsync(RawMqtt.Header(0x32, 50_000_000));
            return await raw.SendFillerAsync(50_000_000, TimeSpan.FromSeconds(15));
        }).ToList();
        var canaryRuns = 0;
        while (!Task.WhenAll(connects.Concat(publishes)).IsCompleted)
        {
            await AlarmPublisher.PublishAsync(canary, [TestDevices.AlarmId(0)], ["canary-" + canaryRuns++], acked);
        }

        var taken = (await Task.WhenAll(connects)).Concat(await Task.WhenAll(publishes)).ToList();
        var rssAfter = ProcStats.RssMiB(_gateway.Pid);
        var metrics = await MetricsScrape.ReadAsync(_gateway.HttpPort);
        output.WriteLine($"4 x 250 MB CONNECT + 10 x 50 MB PUBLISH: the gateway took at most {taken.Max() / 1e6:F1} MB per connection; RSS {rssBefore:F0} -> {rssAfter:F0} MiB; canary alarms acknowledged {acked.Count}/{canaryRuns}");

        Assert.All(taken, t => Assert.True(t < 16_000_000, $"the gateway took {t:N0} bytes"));
        Assert.Equal(canaryRuns, acked.Count);
        Assert.Equal(4, metrics["sharpeyes_refusals_total{kind=\"mqtt-connect-too-large\"}"]);
        Assert.Equal(10, metrics["sharpeyes_refusals_total{kind=\"mqtt-packet-too-large\"}"]);
        Assert.True(rssAfter - rssBefore < 150, $"RSS grew {rssAfter - rssBefore:F0} MiB");
        canary.Dispose();
    }

    [Fact]
    public async Task Persistent_sessions_queueing_dead_letters_are_bounded_per_vendor_and_per_session()
    {
        var rssBefore = ProcStats.RssMiB(_gateway.Pid);
        // 50 persistent sessions of one vendor try to subscribe to its dead letters, then go away.
        var granted = 0;
        for (var i = 0; i < 50; i++)
        {
            using var subscriber = await AlarmPublisher.ConnectAsync(_gateway.MqttPort, "canary", _vendor, "away-" + i, cleanStart: false);
            var result = await subscriber.SubscribeAsync("sharpeyes/v1/deadletter/canary", MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);
            granted += result.Items.Single().ResultCode == MQTTnet.MqttClientSubscribeResultCode.GrantedQoS1 ? 1 : 0;
            await subscriber.DisconnectAsync();
        }

        // 3,000 bad alarms, each a dead letter queued for every subscribed session while its client is away.
        var publisher = await AlarmPublisher.ConnectAsync(_gateway.MqttPort, "canary", _vendor, "bad-publisher");
        for (var i = 0; i < 3000; i++)
        {
            await publisher.PublishAsync(new MQTTnet.MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/" + TestDevices.AlarmId(0))
                .WithPayload("{not json " + i).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        var acked = new ConcurrentDictionary<string, bool>();
        await AlarmPublisher.PublishAsync(publisher, [TestDevices.AlarmId(0)], ["canary-after"], acked);
        var metrics = await MetricsScrape.ReadAsync(_gateway.HttpPort);
        var rssAfter = ProcStats.RssMiB(_gateway.Pid);
        output.WriteLine($"50 persistent subscribers tried, {granted} granted; 3,000 dead letters queued while away; oldest dropped " +
            $"{metrics.GetValueOrDefault("sharpeyes_refusals_total{kind=\"mqtt-session-queue-full\"}")} times; gateway RSS {rssBefore:F0} -> {rssAfter:F0} MiB");

        Assert.Equal(10, granted);
        Assert.Equal(40, metrics["sharpeyes_refusals_total{kind=\"mqtt-subscribers-per-vendor\"}"]);
        Assert.Equal(10 * (3000 - 1000), metrics["sharpeyes_refusals_total{kind=\"mqtt-session-queue-full\"}"]);
        Assert.True(acked.ContainsKey("canary-after"));
        Assert.True(rssAfter - rssBefore < 150, $"RSS grew {rssAfter - rssBefore:F0} MiB");
        publisher.Dispose();
    }

    private static async Task<int> CountClosedAsync(List<RawMqtt> sockets, TimeSpan wait)
    {
        var results = await Task.WhenAll(sockets.Select(s => s.ClosedByServerAsync(wait)));
        return results.Count(closed => closed);
    }
}
