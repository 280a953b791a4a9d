using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Alarms;

/// <summary>
/// A fault inside the gateway while it checks or stores one alarm (nothing real produces one once the parser is right,
/// so a clock that fails for one caller injects it): the alarm is dead-lettered as <c>internal-error</c> and logged,
/// the publisher is acknowledged and keeps its connection, and the next alarm goes through.
/// </summary>
public sealed class AlarmIntakeFaultTests : IAsyncLifetime
{
    private const string VendorId = "vendor-f";
    private readonly FaultingClock _clock = new(new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero));
    private GatewayHost _host = null!;
    private string _vendorKey = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync(time: _clock);
        _vendorKey = await _host.CreateKeyAsync(Role.Vendor, VendorId);
        await new DeviceRegistry.DeviceRegistryClient(_host.Channel).RegisterDeviceAsync(TestDevices.Alarm(1), _host.Auth(_vendorKey));
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData("SharpEyes.Gateway.Alarms.AlarmIntake", "checking")]
    [InlineData("SharpEyes.Gateway.Incidents.IncidentCorrelator", "its transaction")]
    public async Task A_fault_while_handling_one_alarm_dead_letters_it_as_internal_error_and_the_connection_goes_on(string failingCaller, string stage)
    {
        var client = await _host.ConnectMqttAsync(VendorId, _vendorKey);
        var disconnects = DisconnectCounter.Watch(client);
        var letters = await DeadLetterListener.SubscribeAsync(client, VendorId);
        var alarm = AlarmPublisher.Alarm(TestDevices.AlarmId(1), "evt-fault");

        _clock.FailCallsFrom(failingCaller);
        MqttClientPublishResult ack;
        try
        {
            ack = await client.PublishAsync(alarm);
        }
        finally
        {
            _clock.FailCallsFrom(null);
        }

        // Acknowledged (no dropped connection, so no endless resend), dead-lettered, counted and logged with the exception.
        Assert.True(client.IsConnected, stage);
        var letter = await letters.WaitForAsync(alarm.Payload.ToArray(), "the internal-error dead letter");
        Assert.Equal("internal-error", letter.Reason);
        Assert.Matches("^the gateway failed to process this message \\(error [0-9a-f]{12}, in its log\\); the alarm was not stored$", letter.Detail);
        var errorId = letter.Detail.Split("error ")[1][..12];
        Assert.Contains(_host.Logs.Lines, l => l.Contains(errorId, StringComparison.Ordinal) && l.Contains("injected fault", StringComparison.Ordinal));
        var stats = await _host.GetStatsAsync();
        Assert.Equal(1, stats.DeadLettersByReason["internal-error"]);
        Assert.Equal(0, stats.AlarmsAccepted);
        if (stage == "checking")
        {
            Assert.Equal("internal-error", ack.ReasonString); // the commit-stage PUBACK code is the broker's to set from the result
        }

        // The same alarm again, once the fault is gone: accepted (nothing of the failed attempt was stored), same connection.
        var again = await client.PublishAsync(alarm);
        Assert.Equal(MqttClientPublishReasonCode.Success, again.ReasonCode);
        Assert.Equal(1, (await _host.GetStatsAsync()).AlarmsAccepted);
        Assert.Equal(0, disconnects.Count);
    }

    /// <summary>A fake clock that throws for callers declared in (or nested in) one type, while told to.</summary>
    private sealed class FaultingClock(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private volatile string? _failingCaller;

        public void FailCallsFrom(string? typeName) => _failingCaller = typeName;

        [MethodImpl(MethodImplOptions.NoInlining)]
        public override DateTimeOffset GetUtcNow()
        {
            if (_failingCaller is { } failing
                && new StackFrame(1, needFileInfo: false).GetMethod()?.DeclaringType?.FullName is { } caller
                && (caller == failing || caller.StartsWith(failing + "+", StringComparison.Ordinal)))
            {
                throw new InvalidOperationException("injected fault: the clock failed for " + caller);
            }

            return base.GetUtcNow();
        }
    }
}
