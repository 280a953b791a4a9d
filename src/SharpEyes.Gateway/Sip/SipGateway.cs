using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Streams;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Sip;

/// <summary>
/// The GB/T 28181 platform side: answers what devices send (REGISTER with digest authentication, MANSCDP MESSAGEs and
/// NOTIFYs: keepalives, catalog answers and changes, alarms), refuses live video (INVITE), and sends devices the
/// gateway's own requests (catalog queries, arming, alarm subscriptions) over the transport each registered on. Every
/// answer goes out after the work it acknowledges is durable.
/// </summary>
public sealed partial class SipGateway : ISipRequestHandler
{
    public const string ManscdpType = "Application/MANSCDP+xml";

    /// <summary>The feed reason of a channel taken offline because its device unregistered.</summary>
    public const string UnregisteredReason = "sip-unregistered";

    private readonly SipDirectory _directory;
    private readonly DeviceCatalog _devices;
    private readonly Journal _journal;
    private readonly GatewayStore _store;
    private readonly SipStats _stats;
    private readonly TimeProvider _time;
    private readonly SipOptions _options;
    private readonly ILogger<SipGateway> _logger;
    private readonly Auth.AuthFailureLimiter _authFailures;
    private readonly byte[] _nonceKey = RandomNumberGenerator.GetBytes(32);
    private long _sn = RandomNumberGenerator.GetInt32(1, 1_000_000);
    private long _cseq = 1;

    public SipGateway(SipDirectory directory, DeviceCatalog devices, Journal journal, GatewayStore store, SipStats stats, Auth.AuthFailureLimiter authFailures,
        TimeProvider time, IOptions<GatewayOptions> options, ILogger<SipGateway> logger)
    {
        _authFailures = authFailures;
        _directory = directory;
        _devices = devices;
        _journal = journal;
        _store = store;
        _stats = stats;
        _time = time;
        _options = options.Value.Sip;
        _logger = logger;
        ServerId = _options.ServerIdFor(options.Value);
        Domain = _options.DomainFor(options.Value);
    }

    public string ServerId { get; }

    public string Domain { get; }

    /// <summary>The catalog side (set by <see cref="SipService"/>: the two need each other).</summary>
    public SipCatalogSync? Catalogs { get; set; }

    /// <summary>The alarm side (set by <see cref="SipService"/>).</summary>
    public SipAlarmIntake? Alarms { get; set; }

    /// <summary>The transports requests to a device go out on when it is not known which one it came on (after a restart).</summary>
    public Func<string, ISipSender?> TransportNamed { get; set; } = _ => null;

    public async Task<SipMessage?> HandleAsync(SipIncoming incoming, CancellationToken ct)
    {
        var request = incoming.Request;
        switch (request.Method)
        {
            case "REGISTER":
                return await RegisterAsync(incoming, ct).ConfigureAwait(false);
            case "MESSAGE" or "NOTIFY":
                return await MessageAsync(incoming, ct).ConfigureAwait(false);
            case "ACK":
                return null; // the end of a refused INVITE: nothing to answer
            case "INVITE":
                _stats.InviteRefused();
                return SipMessage.ResponseTo(request, 488, "Not Acceptable Here: live video (INVITE) is not served by this gateway", Tag(),
                    [new SipHeader("Warning", $"399 {ServerId} \"live video is out of scope; see docs/gb28181.md\"")]);
            case "BYE" or "CANCEL":
                return SipMessage.ResponseTo(request, 481, "Call/Transaction Does Not Exist", Tag());
            case "OPTIONS":
                return SipMessage.ResponseTo(request, 200, "OK", Tag(), [Allow]);
            default:
                return SipMessage.ResponseTo(request, 405, "Method Not Allowed", Tag(), [Allow]);
        }
    }

    private static readonly SipHeader Allow = new("Allow", "REGISTER, MESSAGE, NOTIFY, OPTIONS, ACK, BYE, CANCEL");

    private static string Tag() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>The principal a SIP device acts as: its account's vendor.</summary>
    public static Auth.Principal PrincipalOf(SipDeviceState state) => new("sip:" + state.AccountId, Role.Vendor, state.VendorId);

    // ---- registration ----

