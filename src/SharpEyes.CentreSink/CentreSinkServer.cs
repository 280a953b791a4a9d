using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace SharpEyes.CentreSink;

/// <summary>How a <see cref="CentreSinkServer"/> listens, stores and behaves.</summary>
public sealed class CentreSinkOptions
{
    /// <summary>TCP port; 0 lets the OS pick one (read it back from <see cref="CentreSinkServer.Port"/>).</summary>
    public int Port { get; init; }

    /// <summary>IP address to listen on ("0.0.0.0" or "::" for every interface).</summary>
    public string Bind { get; init; } = "127.0.0.1";

    /// <summary>The SQLite file; created if missing, reopened (with what it holds) if present.</summary>
    public required string DatabasePath { get; init; }

    /// <summary>When set, callers must send "authorization: Bearer &lt;key&gt;".</summary>
    public string? ApiKey { get; init; }

    /// <summary>The initial <see cref="SinkBehaviour.Delay"/>.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>A PEM server certificate (with <see cref="KeyPath"/>): the sink speaks HTTP/2 over TLS (https://).</summary>
    public string? CertificatePath { get; init; }

    /// <summary>The PEM private key of <see cref="CertificatePath"/>.</summary>
    public string? KeyPath { get; init; }

    /// <summary>A PEM file of CA certificates: callers must present a client certificate issued by one of them (mutual TLS).</summary>
    public string? ClientCaPath { get; init; }

    /// <summary>When set, the counters are logged at this interval whenever they changed.</summary>
    public TimeSpan? StatsInterval { get; init; }

    /// <summary>Replaces the default logging (console, Information) when set, for example to silence a test.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    internal IPAddress BindAddress() => Bind switch
    {
        "*" => IPAddress.Any,
        _ when IPAddress.TryParse(Bind, out var address) => address,
        _ => throw new ArgumentException($"Bind: \"{Bind}\" is not an IP address", nameof(Bind)),
    };

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(Port, nameof(Port));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Port, IPEndPoint.MaxPort, nameof(Port));
        ArgumentException.ThrowIfNullOrWhiteSpace(DatabasePath, nameof(DatabasePath));
        ArgumentOutOfRangeException.ThrowIfLessThan(Delay, TimeSpan.Zero, nameof(Delay));
        if (StatsInterval is { } interval)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero, nameof(StatsInterval));
        }

        _ = BindAddress();
        if (string.IsNullOrEmpty(CertificatePath) != string.IsNullOrEmpty(KeyPath))
        {
            throw new ArgumentException("CertificatePath and KeyPath go together", nameof(KeyPath));
        }

        if (!string.IsNullOrEmpty(ClientCaPath) && string.IsNullOrEmpty(CertificatePath))
        {
            throw new ArgumentException("ClientCaPath needs TLS (CertificatePath and KeyPath)", nameof(ClientCaPath));
        }
    }
}

