using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using SharpEyes.Gateway.Domain;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Streams;

/// <summary>A query parameter that carried a credential, as it stood in the URL (percent-encoded <c>name=value</c>), and its place among the query's parameters.</summary>
public sealed record QueryCredential(int Position, string Text);

/// <summary>The credentials stripped from one URL: user and password (userinfo, or the camera's own fields) and credential query parameters.</summary>
public sealed record UrlCredentials(string User, string Password, IReadOnlyList<QueryCredential> Query)
{
    public static UrlCredentials None { get; } = new("", "", []);

    [JsonIgnore]
    public bool IsEmpty => User.Length == 0 && Password.Length == 0 && Query.Count == 0;

    public bool Equals(UrlCredentials? other) =>
        other is not null && User == other.User && Password == other.Password && Query.SequenceEqual(other.Query);

    public override int GetHashCode() => HashCode.Combine(User, Password, Query.Count);
}

/// <summary>The credentials of one declared stream's own URL.</summary>
public sealed record StreamCredentials(StreamRole Role, UrlCredentials Credentials);

/// <summary>UpdateDevice's explicit credential changes (the fields its mask names); null leaves a value as it is.</summary>
public sealed record CredentialEdits(string? User, string? Password);

/// <summary>
/// Everything secret about one camera, stored in <c>devices.rtsp_secret</c> (JSON) and never in the device message:
/// the main URL's credentials and those of each declared stream's URL, by role.
/// </summary>
public sealed record RtspSecrets(UrlCredentials? Main, IReadOnlyList<StreamCredentials> Streams)
{
    [JsonIgnore]
    public bool IsEmpty => (Main is null || Main.IsEmpty) && Streams.All(s => s.Credentials.IsEmpty);

    public UrlCredentials? ForStream(StreamRole role) => Streams.FirstOrDefault(s => s.Role == role)?.Credentials;

    /// <summary>
    /// The credentials a camera has after a registration or update. For each URL (the main one, and each declared
    /// stream's by role): the credentials the request gave; else, when the URL's host is the stored URL's host, the
    /// stored ones (a client that read the device, which never shows them, and sent it back keeps them); else none —
    /// credentials never follow a URL to another host. Then UpdateDevice's explicit <paramref name="edits"/>: a user,
    /// and a password, which replaces the password in every form (credential query parameters are dropped with it).
    /// Null when the camera has none.
    /// </summary>
    public static RtspSecrets? Resolve(CameraView? storedCamera, RtspSecrets? stored, CameraView? camera, RtspSecrets given, CredentialEdits? edits)
    {
        if (camera is null)
        {
            return null;
        }

        UrlCredentials? main = null;
        if (camera.RtspUrl.Length > 0)
        {
            main = given.Main ?? (RtspCredentials.SameHost(storedCamera?.RtspUrl, camera.RtspUrl) ? stored?.Main : null);
            if (edits?.User is { } user)
            {
                main = (main ?? UrlCredentials.None) with { User = user };
            }

            if (edits?.Password is { } password)
            {
                main = (main ?? UrlCredentials.None) with { Password = password, Query = [] };
            }
        }

        var streams = new List<StreamCredentials>();
        foreach (var s in camera.Streams.Where(s => s.RtspUrl.Length > 0).OrderBy(s => s.Role))
        {
            var old = storedCamera?.Streams.FirstOrDefault(o => o.Role == s.Role);
            var credentials = given.ForStream(s.Role) ?? (RtspCredentials.SameHost(old?.RtspUrl, s.RtspUrl) ? stored?.ForStream(s.Role) : null);
            if (credentials is { IsEmpty: false })
            {
                streams.Add(new StreamCredentials(s.Role, credentials));
            }
        }

        var resolved = new RtspSecrets(main is { IsEmpty: false } ? main : null, streams);
        return resolved.IsEmpty ? null : resolved;
    }