    private async Task<SipMessage> RegisterAsync(SipIncoming incoming, CancellationToken ct)
    {
        var request = incoming.Request;
        var deviceId = SipParser.User(SipParser.Uri(request.Header("To") ?? request.Header("From") ?? ""));
        if (!GbDeviceId.IsWellFormed(deviceId))
        {
            return SipMessage.ResponseTo(request, 400, "Bad Request: the To header's user is not a 20-digit device id", Tag());
        }

        var credentials = SipDigest.Parse(request.Header("Authorization"));
        if (credentials is null || !credentials.Realm.Equals(Domain, StringComparison.Ordinal))
        {
            return Challenge(request, stale: false);
        }

        if (!NonceValid(credentials.Nonce, out var expired))
        {
            return Challenge(request, stale: expired);
        }

        // Guessing is bounded as for API keys: an address that failed too often is refused unchecked for the window.
        if (_authFailures.IsLockedOut(incoming.Remote.Address, "sip"))
        {
            return Forbidden(request, deviceId, "locked-out", incoming);
        }

        SipAccountRow account;
        SipDeviceRow? row;
        string password;
        using (var connection = _store.OpenRead())
        {
            row = SipRepository.Device(connection, deviceId);
            var named = credentials.Username == deviceId && row is not null ? SipRepository.Account(connection, row.AccountId) : SipRepository.Account(connection, credentials.Username);
            if (named is null)
            {
                return Forbidden(request, deviceId, "unknown-username", incoming);
            }

            if (row is not null && row.AccountId != named.AccountId)
            {
                return Forbidden(request, deviceId, "other-account", incoming);
            }

            if (row is null && !named.AutoEnrol)
            {
                return Forbidden(request, deviceId, "unknown-device", incoming);
            }

            account = named;
            password = _directory.Unprotect(credentials.Username == deviceId && row?.Secret is { } own ? own : named.Secret);
        }

        if (!SipDigest.Verify(credentials, "REGISTER", password))
        {
            return Forbidden(request, deviceId, "wrong-password", incoming);
        }

        var expires = RequestedExpires(request);
        if (expires > TimeSpan.Zero && expires < _options.MinExpires)
        {
            return SipMessage.ResponseTo(request, 423, "Interval Too Brief", Tag(),
                [new SipHeader("Min-Expires", ((long)_options.MinExpires.TotalSeconds).ToString(CultureInfo.InvariantCulture))]);
        }

        if (expires > _options.MaxExpires)
        {
            expires = _options.MaxExpires;
        }

        var now = _time.GetUtcNow();
        var nowMs = now.ToUnixTimeMilliseconds();
        var state = _directory.Track(row ?? new SipDeviceRow(deviceId, account.AccountId, null, null, null, nowMs), account.VendorId);
        bool wasRegistered;
        StoredRegistration? registration;
        lock (state)
        {
            wasRegistered = state.IsRegistered(nowMs);
            registration = expires == TimeSpan.Zero ? null : new StoredRegistration(incoming.Transport?.Name ?? "UDP", incoming.Remote.Address.ToString(),
                incoming.Remote.Port, wasRegistered ? state.RegisteredAtMs : nowMs, nowMs + (long)expires.TotalMilliseconds, state.LastKeepaliveMs,
                wasRegistered && state.Armed, wasRegistered && state.Subscribed, state.Encoding);
        }

        var stored = registration is null ? null : System.Text.Json.JsonSerializer.Serialize(registration, SipJson.Default.StoredRegistration);
        await _journal.ExecuteAsync(tx =>
        {
            SipRepository.UpsertDevice(tx, new SipDeviceRow(deviceId, account.AccountId, row?.Secret, stored, row?.Catalog ?? state.CatalogJson(), nowMs));
            foreach (var entry in Channels(state))
            {
                if (registration is not null)
                {
                    _devices.MarkSeen(tx, entry, now, StatusReasons.Heartbeat);
                }
                else if (entry.Status == DeviceStatus.Online)
                {
                    _devices.SetStatus(tx, entry, DeviceStatus.Offline, now, UnregisteredReason);
                }
            }

            return true;
        }, ct).ConfigureAwait(false);

        lock (state)
        {
            state.Transport = registration is null ? null : incoming.Transport;
            state.Restore(stored, null);
            if (registration is null)
            {
                state.Remote = null;
                state.ExpiresAtMs = 0;
                state.Armed = state.Subscribed = false;
            }
        }

        if (registration is null)
        {
            _stats.Unregistered();
            LogUnregistered(_logger, deviceId);
        }
        else
        {
            _stats.Registered();
            if (!wasRegistered)
            {
                LogRegistered(_logger, deviceId, account.AccountId, state.TransportName, incoming.Remote.ToString());
                incoming.Then = () => AfterRegistrationAsync(state, CancellationToken.None);
            }
            else if (_options.ArmOnRegister)
            {
                incoming.Then = () => ArmAsync(state, CancellationToken.None); // a renewal renews the alarm subscription with it
            }
        }

        var local = now.ToOffset(_options.DeviceUtcOffset);
        return SipMessage.ResponseTo(request, 200, "OK", Tag(),
        [
            .. request.Values("Contact").Take(1).Select(c => new SipHeader("Contact", c)),
            new SipHeader("Expires", ((long)expires.TotalSeconds).ToString(CultureInfo.InvariantCulture)),
            new SipHeader("Date", local.ToString("yyyy-MM-dd'T'HH:mm:ss.fff", CultureInfo.InvariantCulture)),
        ]);
    }

