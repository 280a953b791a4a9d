using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using SharpEyes.Gateway.Sip;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Sip;

/// <summary>Non-INVITE transactions (RFC 3261 §17): retransmissions absorbed on the server side, Timers E and F on the client side, on an injected clock.</summary>
public sealed class SipTransactionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 8, 0, 0, TimeSpan.Zero);

    private static SipMessage Message(string text)
    {
        Assert.True(SipParser.TryParse(Encoding.UTF8.GetBytes(text), new SipLimits(), out var message, out var error), error);
        return message!;
    }

    private static SipMessage Query(string branch) => Message(
        "MESSAGE sip:34020000001320000001@3402000000 SIP/2.0\r\n" +
        $"Via: SIP/2.0/UDP 10.0.0.9:5060;rport;branch={branch}\r\n" +
        "From: <sip:34020000002000000001@3402000000>;tag=gw\r\nTo: <sip:34020000001320000001@3402000000>\r\n" +
        "Call-ID: q1\r\nCSeq: 7 MESSAGE\r\nContent-Length: 0\r\n\r\n");

    [Fact]
    public void A_retransmitted_request_is_absorbed_and_answered_with_the_response_already_sent_until_timer_j()
    {
        var time = new FakeTimeProvider(T0);
        var server = new SipServerTransactions(time, SipTimers.Default);
        var request = Message(SipParserTests.Register);
        Assert.False(server.TryAbsorb(request, out _)); // new
        Assert.True(server.TryAbsorb(request, out var pending)); // its retransmission while it is handled: dropped
        Assert.Null(pending);

        var ok = SipMessage.ResponseTo(request, 200, "OK", toTag: "gw");
        server.Completed(request, ok);
        Assert.True(server.TryAbsorb(request, out var again));
        Assert.Same(ok, again);
        Assert.False(server.TryAbsorb(Message(SipParserTests.Register.Replace("z9hG4bK1371463273", "z9hG4bK1371463274", StringComparison.Ordinal)), out _)); // another branch: another transaction

        time.Advance(SipTimers.Default.Timeout);
        Assert.False(server.TryAbsorb(request, out _)); // Timer J passed: a new transaction
    }

    [Fact]
    public void A_full_table_counts_an_overflow_and_handles_the_request_as_new()
    {
        var server = new SipServerTransactions(new FakeTimeProvider(T0), SipTimers.Default, capacity: 2);
        Assert.False(server.TryAbsorb(Query("z9hG4bK-1"), out _));
        Assert.False(server.TryAbsorb(Query("z9hG4bK-2"), out _));
        Assert.False(server.TryAbsorb(Query("z9hG4bK-3"), out _));
        Assert.False(server.TryAbsorb(Query("z9hG4bK-3"), out _)); // not remembered
        Assert.Equal((2, 2L), (server.Count, server.Overflows));
    }

    [Fact]
    public async Task Over_udp_a_request_is_sent_again_at_timer_e_until_its_final_response()
    {
        var time = new CountingTime(new FakeTimeProvider(T0));
        var client = new SipClientTransactions(time, SipTimers.Default);
        var sent = new ConcurrentQueue<DateTimeOffset>();
        var request = Query("z9hG4bK-q1");
        var answer = client.SendAsync(request, (_, _) =>
        {
            sent.Enqueue(time.GetUtcNow());
            return ValueTask.CompletedTask;
        }, reliable: false);

        // T1 doubling, then capped at T2 (4 s): sends at 0, 0.5, 1.5, 3.5 and 7.5 s.
        double[] waits = [0.5, 1.0, 2.0, 4.0];
        for (var k = 0; k < waits.Length; k++)
        {
            await Eventually.TrueAsync(() => time.Timers == k + 1, $"the transaction's timer {k + 1} set");
            time.Advance(TimeSpan.FromSeconds(waits[k]));
        }

        await Eventually.TrueAsync(() => sent.Count == 5, "five sends");
        Assert.Equal([0, 0.5, 1.5, 3.5, 7.5], sent.Select(t => (t - T0).TotalSeconds));
        Assert.False(client.OnResponse(Message(Encoding.UTF8.GetString(SipMessage.ResponseTo(Query("z9hG4bK-other"), 200, "OK").ToBytes())))); // not its branch
        Assert.True(client.OnResponse(Message(Encoding.UTF8.GetString(SipMessage.ResponseTo(request, 200, "OK").ToBytes()))));
        Assert.Equal(200, (await answer)!.StatusCode);
        Assert.Equal(0, client.Count);
    }

    [Theory]
    [InlineData(false, 11)] // UDP: 0, 0.5, 1.5, 3.5, then every 4 s up to 31.5 s
    [InlineData(true, 1)] // TCP: once
    public async Task Without_an_answer_the_request_gives_up_at_timer_f(bool reliable, int expectedSends)
    {
        var time = new CountingTime(new FakeTimeProvider(T0));
        var client = new SipClientTransactions(time, SipTimers.Default);
        var sends = 0;
        var answer = client.SendAsync(Query("z9hG4bK-q2"), (_, _) =>
        {
            Interlocked.Increment(ref sends);
            return ValueTask.CompletedTask;
        }, reliable);
        double[] waits = reliable ? [32] : [0.5, 1, 2, 4, 4, 4, 4, 4, 4, 4, 0.5];
        for (var k = 0; k < waits.Length; k++)
        {
            await Eventually.TrueAsync(() => time.Timers == k + 1, $"the transaction's timer {k + 1} set");
            time.Advance(TimeSpan.FromSeconds(waits[k]));
        }

        Assert.Null(await answer);
        Assert.Equal(SipTimers.Default.Timeout, time.GetUtcNow() - T0);
        Assert.Equal(expectedSends, sends);
        Assert.Equal(0, client.Count);
    }

    /// <summary>A fake clock that counts the timers set on it, so a test advances it only once the code under test waits.</summary>
    private sealed class CountingTime(FakeTimeProvider inner) : TimeProvider
    {
        private int _timers;

        public int Timers => Volatile.Read(ref _timers);

        public void Advance(TimeSpan delta) => inner.Advance(delta);

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override long GetTimestamp() => inner.GetTimestamp();

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref _timers);
            return inner.CreateTimer(callback, state, dueTime, period);
        }
    }
}
