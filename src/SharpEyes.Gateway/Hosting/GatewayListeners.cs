using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using MQTTnet.AspNetCore;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Mqtt;

namespace SharpEyes.Gateway.Hosting;

/// <summary>
/// The gateway's three Kestrel listeners: gRPC (HTTP/2), HTTP (/healthz, /metrics) and MQTT (the embedded broker).
/// With <see cref="TlsOptions"/> configured all three serve TLS 1.2+ only, with Kestrel's own TLS
/// (<see cref="GatewayTls"/> gives each handshake its options, so rotated files are used without a restart): gRPC
/// is HTTP/2 over TLS (ALPN h2), HTTP is HTTPS, MQTT is MQTT over TLS (default port 8883). A plain-text client on a
/// TLS listener fails the handshake and is served nothing. Without TLS the listeners serve plain text only when
/// asked to (<see cref="GatewayOptions.InsecureListeners"/>, or the demo), else the gateway does not start.
/// A port of 0 lets the system choose one, and after start <see cref="Port"/> gives the port each one got (also in the
/// "listening on" log lines), so scripts and tests never race for a free port. Endpoints are served only on their
/// own listener (the connection's local port decides, not the Host header a client sends).
/// </summary>
public sealed class GatewayListeners
{
    private readonly Dictionary<string, ListenOptions> _listeners = new(StringComparer.Ordinal);

    public const string Grpc = "gRPC";
    public const string Http = "HTTP";
    public const string Mqtt = "MQTT";

    internal void Configure(KestrelServerOptions kestrel, GatewayOptions o)
    {
        // Kestrel is configured before options validation runs: these two checks give the same answer it would.
        var failures = new List<string>();
        if (!IPAddress.TryParse(o.BindAddress, out var address))
        {
            failures.Add($"BindAddress (--bind): '{o.BindAddress}' is not an IP address such as 0.0.0.0, 127.0.0.1 or ::");
        }

        foreach (var (name, port) in new[] { ("GrpcPort (--grpc-port)", o.GrpcPort), ("HttpPort (--http-port)", o.HttpPort), ("MqttPort (--mqtt-port)", o.MqttListenPort) })
        {
            if (port is < 0 or > 65535)
            {
                failures.Add($"{name}: {port} is not a TCP port (0-65535; 0 lets the system choose)");
            }
        }

        failures.AddRange(GatewayTls.Problems(o));
        if (GatewayTls.NoListenerChoice(o) is { } choose)
        {
            failures.Add(choose);
        }

        if (failures.Count > 0 || address is null)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(GatewayOptions.Section, typeof(GatewayOptions), failures);
        }

        GatewayTls? tls = null;
        if (o.Tls.Enabled)
        {
            tls = kestrel.ApplicationServices.GetRequiredService<GatewayTls>();
            tls.Start(o.Tls); // a missing, unreadable or mismatched file stops the start here, naming it
        }

        IsTls = tls is not null;
        kestrel.Listen(address, o.GrpcPort, l =>
        {
            l.Protocols = HttpProtocols.Http2;
            Secure(l, tls, Grpc);
            _listeners[Grpc] = l;
        });
        kestrel.Listen(address, o.HttpPort, l =>
        {
            l.Protocols = HttpProtocols.Http1;
            Secure(l, tls, Http);
            _listeners[Http] = l;
        });
        // The embedded broker rides on Kestrel (MQTTnet.AspNetCore) so that the guard sees every connection and
        // every packet header before MQTTnet does: connection limits before the TLS handshake, packets after it.
        if (!o.ServesEmbeddedBroker)
        {
            return; // an external broker replaces the embedded one: the MQTT port stays closed
        }

        kestrel.Listen(address, o.MqttListenPort, l =>
        {
            var guard = l.ApplicationServices.GetRequiredService<MqttConnectionGuard>();
            l.Use(next => connection => guard.OnConnectionAsync(connection, next));
            Secure(l, tls, Mqtt);
            l.Use(next => connection => guard.OnDecryptedAsync(connection, next));
            l.UseConnectionHandler<MqttConnectionHandler>();
            _listeners[Mqtt] = l;
        });
    }

    /// <summary>The listeners serve TLS (set once Kestrel is configured).</summary>
    public bool IsTls { get; private set; }

    /// <summary>The URL scheme a listener serves: https or http, mqtts or mqtt.</summary>
    public string Scheme(string listener) => listener == Mqtt ? (IsTls ? "mqtts" : "mqtt") : (IsTls ? "https" : "http");

    /// <summary>Kestrel's TLS on the listener, with the options <see cref="GatewayTls"/> gives each handshake.</summary>
    private static void Secure(ListenOptions listen, GatewayTls? tls, string listener)
    {
        if (tls is not null)
        {
            listen.UseHttps(new Microsoft.AspNetCore.Server.Kestrel.Https.TlsHandshakeCallbackOptions
            {
                OnConnection = context => ValueTask.FromResult(tls.OptionsFor(listener, context.Connection)),
            });
        }
    }

    /// <summary>The port a listener is bound to (the system's choice when configured as 0), once Kestrel started.</summary>
    public int Port(string listener) => _listeners.TryGetValue(listener, out var bound) ? bound.IPEndPoint?.Port ?? 0 : 0;

    /// <summary>Which listener a connection's local port belongs to.</summary>
    public string? ListenerOf(int localPort) => _listeners.FirstOrDefault(l => l.Value.IPEndPoint?.Port == localPort).Key;

    /// <summary>
    /// The message for a listener that could not bind, naming it and its switch ("the MQTT listener cannot bind
    /// 127.0.0.1:1883: address already in use (--mqtt-port)"), or null when <paramref name="error"/> is no bind failure.
    /// </summary>
    public static string? DescribeBindFailure(Exception error, GatewayOptions o)
    {
        var inUse = error is AddressInUseException || error.InnerException is AddressInUseException
            || (error as SocketException ?? error.InnerException as SocketException)?.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied or SocketError.AddressNotAvailable;
        if (!inUse)
        {
            return null;
        }

        // Kestrel says "Failed to bind to address http://127.0.0.1:1883: address already in use."
        var bound = System.Text.RegularExpressions.Regex.Match(error.Message, @":(\d+):");
        var failedPort = bound.Success ? int.Parse(bound.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;
        var (name, port, option) = new[] { (Grpc, o.GrpcPort, "--grpc-port"), (Http, o.HttpPort, "--http-port"), (Mqtt, o.MqttListenPort, "--mqtt-port") }
            .FirstOrDefault(l => l.Item2 != 0 && l.Item2 == failedPort);
        var why = error.InnerException?.Message ?? error.Message;
        return name is null
            ? $"a listener cannot bind on {o.BindAddress}: {why}"
            : $"the {name} listener cannot bind {o.BindAddress}:{port}: {why.TrimEnd('.')} (choose another with {option}, or stop what holds it)";
    }
}
