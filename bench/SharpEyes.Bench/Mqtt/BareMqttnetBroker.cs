using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MQTTnet.AspNetCore;
using MQTTnet.Server;

namespace SharpEyes.Bench.Mqtt;

/// <summary>
/// The second baseline of the alarm benchmark (issue 17): the MQTTnet server the gateway embeds, hosted the way the
/// gateway hosts it (MQTTnet.AspNetCore's connection handler on Kestrel, persistent sessions), with no interceptor, no
/// authentication and no store: every PUBLISH is acknowledged as soon as MQTTnet has routed it. It is the ceiling of the
/// library the gateway is built on, run out of process (its own pid, CPU and GC settings as the gateway's: workstation,
/// concurrent) and driven by the same publishers and subscriber as the mosquitto baseline.
/// </summary>
internal static class BareMqttnetBroker
{
    /// <summary>sharpeyes-bench mqttnet-broker --port P: serves until the process is stopped (SIGTERM).</summary>
    public static async Task<int> RunAsync(Options options)
    {
        var port = options.Int("port", 0);
        if (port <= 0)
        {
            Console.Error.WriteLine("mqttnet-broker: give --port");
            return 2;
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<MqttConnectionHandler>();
        builder.Services.AddConnections();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, l => l.UseConnectionHandler<MqttConnectionHandler>()));
        await using var app = builder.Build();
        var handler = app.Services.GetRequiredService<MqttConnectionHandler>();
        // The options the gateway gives its embedded server, without its limits' interceptors; the subscriber's queue as
        // deep as the mosquitto baseline's (max_queued_messages 1000000): MQTTnet's default (250) drops the oldest.
        var serverOptions = new MqttServerOptionsBuilder().WithPersistentSessions().WithMaxPendingMessagesPerClient(1_000_000).Build();
        using var server = new MqttServerFactory().CreateMqttServer(serverOptions, [handler]);
        await server.StartAsync();
        await app.StartAsync();
        Console.Error.WriteLine($"[mqttnet-broker] bare MQTTnet.Server {typeof(MqttServer).Assembly.GetName().Version} on 127.0.0.1:{port}");
        await app.WaitForShutdownAsync();
        await server.StopAsync(new MqttServerStopOptions());
        return 0;
    }
}
