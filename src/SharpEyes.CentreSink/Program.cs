using System.Globalization;
using System.Runtime.InteropServices;
using SharpEyes.CentreSink;

const string Usage = """
    sharpeyes-centre-sink: a reference comprehensive-governance centre for the gateway's feed push (CentreSink gRPC).

    usage: sharpeyes-centre-sink [--port 7000] [--bind 127.0.0.1] [--db ./centre.db] [--api-key KEY] [--delay-ms N]
                                 [--cert PEM --key PEM [--client-ca PEM]]

      --port N       TCP port, HTTP/2 (default 7000; 0 = any free port)
      --bind IP      address to listen on (default 127.0.0.1; 0.0.0.0 = every interface)
      --db PATH      SQLite file holding the received events (default ./centre.db)
      --api-key KEY  require "authorization: Bearer KEY" (default: env SHARPEYES_CENTRE_KEY, else no key)
      --delay-ms N   wait N ms in every call, to play a slow centre (default 0)
      --cert PEM     serve TLS (https://) with this certificate and --key PEM (default: no TLS)
      --client-ca P  require a client certificate issued by a CA in this PEM file (mutual TLS)
      --help         print this and exit

    Runs until Ctrl-C or SIGTERM; logs each batch, and the totals every 5 s when they changed.
    """;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(Usage);
    return 0;
}

CentreSinkOptions options;
try
{
    options = ParseArgs(args);
}
catch (FormatException e)
{
    await Console.Error.WriteLineAsync($"sharpeyes-centre-sink: {e.Message}\n\n{Usage}");
    return 2;
}

using var stop = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
CentreSinkServer server;
try
{
    server = await CentreSinkServer.StartAsync(options, stop.Token);
}
catch (Exception e) when (e is IOException or ArgumentException or Microsoft.Data.Sqlite.SqliteException or System.Security.Cryptography.CryptographicException)
{
    await Console.Error.WriteLineAsync($"sharpeyes-centre-sink: cannot start: {e.Message}");
    return 1;
}

await using (server)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"centre sink listening on {server.Address} (db {Path.GetFullPath(options.DatabasePath)}, api key {(options.ApiKey is null ? "off" : "on")}); Ctrl-C to stop"));
    try
    {
        await Task.Delay(Timeout.Infinite, stop.Token);
    }
    catch (OperationCanceledException)
    {
    }
}

return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}

static CentreSinkOptions ParseArgs(string[] args)
{
    var port = 7000;
    var bind = "127.0.0.1";
    var db = "./centre.db";
    var apiKey = Environment.GetEnvironmentVariable("SHARPEYES_CENTRE_KEY");
    var delayMs = 0;
    string? cert = null, key = null, clientCa = null;
    for (var i = 0; i < args.Length; i++)
    {
        var name = args[i];
        switch (name)
        {
            case "--port":
                port = ParseInt(name, Value(), 0, 65535);
                break;
            case "--bind":
                bind = Value();
                break;
            case "--db":
                db = Value();
                break;
            case "--api-key":
                apiKey = Value();
                break;
            case "--delay-ms":
                delayMs = ParseInt(name, Value(), 0, int.MaxValue);
                break;
            case "--cert":
                cert = Value();
                break;
            case "--key":
                key = Value();
                break;
            case "--client-ca":
                clientCa = Value();
                break;
            default:
                throw new FormatException($"{name}: unknown option");
        }

        string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{name}: a value is required");
    }

    return new CentreSinkOptions
    {
        Port = port,
        Bind = bind,
        DatabasePath = db,
        ApiKey = string.IsNullOrEmpty(apiKey) ? null : apiKey,
        Delay = TimeSpan.FromMilliseconds(delayMs),
        StatsInterval = TimeSpan.FromSeconds(5),
        CertificatePath = cert,
        KeyPath = key,
        ClientCaPath = clientCa,
    };
}

static int ParseInt(string name, string value, int min, int max) =>
    int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
        ? n
        : throw new FormatException($"{name}: \"{value}\" is not a whole number from {min} to {max}");