    /// <summary>After a device's first registration: query its catalog, arm it and subscribe to its alarms.</summary>
    private async Task AfterRegistrationAsync(SipDeviceState state, CancellationToken ct)
    {
        var catalog = Catalogs is null ? Task.CompletedTask : Catalogs.StartAsync(state, ct);
        if (_options.ArmOnRegister)
        {
            await ArmAsync(state, ct).ConfigureAwait(false);
        }

        await catalog.ConfigureAwait(false);
    }

    /// <summary>Arms <paramref name="state"/> (SetGuard) and subscribes to its alarms; records what it accepted.</summary>
    public async Task ArmAsync(SipDeviceState state, CancellationToken ct)
    {
        var guard = await SendAsync(state, "MESSAGE", Manscdp.Guard(NextSn(), state.DeviceId, arm: true), [], ct).ConfigureAwait(false);
        long expiresS;
        lock (state)
        {
            state.Armed = guard is { StatusCode: >= 200 and < 300 };
            expiresS = Math.Max(60, (state.ExpiresAtMs - NowMs) / 1000);
        }

        var subscribe = await SendAsync(state, "SUBSCRIBE", Manscdp.Query("Alarm", NextSn(), state.DeviceId),
            [new SipHeader("Event", "presence"), new SipHeader("Expires", expiresS.ToString(CultureInfo.InvariantCulture))], ct).ConfigureAwait(false);
        lock (state)
        {
            state.Subscribed = subscribe is { StatusCode: >= 200 and < 300 };
        }

        await SaveAsync(state, ct).ConfigureAwait(false);
    }

    /// <summary>Writes <paramref name="state"/>'s registration and catalog to its row.</summary>
    public Task SaveAsync(SipDeviceState state, CancellationToken ct)
    {
        string? registration;
        string catalog;
        lock (state)
        {
            registration = state.RegistrationJson();
            catalog = state.CatalogJson();
        }

        return _journal.ExecuteAsync(tx =>
        {
            SipRepository.SaveState(tx, state.DeviceId, registration, catalog);
            return true;
        }, ct);
    }

    private static TimeSpan RequestedExpires(SipMessage request)
    {
        var contact = request.Header("Contact");
        var text = (contact is null ? null : SipParser.Parameter(contact, "expires")) ?? request.Header("Expires");
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(Math.Min(seconds, int.MaxValue))
            : TimeSpan.FromSeconds(3600);
    }

    private SipMessage Challenge(SipMessage request, bool stale)
    {
        _stats.Challenged();
        var challenge = SipDigest.Challenge(Domain, NewNonce()) + (stale ? ", stale=TRUE" : "");
        return SipMessage.ResponseTo(request, 401, "Unauthorized", Tag(), [new SipHeader("WWW-Authenticate", challenge)]);
    }

    private SipMessage Forbidden(SipMessage request, string deviceId, string reason, SipIncoming incoming)
    {
        _stats.RegistrationRefused(reason);
        if (reason is "wrong-password" or "unknown-username")
        {
            _authFailures.Failed(incoming.Remote.Address, "sip", null, $"SIP registration of {deviceId}: {reason}");
        }

        LogRefused(_logger, deviceId, reason);
        return SipMessage.ResponseTo(request, 403, "Forbidden", Tag()); // one answer whatever the reason: nothing to probe
    }

