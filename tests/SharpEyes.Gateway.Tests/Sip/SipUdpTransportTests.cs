using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using SharpEyes.Gateway.Sip;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Sip;

/// <summary>
/// SIP over a real UDP socket on 127.0.0.1: a request handled once however often it is retransmitted, a bad request
/// answered 400 with its reason, noise dropped and counted, overload answered 503 with Retry-After, a failing handler 500.
/// </summary>
public sealed class SipUdpTransportTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static byte[] Message(string branch, string body = "") => Encoding.UTF8.GetBytes(
        "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\n" +
        $"Via: SIP/2.0/UDP 127.0.0.1:5060;rport;branch={branch}\r\n" +
        "From: <sip:34020000001320000001@3402000000>;tag=1\r\nTo: <sip:34020000002000000001@3402000000>\r\n" +
        $"Call-ID: {branch}\r\nCSeq: 3 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");

    private sealed class Handler(Func<SipIncoming, Task<SipMessage>> answer) : ISipRequestHandler
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public async Task<SipMessage?> HandleAsync(SipIncoming incoming, CancellationToken ct)
        {
            Interlocked.Increment(ref _calls);
            return await answer(incoming);
        }
    }

    private static (SipUdpTransport Transport, UdpClient Device) Start(Handler handler, int concurrency = 8)
    {
        var time = TimeProvider.System;
        var transport = new SipUdpTransport(handler, new SipServerTransactions(time, SipTimers.Default), new SipClientTransactions(time, SipTimers.Default),
            new SipLimits(), concurrency, NullLogger<SipUdpTransport>.Instance);
        transport.Start(new IPEndPoint(IPAddress.Loopback, 0));
        var device = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        device.Connect(transport.LocalEndPoint);
        return (transport, device);
    }

    private static async Task<SipMessage> ReceiveAsync(UdpClient device)
    {
        using var cts = new CancellationTokenSource(Deadline);
        var datagram = await device.ReceiveAsync(cts.Token);
        Assert.True(SipParser.TryParse(datagram.Buffer, new SipLimits(), out var message, out var error), error);
        return message!;
    }

    /// <summary>
    /// Stopping ends the receive loop quietly, whenever it happens: before the first receive, while one is pending, or
    /// right after start. A full run once saw a pending receive end in SocketException (OperationAborted) when SIP gave
    /// up a port whose TCP side was taken, which failed the gateway's start instead of trying another port.
    /// </summary>
    [Fact]
    public async Task Stopping_ends_the_receive_loop_quietly_however_soon()
    {
        var handler = new Handler(incoming => Task.FromResult(SipMessage.ResponseTo(incoming.Request, 200, "OK", toTag: "gw")));
        for (int i = 0; i < 200; i++)
        {
            var (transport, device) = Start(handler);
            using var _ = device;
            if (i % 2 == 1)
            {
                await Task.Yield(); // sometimes after the receive began
            }

            await transport.DisposeAsync(); // throws if the loop ended in an exception
        }

        var (last, lastDevice) = Start(handler);
        await using var __ = last;
        using var ___ = lastDevice;
        await lastDevice.SendAsync(Message("z9hG4bK-after"));
        Assert.Equal(200, (await ReceiveAsync(lastDevice)).StatusCode); // and a new transport still serves
    }

    [Fact]
    public async Task A_request_retransmitted_while_and_after_it_is_handled_is_handled_once_and_answered_each_time()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new Handler(async incoming =>
        {
            await gate.Task;
            return SipMessage.ResponseTo(incoming.Request, 200, "OK", toTag: "gw");
        });
        var (transport, device) = Start(handler);
        await using var _ = transport;
        using var __ = device;

        var request = Message("z9hG4bK-r1", "<Notify/>");
        await device.SendAsync(request);
        await Eventually.TrueAsync(() => handler.Calls == 1, "the handler called");
        await device.SendAsync(request); // while it is handled: absorbed, nothing sent
        await Eventually.TrueAsync(() => transport.Retransmissions == 1, "the first retransmission absorbed");
        gate.SetResult();
        var ok = await ReceiveAsync(device);
        Assert.Equal(200, ok.StatusCode);
        var port = ((IPEndPoint)device.Client.LocalEndPoint!).Port;
        Assert.Equal($"SIP/2.0/UDP 127.0.0.1:5060;received=127.0.0.1;rport={port};branch=z9hG4bK-r1", ok.Header("Via")); // where it really came from

        await device.SendAsync(request); // after it was answered: the same answer again
        var again = await ReceiveAsync(device);
        Assert.Equal(ok.ToBytes(), again.ToBytes());
        Assert.Equal((1, 2L, 1L), (handler.Calls, transport.Retransmissions, transport.Answered));
    }

    [Fact]
    public async Task A_bad_request_is_answered_400_with_its_reason_and_noise_is_dropped_and_counted()
    {
        var handler = new Handler(incoming => Task.FromResult(SipMessage.ResponseTo(incoming.Request, 200, "OK")));
        var (transport, device) = Start(handler);
        await using var _ = transport;
        using var __ = device;

        var truncated = Encoding.UTF8.GetString(Message("z9hG4bK-bad", "<Notify/>")).Replace("Content-Length: 9", "Content-Length: 90", StringComparison.Ordinal);
        await device.SendAsync(Encoding.UTF8.GetBytes(truncated));
        var refused = await ReceiveAsync(device);
        Assert.Equal((400, "Bad Request: Content-Length 90 but 9 bytes follow the headers"), (refused.StatusCode, refused.ReasonPhrase));

        await device.SendAsync("hello, is anyone there?"u8.ToArray());
        await Eventually.TrueAsync(() => transport.Dropped == 1, "the noise dropped");
        Assert.Equal((0, 1L, 2L), (handler.Calls, transport.Malformed, transport.Received));
    }

    [Fact]
    public async Task Past_its_concurrency_a_request_is_answered_503_with_retry_after_and_a_failing_handler_500()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new Handler(async incoming =>
        {
            if (incoming.Request.Header("Call-ID") == "z9hG4bK-fails")
            {
                throw new InvalidOperationException("the store refused it");
            }

            await gate.Task;
            return SipMessage.ResponseTo(incoming.Request, 200, "OK");
        });
        var (transport, device) = Start(handler, concurrency: 1);
        await using var _ = transport;
        using var __ = device;

        await device.SendAsync(Message("z9hG4bK-held"));
        await Eventually.TrueAsync(() => handler.Calls == 1, "the first request held by its handler");
        await device.SendAsync(Message("z9hG4bK-second"));
        var busy = await ReceiveAsync(device);
        Assert.Equal((503, "5", "z9hG4bK-second"), (busy.StatusCode, busy.Header("Retry-After"), busy.Header("Call-ID")));
        gate.SetResult();
        Assert.Equal(200, (await ReceiveAsync(device)).StatusCode);

        await device.SendAsync(Message("z9hG4bK-fails"));
        var failed = await ReceiveAsync(device);
        Assert.Equal((500, "5"), (failed.StatusCode, failed.Header("Retry-After")));
        Assert.Equal(1L, transport.Busy);
    }
}
