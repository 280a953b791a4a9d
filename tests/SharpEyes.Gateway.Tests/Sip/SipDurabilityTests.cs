using System.Globalization;
using System.Text.RegularExpressions;
using Grpc.Core;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Sip;

/// <summary>
/// Store first, then answer: SIPp sends GB/T 28181 alarms one after another to a gateway process that is killed
/// (SIGKILL) mid-stream; after a restart every alarm SIPp saw answered 200 OK is in the feed.
/// </summary>
public sealed partial class SipDurabilityTests
{
    private const string AdminKey = "se_testadmin_0123456789abcdefghijklmnopqrstuvwxyz";
    private const string Nvr = "13012700001180000001";

    [Fact]
    public async Task Every_alarm_answered_200_OK_before_a_SIGKILL_is_on_the_feed_after_restart()
    {
        var dataDir = GatewayHost.NewDataDir();
        // SIP on a port the gateway picks (port 0) and reports: a port found free beforehand may be another test's
        // ephemeral port by the time the gateway binds it (a full run saw "address already in use").
        string[] args = ["--demo", "--demo-cameras", "false", "--stream-checks", "false"];
        var gateway = await GatewayProcess.StartAsync(dataDir, AdminKey, args);
        try
        {
            var sipPort = gateway.SipPort;
            Assert.True(sipPort > 0, "the gateway reports its SIP port");
            var sip = new V1.Sip.SipClient(gateway.Channel);
            await sip.CreateSipAccountAsync(new CreateSipAccountRequest { AccountId = "hik-county", VendorId = "hik", Password = "county-pass-1" }, GatewayProcess.Auth(AdminKey));
            await sip.AssignSipDeviceAsync(new AssignSipDeviceRequest { DeviceId = Nvr, AccountId = "hik-county" }, GatewayProcess.Auth(AdminKey));
            var devicePort = Ports.Free().ToString(CultureInfo.InvariantCulture);
            string[] device = ["-s", "13012700002000000001", "-au", "hik-county", "-ap", "county-pass-1", "-m", "1", "-set", "device_id", Nvr, "-p", devicePort];

            // Registered, with its one channel from the catalog, and kept registered.
            await using (var register = Sipp.Start(["-sf", Sipp.Scenario("device.xml"), "-oocsf", Sipp.Scenario("device-ooc.xml"), .. device,
                "-set", "channels", "1", "-set", "alarms", "0", "-set", "unregister", "0", $"127.0.0.1:{sipPort}"], TimeSpan.FromSeconds(60)))
            {
                await register.WaitAsync(TimeSpan.FromSeconds(75));
            }

            // Alarms one after another, each sent when the previous one was answered; killed once 100 are answered.
            var now = DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
            await using var alarms = Sipp.Start(["-sf", Sipp.Scenario("alarm-gb2312.xml"), .. device, "-set", "alarms", "100000", "-set", "alarm_time", now,
                "-trace_msg", "-message_file", "messages.log", $"127.0.0.1:{sipPort}"], TimeSpan.FromSeconds(20));
            await Eventually.TrueAsync(() => Answered(alarms.File("messages.log")).Count >= 100, "100 alarms answered", TimeSpan.FromSeconds(60));
            await gateway.KillAsync();
            await alarms.ExitAsync(TimeSpan.FromSeconds(40)); // it gives up on the unanswered one
            var answered = Answered(alarms.File("messages.log"));

            await gateway.DisposeAsync();
            gateway = await GatewayProcess.StartAsync(dataDir, AdminKey, args);
            var stored = new HashSet<string>(StringComparer.Ordinal);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var feed = new V1.Feeds.FeedsClient(gateway.Channel).Subscribe(new SubscribeRequest(), GatewayProcess.Auth(AdminKey), cancellationToken: cts.Token);
            while (!answered.All(sn => stored.Contains($"gb28181:{Nvr}:{sn}:{now}")) && await feed.ResponseStream.MoveNext(cts.Token))
            {
                foreach (var alarm in feed.ResponseStream.Current.Incident?.Alarms ?? [])
                {
                    stored.Add(alarm.EventId);
                }
            }

            Assert.True(answered.Count >= 100, $"{answered.Count} answered");
            var lost = answered.Where(sn => !stored.Contains($"gb28181:{Nvr}:{sn}:{now}")).Order().ToList();
            Assert.True(lost.Count == 0, $"answered 200 OK but not on the feed: SN {string.Join(", ", lost.Take(20))}");
            TestContext.Current.SendDiagnosticMessage($"{answered.Count} alarms answered 200 OK before the kill; all {answered.Count} on the feed after restart ({stored.Count} stored)");
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    /// <summary>The SNs of the alarm MESSAGEs SIPp's message log shows answered 200 OK (matched by Call-ID).</summary>
    private static HashSet<long> Answered(string log)
    {
        var sent = new Dictionary<string, long>(StringComparer.Ordinal);
        var answered = new HashSet<long>();
        foreach (Match block in Block().Matches(log))
        {
            var text = block.Groups["text"].Value;
            var callId = CallId().Match(text) is { Success: true } c ? c.Groups[1].Value.Trim() : "";
            if (block.Groups["dir"].Value == "sent" && Sn().Match(text) is { Success: true } sn)
            {
                sent[callId] = long.Parse(sn.Groups[1].Value, CultureInfo.InvariantCulture);
            }
            else if (block.Groups["dir"].Value == "received" && text.StartsWith("SIP/2.0 200", StringComparison.Ordinal) && sent.TryGetValue(callId, out var answeredSn))
            {
                answered.Add(answeredSn);
            }
        }

        return answered;
    }

    [GeneratedRegex(@"UDP message (?<dir>sent|received)[^\n]*\n\n?(?<text>.*?)(?=\n-{10,}|\z)", RegexOptions.Singleline)]
    private static partial Regex Block();

    [GeneratedRegex(@"(?mi)^Call-ID:\s*(\S+)")]
    private static partial Regex CallId();

    [GeneratedRegex(@"<SN>\s*(\d+)\s*</SN>")]
    private static partial Regex Sn();
}
