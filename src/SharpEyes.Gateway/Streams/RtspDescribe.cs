using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace SharpEyes.Gateway.Streams;

public enum RtspFailure { None, ConnectionRefused, Unreachable, Timeout, AuthFailed, NotFound, RtspError, ProtocolError, NoVideo }

/// <summary>
/// The first video stream an SDP describes. <see cref="Codec"/> is normalised ("H.264", "H.265", "MJPEG", "MPEG-4", else
/// the rtpmap encoding name upper-case); the size comes from a=framesize / a=x-dimensions or the SPS in the fmtp line,
/// the frame rate from a=framerate / a=x-framerate; each is null when the SDP does not tell.
/// </summary>
public sealed record SdpVideo(string Codec, string EncodingName, int? Width, int? Height, double? FrameRate);

/// <summary>What a DESCRIBE found. <see cref="Reason"/> is short text for people and never holds credentials.</summary>
public sealed record RtspDescribeResult(bool Ok, RtspFailure Failure, string Reason, int StatusCode, SdpVideo? Video, TimeSpan Elapsed);

/// <summary>
/// A cheap liveness check for an RTSP source: OPTIONS then DESCRIBE on one connection, answering one 401 challenge
/// (Digest preferred over Basic), and the SDP's video stream. It never sends SETUP or PLAY, so the camera starts no
/// media for it. Network and protocol trouble is reported in the result, never thrown.
/// </summary>
public static class RtspDescribe
{
    private const int DefaultPort = 554;

