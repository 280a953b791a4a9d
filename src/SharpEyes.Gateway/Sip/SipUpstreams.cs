using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Outbox;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Sip;

/// <summary>The upper platforms this gateway registers to as a lower platform (outbox endpoints of kind Gb28181), by their server ID.</summary>
public sealed class SipUpstreams
{
    private readonly ConcurrentDictionary<string, SipUpstreamTransport> _byId = new(StringComparer.Ordinal);

    public IEnumerable<SipUpstreamTransport> All => _byId.Values;

    public void Add(SipUpstreamTransport upstream) => _byId[upstream.UpperId] = upstream;

    public void Remove(SipUpstreamTransport upstream) => _byId.TryRemove(new(upstream.UpperId, upstream));

    /// <summary>The upper platform with server ID <paramref name="id"/> when <paramref name="from"/> is its address; else null.</summary>
    public SipUpstreamTransport? Find(string id, IPEndPoint from) =>
        _byId.TryGetValue(id, out var upstream) && upstream.Remote is { } remote && remote.Address.Equals(from.Address) ? upstream : null;
}

/// <summary>
/// Cascade (GB/T 28181 §9.3, platform to platform): an outbox endpoint whose URL is <c>sip://{upper server ID}@host:port</c>.
/// The gateway registers to the upper platform as a lower one (its own server ID, digest authentication with
/// <see cref="CentreEndpointOptions.UserName"/> (default: the server ID) and <see cref="CentreEndpointOptions.ApiKey"/> as
/// the password), renews the registration at half its expiry, and sends a keepalive every
/// <see cref="SipOptions.UpstreamKeepaliveInterval"/>; three unanswered keepalives mean registering again. Alarms reach it as
/// Alarm notifications, one MESSAGE per alarm of the feed (INCIDENT_OPENED and INCIDENT_UPDATED), in feed order, each
/// acknowledged by its 200 OK: the outbox's cursor, retries, breaker and backlog limit are those of every endpoint, so
/// nothing is lost while the upper platform is away. Its Catalog queries are answered with the cameras of the endpoint's
/// region (<see cref="CentreEndpointOptions.RegionPrefix"/>), 20 items per Response. Over UDP, from the gateway's SIP port.
/// </summary>
public sealed partial class SipUpstreamTransport : ICentreTransport
{
    public const int CatalogPageSize = 20;

    private readonly CentreEndpointOptions _options;
    private readonly SipGateway _gateway;
    private readonly SipService _sip;
    private readonly DeviceCatalog _devices;
    private readonly SipUpstreams _registry;
    private readonly SipOptions _sipOptions;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _registering = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly string _callId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    private readonly string _host;
    private readonly int _port;
    private long _registeredUntilMs;
    private int _missedKeepalives;
    private Task? _keepalives;

    public SipUpstreamTransport(CentreEndpointOptions options, SipGateway gateway, SipService sip, DeviceCatalog devices, SipUpstreams registry,
        SipOptions sipOptions, TimeProvider time, ILogger logger)
    {
        _options = options;
        _gateway = gateway;
        _sip = sip;
        _devices = devices;
        _registry = registry;
        _sipOptions = sipOptions;
        _time = time;
        _logger = logger;
        var url = new Uri(options.Url);
        UpperId = Uri.UnescapeDataString(url.UserInfo);
        _host = url.Host;
        _port = url.Port > 0 ? url.Port : 5060;
        registry.Add(this);
    }

    /// <summary>The upper platform's 20-digit server ID.</summary>
    public string UpperId { get; }

    /// <summary>The upper platform's SIP address, once resolved.</summary>
    public IPEndPoint? Remote { get; private set; }

    /// <summary>Registered now.</summary>
    public bool Connected => Interlocked.Read(ref _registeredUntilMs) > _time.GetUtcNow().ToUnixTimeMilliseconds();

    public CentreTls? Tls => null;

    /// <summary>Catalog queries answered.</summary>
    public long CatalogQueries { get; private set; }

    public async Task<long> DeliverAsync(OutboxBatch batch, CancellationToken cancellationToken)
    {
        await EnsureRegisteredAsync(cancellationToken).ConfigureAwait(false);
        var acked = batch.After;
        foreach (var e in batch.Events)
        {
            if (e.Kind is FeedEventKind.IncidentOpened or FeedEventKind.IncidentUpdated && e.Incident is { } incident)
            {
                foreach (var alarm in incident.Alarms)
                {
                    var local = alarm.OccurredAt.ToDateTimeOffset().ToOffset(_sipOptions.DeviceUtcOffset);
                    var body = Manscdp.AlarmNotify(_gateway.NextSn(), alarm.DeviceId, alarm.Priority, alarm.Method, local, alarm.Description,
                        alarm.Position?.Lon ?? 0, alarm.Position?.Lat ?? 0, alarm.Type);
                    var answer = await SendAsync("MESSAGE", body, [new SipHeader("Content-Type", SipGateway.ManscdpType)], null, cancellationToken).ConfigureAwait(false);
                    if (answer is not { StatusCode: >= 200 and < 300 })
                    {
                        if (acked > batch.After)
                        {
                            return acked; // what went before is held; the rest is sent again
                        }

                        throw new InvalidOperationException(answer is null
                            ? $"the upper platform {UpperId} did not answer an alarm notification"
                            : $"the upper platform {UpperId} answered an alarm notification {answer}");
                    }
                }
            }

            acked = e.Sequence;
        }

        return batch.Through;
    }