/// <summary>
/// A running reference centre: Kestrel speaking HTTP/2 without TLS (what a gRPC client on an http:// address
/// expects), or over TLS with a PEM certificate (https://, optionally requiring client certificates) on one port, serving <see cref="ReferenceCentreSink"/> over a <see cref="SinkStore"/>. Tests start it on
/// port 0, stop it to play "centre down", and start a new one on the same port and database file to play "centre back".
/// </summary>
public sealed class CentreSinkServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _stopped;

    private CentreSinkServer(WebApplication app, SinkStore store, SinkBehaviour behaviour, IPAddress bind, int port, bool tls, ConcurrentQueue<string> clients)
    {
        _app = app;
        Store = store;
        Behaviour = behaviour;
        Port = port;
        ClientCertificates = clients;
        var host = bind.Equals(IPAddress.Any) ? IPAddress.Loopback
            : bind.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback
            : bind;
        Address = new Uri($"{(tls ? "https" : "http")}://{new IPEndPoint(host, port)}");
    }

    /// <summary>The subjects of the client certificates accepted so far (one per TLS connection), with <see cref="CentreSinkOptions.ClientCaPath"/>.</summary>
    public IReadOnlyCollection<string> ClientCertificates { get; }

    /// <summary>The port actually listened on (the OS's pick when the options asked for 0).</summary>
    public int Port { get; }

    /// <summary>The address a client on this machine dials, e.g. http://127.0.0.1:7000.</summary>
    public Uri Address { get; }

    /// <summary>The centre's store: what it holds, and the counters.</summary>
    public SinkStore Store { get; }

    /// <summary>The delay and injected failures, changeable while the server runs.</summary>
    public SinkBehaviour Behaviour { get; }

    /// <summary>Opens the store and starts listening; returns once the port is bound.</summary>
    public static async Task<CentreSinkServer> StartAsync(CentreSinkOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var bind = options.BindAddress();
        var store = new SinkStore(options.DatabasePath);
        var behaviour = new SinkBehaviour { Delay = options.Delay };
        var clients = new ConcurrentQueue<string>();
        WebApplication? app = null;
        try
        {
            // The empty builder reads no appsettings.json and no ASPNETCORE_* variables: a sink started inside a
            // test process must not pick up the host's configuration (its Kestrel endpoints above all).
            var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
            {
                ContentRootPath = AppContext.BaseDirectory,
            });
            var tls = !string.IsNullOrEmpty(options.CertificatePath);
            builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
                kestrel.Listen(bind, options.Port, listen =>
                {
                    listen.Protocols = HttpProtocols.Http2;
                    if (tls)
                    {
                        listen.UseHttps(https => ConfigureTls(https, options, clients));
                    }
                }));
            if (tls)
            {
                builder.WebHost.UseKestrelHttpsConfiguration();
            }

            ConfigureLogging(builder.Logging, options);
            var services = builder.Services;
            services.AddSingleton(options);
            services.AddSingleton(store);
            services.AddSingleton(behaviour);
            services.TryAddSingleton(TimeProvider.System);
            // Signals belong to whoever hosts the server (Program, or a test runner), not to each server instance.
            services.AddSingleton<IHostLifetime, CallerLifetime>();
            services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(5));
            services.AddGrpc();
            if (options.StatsInterval is { } interval)
            {
                services.AddHostedService(provider => new SinkStatsReporter(
                    store, interval, provider.GetRequiredService<TimeProvider>(),
                    provider.GetRequiredService<ILogger<SinkStatsReporter>>()));
            }

            app = builder.Build();
            app.MapGrpcService<ReferenceCentreSink>();
            await app.StartAsync(ct);
            var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>();
            var port = new Uri(addresses.Addresses.First()).Port;
            return new CentreSinkServer(app, store, behaviour, bind, port, !string.IsNullOrEmpty(options.CertificatePath), clients);
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync();
            }

            store.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Stops listening (calls in a <see cref="SinkBehaviour.Delay"/> end with UNAVAILABLE), frees the port and closes
    /// the database file. Safe to call more than once; <see cref="Store"/> is unusable afterwards.
    /// </summary>
    public async Task StopAsync(CancellationToken ct = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        try
        {
            await _app.StopAsync(ct);
        }
        finally
        {
            await _app.DisposeAsync();
            Store.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>Kestrel's own TLS with the PEM certificate; with a client CA, a client certificate chaining to it is required.</summary>
    private static void ConfigureTls(HttpsConnectionAdapterOptions https, CentreSinkOptions options, ConcurrentQueue<string> clients)
    {
        https.ServerCertificate = X509Certificate2.CreateFromPemFile(options.CertificatePath!, options.KeyPath);
        if (string.IsNullOrEmpty(options.ClientCaPath))
        {
            return;
        }

        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(options.ClientCaPath);
        https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
        https.ClientCertificateValidation = (certificate, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")); // clientAuth
            var trusted = chain.Build(certificate);
            if (trusted)
            {
                clients.Enqueue(certificate.Subject);
            }

            return trusted;
        };
    }

    private static void ConfigureLogging(ILoggingBuilder logging, CentreSinkOptions options)
    {
        if (options.ConfigureLogging is { } configure)
        {
            configure(logging);
            return;
        }

        logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss.fff ";
        });
        logging.SetMinimumLevel(LogLevel.Information);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Grpc", LogLevel.Warning);
    }

    /// <summary>Leaves Ctrl-C and SIGTERM to the process that started the server.</summary>
    private sealed class CallerLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>Logs the store's counters every interval in which they changed.</summary>
internal sealed partial class SinkStatsReporter(SinkStore store, TimeSpan interval, TimeProvider time,
    ILogger<SinkStatsReporter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        (long, long, long, long, long) last = default;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = (store.Calls, store.ReceivedEvents, store.Stored, store.Duplicates, store.Rejected);
                if (now != last)
                {
                    last = now;
                    LogStats(now.Item1, now.Item2, now.Item3, now.Item4, now.Item5);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Totals: {Calls} calls, {Received} events received, {Stored} stored, {Duplicates} duplicates, {Rejected} rejected after a gap")]
    private partial void LogStats(long calls, long received, long stored, long duplicates, long rejected);
}