    public static async Task<RtspDescribeResult> DescribeAsync(Uri url, string? username, string? password, TimeSpan timeout, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        var started = Stopwatch.GetTimestamp();
        if (!url.IsAbsoluteUri || !string.Equals(url.Scheme, "rtsp", StringComparison.OrdinalIgnoreCase) || url.IdnHost.Length == 0)
        {
            return Fail(RtspFailure.ProtocolError, "not an rtsp:// URL with a host");
        }

        var (user, pass) = Credentials(url, username, password);
        var port = url.Port > 0 ? url.Port : DefaultPort;
        var endpoint = url.HostNameType == UriHostNameType.IPv6 ? $"[{url.IdnHost}]:{port}" : $"{url.IdnHost}:{port}";
        // The request URI never carries the userinfo: credentials travel only in the Authorization header.
        var target = url.GetComponents(UriComponents.SchemeAndServer | UriComponents.PathAndQuery, UriFormat.UriEscaped);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        using var session = new Session(url.IdnHost, port, target, user, pass);
        try
        {
            var (failure, reason, status, video) = await session.RunAsync(deadline.Token).ConfigureAwait(false);
            return new RtspDescribeResult(failure == RtspFailure.None, failure, Scrub(reason, url, pass), status, video, Stopwatch.GetElapsedTime(started));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return Fail(RtspFailure.Timeout, string.Create(CultureInfo.InvariantCulture, $"timed out after {timeout.TotalSeconds:0.###} s {session.Stage} {endpoint}"));
        }
        catch (SocketException e)
        {
            return Fail(Classify(e.SocketErrorCode), $"{Describe(e.SocketErrorCode)} {session.Stage} {endpoint}");
        }
        catch (IOException e) when (e.InnerException is SocketException se)
        {
            return Fail(Classify(se.SocketErrorCode), $"{Describe(se.SocketErrorCode)} {session.Stage} {endpoint}");
        }
        catch (Exception e) when (e is RtspProtocolException or IOException)
        {
            // These messages are ours or .NET's, never the server's words.
            return Fail(RtspFailure.ProtocolError, $"{e.Message} ({session.Stage} {endpoint})");
        }

        RtspDescribeResult Fail(RtspFailure failure, string reason) => new(false, failure, reason, 0, null, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>The arguments, or else the URL's percent-decoded userinfo.</summary>
    private static (string? User, string? Password) Credentials(Uri url, string? username, string? password)
    {
        var info = url.UserInfo;
        var colon = info.IndexOf(':', StringComparison.Ordinal);
        var fromUrlUser = info.Length == 0 ? null : Uri.UnescapeDataString(colon < 0 ? info : info[..colon]);
        var fromUrlPassword = colon < 0 ? null : Uri.UnescapeDataString(info[(colon + 1)..]);
        var user = username ?? fromUrlUser;
        return string.IsNullOrEmpty(user) ? (null, null) : (user, password ?? fromUrlPassword ?? "");
    }

    /// <summary>Our own text never holds credentials, but a server's reason phrase could echo anything (the request URI with its query too).</summary>
    private static string Scrub(string text, Uri url, string? password) => RtspCredentials.Redact(text, url, password, url.UserInfo);

    private static RtspFailure Classify(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => RtspFailure.ConnectionRefused,
        SocketError.TimedOut => RtspFailure.Timeout,
        SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown => RtspFailure.ProtocolError,
        _ => RtspFailure.Unreachable, // host not found, host or network unreachable or down, no route
    };

    private static string Describe(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host not found",
        SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown => "connection reset",
        _ => "network error (" + error + ")",
    };

    private sealed class RtspProtocolException(string message) : Exception(message);

    private sealed record Response(int Status, string Phrase, List<(string Name, string Value)> Headers, string Body)
    {
        public string? Header(string name) => Headers.FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Value;
    }

    /// <summary>One check: a connection (reopened if the server closes it after a 401) and the authentication state.</summary>
    private sealed class Session(string host, int port, string target, string? user, string? password) : IDisposable
    {
        private const int MaxHeaderBytes = 64 * 1024;
        private const int MaxBodyBytes = 256 * 1024;

        private NetworkStream? _stream;
        private byte[] _buffer = new byte[8192];
        private int _buffered;
        private int _cseq;
        private Challenge? _challenge;

        /// <summary>Where the check is, for a failure's reason: "connecting to", "awaiting the DESCRIBE answer from".</summary>
        public string Stage { get; private set; } = "connecting to";

        public async Task<(RtspFailure, string, int, SdpVideo?)> RunAsync(CancellationToken ct)
        {
            // OPTIONS first, as players do: some cameras expect it, and it is where a few of them ask for credentials.
            var options = await AuthorizedAsync("OPTIONS", ct).ConfigureAwait(false);
            if (options.Status == 401)
            {
                return Unauthorized(options);
            }

            var describe = await AuthorizedAsync("DESCRIBE", ct).ConfigureAwait(false);
            var status = describe.Status;
            if (status == 401)
            {
                return Unauthorized(describe);
            }

            if (status == 404)
            {
                return (RtspFailure.NotFound, "404 " + describe.Phrase, status, null);
            }

            if (status is < 200 or > 299)
            {
                return (RtspFailure.RtspError, $"{status} {describe.Phrase}", status, null);
            }

            // Content-Base only anchors the a=control URLs that SETUP would use; a liveness check never sends SETUP.
            var type = describe.Header("Content-Type");
            var sdp = describe.Body.TrimStart();
            if ((type is not null && !type.StartsWith("application/sdp", StringComparison.OrdinalIgnoreCase)) || !sdp.StartsWith("v=", StringComparison.Ordinal))
            {
                return (RtspFailure.ProtocolError, $"DESCRIBE answered {status} without an SDP ({describe.Body.Length} bytes)", status, null);
            }

            if (Sdp.FirstVideo(sdp) is not { } video)
            {
                return (RtspFailure.NoVideo, "the SDP has no video stream", status, null);
            }

            var size = video.Width is { } w && video.Height is { } h ? $"{w}x{h}" : "size unknown";
            var rate = video.FrameRate is { } fps ? string.Create(CultureInfo.InvariantCulture, $" {fps:0.##} fps") : "";
            return (RtspFailure.None, $"{video.Codec} {size}{rate}", status, video);
        }

        private (RtspFailure, string, int, SdpVideo?) Unauthorized(Response response)
        {
            var reason = user is null ? "401: the stream needs credentials and none were given"
                : _challenge is { } c ? $"401: credentials rejected ({c.Scheme})"
                : $"401: no supported authentication scheme offered ({string.Join(", ", Challenge.Schemes(response))})";
            return (RtspFailure.AuthFailed, reason, 401, null);
        }

        /// <summary>Sends a request and, on a first 401 for it with credentials at hand, answers the challenge once.</summary>
        private async Task<Response> AuthorizedAsync(string method, CancellationToken ct)
        {
            var response = await RequestAsync(method, ct).ConfigureAwait(false);
            if (response.Status != 401 || user is null || Challenge.Pick(response) is not { } challenge)
            {
                return response;
            }

            _challenge = challenge;
            return await RequestAsync(method, ct).ConfigureAwait(false);
        }

        private async Task<Response> RequestAsync(string method, CancellationToken ct)
        {
            var request = new StringBuilder()
                .Append(CultureInfo.InvariantCulture, $"{method} {target} RTSP/1.0\r\nCSeq: {++_cseq}\r\nUser-Agent: SharpEyes\r\n");
            if (method == "DESCRIBE")
            {
                request.Append("Accept: application/sdp\r\n");
            }

            if (_challenge is not null && user is not null)
            {
                request.Append("Authorization: ").Append(_challenge.Authorization(method, target, user, password ?? "")).Append("\r\n");
            }

            var bytes = Encoding.UTF8.GetBytes(request.Append("\r\n").ToString());
            var reused = _stream is not null;
            try
            {
                return await ExchangeAsync(method, bytes, ct).ConfigureAwait(false);
            }
            catch (IOException) when (reused)
            {
                // A server may close the connection after its 401: ask again on a new one.
                Close();
                return await ExchangeAsync(method, bytes, ct).ConfigureAwait(false);
            }
        }

        private async Task<Response> ExchangeAsync(string method, byte[] request, CancellationToken ct)
        {
            if (_stream is null)
            {
                Stage = "connecting to";
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(host, port, ct).ConfigureAwait(false);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }

                _stream = new NetworkStream(socket, ownsSocket: true);
            }

            Stage = $"sending {method} to";
            await _stream.WriteAsync(request, ct).ConfigureAwait(false);
            Stage = $"awaiting the {method} answer from";
            var response = await ReadResponseAsync(_stream, ct).ConfigureAwait(false);
            if (string.Equals(response.Header("Connection"), "close", StringComparison.OrdinalIgnoreCase))
            {
                Close();
            }

            return response;
        }

        private async Task<Response> ReadResponseAsync(NetworkStream stream, CancellationToken ct)
        {
            int headerLength, separator;
            while (true)
            {
                // Some servers end a body with an extra CRLF: it belongs to no answer.
                var stray = _buffer.AsSpan(0, _buffered).IndexOfAnyExcept((byte)'\r', (byte)'\n');
                Consume(stray < 0 ? _buffered : stray);
                if ((headerLength = HeaderEnd(_buffer.AsSpan(0, _buffered), out separator)) >= 0)
                {
                    break;
                }

                if (_buffered >= MaxHeaderBytes)
                {
                    throw new RtspProtocolException("the answer's header block exceeds 64 KiB");
                }

                await FillAsync(stream, ct).ConfigureAwait(false);
            }

            var lines = Encoding.Latin1.GetString(_buffer, 0, headerLength).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
            var statusLine = lines[0].Split(' ', 3);
            if (statusLine.Length < 2 || !statusLine[0].StartsWith("RTSP/", StringComparison.Ordinal)
                || !int.TryParse(statusLine[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status) || status is < 100 or > 999)
            {
                throw new RtspProtocolException(lines[0].StartsWith("HTTP/", StringComparison.Ordinal) ? "an HTTP answer, not RTSP" : "not an RTSP answer");
            }

            var headers = new List<(string Name, string Value)>();
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (line.Length > 0 && line[0] is ' ' or '\t' && headers.Count > 0)
                {
                    headers[^1] = (headers[^1].Name, headers[^1].Value + " " + line.Trim()); // folded continuation line
                }
                else if (colon > 0)
                {
                    headers.Add((line[..colon].Trim(), line[(colon + 1)..].Trim()));
                }
            }

            var length = 0;
            var declared = headers.FirstOrDefault(h => string.Equals(h.Name, "Content-Length", StringComparison.OrdinalIgnoreCase)).Value;
            if (declared is not null && (!int.TryParse(declared, NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > MaxBodyBytes))
            {
                throw new RtspProtocolException("Content-Length is not a number or exceeds the 256 KiB read");
            }

            var bodyStart = headerLength + separator;
            while (_buffered < bodyStart + length)
            {
                await FillAsync(stream, ct).ConfigureAwait(false);
            }

            var body = Encoding.UTF8.GetString(_buffer, bodyStart, length);
            Consume(bodyStart + length);
            var phrase = statusLine.Length > 2 ? Printable(statusLine[2]) : "";
            return new Response(status, phrase, headers, body);
        }

        private void Consume(int count)
        {
            Buffer.BlockCopy(_buffer, count, _buffer, 0, _buffered - count);
            _buffered -= count;
        }

        private async Task FillAsync(NetworkStream stream, CancellationToken ct)
        {
            if (_buffered == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2); // bounded by the header and body limits above
            }

            var read = await stream.ReadAsync(_buffer.AsMemory(_buffered), ct).ConfigureAwait(false);
            if (read == 0)
            {
                throw _buffered == 0 ? new ConnectionClosedException() : new RtspProtocolException("connection closed mid-answer");
            }

            _buffered += read;
        }

        /// <summary>Length of the header block and of the blank line after it; bare LF line ends are tolerated.</summary>
        private static int HeaderEnd(ReadOnlySpan<byte> data, out int separator)
        {
            var crlf = data.IndexOf("\r\n\r\n"u8);
            var lf = data.IndexOf("\n\n"u8);
            if (lf >= 0 && (crlf < 0 || lf < crlf))
            {
                separator = 2;
                return lf;
            }

            separator = 4;
            return crlf;
        }

        private static string Printable(string text)
        {
            var clean = new string([.. text.Where(c => c is >= ' ' and <= '~')]).Trim();
            return clean.Length > 80 ? clean[..80] : clean;
        }

        private void Close()
        {
            _stream?.Dispose();
            _stream = null;
            _buffered = 0;
        }

        public void Dispose() => Close();
    }

    /// <summary>The server closed the connection before answering at all: on a reused connection, worth one retry.</summary>
    private sealed class ConnectionClosedException() : IOException("connection closed before an answer");

    /// <summary>One WWW-Authenticate challenge (RFC 7235 syntax; Digest per RFC 2617/7616, Basic per RFC 7617).</summary>
    private sealed class Challenge(string scheme)
    {
        private readonly Dictionary<string, string> _parameters = new(StringComparer.OrdinalIgnoreCase);
        private int _nonceCount;

        public string Scheme { get; } = scheme;

        /// <summary>Digest with a supported algorithm when offered (it does not send the password), else Basic, else null.</summary>
        public static Challenge? Pick(Response response)
        {
            var offered = All(response).ToList();
            return offered.FirstOrDefault(c => c.Scheme.Equals("Digest", StringComparison.OrdinalIgnoreCase) && c.Hash() is not null && c.Qop() is not "unsupported")
                ?? offered.FirstOrDefault(c => c.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase));
        }

        public static IEnumerable<string> Schemes(Response response) => All(response).Select(c => c.Scheme).Distinct(StringComparer.OrdinalIgnoreCase);

        public string Authorization(string method, string uri, string user, string password)
        {
            if (Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
            {
                return "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));
            }

            var hash = Hash()!;
            var algorithm = _parameters.GetValueOrDefault("algorithm");
            var realm = _parameters.GetValueOrDefault("realm") ?? "";
            var nonce = _parameters.GetValueOrDefault("nonce") ?? "";
            var qop = Qop();
            var cnonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            var nc = (++_nonceCount).ToString("x8", CultureInfo.InvariantCulture);
            var ha1 = hash($"{user}:{realm}:{password}");
            if (algorithm?.EndsWith("-sess", StringComparison.OrdinalIgnoreCase) == true)
            {
                ha1 = hash($"{ha1}:{nonce}:{cnonce}");
            }

            var ha2 = hash($"{method}:{uri}");
            var response = qop is null ? hash($"{ha1}:{nonce}:{ha2}") : hash($"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}");
            var header = new StringBuilder("Digest ")
                .Append(CultureInfo.InvariantCulture, $"username=\"{Quote(user)}\", realm=\"{Quote(realm)}\", nonce=\"{Quote(nonce)}\", uri=\"{uri}\", response=\"{response}\"");
            if (_parameters.TryGetValue("opaque", out var opaque))
            {
                header.Append(CultureInfo.InvariantCulture, $", opaque=\"{Quote(opaque)}\"");
            }

            if (algorithm is not null)
            {
                header.Append(", algorithm=").Append(algorithm);
            }

            if (qop is not null)
            {
                header.Append(CultureInfo.InvariantCulture, $", qop={qop}, nc={nc}, cnonce=\"{cnonce}\"");
            }

            return header.ToString();
        }

        /// <summary>"auth" when offered, null when the challenge names no qop (RFC 2069 style), "unsupported" for auth-int only.</summary>
        private string? Qop() => _parameters.GetValueOrDefault("qop") is not { } qop ? null
            : qop.Split(',', StringSplitOptions.TrimEntries).Contains("auth", StringComparer.OrdinalIgnoreCase) ? "auth" : "unsupported";

        private Func<string, string>? Hash() => (_parameters.GetValueOrDefault("algorithm") ?? "MD5").ToUpperInvariant() switch
        {
#pragma warning disable CA5351 // Digest authentication is defined over MD5; cameras offer nothing else.
            "MD5" or "MD5-SESS" => s => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(s))),
#pragma warning restore CA5351
            "SHA-256" or "SHA-256-SESS" => s => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s))),
            _ => null,
        };

        private static string Quote(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);

        /// <summary>Every challenge of every WWW-Authenticate header; one header may hold several, comma-separated.</summary>
        private static IEnumerable<Challenge> All(Response response)
        {
            foreach (var (name, value) in response.Headers)
            {
                if (!name.Equals("WWW-Authenticate", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                Challenge? current = null;
                var i = 0;
                while (i < value.Length)
                {
                    while (i < value.Length && value[i] is ' ' or '\t' or ',')
                    {
                        i++;
                    }

                    var start = i;
                    while (i < value.Length && value[i] is not (' ' or '\t' or ',' or '='))
                    {
                        i++;
                    }

                    var token = value[start..i];
                    while (i < value.Length && value[i] is ' ' or '\t')
                    {
                        i++;
                    }

                    if (i < value.Length && value[i] == '=')
                    {
                        var parameter = ReadValue(value, ref i); // always moves on, even past a stray '='
                        if (current is not null && token.Length > 0)
                        {
                            current._parameters[token] = parameter;
                        }
                    }
                    else if (token.Length > 0)
                    {
                        if (current is not null)
                        {
                            yield return current;
                        }

                        current = new Challenge(token);
                    }
                }

                if (current is not null)
                {
                    yield return current;
                }
            }
        }

        /// <summary>The value after '=' at <paramref name="i"/>: a quoted string (with \-escapes) or a token.</summary>
        private static string ReadValue(string text, ref int i)
        {
            i++;
            while (i < text.Length && text[i] is ' ' or '\t')
            {
                i++;
            }

            var value = new StringBuilder();
            if (i < text.Length && text[i] == '"')
            {
                for (i++; i < text.Length && text[i] != '"'; i++)
                {
                    value.Append(text[i] == '\\' && i + 1 < text.Length ? text[++i] : text[i]);
                }

                i++;
                return value.ToString();
            }

            while (i < text.Length && text[i] != ',')
            {
                value.Append(text[i++]);
            }

            return value.ToString().Trim();
        }
    }
}