    /// <summary>A request from the upper platform: a query is answered 200, then a Catalog query with the shared cameras, DeviceInfo and DeviceStatus with the gateway's; anything else 200.</summary>
    public SipMessage OnRequest(SipIncoming incoming)
    {
        var request = incoming.Request;
        if (request.Method != "MESSAGE")
        {
            return SipMessage.ResponseTo(request, 405, "Method Not Allowed", "up");
        }

        if (!Manscdp.TryParse(request.Body, out var document, out var error))
        {
            return SipMessage.ResponseTo(request, 400, "Bad Request: " + SipMessage.Phrase(error!), "up");
        }

        if (document!.Root == "Query")
        {
            switch (document.CmdType)
            {
                case "Catalog":
                    CatalogQueries++;
                    incoming.Then = () => SendCatalogAsync(document.Sn, _stop.Token);
                    break;
                case "DeviceInfo":
                    incoming.Then = () => SendAsync("MESSAGE", Manscdp.DeviceInfoResponse(document.Sn, _gateway.ServerId, "SharpEyes " + _gateway.ServerId, Shared().Count),
                        [new SipHeader("Content-Type", SipGateway.ManscdpType)], null, _stop.Token);
                    break;
                case "DeviceStatus":
                    incoming.Then = () => SendAsync("MESSAGE", Manscdp.DeviceStatusResponse(document.Sn, _gateway.ServerId, _time.GetUtcNow().ToOffset(_sipOptions.DeviceUtcOffset)),
                        [new SipHeader("Content-Type", SipGateway.ManscdpType)], null, _stop.Token);
                    break;
            }
        }

        return SipMessage.ResponseTo(request, 200, "OK", "up");
    }

    /// <summary>The cameras this upper platform may see, in pages of <see cref="CatalogPageSize"/>, each sent after the previous one's 200 OK.</summary>
    private async Task SendCatalogAsync(long sn, CancellationToken ct)
    {
        var cameras = Shared();
        if (cameras.Count == 0)
        {
            await SendAsync("MESSAGE", Manscdp.CatalogResponse(sn, _gateway.ServerId, 0, []), [new SipHeader("Content-Type", SipGateway.ManscdpType)], null, ct).ConfigureAwait(false);
            return;
        }

        foreach (var page in cameras.Chunk(CatalogPageSize))
        {
            var items = page.Select(e => Manscdp.CatalogItem(e.Id, e.Device.Name, e.VendorId, e.Device.Model, e.Device.RegionCode.Length >= 6 ? e.Device.RegionCode[..6] : e.Device.RegionCode,
                _gateway.ServerId, e.Status == DeviceStatus.Online, e.Device.Position.Lon, e.Device.Position.Lat, e.Device.Camera?.Ptz == true ? 1 : 3)).ToList();
            var answer = await SendAsync("MESSAGE", Manscdp.CatalogResponse(sn, _gateway.ServerId, cameras.Count, items),
                [new SipHeader("Content-Type", SipGateway.ManscdpType)], null, ct).ConfigureAwait(false);
            if (answer is not { StatusCode: >= 200 and < 300 })
            {
                LogCatalogStopped(_logger, UpperId, answer?.ToString() ?? "no answer");
                return;
            }
        }
    }

    /// <summary>The cameras this upper platform may see: those of the endpoint's region, by id.</summary>
    private List<DeviceEntry> Shared() => [.. _devices.All
        .Where(e => e.Device.Kind == DeviceKind.Camera && e.Device.RegionCode.StartsWith(_options.RegionPrefix, StringComparison.Ordinal))
        .OrderBy(e => e.Id, StringComparer.Ordinal)];

    /// <summary>Registers (again) when not registered or past half the granted expiry.</summary>
    public async Task EnsureRegisteredAsync(CancellationToken ct)
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var expiresMs = (long)_sipOptions.UpstreamExpires.TotalMilliseconds;
        if (Interlocked.Read(ref _registeredUntilMs) - nowMs > expiresMs / 2)
        {
            return;
        }

        await _registering.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (Interlocked.Read(ref _registeredUntilMs) - _time.GetUtcNow().ToUnixTimeMilliseconds() > expiresMs / 2)
            {
                return;
            }