    /// <summary>The stored form; null when there is nothing to store.</summary>
    public static string? Serialize(RtspSecrets? secrets) =>
        secrets is null || secrets.IsEmpty ? null : JsonSerializer.Serialize(secrets, RtspSecretsJson.Default.RtspSecrets);

    /// <summary>
    /// Reads the stored form: JSON, or the "user\npassword" of files written before credentials could come in a query
    /// string (JSON is written on one line, so a line break marks the old form).
    /// </summary>
    public static RtspSecrets? Parse(string? stored)
    {
        if (string.IsNullOrEmpty(stored))
        {
            return null;
        }

        if (stored.Contains('\n', StringComparison.Ordinal))
        {
            var parts = stored.Split('\n', 2);
            return new RtspSecrets(new UrlCredentials(parts[0], parts[1], []), []);
        }

        return JsonSerializer.Deserialize(stored, RtspSecretsJson.Default.RtspSecrets);
    }

    public bool Equals(RtspSecrets? other) => other is not null && Serialize(this) == Serialize(other);

    public override int GetHashCode() => (Serialize(this) ?? "").GetHashCode(StringComparison.Ordinal);
}

[JsonSerializable(typeof(RtspSecrets))]
internal sealed partial class RtspSecretsJson : JsonSerializerContext;

/// <summary>
/// Credentials in RTSP URLs: finding and stripping every form of them (userinfo, credential query parameters), putting
/// them back when the gateway connects, and keeping them out of text that may reach an answer or a log.
/// </summary>
public static partial class RtspCredentials
{
    /// <summary>Query parameter names (case-insensitive) whose values are credentials; any other parameter (channel, subtype, ...) stays in the URL.</summary>
    public static readonly FrozenSet<string> QueryNames = new[]
    {
        "user", "username", "password", "passwd", "pass", "pwd", "pw", "psw", "token", "access_token", "auth", "authorization",
        "key", "apikey", "api_key", "secret", "signature", "sig", "credential", "credentials",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>The URL without credentials, what was stripped, and the name of a credential parameter found in the path (which cannot be stripped), if any.</summary>
    public sealed record Stripped(string Url, UrlCredentials Found, string? CredentialInPath);

    /// <summary>Splits the credentials off an absolute URL. The URL keeps its percent-encoding and every other query parameter, in order.</summary>
    public static Stripped Strip(Uri url)
    {
        var user = "";
        var password = "";
        if (url.UserInfo.Length > 0)
        {
            var parts = url.UserInfo.Split(':', 2);
            user = Uri.UnescapeDataString(parts[0]);
            password = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : "";
        }

        var kept = new List<string>();
        var found = new List<QueryCredential>();
        var query = url.Query.TrimStart('?');
        if (query.Length > 0)
        {
            var pieces = query.Split('&');
            for (var i = 0; i < pieces.Length; i++)
            {
                if (QueryNames.Contains(ParameterName(pieces[i])))
                {
                    found.Add(new QueryCredential(i, pieces[i]));
                }
                else
                {
                    kept.Add(pieces[i]);
                }
            }
        }

        var inPath = url.AbsolutePath.Split('/')
            .Where(segment => segment.Contains('=', StringComparison.Ordinal))
            .SelectMany(segment => segment.Split('&', ';'))
            .Select(ParameterName)
            .FirstOrDefault(QueryNames.Contains);
        var stripped = Authority(url) + url.AbsolutePath + (kept.Count > 0 ? "?" + string.Join('&', kept) : "");
        return new Stripped(stripped, new UrlCredentials(user, password, found), inPath);
    }

    /// <summary>True when the URL carries credentials in a form <see cref="Strip"/> removes.</summary>
    public static bool HasCredentials(Uri url) => url.UserInfo.Length > 0 || !Strip(url).Found.IsEmpty;

    /// <summary>The URL the gateway connects to: the stored URL with its credentials put back (userinfo percent-encoded, query parameters in their places).</summary>
    public static Uri Connect(string url, UrlCredentials? credentials)
    {
        var uri = new Uri(url);
        if (credentials is null || credentials.IsEmpty)
        {
            return uri;
        }

        var pieces = uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries).ToList();
        foreach (var q in credentials.Query.OrderBy(q => q.Position))
        {
            pieces.Insert(Math.Min(q.Position, pieces.Count), q.Text);
        }

        var userInfo = credentials.User.Length > 0 || credentials.Password.Length > 0
            ? Uri.EscapeDataString(credentials.User) + (credentials.Password.Length > 0 ? ":" + Uri.EscapeDataString(credentials.Password) : "") + "@"
            : "";
        var authority = Authority(uri);
        var scheme = uri.Scheme + "://";
        return new Uri(scheme + userInfo + authority[scheme.Length..] + uri.AbsolutePath + (pieces.Count > 0 ? "?" + string.Join('&', pieces) : ""));
    }

