using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using SharpEyes.Gateway.Cli;
using SharpEyes.Gateway.Mqtt;
using SharpEyes.Gateway.Tests.ExternalBroker;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Replicas;

/// <summary>
/// The external-broker shape of <see cref="ReplicaDurabilityTests"/>: vendors publish 50,000 QoS 1 alarms to a real
/// mosquitto (configured with the files <c>sharpeyes broker mosquitto</c> generates), and two gateway processes on one
/// PostgreSQL database take them through one shared subscription, each with a persistent session under its own stable
/// client id. One replica is killed with SIGKILL while it takes its share and restarted with the same client id:
/// every alarm mosquitto acknowledged to a publisher (here the broker acknowledges, not the gateway) is on the feed
/// exactly once, the sequence is gap-free and increasing from 1, and both replicas serve the same feed byte for byte.
/// <para>
/// The embedded broker is off on both replicas (<c>ExternalBroker:Embedded=false</c>, the MQTT port not bound): the
/// shape as a site running mosquitto deploys it, and proof that every alarm on the feed came through mosquitto.
/// </para>
/// <para>
/// mosquitto acknowledges publishers much faster than the replicas commit (on the shared 2-core test machine: the
/// 50,000 in 10-26 s, while the replicas drain them at 700-1,400 alarms/s, the whole test 73-125 s), so 50,000 is
/// kept. B is killed once it has acknowledged 100 alarms to mosquitto: mid-way through its share, with messages in
/// flight to it and the rest queued in its session (publishing may be over by then or not, as timing falls; it
/// makes no difference to the publishers, whom mosquitto acknowledges). Figures in docs/scale-out.md#external-broker.
/// </para>
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ExternalBrokerReplicaTests(PostgresCluster cluster)
{
    private const string AdminKey = "external-replica-test-admin-key-0123456789";
    private const string VendorId = "vendor-xr";
    private const int Devices = 8;
    private const int Publishers = 4;
    private const int PerPublisher = 12_500;
    private const string Acked = "sharpeyes_external_broker_messages_total{outcome=\"acked\"}";

    [Fact]
    public async Task Fifty_thousand_alarms_through_mosquitto_and_two_replicas_one_killed_and_restarted_are_each_on_both_feeds_once_without_a_gap()
    {
        var ct = TestContext.Current.CancellationToken;
        var store = await cluster.CreateDatabaseAsync();
        var brokerDir = Directory.CreateTempSubdirectory("sharpeyes-broker-").FullName;
        // The gateway's own broker password first (the replicas need it to start); the vendor's once it exists.
        await MosquittoConfig.WriteAsync(brokerDir, [], [], "sharpeyes", ct);
        var gatewayPassword = (await BrokerConfigTests.ReadCredentialsAsync(brokerDir))[MosquittoConfig.GatewayUser];
        var brokerPort = Ports.Free();
        string[] Args(string clientId) =>
        [
            "--store", store,
            "--external-broker", $"mqtt://127.0.0.1:{brokerPort}",
            "--SharpEyes:ExternalBroker:Embedded=false",
            "--SharpEyes:ExternalBroker:Group=sharpeyes",
            $"--SharpEyes:ExternalBroker:ClientId={clientId}", // its own, the same after the restart
            $"--SharpEyes:ExternalBroker:UserName={MosquittoConfig.GatewayUser}",
            $"--SharpEyes:ExternalBroker:Password={gatewayPassword}",
            "--SharpEyes:ExternalBroker:ReconnectMaxDelay=00:00:01",
        ];
        var dirB = GatewayHost.NewDataDir();
        MosquittoServer? broker = null;
        GatewayProcess? a = null, b = null;
        try
        {
            a = await GatewayProcess.StartAsync(GatewayHost.NewDataDir(), AdminKey, ["--demo", .. Args("replica-a")]);
            await a.AddVendorWithAlarmDevicesAsync(AdminKey, VendorId, Devices);
            var centreKey = (await new Admin.AdminClient(a.Channel).CreateApiKeyAsync(
                new CreateApiKeyRequest { Role = Role.Centre }, GatewayProcess.Auth(AdminKey), cancellationToken: ct)).ApiKey;
            Assert.Equal(0, await GatewayCli.RunAsync(["broker", "mosquitto", "--out", brokerDir, "--server", $"http://127.0.0.1:{a.GrpcPort}", "--key", AdminKey],
                new StringWriter(), new StringWriter()));
            var vendorPassword = (await BrokerConfigTests.ReadCredentialsAsync(brokerDir))[VendorId];
            broker = await MosquittoServer.StartAsync(brokerPort, extraConfig: await File.ReadAllTextAsync(Path.Combine(brokerDir, MosquittoConfig.ConfFile), ct),
                anonymous: false, maxQueuedMessages: MosquittoConfig.MaxQueuedMessages);
            b = await GatewayProcess.StartAsync(dirB, AdminKey, Args("replica-b"));
            Assert.Equal(0, b.MqttPort); // no embedded broker: mosquitto is the only way in
            await WaitConnectedAsync(a);
            await WaitConnectedAsync(b);

            await using var onA = new AlarmsOnFeed(a, centreKey);
            var acked = new ConcurrentDictionary<string, bool>();
            var mosquitto = new ReplicaFeedChecks.ReplicaPort(broker.Port);
            var clock = Stopwatch.StartNew();
            var publishers = Enumerable.Range(0, Publishers)
                .Select(p => ReplicaFeedChecks.PublishAllAsync(mosquitto, VendorId, vendorPassword, $"{VendorId}-{p}",
                    [.. Enumerable.Range(0, PerPublisher).Select(n => $"x{p}-{n}")], Devices, acked, TimeSpan.FromMinutes(2)))
                .ToList();

            // Kill B mid-stream, while publishers still publish and B takes its share (messages in flight to it,
            // committed and not, and more queued behind), then start it again on the same data directory, database and
            // client id: its session at mosquitto kept what it had not acknowledged and what came for it meanwhile.
            await Eventually.TrueAsync(async () => await MetricAsync(b, Acked) >= 100, "replica B acknowledged 100 alarms to mosquitto", TimeSpan.FromSeconds(120));
            var bBeforeKill = await MetricAsync(b, Acked);
            await b.KillAsync();
            var publishedAtKill = acked.Count;
            var down = Stopwatch.StartNew();
            await b.DisposeAsync();
            b = await GatewayProcess.StartAsync(dirB, AdminKey, Args("replica-b"));
            var bDown = down.Elapsed;
            await Task.WhenAll(publishers).WaitAsync(TimeSpan.FromMinutes(3), ct);
            var published = clock.Elapsed;
            Assert.Equal(Publishers * PerPublisher, acked.Count);

            await Eventually.TrueAsync(() => acked.Keys.All(onA.Seen.ContainsKey),
                "every alarm mosquitto acknowledged on replica A's feed", TimeSpan.FromSeconds(150));
            var drained = clock.Elapsed;
            var last = await ReplicaFeedChecks.AssertOneFeedWithEachAlarmOnceAsync(a, b, AdminKey, centreKey, [.. acked.Keys]);

            var (ma, mb) = (await MetricsScrape.ReadAsync(a.HttpPort), await MetricsScrape.ReadAsync(b.HttpPort));
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"mosquitto acknowledged {acked.Count} to {Publishers} publishers in {published.TotalSeconds:F1} s ({publishedAtKill} when replica B was killed, down {bDown.TotalSeconds:F1} s); " +
                $"all on the feed after {drained.TotalSeconds:F1} s ({acked.Count / drained.TotalSeconds:F0} alarms/s); feed events: {last}\n" +
                $"acked to mosquitto: replica A {Outcome(ma, "acked")}, replica B {bBeforeKill} before the kill + {Outcome(mb, "acked")} after the restart\n" +
                $"replica A: received {Outcome(ma, "received")}, redelivered (DUP) {Outcome(ma, "redelivered")}, duplicate {Outcome(ma, "duplicate")}, not acked {Outcome(ma, "not-acked")}\n" +
                $"replica B after the restart: received {Outcome(mb, "received")}, redelivered (DUP) {Outcome(mb, "redelivered")}, duplicate {Outcome(mb, "duplicate")}, not acked {Outcome(mb, "not-acked")}");
        }
        catch when (broker is not null)
        {
            TestContext.Current.TestOutputHelper?.WriteLine("mosquitto's log:\n" + broker.Log);
            throw;
        }
        finally
        {
            foreach (var gateway in new[] { a, b })
            {
                if (gateway is not null)
                {
                    await gateway.DisposeAsync();
                }
            }

            if (broker is not null)
            {
                await broker.DisposeAsync();
            }

            Directory.Delete(brokerDir, recursive: true);
        }
    }

    private static Task WaitConnectedAsync(GatewayProcess gateway) =>
        Eventually.TrueAsync(async () => await MetricAsync(gateway, "sharpeyes_external_broker_connected") == 1,
            "the replica connected to mosquitto", TimeSpan.FromSeconds(20));

    private static async Task<double> MetricAsync(GatewayProcess gateway, string name) =>
        (await MetricsScrape.ReadAsync(gateway.HttpPort)).GetValueOrDefault(name);

    private static double Outcome(Dictionary<string, double> metrics, string outcome) =>
        metrics.GetValueOrDefault($"sharpeyes_external_broker_messages_total{{outcome=\"{outcome}\"}}");

    /// <summary>The event ids of the alarms on a replica's feed as it grows (a background subscription, for waiting until mosquitto's backlog is drained).</summary>
    private sealed class AlarmsOnFeed : IAsyncDisposable
    {
        private readonly CancellationTokenSource _cts = new();
        private readonly Task _loop;

        public AlarmsOnFeed(GatewayProcess gateway, string centreKey) =>
            _loop = Task.Run(async () =>
            {
                try
                {
                    using var call = new V1.Feeds.FeedsClient(gateway.Channel).Subscribe(new SubscribeRequest(), GatewayProcess.Auth(centreKey), cancellationToken: _cts.Token);
                    await foreach (var e in call.ResponseStream.ReadAllAsync(_cts.Token))
                    {
                        foreach (var id in ReplicaFeedChecks.AlarmIds([e]))
                        {
                            Seen[id] = true;
                        }
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or RpcException)
                {
                    // Stopped: the test has what it waited for, or timed out waiting.
                }
            });

        public ConcurrentDictionary<string, bool> Seen { get; } = new();

        public async ValueTask DisposeAsync()
        {
            await _cts.CancelAsync();
            await _loop.WaitAsync(TimeSpan.FromSeconds(10));
            _cts.Dispose();
        }
    }
}