            await RegisterAsync(ct).ConfigureAwait(false);
            _keepalives ??= Task.Run(() => KeepaliveLoopAsync(_stop.Token), CancellationToken.None);
        }
        finally
        {
            _registering.Release();
        }
    }

    private async Task RegisterAsync(CancellationToken ct)
    {
        var expires = ((long)_sipOptions.UpstreamExpires.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        var uri = $"sip:{UpperId}@{UpperId[..10]}";
        SipHeader[] plain = [new("Expires", expires)];
        var answer = await SendAsync("REGISTER", [], plain, _callId, ct, uri).ConfigureAwait(false);
        if (answer?.StatusCode == 401 && SipDigest.Parse(answer.Header("WWW-Authenticate")) is { } challenge)
        {
            var username = string.IsNullOrEmpty(_options.UserName) ? _gateway.ServerId : _options.UserName;
            var qop = challenge.Qop.Split(',').Select(q => q.Trim()).Contains("auth") ? "auth" : "";
            var cnonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            var response = SipDigest.Response(username, challenge.Realm, _options.ApiKey ?? "", "REGISTER", uri, challenge.Nonce, qop, qop.Length > 0 ? "00000001" : "", qop.Length > 0 ? cnonce : "");
            var authorization = $"Digest username=\"{username}\", realm=\"{challenge.Realm}\", nonce=\"{challenge.Nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5"
                + (qop.Length > 0 ? $", qop=auth, nc=00000001, cnonce=\"{cnonce}\"" : "");
            answer = await SendAsync("REGISTER", [], [.. plain, new("Authorization", authorization)], _callId, ct, uri).ConfigureAwait(false);
        }

        if (answer is not { StatusCode: >= 200 and < 300 })
        {
            Interlocked.Exchange(ref _registeredUntilMs, 0);
            throw new InvalidOperationException(answer is null
                ? $"the upper platform {UpperId} at {_host}:{_port} did not answer the registration"
                : $"the upper platform {UpperId} refused the registration: {answer}");
        }

        var granted = long.TryParse(answer.Header("Expires"), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(Math.Min(seconds, _sipOptions.UpstreamExpires.TotalSeconds))
            : _sipOptions.UpstreamExpires;
        Interlocked.Exchange(ref _registeredUntilMs, _time.GetUtcNow().ToUnixTimeMilliseconds() + (long)granted.TotalMilliseconds);
        Interlocked.Exchange(ref _missedKeepalives, 0);
        LogRegistered(_logger, UpperId, _host, _port, granted.TotalSeconds);
    }

    private async Task KeepaliveLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_sipOptions.UpstreamKeepaliveInterval, _time, ct).ConfigureAwait(false);
                if (!Connected)
                {
                    await EnsureRegisteredAsync(ct).ConfigureAwait(false);
                    continue;
                }

                var answer = await SendAsync("MESSAGE", Manscdp.Keepalive(_gateway.NextSn(), _gateway.ServerId), [new SipHeader("Content-Type", SipGateway.ManscdpType)], null, ct).ConfigureAwait(false);
                if (answer is { StatusCode: >= 200 and < 300 })
                {
                    Interlocked.Exchange(ref _missedKeepalives, 0);
                }
                else if (Interlocked.Increment(ref _missedKeepalives) >= 3)
                {
                    Interlocked.Exchange(ref _registeredUntilMs, 0); // three missed: register again
                }

                await EnsureRegisteredAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogKeepaliveFailed(_logger, UpperId, e.Message);
            }
        }
    }

    private async Task<SipMessage?> SendAsync(string method, byte[] body, IEnumerable<SipHeader> extra, string? callId, CancellationToken ct, string? requestUri = null)
    {
        var udp = await _sip.UdpReady.WaitAsync(ct).ConfigureAwait(false)
            ?? throw new InvalidOperationException("SIP is disabled (SharpEyes:Sip:Enabled=false): a Gb28181 endpoint cannot be served");
        if (Remote is null)
        {
            var address = IPAddress.TryParse(_host, out var literal) ? literal : (await Dns.GetHostAddressesAsync(_host, ct).ConfigureAwait(false))[0];
            Remote = new IPEndPoint(address, _port);
        }

        var to = method == "REGISTER" ? $"<sip:{_gateway.ServerId}@{_gateway.Domain}>" : $"<sip:{UpperId}@{UpperId[..10]}>";
        return await _gateway.SendToAsync(udp, Remote, requestUri ?? $"sip:{UpperId}@{_host}:{_port}", to, method, body, extra, callId, ct).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _registry.Remove(this);
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_keepalives is not null)
        {
            await _keepalives.ConfigureAwait(false);
        }

        _stop.Dispose();
        _registering.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered to the upper platform {UpperId} at {Host}:{Port} for {Seconds} s")]
    private static partial void LogRegistered(ILogger logger, string upperId, string host, int port, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Keepalive to the upper platform {UpperId} failed: {Reason}")]
    private static partial void LogKeepaliveFailed(ILogger logger, string upperId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Catalog answer to the upper platform {UpperId} stopped: {Answer}")]
    private static partial void LogCatalogStopped(ILogger logger, string upperId, string answer);
}
