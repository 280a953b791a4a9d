using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using SharpEyes.Gateway.Sip;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// A GB/T 28181 device over UDP on 127.0.0.1 for tests that need to script a device message by message (SIPp is the
/// independent peer: Sip/SippTests). Sends requests and waits for their final responses; the gateway's requests to it
/// queue in <see cref="Requests"/> for the test to answer.
/// </summary>
public sealed class RawSipDevice : IDisposable
{
    private readonly UdpClient _socket = new(new IPEndPoint(IPAddress.Loopback, 0));
    private IPEndPoint _gateway;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<SipMessage>> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _cseq;

    public RawSipDevice(int gatewayPort, string deviceId, string domain = "1301270000")
    {
        _gateway = new IPEndPoint(IPAddress.Loopback, gatewayPort);
        DeviceId = deviceId;
        Domain = domain;
        _loop = Task.Run(ReceiveAsync);
    }

    public string DeviceId { get; }

    /// <summary>Sends to the gateway's SIP port <paramref name="port"/> from now on (a platform made before the gateway knew its port).</summary>
    public void Target(int port) => _gateway = new IPEndPoint(IPAddress.Loopback, port);

    public string Domain { get; }

    public int Port => ((IPEndPoint)_socket.Client.LocalEndPoint!).Port;

    public Channel<SipMessage> Requests { get; } = Channel.CreateUnbounded<SipMessage>();

    /// <summary>REGISTER, answering a digest challenge with <paramref name="username"/> and <paramref name="password"/>; the final response.</summary>
    public async Task<SipMessage> RegisterAsync(string username, string password, int expires = 3600)
    {
        var callId = Guid.NewGuid().ToString("N");
        var first = await SendAsync("REGISTER", [new("Expires", expires.ToString(System.Globalization.CultureInfo.InvariantCulture))], [], callId);
        if (first.StatusCode != 401)
        {
            return first;
        }

        var challenge = SipDigest.Parse(first.Header("WWW-Authenticate"))!;
        var (realm, nonce) = (challenge.Realm, challenge.Nonce);
        var uri = $"sip:{Domain}";
        var response = SipDigest.Response(username, realm, password, "REGISTER", uri, nonce, "auth", "00000001", "0a4f113b");
        var authorization = $"Digest username=\"{username}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", algorithm=MD5";
        return await SendAsync("REGISTER", [new("Expires", expires.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("Authorization", authorization)], [], callId);
    }

    /// <summary>A MANSCDP MESSAGE with <paramref name="body"/>; its final response.</summary>
    public Task<SipMessage> MessageAsync(byte[] body) => SendAsync("MESSAGE", [new("Content-Type", "Application/MANSCDP+xml")], body, Guid.NewGuid().ToString("N"));

    public Task<SipMessage> MessageAsync(string body, Encoding? encoding = null) => MessageAsync((encoding ?? Encoding.UTF8).GetBytes(body));

    /// <summary>The next request the gateway sent, answered 200 OK (or <paramref name="status"/>).</summary>
    public async Task<SipMessage> AnswerNextAsync(int status = 200, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        var request = await Requests.Reader.ReadAsync(cts.Token);
        await AnswerAsync(request, status);
        return request;
    }

    public async Task AnswerAsync(SipMessage request, int status = 200, IEnumerable<SipHeader>? extra = null)
    {
        var response = SipMessage.ResponseTo(request, status, status == 200 ? "OK" : "Refused", "dev1", extra);
        await _socket.SendAsync(response.ToBytes(), _gateway);
    }

    /// <summary>The next request the gateway sent, not answered yet.</summary>
    public async Task<SipMessage> NextRequestAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        return await Requests.Reader.ReadAsync(cts.Token);
    }

    public async Task<SipMessage> SendAsync(string method, IEnumerable<SipHeader> extra, byte[] body, string callId)
    {
        var cseq = Interlocked.Increment(ref _cseq);
        var branch = "z9hG4bK" + Guid.NewGuid().ToString("N")[..16];
        var request = SipMessage.Request(method, method == "REGISTER" ? $"sip:{Domain}" : $"sip:13012700002000000001@{Domain}",
        [
            new("Via", $"SIP/2.0/UDP 127.0.0.1:{Port};rport;branch={branch}"),
            new("From", $"<sip:{DeviceId}@{Domain}>;tag=d{cseq}"),
            new("To", method == "REGISTER" ? $"<sip:{DeviceId}@{Domain}>" : $"<sip:13012700002000000001@{Domain}>"),
            new("Call-ID", callId),
            new("CSeq", $"{cseq} {method}"),
            new("Contact", $"<sip:{DeviceId}@127.0.0.1:{Port}>"),
            new("Max-Forwards", "70"),
            .. extra,
        ], body);
        var done = new TaskCompletionSource<SipMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[branch] = done;
        await _socket.SendAsync(request.ToBytes(), _gateway);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var _ = cts.Token.Register(() => done.TrySetException(new TimeoutException($"no final response to {method} in 30 s")));
        return await done.Task;
    }

    private async Task ReceiveAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult datagram;
            try
            {
                datagram = await _socket.ReceiveAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            if (!SipParser.TryParse(datagram.Buffer, new SipLimits(), out var message, out _))
            {
                continue;
            }

            if (message!.IsRequest)
            {
                Requests.Writer.TryWrite(message);
            }
            else if (message.StatusCode >= 200)
            {
                var branch = SipParser.Parameter(message.Header("Via")!, "branch");
                if (branch is not null && _pending.TryRemove(branch, out var waiting))
                {
                    waiting.TrySetResult(message);
                }
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _loop.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