    /// <summary>A nonce the gateway can check without remembering it: when it was made, and a MAC of that under a key of this process.</summary>
    private string NewNonce()
    {
        var made = BitConverter.GetBytes(NowMs);
        return WebEncoders.Base64UrlEncode([.. made, .. HMACSHA256.HashData(_nonceKey, made).AsSpan(0, 16)]);
    }

    private bool NonceValid(string nonce, out bool expired)
    {
        expired = false;
        byte[] bytes;
        try
        {
            bytes = WebEncoders.Base64UrlDecode(nonce);
        }
        catch (FormatException)
        {
            return false;
        }

        if (bytes.Length != 24 || !CryptographicOperations.FixedTimeEquals(HMACSHA256.HashData(_nonceKey, bytes.AsSpan(0, 8)).AsSpan(0, 16), bytes.AsSpan(8)))
        {
            return false;
        }

        var age = NowMs - BitConverter.ToInt64(bytes, 0);
        expired = age < 0 || age > _options.NonceLifetime.TotalMilliseconds;
        return !expired;
    }

    // ---- MESSAGE and NOTIFY ----

    private async Task<SipMessage> MessageAsync(SipIncoming incoming, CancellationToken ct)
    {
        var request = incoming.Request;
        var deviceId = SipParser.User(SipParser.Uri(request.Header("From") ?? ""));
        if (Upstreams?.Find(deviceId, incoming.Remote) is { } upstream)
        {
            return upstream.OnRequest(incoming);
        }

        var state = _directory.Find(deviceId);
        var nowMs = NowMs;
        if (state is null || !state.IsRegistered(nowMs) || !state.Remote!.Address.Equals(incoming.Remote.Address))
        {
            _stats.FromUnregistered();
            return SipMessage.ResponseTo(request, 403, "Forbidden: register first", Tag());
        }

        if (request.Method == "NOTIFY" && request.Body.Length == 0)
        {
            return SipMessage.ResponseTo(request, 200, "OK", Tag()); // a subscription's state, without an event
        }

        if (!Manscdp.TryParse(request.Body, out var document, out var error))
        {
            return SipMessage.ResponseTo(request, 400, "Bad Request: " + SipMessage.Phrase(error!), Tag());
        }

        lock (state)
        {
            state.Remote = incoming.Remote; // a NAT may give the device another port; replies follow it
            state.Transport = incoming.Transport ?? state.Transport;
            state.Encoding = document!.Encoding;
        }

        switch (document.Root, document.CmdType)
        {
            case ("Notify", "Keepalive"):
                await KeepaliveAsync(state, ct).ConfigureAwait(false);
                return SipMessage.ResponseTo(request, 200, "OK", Tag());
            case ("Notify", "Alarm") when Alarms is not null:
                return await Alarms.AcceptAsync(request, state, document, ct).ConfigureAwait(false);
            case ("Response", "Catalog") or ("Notify", "Catalog") when Catalogs is not null:
                await Catalogs.OnItemsAsync(state, document, ct).ConfigureAwait(false);
                return SipMessage.ResponseTo(request, 200, "OK", Tag());
            default:
                _stats.IgnoredMessage();
                return SipMessage.ResponseTo(request, 200, "OK", Tag());
        }
    }

    /// <summary>A keepalive: the device and every channel its catalog lists as present and ON are heard from now.</summary>
    private Task KeepaliveAsync(SipDeviceState state, CancellationToken ct)
    {
        _stats.Keepalive();
        var now = _time.GetUtcNow();
        lock (state)
        {
            state.LastKeepaliveMs = now.ToUnixTimeMilliseconds();
        }

        return _journal.ExecuteAsync(tx =>
        {
            foreach (var entry in Channels(state))
            {
                _devices.MarkSeen(tx, entry, now, StatusReasons.Heartbeat);
            }

            return true;
        }, ct);
    }

