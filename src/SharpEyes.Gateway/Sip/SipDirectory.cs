using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Google.Protobuf;
using Microsoft.AspNetCore.DataProtection;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Streams;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Sip;

/// <summary>
/// One SIP device as this gateway knows it: its account and vendor, its registration (where its requests come from,
/// over which transport, until when), its alarm arming and the channels its catalogs listed. Changed under its own lock.
/// </summary>
public sealed class SipDeviceState(string deviceId, string accountId, string vendorId, bool ownPassword)
{
    public string DeviceId { get; } = deviceId;

    public string AccountId { get; set; } = accountId;

    public string VendorId { get; set; } = vendorId;

    public bool OwnPassword { get; set; } = ownPassword;

    public ISipSender? Transport { get; set; }

    public string TransportName { get; set; } = "";

    public IPEndPoint? Remote { get; set; }

    public long RegisteredAtMs { get; set; }

    public long ExpiresAtMs { get; set; }

    public long LastKeepaliveMs { get; set; }

    public bool Armed { get; set; }

    public bool Subscribed { get; set; }

    public string Encoding { get; set; } = "";

    public SipCatalog Catalog { get; set; } = new() { State = CatalogState.None };

    /// <summary>Channels its catalogs listed, and whether the last complete one missed each (true) or the device said it is OFF.</summary>
    public Dictionary<string, SipChannelState> Channels { get; } = new(StringComparer.Ordinal);

    public bool IsRegistered(long nowMs) => Remote is not null && ExpiresAtMs > nowMs;

    /// <summary>The stored form of the registration (null when not registered).</summary>
    public string? RegistrationJson() => Remote is null ? null : JsonSerializer.Serialize(
        new StoredRegistration(TransportName, Remote.Address.ToString(), Remote.Port, RegisteredAtMs, ExpiresAtMs, LastKeepaliveMs, Armed, Subscribed, Encoding),
        SipJson.Default.StoredRegistration);

    public string CatalogJson() => JsonFormatter.Default.Format(Catalog);

    public SipDevice ToWire(long nowMs)
    {
        var device = new SipDevice
        {
            DeviceId = DeviceId,
            AccountId = AccountId,
            VendorId = VendorId,
            OwnPassword = OwnPassword,
            Registered = IsRegistered(nowMs),
            Transport = TransportName,
            Remote = Remote?.ToString() ?? "",
            Catalog = Catalog.Clone(),
            Armed = Armed,
            Subscribed = Subscribed,
            Encoding = Encoding,
            Channels = Channels.Count,
        };
        if (RegisteredAtMs > 0)
        {
            device.RegisteredAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(RegisteredAtMs));
            device.ExpiresAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(ExpiresAtMs));
        }

        if (LastKeepaliveMs > 0)
        {
            device.LastKeepaliveAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(LastKeepaliveMs));
        }

        return device;
    }

    /// <summary>Reads a stored registration back (the transport object is set again when the device next sends).</summary>
    public void Restore(string? registrationJson, string? catalogJson)
    {
        if (registrationJson is not null && JsonSerializer.Deserialize(registrationJson, SipJson.Default.StoredRegistration) is { } r
            && IPAddress.TryParse(r.Address, out var address))
        {
            TransportName = r.Transport;
            Remote = new IPEndPoint(address, r.Port);
            RegisteredAtMs = r.RegisteredAtMs;
            ExpiresAtMs = r.ExpiresAtMs;
            LastKeepaliveMs = r.LastKeepaliveMs;
            Armed = r.Armed;
            Subscribed = r.Subscribed;
            Encoding = r.Encoding;
        }

        if (catalogJson is not null)
        {
            Catalog = JsonParser.Default.Parse<SipCatalog>(catalogJson);
        }
    }
}

/// <summary>A listed channel: missing from the last complete catalog, or reported OFF by its device.</summary>
public sealed record SipChannelState(bool Missing, bool Off);

