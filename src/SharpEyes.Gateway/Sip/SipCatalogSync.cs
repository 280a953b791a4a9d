using System.Collections.Concurrent;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Sip;

/// <summary>
/// A device's catalog, from query to devices: the gateway sends a Catalog Query; the device answers 200 and sends its
/// channels in Response MESSAGEs carrying the query's SN and SumNum, a few items each. Each message's items are checked
/// and stored as devices of the account's vendor through the same validation and registration path as gRPC
/// (<see cref="DeviceValidator"/>, <see cref="DeviceCatalog.UpsertAsync"/>) before it is answered, so what arrived is
/// kept however the rest goes: a catalog cut short is resumed by querying again (items already stored are idempotent
/// repeats). When SumNum items have arrived, channels of earlier catalogs that this one no longer lists are marked
/// missing and taken offline (reason <c>catalog-removed</c>), not silently kept. Catalog notifications (ADD, UPDATE,
/// DEL, ON, OFF) take the same path item by item.
/// </summary>
public sealed partial class SipCatalogSync(
    SipGateway gateway, SipDirectory directory, DeviceCatalog devices, DeviceValidator validator, Journal journal, SipStats stats,
    TimeProvider time, IOptions<GatewayOptions> options, ILogger<SipCatalogSync> logger)
{
    public const string RemovedReason = "catalog-removed";
    public const string OffReason = "catalog-off";
    private const int MaxRefusalsListed = 20;
    private const int MaxMissingListed = 100;

    private readonly SipOptions _options = options.Value.Sip;
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    /// <summary>Sends a catalog query to <paramref name="state"/>; completes when the device answered the query (its items come after).</summary>
    public async Task StartAsync(SipDeviceState state, CancellationToken ct)
    {
        var sn = gateway.NextSn();
        var now = time.GetUtcNow();
        var session = new Session(sn, now);
        _sessions[state.DeviceId] = session;
        lock (state)
        {
            state.Catalog = new SipCatalog { State = CatalogState.Querying, Sn = sn, StartedAt = Timestamp.FromDateTimeOffset(now) };
        }

        var answer = await gateway.SendAsync(state, "MESSAGE", Manscdp.Query("Catalog", sn, state.DeviceId), [], ct).ConfigureAwait(false);
        if (answer is not { StatusCode: >= 200 and < 300 } && session.Received == 0 && _sessions.TryRemove(new(state.DeviceId, session)))
        {
            lock (state)
            {
                state.Catalog.State = CatalogState.Failed;
                state.Catalog.LastError = answer is null ? "the device did not answer the catalog query" : $"the device answered the catalog query {answer}";
                state.Catalog.FinishedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow());
            }

            await gateway.SaveAsync(state, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The items of a catalog Response (or Notify), stored before the message is answered.</summary>
    public async Task OnItemsAsync(SipDeviceState state, ManscdpDocument document, CancellationToken ct)
    {
        var notify = document.Root == "Notify";
        var now = time.GetUtcNow();
        Session? session = null;
        if (!notify)
        {
            // Matched by device: devices differ on echoing the SN. A Response nobody asked for starts a session of its own.
            session = _sessions.GetOrAdd(state.DeviceId, _ => new Session(document.Sn, now));
            lock (session)
            {
                session.LastActivity = now;
                if (int.TryParse(document["SumNum"], NumberStyles.None, CultureInfo.InvariantCulture, out var sum))
                {
                    session.SumNum = Math.Min(sum, _options.MaxChannelsPerDevice);
                }
            }
        }

        var principal = SipGateway.PrincipalOf(state);
        var valid = new List<ValidatedDevice>();
        var ids = new List<(string Id, bool Off, string Event)>();
        var refusals = new List<string>();
        foreach (var item in document.Items)
        {
            var id = item.GetValueOrDefault("DeviceID", "");
            var status = item.GetValueOrDefault("Status", "");
            var change = notify ? item.GetValueOrDefault("Event", "UPDATE").ToUpperInvariant() : "";
            if (session is not null)
            {
                lock (session)
                {
                    if (!session.Seen.Add(id))
                    {
                        continue; // sent twice (a resend of a message the device thought lost): counted once
                    }

                    if (session.Seen.Count > _options.MaxChannelsPerDevice)
                    {
                        refusals.Add($"{LogText(id)}: past Sip:MaxChannelsPerDevice ({_options.MaxChannelsPerDevice})");
                        continue;
                    }
                }
            }

            if (change is "DEL" or "ON" or "OFF" or "VLOST" or "DEFECT")
            {
                ids.Add((id, change != "ON", change));
                continue;
            }

            try
            {
                valid.Add(validator.Validate(Request(item, id, state), principal));
                ids.Add((id, status.Equals("OFF", StringComparison.OrdinalIgnoreCase), change));
            }
            catch (FieldException e)
            {
                refusals.Add($"{LogText(id)}: {e.Message}");
            }
        }

        var stored = new HashSet<string>(StringComparer.Ordinal);
        if (valid.Count > 0)
        {
            var outcomes = await devices.UpsertAsync(valid, ct).ConfigureAwait(false);
            for (var i = 0; i < outcomes.Count; i++)
            {
                if (outcomes[i].Error is { } error)
                {
                    refusals.Add($"{valid[i].Device.DeviceId}: {error.Status.Detail}");
                }
                else
                {
                    stored.Add(valid[i].Device.DeviceId);
                }
            }
        }

        var listed = ids.Where(i => stored.Contains(i.Id) || i.Event is "DEL" or "ON" or "OFF" or "VLOST" or "DEFECT").ToList();
        await journal.ExecuteAsync(tx =>
        {
            SipRepository.ListChannels(tx, state.DeviceId, listed.Where(i => i.Event != "DEL").Select(i => i.Id));
            SipRepository.MarkMissing(tx, state.DeviceId, listed.Where(i => i.Event == "DEL").Select(i => i.Id));
            foreach (var (id, off, change) in listed)
            {
                if (devices.Find(id) is not { } entry || entry.VendorId != state.VendorId)
                {
                    continue;
                }

                if (!off)
                {
                    devices.MarkSeen(tx, entry, now, Streams.StatusReasons.Heartbeat); // the device reports it present and ON
                }
                else if (entry.Status == DeviceStatus.Online)
                {
                    devices.SetStatus(tx, entry, DeviceStatus.Offline, now, change == "DEL" ? RemovedReason : OffReason);
                }
            }

            return true;
        }, ct).ConfigureAwait(false);

        foreach (var (id, off, change) in listed)
        {
            if (change == "DEL")
            {
                lock (state)
                {
                    state.Channels[id] = new SipChannelState(true, true);
                }
            }
            else
            {
                directory.Listed(state, id, off);
            }
        }

        stats.CatalogItems(document.Items.Count, refusals.Count);

        if (refusals.Count > 0)
        {
            LogRefusals(logger, state.DeviceId, refusals.Count, refusals[0]);
        }

        if (session is null)
        {
            return;
        }

        bool complete;
        lock (session)
        {
            session.Received = session.Seen.Count;
            session.Registered += stored.Count;
            session.Refused += refusals.Count;
            session.Refusals.AddRange(refusals.Take(MaxRefusalsListed - session.Refusals.Count));
            complete = session.SumNum >= 0 && session.Received >= session.SumNum && !session.Finished;
            session.Finished |= complete;
        }

        lock (state)
        {
            state.Catalog = session.Progress(complete ? CatalogState.Complete : CatalogState.Querying, state.Catalog);
        }

        if (complete)
        {
            await CompleteAsync(state, session, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Every item SumNum announced arrived: mark what earlier catalogs listed and this one did not.</summary>
    private async Task CompleteAsync(SipDeviceState state, Session session, CancellationToken ct)
    {
        _sessions.TryRemove(new(state.DeviceId, session));
        var now = time.GetUtcNow();
        List<string> missing;
        lock (state)
        {
            missing = [.. state.Channels.Where(c => !c.Value.Missing && !session.Seen.Contains(c.Key)).Select(c => c.Key).Order(StringComparer.Ordinal)];
        }

        await journal.ExecuteAsync(tx =>
        {
            SipRepository.MarkMissing(tx, state.DeviceId, missing);
            foreach (var id in missing)
            {
                if (devices.Find(id) is { Status: DeviceStatus.Online } entry && entry.VendorId == state.VendorId)
                {
                    devices.SetStatus(tx, entry, DeviceStatus.Offline, now, RemovedReason);
                }
            }

            return true;
        }, ct).ConfigureAwait(false);

        lock (state)
        {
            foreach (var id in missing)
            {
                state.Channels[id] = new SipChannelState(true, true);
            }

            var all = state.Channels.Where(c => c.Value.Missing).Select(c => c.Key).Order(StringComparer.Ordinal).ToList();
            state.Catalog.Missing = all.Count;
            state.Catalog.MissingChannelIds.Clear();
            state.Catalog.MissingChannelIds.AddRange(all.Take(MaxMissingListed));
            state.Catalog.FinishedAt = Timestamp.FromDateTimeOffset(now);
        }

        LogComplete(logger, state.DeviceId, session.Received, session.Registered, session.Refused, missing.Count);
        await gateway.SaveAsync(state, ct).ConfigureAwait(false);
    }

    /// <summary>Ends catalogs whose answers stopped for <see cref="SipOptions.CatalogTimeout"/> as incomplete (what arrived is kept).</summary>
    public async Task SweepAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var (deviceId, session) in _sessions)
        {
            if (now - session.LastActivity < _options.CatalogTimeout || directory.Find(deviceId) is not { } state || !_sessions.TryRemove(new(deviceId, session)))
            {
                continue;
            }

            lock (state)
            {
                state.Catalog = session.Progress(CatalogState.Incomplete, state.Catalog);
                state.Catalog.LastError = string.Create(CultureInfo.InvariantCulture,
                    $"{session.Received} of {(session.SumNum < 0 ? "?" : session.SumNum)} items arrived; nothing more for {_options.CatalogTimeout.TotalSeconds:0} s");
                state.Catalog.FinishedAt = Timestamp.FromDateTimeOffset(now);
            }

            await gateway.SaveAsync(state, ct).ConfigureAwait(false);
        }
    }

    /// <summary>A registration request for a catalog item: what the item says over what is registered already (an operator's camera view stays).</summary>
    private RegisterDeviceRequest Request(IReadOnlyDictionary<string, string> item, string id, SipDeviceState state)
    {
        if (!GbDeviceId.IsWellFormed(id))
        {
            throw new FieldException("DeviceID", $"'{LogText(id)}' is not a 20-digit GB/T 28181 id");
        }

        var type = id.Substring(10, 3);
        var kind = type switch
        {
            "131" or "132" => DeviceKind.Camera,
            "134" or "117" => DeviceKind.AlarmDevice,
            _ => throw new FieldException("DeviceID", $"type code {type} is not a camera (131, 132) or alarm input (134, 117); not registered as a device"),
        };
        var existing = devices.Find(id);
        var name = item.GetValueOrDefault("Name", "").Trim();
        var request = new RegisterDeviceRequest
        {
            DeviceId = id,
            Kind = kind,
            Name = name.Length > 0 ? name : existing?.Device.Name ?? id,
            Model = item.GetValueOrDefault("Model", "").Trim() is { Length: > 0 } model ? model : existing?.Device.Model ?? "",
        };
        if (Coordinate(item, "Longitude") is { } lon && Coordinate(item, "Latitude") is { } lat && (lon != 0 || lat != 0))
        {
            request.Position = new GeoPoint { Lon = lon, Lat = lat, Datum = _options.PositionDatum };
        }
        else if (existing is not null)
        {
            request.Position = existing.Device.Position.ToWire();
        }
        else
        {
            throw new FieldException("Longitude/Latitude", "the catalog gives no position and none is registered: register the channel over gRPC with its position, and later catalogs keep it");
        }

        if (kind == DeviceKind.Camera)
        {
            var ptzType = item.GetValueOrDefault("Info/PTZType", item.GetValueOrDefault("PTZType", ""));
            var dome = ptzType is "1" or "4";
            request.Camera = existing?.Device.Camera?.ToWire() ?? new CameraSpec
            {
                AzimuthDeg = 0,
                HfovDeg = dome ? _options.DomeHfovDeg : _options.ChannelHfovDeg,
                RangeM = _options.ChannelRangeM,
                Ptz = dome,
            };
        }

        return request;
    }

    private static double? Coordinate(IReadOnlyDictionary<string, string> item, string name) =>
        double.TryParse(item.GetValueOrDefault(name, ""), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) ? value : null;

    private static string LogText(string text) => Observability.LogText.Client(text, 32);

    private sealed class Session(long sn, DateTimeOffset started)
    {
        public long Sn { get; } = sn;

        public DateTimeOffset Started { get; } = started;

        public DateTimeOffset LastActivity { get; set; } = started;

        public int SumNum { get; set; } = -1;

        public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);

        public int Received { get; set; }

        public int Registered { get; set; }

        public int Refused { get; set; }

        public bool Finished { get; set; }

        public List<string> Refusals { get; } = [];

        public SipCatalog Progress(CatalogState catalogState, SipCatalog before)
        {
            lock (this)
            {
                var progress = new SipCatalog
                {
                    State = catalogState,
                    Sn = Sn,
                    SumNum = Math.Max(SumNum, 0),
                    Received = Received,
                    Registered = Registered,
                    Refused = Refused,
                    StartedAt = Timestamp.FromDateTimeOffset(Started),
                    Missing = before.Missing,
                };
                progress.Refusals.AddRange(Refusals);
                progress.MissingChannelIds.AddRange(before.MissingChannelIds);
                return progress;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "SIP device {DeviceId}: {Count} catalog items not registered, the first: {First}")]
    private static partial void LogRefusals(ILogger logger, string deviceId, int count, string first);

    [LoggerMessage(Level = LogLevel.Information, Message = "SIP device {DeviceId}: catalog complete, {Received} items, {Registered} registered, {Refused} refused, {Missing} newly missing")]
    private static partial void LogComplete(ILogger logger, string deviceId, int received, int registered, int refused, int missing);
}