    /// <summary>Whether two URLs name the same host (case-insensitive; the port may differ): stored credentials follow a URL only on its host.</summary>
    public static bool SameHost(string? a, string? b) =>
        !string.IsNullOrEmpty(a) && !string.IsNullOrEmpty(b)
        && Uri.TryCreate(a, UriKind.Absolute, out var ua) && Uri.TryCreate(b, UriKind.Absolute, out var ub)
        && string.Equals(ua.IdnHost, ub.IdnHost, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Removes every credential from text that may reach an answer or a log (ffmpeg prints the URLs it opens): any URL
    /// userinfo, the values of credential query parameters, and — literally — the user, password and parameter values
    /// <paramref name="url"/> carries and the extra <paramref name="secrets"/> (those of 3 characters or more: shorter
    /// ones would mangle ordinary words, and the URL forms are caught above).
    /// </summary>
    public static string Redact(string text, Uri? url, params string?[] secrets)
    {
        var redacted = UserInfoPattern().Replace(text, "$1***@");
        redacted = QueryParameter.Replace(redacted, "$1***");
        var literal = new List<string>();
        foreach (var s in secrets)
        {
            AddVariants(literal, s);
        }

        if (url is not null)
        {
            var found = Strip(url).Found;
            AddVariants(literal, found.User);
            AddVariants(literal, found.Password);
            foreach (var q in found.Query)
            {
                var eq = q.Text.IndexOf('=', StringComparison.Ordinal);
                AddVariants(literal, eq < 0 ? "" : q.Text[(eq + 1)..]);
            }
        }

        foreach (var secret in literal.Where(s => s.Length >= 3).Distinct().OrderByDescending(s => s.Length))
        {
            redacted = redacted.Replace(secret, "***", StringComparison.Ordinal);
        }

        return redacted;
    }

    private static void AddVariants(List<string> into, string? secret)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return;
        }

        into.Add(secret);
        into.Add(Uri.EscapeDataString(secret));
        into.Add(SafeUnescape(secret));
    }

    private static string SafeUnescape(string text)
    {
        try
        {
            return Uri.UnescapeDataString(text);
        }
        catch (UriFormatException)
        {
            return text;
        }
    }

    private static string ParameterName(string piece)
    {
        var eq = piece.IndexOf('=', StringComparison.Ordinal);
        return SafeUnescape(eq < 0 ? piece : piece[..eq]).Trim();
    }

    /// <summary>scheme://host[:port], without userinfo.</summary>
    private static string Authority(Uri url) => url.GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped);

    [GeneratedRegex(@"((?:rtsps?|https?|rtmp|srt|tcp|udp)://)[^/@\s'""]+@", RegexOptions.IgnoreCase)]
    private static partial Regex UserInfoPattern();

    /// <summary>name=value of a credential parameter in a query (or a path), the value up to the next separator.</summary>
    private static readonly Regex QueryParameter = new(
        @"([?&;/](?:" + string.Join('|', QueryNames.Select(Regex.Escape)) + @")=)[^&;\s'""/]*",
        RegexOptions.IgnoreCase | RegexOptions.Compiled | RegexOptions.CultureInvariant);
}
