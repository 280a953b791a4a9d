using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Devices;

namespace SharpEyes.Gateway.Sip;

/// <summary>
/// GB/T 28181 Alarm notifications into the same intake as MQTT alarms (<see cref="AlarmIntake"/>): the MANSCDP fields
/// become the alarm JSON (AlarmTime in the devices' UTC offset, the position on the configured datum) and go through the
/// same checks, de-duplication, incidents and feed. The answer waits for the commit: 200 OK for an alarm stored (or a
/// duplicate of one), 400 with the dead-letter reason for one the checks refused (stored as a dead letter), and 503 with
/// Retry-After when the store could not take it, never a 200 for an alarm not kept. The event id is the device, the SN
/// and the alarm time, so a device sending the same alarm again is recognised.
/// </summary>
public sealed class SipAlarmIntake(AlarmIntake intake, DeviceCatalog devices, SipStats stats, IOptions<GatewayOptions> options)
{
    private readonly SipOptions _options = options.Value.Sip;

    public async Task<SipMessage> AcceptAsync(SipMessage request, SipDeviceState state, ManscdpDocument alarm, CancellationToken ct)
    {
        var deviceId = ResolveDevice(state, alarm.DeviceId);
        var payload = Payload(state, alarm);
        IntakeResult result;
        try
        {
            var (_, committed) = await intake.SubmitAsync(SipGateway.PrincipalOf(state), AlarmIntake.TopicPrefix + deviceId, new ReadOnlySequence<byte>(payload), ct).ConfigureAwait(false);
            result = await committed.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            stats.AlarmRetryLater();
            return SipMessage.ResponseTo(request, 503, "Service Unavailable: the alarm could not be stored; send it again", extra: [new SipHeader("Retry-After", "5")]);
        }

        stats.Alarm(result.Status);
        return result.Status == IntakeStatus.DeadLettered
            ? SipMessage.ResponseTo(request, 400, SipMessage.Phrase($"Bad Request: {result.Rejection!.Reason}: {result.Rejection.Detail}"))
            : SipMessage.ResponseTo(request, 200, "OK");
    }

    /// <summary>
    /// The device an alarm is about: its DeviceID when that is a channel or the device itself; the registered device's
    /// only channel when the alarm names the device and the device is not registered as a camera or alarm input itself.
    /// </summary>
    private string ResolveDevice(SipDeviceState state, string named)
    {
        var id = named.Length > 0 ? named : state.DeviceId;
        if (id == state.DeviceId && devices.Find(id) is null)
        {
            lock (state)
            {
                var present = state.Channels.Where(c => !c.Value.Missing).Select(c => c.Key).Take(2).ToList();
                if (present.Count == 1)
                {
                    return present[0];
                }
            }
        }

        return id;
    }

    /// <summary>The alarm JSON the MQTT intake reads (AlarmParser), from the MANSCDP fields; a field that does not convert goes as written, for the checks to refuse by name.</summary>
    private byte[] Payload(SipDeviceState state, ManscdpDocument alarm)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            var time = alarm["AlarmTime"];
            json.WriteString("eventId", $"gb28181:{state.DeviceId}:{alarm.Sn}:{time}");
            json.WriteString("occurredAt", Rfc3339(time));
            Number(json, "priority", alarm["AlarmPriority"]);
            var method = alarm["AlarmMethod"];
            Number(json, "method", method);
            var type = alarm["Info/AlarmType"] is { Length: > 0 } t ? t : alarm["AlarmType"];
            if (type.Length > 0 || method != "5")
            {
                Number(json, "type", type.Length > 0 ? type : "0");
            }

            if (alarm["AlarmDescription"] is { Length: > 0 } description)
            {
                json.WriteString("description", description);
            }

            if (double.TryParse(alarm["Longitude"], NumberStyles.Float, CultureInfo.InvariantCulture, out var lon)
                && double.TryParse(alarm["Latitude"], NumberStyles.Float, CultureInfo.InvariantCulture, out var lat) && (lon != 0 || lat != 0))
            {
                json.WriteStartObject("position");
                json.WriteNumber("lon", lon);
                json.WriteNumber("lat", lat);
                json.WriteString("datum", _options.PositionDatum switch { V1.Datum.Gcj02 => "GCJ02", V1.Datum.Bd09 => "BD09", _ => "WGS84" });
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void Number(Utf8JsonWriter json, string name, string text)
    {
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            json.WriteNumber(name, value);
        }
        else
        {
            json.WriteString(name, text);
        }
    }

    /// <summary>A GB/T 28181 time (<c>2026-12-04T10:00:00</c>, no offset: the device's clock) as RFC 3339; a time with an offset as it is; else as written.</summary>
    private string Rfc3339(string text)
    {
        string[] local = ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", "yyyy-MM-dd HH:mm:ss"];
        if (DateTime.TryParseExact(text, local, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
        {
            return new DateTimeOffset(at, _options.DeviceUtcOffset).ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture);
        }

        return text;
    }
}
