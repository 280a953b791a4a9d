using System.Security.Cryptography;
using System.Text;

namespace SharpEyes.Gateway.Sip;

/// <summary>The parameters of a Digest <c>Authorization</c> (or <c>WWW-Authenticate</c>) header, by name (lower case).</summary>
public sealed class DigestCredentials(IReadOnlyDictionary<string, string> parameters)
{
    public string this[string name] => parameters.GetValueOrDefault(name.ToLowerInvariant(), "");

    public string Username => this["username"];

    public string Realm => this["realm"];

    public string Nonce => this["nonce"];

    public string Uri => this["uri"];

    public string Response => this["response"];

    public string Qop => this["qop"];

    public string NonceCount => this["nc"];

    public string ClientNonce => this["cnonce"];

    public string Algorithm => this["algorithm"];
}

/// <summary>
/// HTTP Digest as SIP uses it (RFC 3261 §22.4 with RFC 2617: MD5, with or without <c>qop=auth</c>), which GB/T 28181
/// devices answer a 401 with. MD5 is what the standard and every device use; it is computed here and compared in
/// constant time, and no password or HA1 is ever logged. Hand-written: .NET has no Digest server-side, and the
/// computation is four MD5s.
/// </summary>
public static class SipDigest
{
    /// <summary>The parameters of a <c>Digest k=v, k="v"</c> header value; null when it is not Digest.</summary>
    public static DigestCredentials? Parse(string? headerValue)
    {
        if (headerValue is null || !headerValue.TrimStart().StartsWith("Digest ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in SipParser.SplitValues(headerValue.TrimStart()[7..]))
        {
            var eq = item.IndexOf('=');
            if (eq <= 0)
            {
                continue;
            }

            var value = item[(eq + 1)..].Trim();
            if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
            {
                value = value[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);
            }

            parameters.TryAdd(item[..eq].Trim().ToLowerInvariant(), value);
        }

        return new DigestCredentials(parameters);
    }

    /// <summary>
    /// The <c>response</c> a client with <paramref name="password"/> computes: MD5(HA1:nonce:nc:cnonce:qop:HA2) with
    /// <c>qop=auth</c>, MD5(HA1:nonce:HA2) without, where HA1 = MD5(username:realm:password) and HA2 = MD5(method:uri).
    /// </summary>
    public static string Response(string username, string realm, string password, string method, string uri, string nonce, string qop = "", string nc = "", string cnonce = "")
    {
        var ha1 = Md5(username + ":" + realm + ":" + password);
        var ha2 = Md5(method + ":" + uri);
        return qop.Length > 0 ? Md5($"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}") : Md5($"{ha1}:{nonce}:{ha2}");
    }

    /// <summary>
    /// Whether <paramref name="credentials"/> prove <paramref name="password"/> for <paramref name="method"/> (MD5 only;
    /// qop absent or <c>auth</c>), compared in constant time.
    /// </summary>
    public static bool Verify(DigestCredentials credentials, string method, string password)
    {
        if (credentials.Algorithm.Length > 0 && !credentials.Algorithm.Equals("MD5", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (credentials.Qop.Length > 0 && (credentials.Qop != "auth" || credentials.NonceCount.Length == 0 || credentials.ClientNonce.Length == 0))
        {
            return false;
        }

        var expected = Response(credentials.Username, credentials.Realm, password, method, credentials.Uri, credentials.Nonce,
            credentials.Qop, credentials.NonceCount, credentials.ClientNonce);
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(credentials.Response.ToLowerInvariant()));
    }

    /// <summary>The challenge of a 401: <c>Digest realm="…", nonce="…", qop="auth", algorithm=MD5</c>.</summary>
    public static string Challenge(string realm, string nonce) => $"Digest realm=\"{realm}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5";

    private static string Md5(string text) => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(text)));
}
