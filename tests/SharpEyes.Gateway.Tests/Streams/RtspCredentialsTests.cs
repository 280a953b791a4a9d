using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Streams;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Streams;

/// <summary>The rules for credentials in RTSP URLs, without a network: what is stripped, what is put back, what is kept.</summary>
public sealed class RtspCredentialsTests
{
    public static TheoryData<string, string, string, string, string[]> Forms => new()
    {
        // url, stored url, user, password, query parameters stripped
        { "rtsp://admin:pa%24s@cam.local:554/Streaming/Channels/101", "rtsp://cam.local:554/Streaming/Channels/101", "admin", "pa$s", [] },
        { "rtsp://u@10.0.0.5/live", "rtsp://10.0.0.5/live", "u", "", [] },
        { "rtsp://10.0.0.5/cam/realmonitor?channel=1&subtype=0&user=admin&password=x%26y", "rtsp://10.0.0.5/cam/realmonitor?channel=1&subtype=0", "", "", ["user=admin", "password=x%26y"] },
        { "rtsp://10.0.0.5/live?TOKEN=abc&ch=2", "rtsp://10.0.0.5/live?ch=2", "", "", ["TOKEN=abc"] },
        { "rtsps://10.0.0.5:322/x?Pwd=1&stream=main&api_key=2&sig=3", "rtsps://10.0.0.5:322/x?stream=main", "", "", ["Pwd=1", "api_key=2", "sig=3"] },
        { "rtsp://viewer:pw@10.0.0.5/live?channel=1&subtype=1", "rtsp://10.0.0.5/live?channel=1&subtype=1", "viewer", "pw", [] },
        { "rtsp://10.0.0.5/live?channel=1", "rtsp://10.0.0.5/live?channel=1", "", "", [] },
    };

    [Theory]
    [MemberData(nameof(Forms))]
    public void Every_form_is_stripped_and_put_back_exactly_on_connect(string url, string stored, string user, string password, string[] query)
    {
        var stripped = RtspCredentials.Strip(new Uri(url));

        Assert.Equal(stored, stripped.Url);
        Assert.Equal((user, password), (stripped.Found.User, stripped.Found.Password));
        Assert.Equal(query, stripped.Found.Query.Select(q => q.Text));
        Assert.Null(stripped.CredentialInPath);
        Assert.Equal(new Uri(url).AbsoluteUri, RtspCredentials.Connect(stripped.Url, stripped.Found).AbsoluteUri);
        Assert.Equal(query.Length > 0 || user.Length > 0, RtspCredentials.HasCredentials(new Uri(url)));
    }

    [Theory]
    [InlineData("rtsp://10.0.0.5:554/user=admin&password=secret&channel=1&stream=0.sdp", "user")]
    [InlineData("rtsp://10.0.0.5/live/token=abc/main", "token")]
    public void Credentials_in_the_path_are_found_so_that_they_can_be_refused(string url, string name) =>
        Assert.Equal(name, RtspCredentials.Strip(new Uri(url)).CredentialInPath);

    [Fact]
    public void Text_from_ffmpeg_loses_every_form_of_the_credentials_and_keeps_the_rest()
    {
        var url = new Uri("rtsp://viewer:s3cret%21@127.0.0.1:8554/auth?channel=1&token=abc123");
        var stderr = "[concat @ 0x55] Impossible to open 'rtsp://viewer:s3cret%21@127.0.0.1:8554/auth?channel=1&token=abc123'\n" +
                     "b.ffconcat: Server returned 401 Unauthorized (authorization failed) for s3cret! and abc123";

        var redacted = RtspCredentials.Redact(stderr, url);

        Assert.Equal("[concat @ 0x55] Impossible to open 'rtsp://***@127.0.0.1:8554/auth?channel=1&token=***'\n" +
                     "b.ffconcat: Server returned 401 Unauthorized (authorization failed) for *** and ***", redacted);
    }

    [Fact]
    public void Secrets_are_stored_as_json_and_rows_of_the_old_form_still_read()
    {
        var secrets = new RtspSecrets(new UrlCredentials("admin", "pw\nwith newline", [new QueryCredential(2, "token=abc")]),
            [new StreamCredentials(StreamRole.Sub, new UrlCredentials("", "", [new QueryCredential(0, "password=x")]))]);

        var stored = RtspSecrets.Serialize(secrets)!;

        Assert.DoesNotContain('\n', stored);
        Assert.Equal(secrets, RtspSecrets.Parse(stored));
        Assert.Equal(new RtspSecrets(new UrlCredentials("admin", "old:pw", []), []), RtspSecrets.Parse("admin\nold:pw"));
        Assert.Null(RtspSecrets.Serialize(new RtspSecrets(UrlCredentials.None, [])));
    }

    [Fact]
    public void A_registration_without_credentials_keeps_the_stored_ones_on_the_same_host_only()
    {
        var storedSpec = new CameraSpec { RtspUrl = "rtsp://10.0.0.5/live" };
        storedSpec.Streams.Add(new StreamProfile { Role = StreamRole.Sub, RtspUrl = "rtsp://10.0.0.5/sub" });
        var stored = storedSpec.ToDomain();
        var secrets = new RtspSecrets(new UrlCredentials("admin", "pw", []), [new StreamCredentials(StreamRole.Sub, new UrlCredentials("", "", [new QueryCredential(0, "token=t")]))]);
        var none = new RtspSecrets(null, []);
        CameraView Camera(string main, string? sub = null)
        {
            var c = new CameraSpec { RtspUrl = main };
            if (sub is not null)
            {
                c.Streams.Add(new StreamProfile { Role = StreamRole.Sub, RtspUrl = sub });
            }

            return c.ToDomain();
        }

        // Same hosts (another port, another path): kept, stream credentials by role.
        Assert.Equal(secrets, RtspSecrets.Resolve(stored, secrets, Camera("rtsp://10.0.0.5:8554/other", "rtsp://10.0.0.5/sub2"), none, null));
        // Another host: dropped, per URL.
        Assert.Equal(new RtspSecrets(null, secrets.Streams), RtspSecrets.Resolve(stored, secrets, Camera("rtsp://10.0.0.6/live", "rtsp://10.0.0.5/sub"), none, null));
        // Credentials given replace the stored ones; a stream no longer declared takes its credentials with it.
        var given = new RtspSecrets(new UrlCredentials("other", "pw2", []), []);
        Assert.Equal(given, RtspSecrets.Resolve(stored, secrets, Camera("rtsp://10.0.0.5/live"), given, null));
        // UpdateDevice's explicit edits: a user alone keeps the password; a password (even empty) drops query credentials.
        var tokenOnly = new RtspSecrets(new UrlCredentials("", "", [new QueryCredential(1, "token=t")]), []);
        Assert.Equal(new UrlCredentials("viewer", "pw", []), RtspSecrets.Resolve(stored, secrets, Camera("rtsp://10.0.0.5/live"), none, new CredentialEdits("viewer", null))!.Main);
        Assert.Null(RtspSecrets.Resolve(stored, tokenOnly, Camera("rtsp://10.0.0.5/live"), none, new CredentialEdits(null, "")));
        Assert.Null(RtspSecrets.Resolve(stored, secrets, Camera(""), none, null));
    }
}
