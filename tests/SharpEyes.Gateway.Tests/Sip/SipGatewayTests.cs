using System.Text;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Sip;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Sip;

/// <summary>
/// A GB/T 28181 device scripted message by message against a real gateway over UDP on 127.0.0.1: registration with
/// digest authentication, the catalog into devices of the account's vendor, keepalives into liveness, a GB2312 alarm
/// into the intake, refusals, unregistration. State is checked through the gRPC API and the feed.
/// </summary>
public sealed class SipGatewayTests : IAsyncLifetime
{
    private const string Nvr = "13012700001180000001";
    private const string Camera1 = "13012700001310000001";
    private const string Camera2 = "13012700001320000002";
    private const string AlarmInput = "13012700001340000003";
    private GatewayHost _host = null!;
    private V1.Sip.SipClient _sip = null!;
    private DeviceRegistry.DeviceRegistryClient _devices = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await GatewayHost.StartAsync();
        _sip = new V1.Sip.SipClient(_host.Channel);
        _devices = new DeviceRegistry.DeviceRegistryClient(_host.Channel);
        await _sip.CreateSipAccountAsync(new CreateSipAccountRequest { AccountId = "hik-county", VendorId = "hik", Password = "county-pass-1" }, _host.AdminAuth);
        await _sip.AssignSipDeviceAsync(new AssignSipDeviceRequest { DeviceId = Nvr, AccountId = "hik-county" }, _host.AdminAuth);
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private static string Catalog(long sn, int sum, params (string Id, string Name, double Lon, double Lat, string Status)[] items)
    {
        var list = string.Concat(items.Select(i =>
            $"<Item><DeviceID>{i.Id}</DeviceID><Name>{i.Name}</Name><Manufacturer>Hikvision</Manufacturer><Model>DS-2CD</Model><ParentID>{Nvr}</ParentID>" +
            $"<Status>{i.Status}</Status><Longitude>{i.Lon}</Longitude><Latitude>{i.Lat}</Latitude><Info><PTZType>3</PTZType></Info></Item>"));
        return $"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><CmdType>Catalog</CmdType><SN>{sn}</SN><DeviceID>{Nvr}</DeviceID><SumNum>{sum}</SumNum>" +
            $"<DeviceList Num=\"{items.Length}\">{list}</DeviceList></Response>";
    }

    /// <summary>Registers the NVR and answers the gateway's catalog query, SetGuard and SUBSCRIBE; returns the catalog query's SN.</summary>
    private async Task<long> RegisterAndAnswerAsync(RawSipDevice device)
    {
        var registered = await device.RegisterAsync("hik-county", "county-pass-1");
        Assert.Equal(200, registered.StatusCode);
        long sn = 0;
        for (var i = 0; i < 3; i++)
        {
            var request = await device.AnswerNextAsync();
            if (request.Method == "MESSAGE" && Manscdp.TryParse(request.Body, out var doc, out _) && doc!.CmdType == "Catalog")
            {
                sn = doc.Sn;
            }
        }

        Assert.NotEqual(0, sn);
        return sn;
    }