    /// <summary>The devices a SIP device vouches for: itself if registered as a camera or alarm input, and its present, ON channels (of its vendor).</summary>
    public List<DeviceEntry> Channels(SipDeviceState state)
    {
        var entries = new List<DeviceEntry>();
        lock (state)
        {
            if (_devices.Find(state.DeviceId) is { } self && self.VendorId == state.VendorId)
            {
                entries.Add(self);
            }

            foreach (var (id, channel) in state.Channels)
            {
                if (!channel.Missing && !channel.Off && id != state.DeviceId && _devices.Find(id) is { } entry && entry.VendorId == state.VendorId)
                {
                    entries.Add(entry);
                }
            }
        }

        return entries;
    }

    // ---- requests to devices ----

    public long NextSn() => Interlocked.Increment(ref _sn);

    /// <summary>
    /// Sends <paramref name="method"/> with a MANSCDP <paramref name="body"/> to a registered device over its transport, and
    /// completes with its final response, or null when it never answered (Timer F) or could not be reached.
    /// </summary>
    public async Task<SipMessage?> SendAsync(SipDeviceState state, string method, byte[] body, IEnumerable<SipHeader> extra, CancellationToken ct)
    {
        ISipSender? transport;
        IPEndPoint? remote;
        lock (state)
        {
            transport = state.Transport ?? TransportNamed(state.TransportName);
            remote = state.Remote;
        }

        var response = transport is null || remote is null
            ? null
            : await SendToAsync(transport, remote, $"sip:{state.DeviceId}@{remote}", $"<sip:{state.DeviceId}@{Domain}>", method, body,
                [.. extra, new SipHeader("Content-Type", ManscdpType)], null, ct).ConfigureAwait(false);
        if (response is not { StatusCode: >= 200 and < 300 })
        {
            _stats.RequestFailed();
        }

        return response;
    }

    /// <summary>
    /// Sends a request from the gateway (From: its server ID) to <paramref name="remote"/> through a client transaction;
    /// its final response, or null at Timer F or when it could not be sent. <paramref name="callId"/> null: a new one.
    /// </summary>
    public async Task<SipMessage?> SendToAsync(ISipSender transport, IPEndPoint remote, string requestUri, string to, string method, byte[] body,
        IEnumerable<SipHeader> extra, string? callId, CancellationToken ct)
    {
        if (Clients is null)
        {
            return null;
        }

        var local = transport.LocalFor(remote);
        var host = local.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{local.Address}]" : local.Address.ToString();
        var cseq = Interlocked.Increment(ref _cseq);
        var request = SipMessage.Request(method, requestUri,
        [
            new SipHeader("Via", $"SIP/2.0/{transport.Name} {host}:{local.Port};rport;branch=z9hG4bK{Tag()}{Tag()}"),
            new SipHeader("From", $"<sip:{ServerId}@{Domain}>;tag={Tag()}"),
            new SipHeader("To", to),
            new SipHeader("Call-ID", callId ?? $"{Tag()}{Tag()}@{host}"),
            new SipHeader("CSeq", string.Create(CultureInfo.InvariantCulture, $"{cseq} {method}")),
            new SipHeader("Contact", $"<sip:{ServerId}@{host}:{local.Port}>"),
            new SipHeader("Max-Forwards", "70"),
            new SipHeader("User-Agent", "SharpEyes"),
            .. extra,
        ], body);
        try
        {
            return await Clients.SendAsync(request, (bytes, c) => transport.SendAsync(bytes, remote, c), transport.Reliable, ct).ConfigureAwait(false);
        }
        catch (System.Net.Sockets.SocketException)
        {
            return null; // a TCP connection gone (the device reconnects and registers again), or the network unreachable
        }
    }

    /// <summary>The upper platforms this gateway registers to (set by <see cref="SipService"/>).</summary>
    public SipUpstreams? Upstreams { get; set; }

    /// <summary>The client transactions requests go out through (set by <see cref="SipService"/>).</summary>
    public SipClientTransactions? Clients { get; set; }

    [LoggerMessage(Level = LogLevel.Information, Message = "SIP device {DeviceId} registered through account {AccountId} over {Transport} from {Remote}")]
    private static partial void LogRegistered(ILogger logger, string deviceId, string accountId, string transport, string remote);

    [LoggerMessage(Level = LogLevel.Information, Message = "SIP device {DeviceId} unregistered")]
    private static partial void LogUnregistered(ILogger logger, string deviceId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SIP registration of {DeviceId} refused (403): {Reason}")]
    private static partial void LogRefused(ILogger logger, string deviceId, string reason);
}
