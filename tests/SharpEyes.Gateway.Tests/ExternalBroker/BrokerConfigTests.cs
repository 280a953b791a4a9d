using MQTTnet;
using MQTTnet.Protocol;
using SharpEyes.Gateway.Mqtt;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.ExternalBroker;

/// <summary>
/// The files <c>sharpeyes broker mosquitto</c> writes, loaded by a real mosquitto 2: a vendor may publish to its own
/// devices' topics and to nothing else, the gateway's user may only read alarms through the shared subscription,
/// anonymous clients and wrong passwords are refused.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class BrokerConfigTests
{
    internal const string DeviceA = "13012700001340000001";
    internal const string DeviceB = "13012700001340000002";

    [Fact]
    public async Task The_generated_password_file_and_ACL_let_a_vendor_publish_to_its_own_devices_only()
    {
        var directory = Directory.CreateTempSubdirectory("sharpeyes-broker-conf-").FullName;
        var issued = await MosquittoConfig.WriteAsync(directory, ["vendor-a", "vendor-b"], [("vendor-a", DeviceA), ("vendor-b", DeviceB)], "sharpeyes",
            TestContext.Current.CancellationToken);
        Assert.Equal(["sharpeyes-gateway", "vendor-a", "vendor-b"], issued.Order(StringComparer.Ordinal));
        foreach (var file in new[] { MosquittoConfig.PasswordFile, MosquittoConfig.AclFile, MosquittoConfig.CredentialsFile, MosquittoConfig.ConfFile })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory, file)));
        }

        var credentials = await ReadCredentialsAsync(directory);
        Assert.DoesNotContain(credentials["vendor-a"], await File.ReadAllTextAsync(Path.Combine(directory, MosquittoConfig.PasswordFile), TestContext.Current.CancellationToken));
        await using var broker = await MosquittoServer.StartAsync(extraConfig: MosquittoConfig.Conf(directory), anonymous: false);

        using var gateway = await ConnectAsync(broker.Port, "sharpeyes-gateway", credentials["sharpeyes-gateway"], "gw");
        var received = new List<string>();
        gateway.ApplicationMessageReceivedAsync += e =>
        {
            lock (received)
            {
                received.Add(e.ApplicationMessage.Topic);
            }

            return Task.CompletedTask;
        };
        var granted = await gateway.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("$share/sharpeyes/sharpeyes/v1/alarms/#", MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, granted.Items.Single().ResultCode);

        using var vendorA = await ConnectAsync(broker.Port, "vendor-a", credentials["vendor-a"], "vendor-a-1");
        var own = await vendorA.PublishAsync(AlarmPublisher.Alarm(DeviceA, "own-1"));
        Assert.Equal(MqttClientPublishReasonCode.Success, own.ReasonCode);
        var other = await vendorA.PublishAsync(AlarmPublisher.Alarm(DeviceB, "other-1"));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, other.ReasonCode);
        var elsewhere = await vendorA.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sharpeyes/v1/alarms/x").WithPayload("{}")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, elsewhere.ReasonCode);
        // A vendor may not read other vendors' alarms. mosquitto 2.0.11 grants the subscription (it checks read access
        // per message, when delivering) and delivers nothing.
        var snooped = 0;
        vendorA.ApplicationMessageReceivedAsync += _ =>
        {
            Interlocked.Increment(ref snooped);
            return Task.CompletedTask;
        };
        await vendorA.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("sharpeyes/v1/alarms/#", MqttQualityOfServiceLevel.AtLeastOnce).Build());

        using var vendorB = await ConnectAsync(broker.Port, "vendor-b", credentials["vendor-b"], "vendor-b-1");
        Assert.Equal(MqttClientPublishReasonCode.Success, (await vendorB.PublishAsync(AlarmPublisher.Alarm(DeviceB, "own-2"))).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await vendorB.PublishAsync(AlarmPublisher.Alarm(DeviceA, "other-2"))).ReasonCode);

        // The gateway's user reads alarms and publishes none.
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await gateway.PublishAsync(AlarmPublisher.Alarm(DeviceA, "forged"))).ReasonCode);

        await Eventually.TrueAsync(() =>
        {
            lock (received)
            {
                return received.Count == 2;
            }
        }, "the two permitted alarms at the gateway's subscription", TimeSpan.FromSeconds(10));
        Assert.Equal(["sharpeyes/v1/alarms/" + DeviceA, "sharpeyes/v1/alarms/" + DeviceB], received.Order(StringComparer.Ordinal));
        await vendorA.PingAsync(); // a round trip after vendor-b's publish was routed: anything for vendor-a came before it
        Assert.Equal(0, Volatile.Read(ref snooped));

        // Wrong password, unknown user, anonymous: refused at CONNECT.
        await AssertRefusedAsync(broker.Port, "vendor-a", credentials["vendor-b"]);
        await AssertRefusedAsync(broker.Port, "vendor-c", credentials["vendor-a"]);
        await AssertRefusedAsync(broker.Port, null, null);

        // Regenerating (a new device, a new vendor) keeps the passwords already issued.
        var again = await MosquittoConfig.WriteAsync(directory, ["vendor-a", "vendor-b", "vendor-c"], [("vendor-a", DeviceA), ("vendor-a", "13012700001340000003"), ("vendor-b", DeviceB)],
            "sharpeyes", TestContext.Current.CancellationToken);
        Assert.Equal(["vendor-c"], again);
        var after = await ReadCredentialsAsync(directory);
        Assert.Equal(credentials["vendor-a"], after["vendor-a"]);
        Assert.Contains("topic write sharpeyes/v1/alarms/13012700001340000003", await File.ReadAllTextAsync(Path.Combine(directory, MosquittoConfig.AclFile), TestContext.Current.CancellationToken),
            StringComparison.Ordinal);
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public void A_password_line_is_mosquitto_passwd_s_format()
    {
        // mosquitto_passwd 2.0.11 wrote "alice:$7$101$VWhZdK3UhwDIq006$Kt5V...Fw==" for the password "secret": the same
        // salt gives the same line.
        var salt = Convert.FromBase64String("VWhZdK3UhwDIq006");
        Assert.Equal("alice:$7$101$VWhZdK3UhwDIq006$Kt5Vj34o+dsTej5OFm/rNnnof0vpiei3j1ujFLHOslUB7PRJGM0TtH4eqPMD6vg+NQMjSmOmvbSikmmB2qQBFw==",
            MosquittoConfig.PasswordLine("alice", "secret", salt));
    }

    internal static async Task<Dictionary<string, string>> ReadCredentialsAsync(string directory) =>
        (await File.ReadAllLinesAsync(Path.Combine(directory, MosquittoConfig.CredentialsFile)))
            .Where(l => !l.StartsWith('#') && l.Contains(':', StringComparison.Ordinal))
            .ToDictionary(l => l[..l.IndexOf(':', StringComparison.Ordinal)], l => l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..]);

    internal static async Task<IMqttClient> ConnectAsync(int port, string user, string password, string clientId, bool cleanStart = true, uint sessionExpiry = 0)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(clientId).WithCredentials(user, password).WithCleanStart(cleanStart).WithSessionExpiryInterval(sessionExpiry)
            .WithTimeout(TimeSpan.FromSeconds(10)).Build());
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        return client;
    }

    private static async Task AssertRefusedAsync(int port, string? user, string? password)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var builder = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId("intruder").WithTimeout(TimeSpan.FromSeconds(10));
        if (user is not null)
        {
            builder = builder.WithCredentials(user, password);
        }

        // MQTT 5: MQTTnet answers the CONNACK's reason code rather than throwing.
        var result = await client.ConnectAsync(builder.Build());
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, result.ResultCode);
    }
}
