using SharpEyes.Gateway.Sip;

namespace SharpEyes.Gateway.Tests.Sip;

/// <summary>Digest authentication as GB/T 28181 devices answer a 401 (RFC 2617 MD5, qop=auth or none).</summary>
public sealed class SipDigestTests
{
    [Fact]
    public void The_rfc_2617_example_gives_its_published_response()
    {
        // RFC 2617 §3.5; the value is the RFC's, and Python's hashlib gives the same.
        Assert.Equal("6629fae49393a05397450978507c4ef1", SipDigest.Response("Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093", "auth", "00000001", "0a4f113b"));
        // Without qop (RFC 2069's form, which older devices send): MD5(HA1:nonce:HA2), computed by hashlib.
        Assert.Equal("670fd8c2df070c60b045671b8b24ff02", SipDigest.Response("Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093"));
    }

    [Fact]
    public void A_device_authorization_is_parsed_and_verified_and_a_wrong_password_or_algorithm_is_not()
    {
        const string nonce = "9bd055";
        var response = SipDigest.Response("34020000001320000001", "3402000000", "12345678", "REGISTER", "sip:34020000002000000001@3402000000", nonce, "auth", "00000001", "a,b\"c");
        var header = $"Digest username=\"34020000001320000001\", realm=\"3402000000\", nonce=\"{nonce}\", " +
            $"uri=\"sip:34020000002000000001@3402000000\", response=\"{response.ToUpperInvariant()}\", algorithm=MD5, cnonce=\"a,b\\\"c\", qop=auth, nc=00000001";
        var credentials = SipDigest.Parse(header)!;
        Assert.Equal(("34020000001320000001", "3402000000", "a,b\"c", "00000001"), (credentials.Username, credentials.Realm, credentials.ClientNonce, credentials.NonceCount));
        Assert.True(SipDigest.Verify(credentials, "REGISTER", "12345678"));
        Assert.False(SipDigest.Verify(credentials, "REGISTER", "12345679"));
        Assert.False(SipDigest.Verify(credentials, "MESSAGE", "12345678")); // the method is part of the proof
        Assert.False(SipDigest.Verify(SipDigest.Parse(header.Replace("algorithm=MD5", "algorithm=SHA-256", StringComparison.Ordinal))!, "REGISTER", "12345678"));
        Assert.False(SipDigest.Verify(SipDigest.Parse(header.Replace("qop=auth", "qop=auth-int", StringComparison.Ordinal))!, "REGISTER", "12345678"));
        Assert.Null(SipDigest.Parse("Basic YWxhZGRpbjpvcGVuc2VzYW1l"));
        Assert.Null(SipDigest.Parse(null));
        Assert.Equal("Digest realm=\"3402000000\", nonce=\"9bd055\", qop=\"auth\", algorithm=MD5", SipDigest.Challenge("3402000000", nonce));
    }
}