public sealed record StoredRegistration(string Transport, string Address, int Port, long RegisteredAtMs, long ExpiresAtMs, long LastKeepaliveMs, bool Armed, bool Subscribed, string Encoding);

[JsonSerializable(typeof(StoredRegistration))]
internal sealed partial class SipJson : JsonSerializerContext;

/// <summary>
/// The SIP devices and their channels, in memory, loaded from the store at start and kept as this gateway changes them
/// (<see cref="SipRepository"/>), and the protector of SIP passwords (ASP.NET Data Protection on the secret key ring,
/// a purpose of its own). A registration reads its device and account from the store again, so accounts an admin changed
/// through another replica are seen.
/// </summary>
public sealed class SipDirectory(GatewayStore store, RtspSecretProtector secrets)
{
    public const string PasswordPurpose = "SharpEyes.SipPasswords.v1";

    private readonly ConcurrentDictionary<string, SipDeviceState> _devices = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _channelParents = new(StringComparer.Ordinal);
    private readonly IDataProtector _passwords = secrets.Protector(PasswordPurpose);

    public IEnumerable<SipDeviceState> Devices => _devices.Values;

    public int Count => _devices.Count;

    public SipDeviceState? Find(string deviceId) => _devices.GetValueOrDefault(deviceId);

    /// <summary>The SIP device whose catalog lists <paramref name="channelId"/>, or null.</summary>
    public SipDeviceState? ParentOf(string channelId) => _channelParents.TryGetValue(channelId, out var parent) ? Find(parent) : null;

    public string Protect(string password) => _passwords.Protect(password);

    public string Unprotect(string stored) => _passwords.Unprotect(stored);

    /// <summary>Loads every SIP device and channel from the store.</summary>
    public void Load()
    {
        using var connection = store.OpenRead();
        var vendors = SipRepository.Accounts(connection).ToDictionary(a => a.AccountId, a => a.VendorId, StringComparer.Ordinal);
        _devices.Clear();
        _channelParents.Clear();
        foreach (var row in SipRepository.Devices(connection))
        {
            var state = new SipDeviceState(row.DeviceId, row.AccountId, vendors.GetValueOrDefault(row.AccountId, ""), row.Secret is not null);
            state.Restore(row.Registration, row.Catalog);
            _devices[row.DeviceId] = state;
        }

        foreach (var channel in SipRepository.Channels(connection))
        {
            if (_devices.TryGetValue(channel.DeviceId, out var parent))
            {
                parent.Channels[channel.ChannelId] = new SipChannelState(channel.Missing, false);
                _channelParents[channel.ChannelId] = channel.DeviceId;
            }
        }
    }

    /// <summary>The device's state, made from its stored row when this gateway has none or <paramref name="row"/> moved it (after commit).</summary>
    public SipDeviceState Track(SipDeviceRow row, string vendorId)
    {
        var state = _devices.GetOrAdd(row.DeviceId, _ => new SipDeviceState(row.DeviceId, row.AccountId, vendorId, row.Secret is not null));
        lock (state)
        {
            state.AccountId = row.AccountId;
            state.VendorId = vendorId;
            state.OwnPassword = row.Secret is not null;
        }

        return state;
    }

    public void Forget(string deviceId)
    {
        if (_devices.TryRemove(deviceId, out var state))
        {
            lock (state)
            {
                foreach (var channel in state.Channels.Keys)
                {
                    _channelParents.TryRemove(new KeyValuePair<string, string>(channel, deviceId));
                }
            }
        }
    }

    /// <summary>Records that <paramref name="state"/>'s catalog lists <paramref name="channelId"/> (after commit).</summary>
    public void Listed(SipDeviceState state, string channelId, bool off)
    {
        lock (state)
        {
            state.Channels[channelId] = new SipChannelState(false, off);
        }

        if (_channelParents.TryGetValue(channelId, out var before) && before != state.DeviceId && Find(before) is { } previous)
        {
            lock (previous)
            {
                previous.Channels.Remove(channelId);
            }
        }

        _channelParents[channelId] = state.DeviceId;
    }
}
