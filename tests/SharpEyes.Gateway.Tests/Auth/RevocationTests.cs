using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Auth;

/// <summary>
/// Revoking a key ends what is already open with it, at once and with the reason, not at its next call: a centre's
/// Feeds.Subscribe stream gets UNAUTHENTICATED, a vendor's MQTT connection is disconnected "not authorized". The
/// gateway's clock stands still in these tests: nothing waits for a heartbeat or a keepalive.
/// </summary>
public sealed class RevocationTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_revoked_centre_keys_open_feed_stream_ends_within_seconds_with_unauthenticated()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var centre = await host.CreateKeyAsync(Role.Centre);
        var other = await host.CreateKeyAsync(Role.Centre);
        var feeds = new V1.Feeds.FeedsClient(host.Channel);
        using var revoked = feeds.Subscribe(new SubscribeRequest(), host.Auth(centre), cancellationToken: TestContext.Current.CancellationToken);
        using var kept = feeds.Subscribe(new SubscribeRequest(), host.Auth(other), cancellationToken: TestContext.Current.CancellationToken);
        var reading = ReadToEndAsync(revoked);
        var keptReading = ReadToEndAsync(kept);
        await Eventually.TrueAsync(() => host.Services.GetRequiredService<SharpEyes.Gateway.Feeds.FeedHub>().Subscribers == 2, "both streams open");

        var started = Stopwatch.StartNew();
        await new Admin.AdminClient(host.Channel).RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = centre.Split('_')[1] }, host.AdminAuth);
        var ended = await reading.WaitAsync(Within, TestContext.Current.CancellationToken);

        Assert.Equal(StatusCode.Unauthenticated, ended.StatusCode);
        Assert.Equal($"the API key {centre.Split('_')[1]} was revoked; the stream is closed", ended.Status.Detail);
        Assert.DoesNotContain(centre.Split('_', 3)[2], ended.Status.Detail, StringComparison.Ordinal); // the id, never the secret
        Assert.True(started.Elapsed < Within, $"ended after {started.Elapsed}");
        // Another key's stream goes on.
        Assert.False(keptReading.IsCompleted);
        await Eventually.TrueAsync(() => host.Services.GetRequiredService<SharpEyes.Gateway.Feeds.FeedHub>().Subscribers == 1, "the revoked stream's place freed");
    }

    [Fact]
    public async Task A_revoked_vendor_keys_mqtt_connection_is_disconnected_within_seconds_as_not_authorized()
    {
        await using var host = await GatewayHost.StartAsync(demo: false);
        var vendor = await host.CreateKeyAsync(Role.Vendor, "acme");
        var otherVendor = await host.CreateKeyAsync(Role.Vendor, "beta");
        var client = await host.ConnectMqttAsync("acme", vendor);
        var otherClient = await host.ConnectMqttAsync("beta", otherVendor);
        var disconnected = new TaskCompletionSource<MqttClientDisconnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.DisconnectedAsync += e =>
        {
            disconnected.TrySetResult(e);
            return Task.CompletedTask;
        };

        var started = Stopwatch.StartNew();
        await new Admin.AdminClient(host.Channel).RevokeApiKeyAsync(new RevokeApiKeyRequest { KeyId = vendor.Split('_')[1] }, host.AdminAuth);
        var e = await disconnected.Task.WaitAsync(Within, TestContext.Current.CancellationToken);

        // The client reads the reason unless a reset overtook it (ServerDisconnect.Seen); the gateway's log line is its own record.
        if (ServerDisconnect.Seen(e) is { } seen)
        {
            Assert.Equal(MqttClientDisconnectReason.NotAuthorized, seen.Reason);
        }

        Assert.Contains(host.Logs.Lines, l => l.Contains("Disconnected MQTT client ", StringComparison.Ordinal)
            && l.Contains($": the API key {vendor.Split('_')[1]} was revoked", StringComparison.Ordinal));
        Assert.True(started.Elapsed < Within, $"disconnected after {started.Elapsed}");
        Assert.True(otherClient.IsConnected, "another vendor's connection was closed too");
        // Connecting again with the revoked key is refused.
        var again = await Assert.ThrowsAsync<InvalidOperationException>(() => host.ConnectMqttAsync("acme", vendor));
        Assert.Equal("MQTT connect refused: BadUserNameOrPassword", again.Message);
    }

    /// <summary>Reads a stream until it ends; answers the status it ended with.</summary>
    internal static async Task<RpcException> ReadToEndAsync(AsyncServerStreamingCall<FeedEvent> call)
    {
        try
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
            }
        }
        catch (RpcException e)
        {
            return e;
        }

        return new RpcException(Status.DefaultSuccess);
    }
}
