using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Sip;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Sip;

/// <summary>
/// SIP over TCP against a real gateway: a device registers over its connection, several messages arrive in one write
/// and one message across several writes, the gateway's own requests come back over the same connection, and a stream
/// that cannot be framed is answered 400 and closed.
/// </summary>
public sealed class SipTcpTests
{
    private const string Ipc = "13012700001320000042";

    private static byte[] Request(string method, int cseq, string extra, string body = "") => Encoding.UTF8.GetBytes(
        $"{method} sip:1301270000 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK{method}{cseq}\r\nFrom: <sip:{Ipc}@1301270000>;tag=t{cseq}\r\n" +
        $"To: <sip:{Ipc}@1301270000>\r\nCall-ID: tcp-{cseq}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n{extra}" +
        $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");

    private static async Task<SipMessage> ReadAsync(NetworkStream stream, List<byte> pending)
    {
        var buffer = new byte[8192];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (true)
        {
            var status = SipParser.Frame([.. pending], new SipLimits(), out var message, out var consumed, out var error);
            if (status == SipFrameStatus.Complete)
            {
                pending.RemoveRange(0, consumed);
                if (message is not null)
                {
                    return message;
                }

                continue;
            }

            Assert.NotEqual(SipFrameStatus.Invalid, status);
            var read = await stream.ReadAsync(buffer, cts.Token);
            Assert.True(read > 0, "the gateway closed the connection");
            pending.AddRange(buffer.AsSpan(0, read).ToArray());
        }
    }

    [Fact]
    public async Task A_device_registers_over_TCP_and_the_gateways_requests_come_back_over_its_connection()
    {
        await using var host = await GatewayHost.StartAsync(extraArgs: ["--SharpEyes:Sip:ArmOnRegister=false"]);
        var sip = new V1.Sip.SipClient(host.Channel);
        await sip.CreateSipAccountAsync(new CreateSipAccountRequest { AccountId = "uniview", VendorId = "uniview", Password = "tcp-pass-42", AutoEnrol = true }, host.AdminAuth);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, host.SipPort);
        var stream = client.GetStream();
        var pending = new List<byte>();

        // The first REGISTER split across two writes, with keepalive CRLFs before it.
        var first = Request("REGISTER", 1, "Expires: 600\r\n");
        await stream.WriteAsync("\r\n\r\n"u8.ToArray());
        await stream.WriteAsync(first.AsMemory(0, 40));
        await stream.FlushAsync();
        await stream.WriteAsync(first.AsMemory(40));
        var challenge = await ReadAsync(stream, pending);
        Assert.Equal(401, challenge.StatusCode);
        var digest = SipDigest.Parse(challenge.Header("WWW-Authenticate"))!;
        var response = SipDigest.Response("uniview", digest.Realm, "tcp-pass-42", "REGISTER", "sip:1301270000", digest.Nonce, "auth", "00000001", "abc");
        var authorization = $"Authorization: Digest username=\"uniview\", realm=\"{digest.Realm}\", nonce=\"{digest.Nonce}\", uri=\"sip:1301270000\", response=\"{response}\", qop=auth, nc=00000001, cnonce=\"abc\"\r\n";
        await stream.WriteAsync(Request("REGISTER", 2, "Expires: 600\r\n" + authorization));
        var registered = await ReadAsync(stream, pending);
        Assert.Equal((200, "600"), (registered.StatusCode, registered.Header("Expires")));

        // The catalog query comes over this connection.
        var query = await ReadAsync(stream, pending);
        Assert.Equal("MESSAGE", query.Method);
        Assert.StartsWith("SIP/2.0/TCP ", query.Header("Via"), StringComparison.Ordinal);
        Assert.True(Manscdp.TryParse(query.Body, out var doc, out _));
        await stream.WriteAsync(SipMessage.ResponseTo(query, 200, "OK", "ipc").ToBytes());

        // Two messages in one write: the catalog (the IPC itself as its one channel) and a keepalive.
        var catalog = $"<?xml version=\"1.0\"?><Response><CmdType>Catalog</CmdType><SN>{doc!.Sn}</SN><DeviceID>{Ipc}</DeviceID><SumNum>1</SumNum><DeviceList Num=\"1\">" +
            $"<Item><DeviceID>{Ipc}</DeviceID><Name>IPC 42</Name><Status>ON</Status><Longitude>114.61</Longitude><Latitude>37.61</Latitude></Item></DeviceList></Response>";
        var keepalive = $"<Notify><CmdType>Keepalive</CmdType><SN>2</SN><DeviceID>{Ipc}</DeviceID><Status>OK</Status></Notify>";
        await stream.WriteAsync((byte[])[.. Request("MESSAGE", 3, "Content-Type: Application/MANSCDP+xml\r\n", catalog), .. Request("MESSAGE", 4, "Content-Type: Application/MANSCDP+xml\r\n", keepalive)]);
        var answers = new[] { await ReadAsync(stream, pending), await ReadAsync(stream, pending) };
        Assert.All(answers, a => Assert.Equal(200, a.StatusCode));
        var device = await new DeviceRegistry.DeviceRegistryClient(host.Channel).GetDeviceAsync(new GetDeviceRequest { DeviceId = Ipc }, host.AdminAuth);
        Assert.Equal(("uniview", DeviceStatus.Online), (device.VendorId, device.Status));
        var state = await sip.GetSipDeviceAsync(new GetSipDeviceRequest { DeviceId = Ipc }, host.AdminAuth);
        Assert.Equal(("TCP", CatalogState.Complete), (state.Transport, state.Catalog.State));

        // A stream that cannot be framed (no Content-Length): 400 with the reason, then the connection is closed.
        await stream.WriteAsync(Encoding.UTF8.GetBytes($"MESSAGE sip:1301270000 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKbad\r\nFrom: <sip:{Ipc}@1301270000>;tag=x\r\nTo: <sip:a@b>\r\nCall-ID: bad\r\nCSeq: 9 MESSAGE\r\n\r\n"));
        var refused = await ReadAsync(stream, pending);
        Assert.Equal(400, refused.StatusCode);
        Assert.Contains("Content-Length", refused.ReasonPhrase, StringComparison.Ordinal);
        var tcp = host.Services.GetRequiredService<SipService>().Tcp!;
        await Eventually.TrueAsync(() => tcp.Open == 0, "the connection closed");
        Assert.Equal(1, tcp.FramingErrors);
    }
}
