using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using SharpEyes.V1;

namespace SharpEyes.Bench.Hostile;

/// <summary>The gRPC attacks of issue 11, each over its own channel whose connections leave from their own loopback address.</summary>
internal static class GrpcAttacks
{
    private const int ImportAddress = 25;
    private const int GuessAddress = 26;
    private const int GuessesAtOnce = 16;
    private static readonly TimeSpan ImportDeadline = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan GuessDeadline = TimeSpan.FromSeconds(10);

    public static readonly HostileAttack UnauthImport = new("unauth-import", s => string.Create(CultureInfo.InvariantCulture,
        $"{s.Imports} Geography.ImportGrids calls at once from 127.0.0.{ImportAddress}, each a {s.ImportBytes / 1e6:N0} MB GeoJSON FeatureCollection of square grid cells "
        + $"and no authorization header (one channel; deadline {ImportDeadline.TotalSeconds:0} s)"),
        "A gRPC ImportGrids of 28 MB with no key is buffered before UNAUTHENTICATED (32 at once: 1,058 → 3,538 MB, never released)",
        UnauthImportAsync);

    public static readonly HostileAttack GuessKeys = new("guess-keys", s => string.Create(CultureInfo.InvariantCulture,
        $"{s.Guesses:N0} Admin.GetStats calls from 127.0.0.{GuessAddress}, each with a real admin key id and a random wrong secret "
        + $"(se_{{id}}_{{32 hex}}), {GuessesAtOnce} at once on one channel (deadline {GuessDeadline.TotalSeconds:0} s each)"),
        "5,000 wrong gRPC secrets in 2.2 s, none logged",
        GuessKeysAsync);

    private static async Task<AttackOutcome> UnauthImportAsync(HostileTarget t, HostileSettings s, CancellationToken ct)
    {
        var request = new ImportGeoJsonRequest { Geojson = GridCells(s.ImportBytes), Datum = Datum.Wgs84 };
        using var channel = ChannelFrom(HostileTarget.Loopback(ImportAddress), t.Gateway.GrpcPort);
        var client = new Geography.GeographyClient(channel);
        var answers = new Tally();
        var clock = Stopwatch.StartNew();
        var took = await Task.WhenAll(Enumerable.Range(0, s.Imports).Select(async _ =>
        {
            try
            {
                var response = await client.ImportGridsAsync(request, deadline: DateTime.UtcNow.Add(ImportDeadline), cancellationToken: ct);
                answers.Add($"OK ({response.Imported} imported)");
            }
            catch (RpcException e) when (!ct.IsCancellationRequested)
            {
                answers.Add(Status(e));
            }

            return clock.Elapsed;
        }));
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"{s.Imports} × {Encoding.UTF8.GetByteCount(request.Geojson) / 1e6:F1} MB: {answers}; all answered in {took.Max().TotalSeconds:F1} s (first after {took.Min().TotalSeconds:F1} s)");
        return new AttackOutcome(summary, []);
    }

    private static async Task<AttackOutcome> GuessKeysAsync(HostileTarget t, HostileSettings s, CancellationToken ct)
    {
        using var channel = ChannelFrom(HostileTarget.Loopback(GuessAddress), t.Gateway.GrpcPort);
        var admin = new Admin.AdminClient(channel);
        var answers = new Tally();
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, s.Guesses), new ParallelOptions { MaxDegreeOfParallelism = GuessesAtOnce, CancellationToken = ct }, async (_, c) =>
        {
            var guess = $"se_{t.GuessedKeyId}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}";
            try
            {
                await admin.GetStatsAsync(new GetStatsRequest(), HostileTarget.Auth(guess), DateTime.UtcNow.Add(GuessDeadline), c);
                answers.Add("OK");
            }
            catch (RpcException e) when (!c.IsCancellationRequested)
            {
                answers.Add(Status(e));
            }
        });
        var summary = string.Create(CultureInfo.InvariantCulture, $"{s.Guesses:N0} in {clock.Elapsed.TotalSeconds:F1} s: {answers}");
        return new AttackOutcome(summary, []);
    }

    /// <summary>"Unauthenticated" or "ResourceExhausted: detail" (detail cut to 120 characters).</summary>
    private static string Status(RpcException e) =>
        e.Status.Detail is { Length: > 0 } detail ? $"{e.StatusCode}: {(detail.Length > 120 ? detail[..120] + "…" : detail)}" : e.StatusCode.ToString();

    /// <summary>A channel to 127.0.0.1:<paramref name="port"/> whose sockets are bound to <paramref name="from"/>.</summary>
    private static GrpcChannel ChannelFrom(IPAddress from, int port)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(from, 0));
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress($"http://127.0.0.1:{port}", new GrpcChannelOptions { HttpHandler = handler, MaxSendMessageSize = null, DisposeHttpClient = true });
    }

    /// <summary>A GeoJSON FeatureCollection of 100 m square cells in the demo county, about <paramref name="bytes"/> long.</summary>
    private static string GridCells(int bytes)
    {
        var b = new StringBuilder(bytes + 512);
        b.Append("{\"type\":\"FeatureCollection\",\"features\":[");
        for (var i = 0; b.Length < bytes - 400; i++)
        {
            var (lon, lat) = (114.55 + (i % 100 * 0.001), 37.57 + (i / 100 % 70 * 0.001));
            b.Append(i == 0 ? "" : ",").Append(CultureInfo.InvariantCulture,
                $"{{\"type\":\"Feature\",\"properties\":{{\"code\":\"130127{i:D9}\",\"name\":\"cell {i}\"}},\"geometry\":{{\"type\":\"Polygon\",\"coordinates\":[[");
            b.Append(CultureInfo.InvariantCulture,
                $"[{lon:F6},{lat:F6}],[{lon + 0.001:F6},{lat:F6}],[{lon + 0.001:F6},{lat + 0.001:F6}],[{lon:F6},{lat + 0.001:F6}],[{lon:F6},{lat:F6}]]]}}}}");
        }

        return b.Append("]}").ToString();
    }
}