    [Fact]
    public async Task A_device_registers_with_digest_its_catalog_becomes_devices_of_the_accounts_vendor_and_keepalives_and_alarms_flow()
    {
        using var device = new RawSipDevice(_host.SipPort, Nvr);

        // Without credentials: 401 with a digest challenge in the gateway's realm.
        var challenged = await device.SendAsync("REGISTER", [new("Expires", "3600")], [], "c1");
        Assert.Equal(401, challenged.StatusCode);
        var challenge = challenged.Header("WWW-Authenticate")!;
        Assert.Contains("realm=\"1301270000\"", challenge, StringComparison.Ordinal);
        Assert.Contains("qop=\"auth\"", challenge, StringComparison.Ordinal);

        var registered = await device.RegisterAsync("hik-county", "county-pass-1");
        Assert.Equal(200, registered.StatusCode);
        Assert.Equal("3600", registered.Header("Expires"));
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$", registered.Header("Date"));
        Assert.Equal("2026-11-22T16:00:00.000", registered.Header("Date")); // the gateway's clock in China Standard Time

        // The gateway queries the catalog, arms the device and subscribes to its alarms, in some order.
        var asked = new List<SipMessage>();
        for (var i = 0; i < 3; i++)
        {
            asked.Add(await device.AnswerNextAsync());
        }

        var query = asked.Single(r => r.Method == "MESSAGE" && Encoding.UTF8.GetString(r.Body).Contains("<Query>", StringComparison.Ordinal));
        Assert.True(Manscdp.TryParse(query.Body, out var queryDoc, out _));
        Assert.Equal(("Catalog", Nvr), (queryDoc!.CmdType, queryDoc.DeviceId));
        Assert.Contains(asked, r => r.Method == "MESSAGE" && Encoding.UTF8.GetString(r.Body).Contains("<GuardCmd>SetGuard</GuardCmd>", StringComparison.Ordinal));
        Assert.Contains(asked, r => r.Method == "SUBSCRIBE" && r.Header("Event") == "presence");

        // The catalog in two Response messages; each answered only after its items are stored.
        var first = await device.MessageAsync(Catalog(queryDoc.Sn, 3, (Camera1, "东门枪机", 114.6102, 37.6105, "ON"), (Camera2, "西门球机", 114.6050, 37.6080, "ON")));
        Assert.Equal(200, first.StatusCode);
        var camera1 = await _devices.GetDeviceAsync(new GetDeviceRequest { DeviceId = Camera1 }, _host.AdminAuth);
        Assert.Equal(("hik", "东门枪机", DeviceKind.Camera), (camera1.VendorId, camera1.Name, camera1.Kind));
        Assert.Equal(90, camera1.Camera.HfovDeg);
        var second = await device.MessageAsync(Catalog(queryDoc.Sn, 3, (AlarmInput, "周界报警", 114.6101, 37.6101, "ON")));
        Assert.Equal(200, second.StatusCode);

        var sipDevice = await _sip.GetSipDeviceAsync(new GetSipDeviceRequest { DeviceId = Nvr }, _host.AdminAuth);
        Assert.Equal((CatalogState.Complete, 3, 3, 3, 0), (sipDevice.Catalog.State, sipDevice.Catalog.SumNum, sipDevice.Catalog.Received, sipDevice.Catalog.Registered, sipDevice.Catalog.Refused));
        Assert.True(sipDevice.Registered);
        Assert.True(sipDevice.Armed);
        Assert.True(sipDevice.Subscribed);
        Assert.Equal(("hik", "UDP", 3), (sipDevice.VendorId, sipDevice.Transport, sipDevice.Channels));
        var listed = await _devices.ListDevicesAsync(new ListDevicesRequest { VendorId = "hik" }, _host.AdminAuth);
        Assert.Equal([Camera1, Camera2, AlarmInput], listed.Devices.Select(d => d.DeviceId).Order(StringComparer.Ordinal));
        Assert.All(listed.Devices, d => Assert.Equal(DeviceStatus.Online, d.Status)); // listed ON by their NVR

        // A keepalive after the timeout brings the channels back online.
        _host.Time.Advance(TimeSpan.FromMinutes(4));
        await _host.Services.GetRequiredService<Liveness.KeepaliveMonitor>().SweepAsync(TestContext.Current.CancellationToken);
        Assert.Equal(DeviceStatus.Offline, (await _devices.GetDeviceAsync(new GetDeviceRequest { DeviceId = Camera1 }, _host.AdminAuth)).Status);
        var keepalive = await device.MessageAsync($"<?xml version=\"1.0\" encoding=\"GB2312\"?><Notify><CmdType>Keepalive</CmdType><SN>7</SN><DeviceID>{Nvr}</DeviceID><Status>OK</Status></Notify>");
        Assert.Equal(200, keepalive.StatusCode);
        Assert.Equal(DeviceStatus.Online, (await _devices.GetDeviceAsync(new GetDeviceRequest { DeviceId = Camera1 }, _host.AdminAuth)).Status);

        // An alarm of a channel, its description in GB2312, enters the intake: 200 OK after the commit, on an incident.
        await using var feed = new FeedReader(_host, _host.AdminKey, afterSequence: _host.LastSequence);
        var gb2312 = Encoding.GetEncoding("GB18030");
        var alarm = gb2312.GetBytes($"<?xml version=\"1.0\" encoding=\"GB2312\"?><Notify><CmdType>Alarm</CmdType><SN>8</SN><DeviceID>{Camera1}</DeviceID>" +
            "<AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>2026-11-22T16:03:00</AlarmTime><AlarmDescription>东门区域入侵</AlarmDescription>" +
            "<Longitude>114.6102</Longitude><Latitude>37.6105</Latitude><Info><AlarmType>2</AlarmType></Info></Notify>");
        var accepted = await device.MessageAsync(alarm);
        Assert.Equal(200, accepted.StatusCode);
        var opened = await feed.WaitForAsync(e => e.Kind == FeedEventKind.IncidentOpened, "the alarm's incident");
        var stored = Assert.Single(opened.Incident.Alarms);
        Assert.Equal(("东门区域入侵", Camera1, 5, 2), (stored.Description, stored.DeviceId, stored.Method, stored.Type));
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 8, 3, 0, TimeSpan.Zero), stored.OccurredAt.ToDateTimeOffset());
        var again = await device.MessageAsync(alarm); // the same alarm sent again (a new transaction): a duplicate, still 200
        Assert.Equal(200, again.StatusCode);
        var sipStats = _host.Services.GetRequiredService<SipStats>();
        Assert.Equal((1L, 1L), (sipStats.AlarmsAccepted, sipStats.AlarmsDuplicate));

        // An alarm the checks refuse: 400 with the dead-letter reason, never 200.
        var refused = await device.MessageAsync($"<Notify><CmdType>Alarm</CmdType><SN>9</SN><DeviceID>{Camera1}</DeviceID><AlarmPriority>9</AlarmPriority>" +
            "<AlarmMethod>2</AlarmMethod><AlarmTime>2026-11-22T16:04:00</AlarmTime></Notify>");
        Assert.Equal(400, refused.StatusCode);
        Assert.Contains("invalid-field", refused.ReasonPhrase, StringComparison.Ordinal);
        Assert.Contains("priority", refused.ReasonPhrase, StringComparison.Ordinal);

        // Unregistering takes the channels offline at once, with the reason.
        
        Assert.Equal(200, (await device.RegisterAsync("hik-county", "county-pass-1", expires: 0)).StatusCode);
        Assert.Equal(SipGateway.UnregisteredReason, (await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOffline && e.Device.DeviceId == Camera1, "camera 1 offline")).Reason);
        Assert.False((await _sip.GetSipDeviceAsync(new GetSipDeviceRequest { DeviceId = Nvr }, _host.AdminAuth)).Registered);

        // Not registered: its messages are refused.
        Assert.Equal(403, (await device.MessageAsync(alarm)).StatusCode);
    }

    [Fact]
    public async Task A_wrong_password_an_unknown_device_and_another_accounts_device_get_403_and_are_counted_by_reason()
    {
        using var wrong = new RawSipDevice(_host.SipPort, Nvr);
        Assert.Equal(403, (await wrong.RegisterAsync("hik-county", "not-the-password")).StatusCode);
        using var unknown = new RawSipDevice(_host.SipPort, "13012700001180000099");
        Assert.Equal(403, (await unknown.RegisterAsync("hik-county", "county-pass-1")).StatusCode);
        using var nobody = new RawSipDevice(_host.SipPort, Nvr);
        Assert.Equal(403, (await nobody.RegisterAsync("no-such-account", "county-pass-1")).StatusCode);

        var stats = _host.Services.GetRequiredService<SipStats>();
        Assert.Equal(1, stats.RefusedRegistrations["wrong-password"]);
        Assert.Equal(1, stats.RefusedRegistrations["unknown-device"]);
        Assert.Equal(1, stats.RefusedRegistrations["unknown-username"]);
        var metrics = await MetricsScrape.ReadAsync(_host.HttpPort);
        Assert.Equal(1, metrics["sharpeyes_sip_registrations_total{outcome=\"wrong-password\"}"]);
        Assert.Equal(3, metrics["sharpeyes_sip_registrations_total{outcome=\"challenged\"}"]);
        Assert.DoesNotContain("county-pass-1", _host.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", _host.Logs.All, StringComparison.Ordinal);

        // An account that enrols automatically takes the unknown device at its first registration.
        await _sip.CreateSipAccountAsync(new CreateSipAccountRequest { AccountId = "dahua", VendorId = "dahua", Password = "dahua-pass-1", AutoEnrol = true }, _host.AdminAuth);
        using var enrolled = new RawSipDevice(_host.SipPort, "13012700001180000099");
        Assert.Equal(200, (await enrolled.RegisterAsync("dahua", "dahua-pass-1")).StatusCode);
        var listed = await _sip.ListSipDevicesAsync(new ListSipDevicesRequest { AccountId = "dahua" }, _host.AdminAuth);
        Assert.Equal("13012700001180000099", Assert.Single(listed.Devices).DeviceId);

        // A device with a password of its own authenticates under its device id.
        await _sip.AssignSipDeviceAsync(new AssignSipDeviceRequest { DeviceId = "13012700001180000077", AccountId = "hik-county", Password = "own-pass-77" }, _host.AdminAuth);
        using var own = new RawSipDevice(_host.SipPort, "13012700001180000077");
        Assert.Equal(200, (await own.RegisterAsync("13012700001180000077", "own-pass-77")).StatusCode);

        // A vendor sees only its own SIP devices.
        var dahuaKey = await _host.CreateKeyAsync(Role.Vendor, "dahua");
        var seen = await _sip.ListSipDevicesAsync(new ListSipDevicesRequest(), _host.Auth(dahuaKey));
        Assert.Equal(["13012700001180000099"], seen.Devices.Select(d => d.DeviceId));
        var hidden = await Assert.ThrowsAsync<RpcException>(() => _sip.GetSipDeviceAsync(new GetSipDeviceRequest { DeviceId = Nvr }, _host.Auth(dahuaKey)).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, hidden.StatusCode);
    }

    [Fact]
    public async Task An_address_that_guesses_passwords_is_refused_unchecked_until_its_window_passes()
    {
        await using var host = await GatewayHost.StartAsync(extraArgs: ["--SharpEyes:Limits:FailedAuthPerAddress=2", "--SharpEyes:Limits:FailedAuthWindow=00:00:03"]);
        var sip = new V1.Sip.SipClient(host.Channel);
        await sip.CreateSipAccountAsync(new CreateSipAccountRequest { AccountId = "hik-county", VendorId = "hik", Password = "county-pass-1" }, host.AdminAuth);
        await sip.AssignSipDeviceAsync(new AssignSipDeviceRequest { DeviceId = Nvr, AccountId = "hik-county" }, host.AdminAuth);
        using var device = new RawSipDevice(host.SipPort, Nvr);
        Assert.Equal(403, (await device.RegisterAsync("hik-county", "guess-1")).StatusCode);
        Assert.Equal(403, (await device.RegisterAsync("hik-county", "guess-2")).StatusCode);

        // The right password now gets the same 403, unchecked, until the window (3 s here) has passed.
        Assert.Equal(403, (await device.RegisterAsync("hik-county", "county-pass-1")).StatusCode);
        var stats = host.Services.GetRequiredService<SipStats>();
        Assert.Equal((2L, 1L), (stats.RefusedRegistrations["wrong-password"], stats.RefusedRegistrations["locked-out"]));
        Assert.Equal(1, (await MetricsScrape.ReadAsync(host.HttpPort))["sharpeyes_refusals_total{kind=\"auth-locked-out\"}"]);
        await Eventually.TrueAsync(async () => (await device.RegisterAsync("hik-county", "county-pass-1")).StatusCode == 200,
            "registered once the window passed", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_channel_that_leaves_the_catalog_is_marked_missing_and_taken_offline_and_INVITE_is_refused()
    {
        using var device = new RawSipDevice(_host.SipPort, Nvr);
        var sn = await RegisterAndAnswerAsync(device);
        Assert.Equal(200, (await device.MessageAsync(Catalog(sn, 2, (Camera1, "东门", 114.6102, 37.6105, "ON"), (Camera2, "西门", 114.6050, 37.6080, "ON")))).StatusCode);

        // Queried again on demand: this time the catalog lists one channel.
        var sync = await _sip.SyncCatalogAsync(new SyncCatalogRequest { DeviceId = Nvr }, _host.AdminAuth);
        var again = await device.AnswerNextAsync();
        Assert.True(Manscdp.TryParse(again.Body, out var doc, out _));
        await using var feed = new FeedReader(_host, _host.AdminKey, afterSequence: _host.LastSequence);
        Assert.Equal(200, (await device.MessageAsync(Catalog(doc!.Sn, 1, (Camera1, "东门", 114.6102, 37.6105, "ON")))).StatusCode);

        var gone = await feed.WaitForAsync(e => e.Kind == FeedEventKind.DeviceOffline && e.Device.DeviceId == Camera2, "camera 2 offline");
        Assert.Equal(SipCatalogSync.RemovedReason, gone.Reason);
        var state = await _sip.GetSipDeviceAsync(new GetSipDeviceRequest { DeviceId = Nvr }, _host.AdminAuth);
        Assert.Equal((CatalogState.Complete, 1), (state.Catalog.State, state.Catalog.Missing));
        Assert.Equal([Camera2], state.Catalog.MissingChannelIds);
        Assert.Equal(DeviceStatus.Offline, (await _devices.GetDeviceAsync(new GetDeviceRequest { DeviceId = Camera2 }, _host.AdminAuth)).Status); // kept, not deleted

        // A keepalive does not bring a missing channel back.
        Assert.Equal(200, (await device.MessageAsync($"<Notify><CmdType>Keepalive</CmdType><SN>3</SN><DeviceID>{Nvr}</DeviceID><Status>OK</Status></Notify>")).StatusCode);
        Assert.Equal(DeviceStatus.Offline, (await _devices.GetDeviceAsync(new GetDeviceRequest { DeviceId = Camera2 }, _host.AdminAuth)).Status);

        // Live video is out of scope: INVITE gets a clear refusal.
        var invite = await device.SendAsync("INVITE", [new("Content-Type", "application/sdp")], Encoding.ASCII.GetBytes("v=0\r\n"), "inv1");
        Assert.Equal(488, invite.StatusCode);
        Assert.Contains("live video", invite.ReasonPhrase, StringComparison.Ordinal);

        // A renewal of the registration arms the device and renews its alarm subscription again (no new catalog query).
        Assert.Equal(200, (await device.RegisterAsync("hik-county", "county-pass-1")).StatusCode);
        var renewed = new[] { await device.AnswerNextAsync(), await device.AnswerNextAsync() };
        Assert.Contains(renewed, r => r.Method == "SUBSCRIBE");
        Assert.Contains(renewed, r => Encoding.UTF8.GetString(r.Body).Contains("<GuardCmd>SetGuard</GuardCmd>", StringComparison.Ordinal));
        Assert.Equal(0, device.Requests.Reader.Count);
    }
}
