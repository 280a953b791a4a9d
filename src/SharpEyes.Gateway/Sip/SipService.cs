using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Hosting;

namespace SharpEyes.Gateway.Sip;

/// <summary>
/// Runs GB/T 28181: SIP over UDP and TCP on one port (<see cref="SipOptions.Port"/>, at the gateway's bind address),
/// the handler (<see cref="SipGateway"/>) with its catalog and alarm sides, and a sweep every few seconds that ends
/// silent catalogs and queries again the catalogs of devices registered longer than <see cref="SipOptions.CatalogRefresh"/>.
/// A port that cannot be bound stops the start with a one-line reason.
/// </summary>
public sealed partial class SipService(
    SipGateway gateway, SipCatalogSync catalogs, SipAlarmIntake alarms, SipDirectory directory, SipUpstreams upstreams, TimeProvider time,
    IOptions<GatewayOptions> options, ILoggerFactory loggers) : BackgroundService
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(5);
    private readonly SipOptions _options = options.Value.Sip;
    private SipUdpTransport? _udp;
    private SipTcpTransport? _tcp;

    public SipUdpTransport? Udp => _udp;

    /// <summary>The UDP transport once it is bound; null when SIP is disabled (or the start failed).</summary>
    public Task<SipUdpTransport?> UdpReady => _ready.Task;

    private readonly TaskCompletionSource<SipUdpTransport?> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SipTcpTransport? Tcp => _tcp;

    /// <summary>The port SIP listens on (UDP and TCP), once started; 0 when SIP is disabled.</summary>
    public int Port { get; private set; }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            _ready.TrySetResult(null);
            return;
        }

        directory.Load();
        var timers = SipTimers.Default;
        var server = new SipServerTransactions(time, timers);
        var client = new SipClientTransactions(time, timers);
        var limits = new SipLimits();
        gateway.Clients = client;
        gateway.Catalogs = catalogs;
        gateway.Alarms = alarms;
        var address = IPAddress.Parse(options.Value.BindAddress);
        for (var attempt = 0; ; attempt++)
        {
            var udp = new SipUdpTransport(gateway, server, client, limits, _options.MaxConcurrentRequests, loggers.CreateLogger<SipUdpTransport>());
            var tcp = new SipTcpTransport(gateway, server, client, limits, _options.MaxConcurrentRequests, _options.MaxTcpConnections,
                _options.TcpIdleTimeout, loggers.CreateLogger<SipTcpTransport>());
            try
            {
                udp.Start(new IPEndPoint(address, _options.Port));
                tcp.Start(new IPEndPoint(address, udp.LocalEndPoint.Port));
                (_udp, _tcp) = (udp, tcp);
                Port = udp.LocalEndPoint.Port;
                break;
            }
            catch (SocketException e)
            {
                await udp.DisposeAsync().ConfigureAwait(false);
                await tcp.DisposeAsync().ConfigureAwait(false);
                if (_options.Port != 0 || attempt >= 20)
                {
                    _ready.TrySetResult(null);
                    throw new StartupFailureException($"SIP cannot listen on {options.Value.BindAddress}:{_options.Port} (UDP and TCP): {e.Message} (--sip-port, or SharpEyes:Sip:Enabled=false)", e);
                }
            }
        }

        gateway.TransportNamed = name => name == "TCP" ? _tcp : _udp;
        gateway.Upstreams = upstreams;
        _ready.TrySetResult(_udp);
        LogListening(loggers.CreateLogger<SipService>(), options.Value.BindAddress, Port, gateway.ServerId, gateway.Domain);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SweepInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await catalogs.SweepAsync(stoppingToken).ConfigureAwait(false);
            await RefreshCatalogsAsync(stoppingToken).ConfigureAwait(false);
        }
    }

    private Task RefreshCatalogsAsync(CancellationToken ct)
    {
        if (_options.CatalogRefresh <= TimeSpan.Zero)
        {
            return Task.CompletedTask;
        }

        var now = time.GetUtcNow();
        var due = directory.Devices.Where(d =>
        {
            lock (d)
            {
                return d.IsRegistered(now.ToUnixTimeMilliseconds()) && d.Catalog.State != V1.CatalogState.Querying
                    && d.Catalog.FinishedAt is { } finished && now - finished.ToDateTimeOffset() > _options.CatalogRefresh;
            }
        }).Take(16).ToList();
        return Task.WhenAll(due.Select(d => catalogs.StartAsync(d, ct)));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (Interlocked.Exchange(ref _udp, null) is { } udp)
        {
            await udp.DisposeAsync().ConfigureAwait(false);
        }

        if (Interlocked.Exchange(ref _tcp, null) is { } tcp)
        {
            await tcp.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "GB/T 28181: SIP on {Address}:{Port} (UDP and TCP), server ID {ServerId}, domain {Domain}")]
    private static partial void LogListening(ILogger logger, string address, int port, string serverId, string domain);
}
