using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using SharpEyes.Gateway.Cli;
using SharpEyes.Gateway.Tests.Http;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Auth;

/// <summary>
/// Keys with an expiry (Admin.CreateApiKey expires_at / expires_in, Admin.SetApiKeyExpiry): a key works until its
/// expiry and is refused after it everywhere, with the reason, as a revoked key is (gRPC and JSON UNAUTHENTICATED,
/// MQTT CONNECT refused, a console session ended); what is open with it ends within seconds of the expiry, driven by a
/// timer on the gateway's clock (the tests move the fake clock: nothing waits for the expiry in real time).
/// </summary>
public sealed class KeyExpiryTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_key_works_until_its_expiry_and_is_refused_after_it_over_grpc_json_mqtt_and_the_console()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var admin = new Admin.AdminClient(host.Channel);
        var start = host.Time.GetUtcNow();
        var expiresAt = start.AddMinutes(10);
        var vendor = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Vendor, VendorId = "acme", ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromMinutes(10)) }, host.AdminAuth);
        var operatorKey = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Operator, ExpiresAt = Timestamp.FromDateTimeOffset(expiresAt) }, host.AdminAuth);
        var forever = await host.CreateKeyAsync(Role.Operator);
        var registry = new DeviceRegistry.DeviceRegistryClient(host.Channel);
        using var json = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };
        json.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", operatorKey.ApiKey);
        using var browser = new SessionClient(host);

        // Listed with its expiry; before it, everything works.
        Assert.Equal(Timestamp.FromDateTimeOffset(expiresAt), vendor.Info.ExpiresAt);
        Assert.False(vendor.Info.Expired);
        var listed = (await admin.ListApiKeysAsync(new ListApiKeysRequest(), host.AdminAuth)).Keys.Single(k => k.KeyId == operatorKey.Info.KeyId);
        Assert.Equal((Timestamp.FromDateTimeOffset(expiresAt), false), (listed.ExpiresAt, listed.Expired));
        Assert.Null((await admin.ListApiKeysAsync(new ListApiKeysRequest(), host.AdminAuth)).Keys.Single(k => k.KeyId == forever.Split('_')[1]).ExpiresAt);
        await registry.ListDevicesAsync(new ListDevicesRequest(), host.Auth(vendor.ApiKey));
        using (var before = await json.GetAsync("/api/v1/incidents", TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        (await host.ConnectMqttAsync("acme", vendor.ApiKey)).Dispose();
        await browser.SignInOrFailAsync(operatorKey.ApiKey);
        host.Time.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromMilliseconds(1));
        await registry.ListDevicesAsync(new ListDevicesRequest(), host.Auth(vendor.ApiKey)); // still valid 1 ms before

        host.Time.Advance(TimeSpan.FromMilliseconds(1));
        var expected = $"API key {vendor.Info.KeyId} expired at {expiresAt:yyyy-MM-dd'T'HH:mm:ss'Z'}";
        var grpc = await Assert.ThrowsAsync<RpcException>(async () => await registry.ListDevicesAsync(new ListDevicesRequest(), host.Auth(vendor.ApiKey)));
        Assert.Equal((StatusCode.Unauthenticated, expected), (grpc.StatusCode, grpc.Status.Detail));
        Assert.DoesNotContain(vendor.ApiKey[(vendor.ApiKey.IndexOf('_', 3) + 1)..], grpc.Status.Detail, StringComparison.Ordinal); // the id, never the secret

        using var refused = await json.GetAsync("/api/v1/incidents", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal((16, $"API key {operatorKey.Info.KeyId} expired at {expiresAt:yyyy-MM-dd'T'HH:mm:ss'Z'}"), await SessionClient.ReadErrorAsync(refused));

        var mqtt = new MqttClientFactory().CreateMqttClient();
        var connect = await mqtt.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", host.MqttPort).WithClientId("expired-1")
            .WithCredentials("acme", vendor.ApiKey).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithTimeout(TimeSpan.FromSeconds(10)).Build(),
            TestContext.Current.CancellationToken);
        Assert.Equal((MqttClientConnectResultCode.BadUserNameOrPassword, expected), (connect.ResultCode, connect.ReasonString));
        mqtt.Dispose();

        // The console session of the expired key ends at its next request, with the reason.
        using var session = await browser.Http.GetAsync("/api/session", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, session.StatusCode);
        Assert.Equal((16, $"the session has ended: API key {operatorKey.Info.KeyId} expired at {expiresAt:yyyy-MM-dd'T'HH:mm:ss'Z'}; sign in again with POST /api/session"),
            await SessionClient.ReadErrorAsync(session));
        using var signIn = await browser.SignInAsync(operatorKey.ApiKey);
        Assert.Equal(HttpStatusCode.Unauthorized, signIn.StatusCode);

        // Listed as expired; a key without an expiry goes on.
        listed = (await admin.ListApiKeysAsync(new ListApiKeysRequest(), host.AdminAuth)).Keys.Single(k => k.KeyId == vendor.Info.KeyId);
        Assert.True(listed.Expired);
        Assert.False(listed.Revoked);
        await new V1.Incidents.IncidentsClient(host.Channel).ListIncidentsAsync(new ListIncidentsRequest(), host.Auth(forever));
    }

    [Fact]
    public async Task An_open_feed_stream_and_mqtt_connection_end_within_seconds_of_the_keys_expiry()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var admin = new Admin.AdminClient(host.Channel);
        var lifetime = Duration.FromTimeSpan(TimeSpan.FromHours(2));
        var centre = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Centre, ExpiresIn = lifetime }, host.AdminAuth);
        var vendor = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Vendor, VendorId = "acme", ExpiresIn = lifetime }, host.AdminAuth);
        var otherCentre = await host.CreateKeyAsync(Role.Centre);
        var otherVendor = await host.CreateKeyAsync(Role.Vendor, "beta");
        var expiresAt = host.Time.GetUtcNow() + TimeSpan.FromHours(2);
        var feeds = new V1.Feeds.FeedsClient(host.Channel);
        using var expiring = feeds.Subscribe(new SubscribeRequest(), host.Auth(centre.ApiKey), cancellationToken: TestContext.Current.CancellationToken);
        using var kept = feeds.Subscribe(new SubscribeRequest(), host.Auth(otherCentre), cancellationToken: TestContext.Current.CancellationToken);
        var reading = RevocationTests.ReadToEndAsync(expiring);
        var keptReading = RevocationTests.ReadToEndAsync(kept);
        await Eventually.TrueAsync(() => host.Services.GetRequiredService<SharpEyes.Gateway.Feeds.FeedHub>().Subscribers == 2, "both streams open");
        var client = await host.ConnectMqttAsync("acme", vendor.ApiKey);
        var otherClient = await host.ConnectMqttAsync("beta", otherVendor);
        var disconnected = new TaskCompletionSource<MqttClientDisconnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.DisconnectedAsync += e =>
        {
            disconnected.TrySetResult(e);
            return Task.CompletedTask;
        };

        // An hour before the expiry (the timer has woken at least once by then), nothing ends.
        host.Time.Advance(TimeSpan.FromHours(1));
        Assert.False(reading.IsCompleted);
        Assert.True(client.IsConnected);

        var started = Stopwatch.StartNew();
        host.Time.Advance(TimeSpan.FromHours(1));
        var ended = await reading.WaitAsync(Within, TestContext.Current.CancellationToken);
        var e = await disconnected.Task.WaitAsync(Within, TestContext.Current.CancellationToken);

        var why = $"API key {centre.Info.KeyId} expired at {expiresAt:yyyy-MM-dd'T'HH:mm:ss'Z'}";
        Assert.Equal((StatusCode.Unauthenticated, why + "; the stream is closed"), (ended.StatusCode, ended.Status.Detail));
        // The client reads the reason unless a reset overtook it (ServerDisconnect.Seen); the gateway's log line is its own record.
        if (ServerDisconnect.Seen(e) is { } seen)
        {
            Assert.Equal((MqttClientDisconnectReason.NotAuthorized, $"API key {vendor.Info.KeyId} expired at {expiresAt:yyyy-MM-dd'T'HH:mm:ss'Z'}"), seen);
        }
        Assert.Contains(host.Logs.Lines, l => l.Contains("Disconnected MQTT client ", StringComparison.Ordinal)
            && l.Contains($": API key {vendor.Info.KeyId} expired at {expiresAt:yyyy-MM-dd'T'HH:mm:ss'Z'}", StringComparison.Ordinal));
        Assert.True(started.Elapsed < Within, $"ended after {started.Elapsed}");
        Assert.False(keptReading.IsCompleted);
        Assert.True(otherClient.IsConnected, "another vendor's connection was closed too");
        Assert.Contains(host.Logs.Lines, l => l.Contains($"API key {vendor.Info.KeyId} expired at", StringComparison.Ordinal) && l.StartsWith("Warning", StringComparison.Ordinal));
    }

    [Fact]

    [Trait(TestStores.Trait, TestStores.SqliteOnly)] // reads or writes the SQLite file itself
    public async Task An_expiry_can_be_changed_at_run_time_and_survives_a_restart_and_an_upgrade_from_a_store_without_expiries()
    {
        await using var first = await GatewayHost.StartAsync(demo: false);
        var admin = new Admin.AdminClient(first.Channel);
        var key = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Planner, ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromMinutes(5)) }, first.AdminAuth);
        var plain = await first.CreateKeyAsync(Role.Planner);
        var geography = new V1.Geography.GeographyClient(first.Channel);
        first.Time.Advance(TimeSpan.FromMinutes(6));
        await Assert.ThrowsAsync<RpcException>(async () => await geography.ListGridsAsync(new ListGridsRequest(), first.Auth(key.ApiKey)));

        // An expired key given a later expiry works again; one given none never expires.
        var extended = await admin.SetApiKeyExpiryAsync(new SetApiKeyExpiryRequest { KeyId = key.Info.KeyId, ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromDays(30)) }, first.AdminAuth);
        Assert.Equal((first.Time.GetUtcNow().AddDays(30), false), (extended.Info.ExpiresAt.ToDateTimeOffset(), extended.Info.Expired));
        await geography.ListGridsAsync(new ListGridsRequest(), first.Auth(key.ApiKey));
        var never = await admin.SetApiKeyExpiryAsync(new SetApiKeyExpiryRequest { KeyId = plain.Split('_')[1], ExpiresAt = Timestamp.FromDateTimeOffset(first.Time.GetUtcNow().AddDays(1)) }, first.AdminAuth);
        never = await admin.SetApiKeyExpiryAsync(new SetApiKeyExpiryRequest { KeyId = plain.Split('_')[1], NeverExpires = true }, first.AdminAuth);
        Assert.Null(never.Info.ExpiresAt);

        // A revoked key stays revoked; an unknown one is not found.
        var revoked = await first.CreateKeyAsync(Role.Planner);
        await admin.RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = revoked.Split('_')[1] }, first.AdminAuth);
        var precondition = await Assert.ThrowsAsync<RpcException>(async () => await admin.SetApiKeyExpiryAsync(
            new SetApiKeyExpiryRequest { KeyId = revoked.Split('_')[1], ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromDays(1)) }, first.AdminAuth));
        Assert.Equal(StatusCode.FailedPrecondition, precondition.StatusCode);
        Assert.StartsWith("key_id: ", precondition.Status.Detail, StringComparison.Ordinal);
        var missing = await Assert.ThrowsAsync<RpcException>(async () => await admin.SetApiKeyExpiryAsync(
            new SetApiKeyExpiryRequest { KeyId = "000000000000", NeverExpires = true }, first.AdminAuth));
        Assert.Equal((StatusCode.NotFound, "key_id: no key 000000000000"), (missing.StatusCode, missing.Status.Detail));

        // The expiry is stored: after a restart the key still expires at the same time.
        await using var second = await first.RestartAsync();
        var listed = (await new Admin.AdminClient(second.Channel).ListApiKeysAsync(new ListApiKeysRequest(), second.AdminAuth)).Keys.Single(k => k.KeyId == key.Info.KeyId);
        Assert.Equal(extended.Info.ExpiresAt, listed.ExpiresAt);

        // A store written before keys could expire (no expires_at column, schema 8 or older) opens with keys that never expire.
        var dataDir = second.DataDir;
        await second.DisposeAsync();
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(dataDir, "sharpeyes.db")};Pooling=false"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "ALTER TABLE api_keys DROP COLUMN expires_at; UPDATE meta SET value = '8' WHERE key = 'schema_version'; DROP TABLE outbox_leases; DROP TABLE sip_accounts; DROP TABLE sip_devices; DROP TABLE sip_channels;";
            command.ExecuteNonQuery();
        }

        await using var upgraded = await GatewayHost.StartAsync(demo: false, dataDir: dataDir, time: first.Time);
        var keys = (await new Admin.AdminClient(upgraded.Channel).ListApiKeysAsync(new ListApiKeysRequest(), upgraded.AdminAuth)).Keys;
        Assert.All(keys, k => Assert.Null(k.ExpiresAt));
        await new V1.Geography.GeographyClient(upgraded.Channel).ListGridsAsync(new ListGridsRequest(), upgraded.Auth(key.ApiKey));
        using var read = new SqliteConnection($"Data Source={Path.Combine(dataDir, "sharpeyes.db")};Mode=ReadOnly;Pooling=false");
        read.Open();
        using var version = read.CreateCommand();
        version.CommandText = "SELECT value FROM meta WHERE key = 'schema_version'";
        Assert.Equal(SharpEyes.Gateway.Storage.GatewayStore.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), version.ExecuteScalar());
    }

    public static TheoryData<string, string> InvalidExpiries => new()
    {
        { "past", "expires_at: 2026-11-22T07:59:59Z is not in the future (gateway clock 2026-11-22T08:00:00Z); revoke a key to end it now" },
        { "now", "expires_at: 2026-11-22T08:00:00Z is not in the future (gateway clock 2026-11-22T08:00:00Z); revoke a key to end it now" },
        { "zero", "expires_in: 0 s is not a lifetime from now (at least 1 s, at most until 9999)" },
        { "negative", "expires_in: -60 s is not a lifetime from now (at least 1 s, at most until 9999)" },
        { "bad-timestamp", "expires_at: not a valid timestamp (seconds 0001-01-01 to 9999-12-31, nanos 0-999,999,999)" },
        { "bad-duration", "expires_in: not a valid duration (seconds and nanos of the same sign, nanos within ±999,999,999)" },
    };

    [Theory]
    [MemberData(nameof(InvalidExpiries))]
    public async Task An_invalid_expiry_is_invalid_argument_naming_the_field(string what, string message)
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var now = host.Time.GetUtcNow();
        var request = new CreateApiKeyRequest { Role = Role.Centre };
        switch (what)
        {
            case "past": request.ExpiresAt = Timestamp.FromDateTimeOffset(now.AddSeconds(-1)); break;
            case "now": request.ExpiresAt = Timestamp.FromDateTimeOffset(now); break;
            case "zero": request.ExpiresIn = new Duration(); break;
            case "negative": request.ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromMinutes(-1)); break;
            case "bad-timestamp": request.ExpiresAt = new Timestamp { Seconds = long.MaxValue }; break;
            default: request.ExpiresIn = new Duration { Seconds = 1, Nanos = -5 }; break;
        }

        var admin = new Admin.AdminClient(host.Channel);
        var created = await Assert.ThrowsAsync<RpcException>(async () => await admin.CreateApiKeyAsync(request, host.AdminAuth));
        var key = await host.CreateKeyAsync(Role.Centre);
        var change = new SetApiKeyExpiryRequest { KeyId = key.Split('_')[1] };
        if (request.ExpiryCase == CreateApiKeyRequest.ExpiryOneofCase.ExpiresAt)
        {
            change.ExpiresAt = request.ExpiresAt;
        }
        else
        {
            change.ExpiresIn = request.ExpiresIn;
        }

        var changed = await Assert.ThrowsAsync<RpcException>(async () => await admin.SetApiKeyExpiryAsync(change, host.AdminAuth));

        Assert.Equal((StatusCode.InvalidArgument, message), (created.StatusCode, created.Status.Detail));
        Assert.Equal((StatusCode.InvalidArgument, message), (changed.StatusCode, changed.Status.Detail));
        Assert.Equal(2, (await admin.ListApiKeysAsync(new ListApiKeysRequest(), host.AdminAuth)).Keys.Count); // nothing created but the admin's and the valid one
    }

    [Fact]
    public async Task An_unparsable_or_missing_expiry_is_refused_naming_the_field_over_json_and_the_cli()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        using var json = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };
        json.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.AdminKey);
        var server = $"http://127.0.0.1:{host.GrpcPort}";

        using var unparsable = await json.PostAsync("/api/v1/keys", new StringContent("""{"role":"ROLE_CENTRE","expiresAt":"next tuesday"}""", System.Text.Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);
        using var missing = await json.PostAsync("/api/v1/keys/000000000000:setExpiry", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);
        var (cliCode, _, cliError) = await CliTests.Run("keys", "create", "--role", "centre", "--expires", "soon", "--server", server, "--key", host.AdminKey);
        var (localCode, _, localError) = await CliTests.Run("keys", "create", "--role", "centre", "--expires", "2027-06-30T00:00", "--server", server, "--key", host.AdminKey);

        Assert.Equal(HttpStatusCode.BadRequest, unparsable.StatusCode);
        // The JSON transcoder parses the body before the service runs: its message names the type and the value, not the
        // field (a limit of Microsoft.AspNetCore.Grpc.JsonTranscoding, noted in docs/security.md).
        Assert.Equal((3, "Invalid Timestamp value: next tuesday"), await SessionClient.ReadErrorAsync(unparsable));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal((3, "expires_at, expires_in, never_expires: give one of them (never_expires = true clears the expiry)"), await SessionClient.ReadErrorAsync(missing));
        Assert.Equal((2, "--expires: 'soon' is neither a UTC time (2027-06-30T00:00Z) nor a lifetime (90d, 12h, 30m)"), (cliCode, cliError.Trim()));
        Assert.Equal(2, localCode); // a time without Z or +00:00 would depend on the operator's time zone
        Assert.StartsWith("--expires: ", localError, StringComparison.Ordinal);
        Assert.Single((await new Admin.AdminClient(host.Channel).ListApiKeysAsync(new ListApiKeysRequest(), host.AdminAuth)).Keys);
    }

    [Fact]
    public async Task Only_admins_create_keys_with_an_expiry_or_change_one()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var admin = new Admin.AdminClient(host.Channel);
        var target = await host.CreateKeyAsync(Role.Centre);
        foreach (var (role, vendorId) in new[] { (Role.Vendor, "acme"), (Role.Operator, ""), (Role.Planner, ""), (Role.Centre, "") })
        {
            var key = await host.CreateKeyAsync(role, vendorId);
            var create = await Assert.ThrowsAsync<RpcException>(async () => await admin.CreateApiKeyAsync(
                new CreateApiKeyRequest { Role = Role.Admin, ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromDays(365)) }, host.Auth(key)));
            var change = await Assert.ThrowsAsync<RpcException>(async () => await admin.SetApiKeyExpiryAsync(
                new SetApiKeyExpiryRequest { KeyId = key.Split('_')[1], NeverExpires = true }, host.Auth(key)));
            var other = await Assert.ThrowsAsync<RpcException>(async () => await admin.SetApiKeyExpiryAsync(
                new SetApiKeyExpiryRequest { KeyId = target.Split('_')[1], ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)) }, host.Auth(key)));
            Assert.All(new[] { create, change, other }, e => Assert.Equal(StatusCode.PermissionDenied, e.StatusCode));
        }

        var keys = (await admin.ListApiKeysAsync(new ListApiKeysRequest(), host.AdminAuth)).Keys;
        Assert.DoesNotContain(keys, k => k.ExpiresAt is not null);
        Assert.Equal(6, keys.Count);
    }

    [Fact]
    public async Task Keys_about_to_expire_are_counted_in_metrics_and_named_in_the_log_once_a_day()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var admin = new Admin.AdminClient(host.Channel);
        var soon = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Centre, ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromDays(3)) }, host.AdminAuth);
        var later = await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = Role.Centre, ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromDays(8)) }, host.AdminAuth);
        int Warnings(string keyId) => host.Logs.Lines.Count(l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains($"API key {keyId} (Centre) expires at", StringComparison.Ordinal));

        await Eventually.TrueAsync(() => Warnings(soon.Info.KeyId) == 1, "a warning about the key expiring in 3 days");
        Assert.Equal(1, (await MetricsScrape.ReadAsync(host.HttpPort))["sharpeyes_api_keys_expiring{within=\"7d\"}"]);
        Assert.Equal(0, Warnings(later.Info.KeyId));

        // The timer wakes at least hourly; the warning repeats once a day, not at each wake-up.
        for (var hour = 0; hour < 23; hour++)
        {
            host.Time.Advance(TimeSpan.FromHours(1));
        }

        Assert.Equal(1, Warnings(soon.Info.KeyId));
        host.Time.Advance(TimeSpan.FromHours(1));
        await Eventually.TrueAsync(() => Warnings(soon.Info.KeyId) == 2, "the next day's warning");
        Assert.Equal(1, Warnings(later.Info.KeyId)); // 7 days before its expiry, it entered the window
        Assert.Equal(2, (await MetricsScrape.ReadAsync(host.HttpPort))["sharpeyes_api_keys_expiring{within=\"7d\"}"]);

        // Expired keys are no longer "expiring".
        host.Time.Advance(TimeSpan.FromDays(2));
        Assert.Equal(1, (await MetricsScrape.ReadAsync(host.HttpPort))["sharpeyes_api_keys_expiring{within=\"7d\"}"]);
    }

    [Fact]
    public async Task The_cli_creates_lists_and_changes_expiries()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var server = $"http://127.0.0.1:{host.GrpcPort}";

        var (createCode, key, created) = await CliTests.Run("keys", "create", "--role", "centre", "--expires", "90d", "--server", server, "--key", host.AdminKey);
        var (atCode, _, at) = await CliTests.Run("keys", "create", "--role", "planner", "--expires", "2027-06-30T00:00Z", "--server", server, "--key", host.AdminKey);
        var keyId = key.Trim().Split('_')[1];
        var (listCode, list, _) = await CliTests.Run("keys", "list", "--server", server, "--key", host.AdminKey);
        var (setCode, set, _) = await CliTests.Run("keys", "set-expiry", keyId, "--expires", "never", "--server", server, "--key", host.AdminKey);
        host.Time.Advance(TimeSpan.FromDays(365));
        var (afterCode, after, _) = await CliTests.Run("keys", "list", "--server", server, "--key", host.AdminKey);

        Assert.Equal((0, 0, 0, 0, 0), (createCode, atCode, listCode, setCode, afterCode));
        Assert.Contains($"created Centre key {keyId}, expires at 2027-02-20 08:00:00Z; it is shown once:", created, StringComparison.Ordinal);
        Assert.Contains(", expires at 2027-06-30 00:00:00Z;", at, StringComparison.Ordinal);
        Assert.Contains($"{keyId}\tCentre\t\tactive\t2026-11-22 08:00:00Z\t2027-02-20 08:00:00Z\t", list, StringComparison.Ordinal);
        Assert.Contains("\tAdmin\t\tactive\t2026-11-22 08:00:00Z\tnever\t", list, StringComparison.Ordinal);
        Assert.Equal($"key {keyId}, never expires", set.Trim());
        Assert.Contains($"{keyId}\tCentre\t\tactive\t", after, StringComparison.Ordinal);
        Assert.Contains("\tPlanner\t\texpired\t2026-11-22 08:00:00Z\t2027-06-30 00:00:00Z\t", after, StringComparison.Ordinal);
    }
}
