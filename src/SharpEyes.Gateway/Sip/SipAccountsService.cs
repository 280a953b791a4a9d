using System.Text.RegularExpressions;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Sip;

/// <summary>
/// The Sip service: SIP accounts (admin), the SIP devices allowed to register and their state (admin; a vendor its
/// own), and catalog queries on demand. Passwords go into the store encrypted (<see cref="SipDirectory.Protect"/>) and
/// never come back out of this API.
/// </summary>
public sealed partial class SipAccountsService(SipDirectory directory, SipCatalogSync catalogs, Journal journal, GatewayStore store, TimeProvider time)
    : V1.Sip.SipBase
{
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex AccountIdPattern();

    public override async Task<SipAccount> CreateSipAccount(CreateSipAccountRequest request, ServerCallContext context)
    {
        if (!AccountIdPattern().IsMatch(request.AccountId))
        {
            throw Invalid("account_id", "required: [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
        }

        if (!ApiKeyStore.VendorIdPattern().IsMatch(request.VendorId))
        {
            throw Invalid("vendor_id", "required: [a-z0-9][a-z0-9_-]{1,63}");
        }

        CheckPassword("password", request.Password, required: true);
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var existing = Read(c => SipRepository.Account(c, request.AccountId));
        var row = new SipAccountRow(request.AccountId, request.VendorId, directory.Protect(request.Password), request.AutoEnrol, existing?.CreatedAtMs ?? nowMs);
        await journal.ExecuteAsync(tx =>
        {
            SipRepository.UpsertAccount(tx, row);
            return true;
        }, context.CancellationToken).ConfigureAwait(false);
        foreach (var device in directory.Devices.Where(d => d.AccountId == row.AccountId))
        {
            lock (device)
            {
                device.VendorId = row.VendorId;
            }
        }

        return Wire(row, Read(SipRepository.DeviceCounts).GetValueOrDefault(row.AccountId));
    }

    public override Task<ListSipAccountsResponse> ListSipAccounts(ListSipAccountsRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        var counts = Read(SipRepository.DeviceCounts);
        var response = new ListSipAccountsResponse();
        response.Accounts.AddRange(Read(SipRepository.Accounts).Where(a => caller.Owns(a.VendorId)).Select(a => Wire(a, counts.GetValueOrDefault(a.AccountId))));
        return Task.FromResult(response);
    }

    public override async Task<DeleteSipAccountResponse> DeleteSipAccount(DeleteSipAccountRequest request, ServerCallContext context)
    {
        var removed = await journal.ExecuteAsync(tx => SipRepository.DeleteAccount(tx, request.AccountId), context.CancellationToken).ConfigureAwait(false);
        if (removed < 0)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"account_id: {Observability.LogText.Client(request.AccountId, 64)} is not a SIP account"));
        }

        foreach (var device in directory.Devices.Where(d => d.AccountId == request.AccountId).ToList())
        {
            directory.Forget(device.DeviceId);
        }

        return new DeleteSipAccountResponse { DevicesRemoved = removed };
    }

    public override async Task<SipDevice> AssignSipDevice(AssignSipDeviceRequest request, ServerCallContext context)
    {
        if (!GbDeviceId.IsWellFormed(request.DeviceId))
        {
            throw Invalid("device_id", "required: 20 digits (GB/T 28181)");
        }

        CheckPassword("password", request.Password, required: false);
        var account = Read(c => SipRepository.Account(c, request.AccountId))
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"account_id: {Observability.LogText.Client(request.AccountId, 64)} is not a SIP account"));
        var existing = Read(c => SipRepository.Device(c, request.DeviceId));
        if (existing is not null && existing.AccountId != account.AccountId
            && Read(c => SipRepository.Account(c, existing.AccountId)) is { } other && other.VendorId != account.VendorId)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"device_id: {request.DeviceId} belongs to SIP account {existing.AccountId} of another vendor; remove it there first (RemoveSipDevice) and deregister its channels"));
        }

        var row = new SipDeviceRow(request.DeviceId, account.AccountId, request.Password.Length > 0 ? directory.Protect(request.Password) : null,
            existing?.Registration, existing?.Catalog, time.GetUtcNow().ToUnixTimeMilliseconds());
        await journal.ExecuteAsync(tx =>
        {
            SipRepository.UpsertDevice(tx, row);
            return true;
        }, context.CancellationToken).ConfigureAwait(false);
        var state = directory.Track(row, account.VendorId);
        lock (state)
        {
            if (existing is null)
            {
                state.Restore(row.Registration, row.Catalog);
            }

            return state.ToWire(time.GetUtcNow().ToUnixTimeMilliseconds());
        }
    }

    public override Task<ListSipDevicesResponse> ListSipDevices(ListSipDevicesRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        var pageSize = DevicePages.Size(request.PageSize);
        var after = DevicePages.After(request.PageToken);
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var matches = directory.Devices
            .Where(d => string.CompareOrdinal(d.DeviceId, after) > 0 && caller.Owns(d.VendorId))
            .Where(d => request.AccountId.Length == 0 || d.AccountId == request.AccountId)
            .OrderBy(d => d.DeviceId, StringComparer.Ordinal)
            .Take(pageSize + 1)
            .ToList();
        var response = new ListSipDevicesResponse();
        foreach (var device in matches.Take(pageSize))
        {
            lock (device)
            {
                response.Devices.Add(device.ToWire(nowMs));
            }
        }

        if (matches.Count > pageSize)
        {
            response.NextPageToken = DevicePages.Token(matches[pageSize - 1].DeviceId);
        }

        return Task.FromResult(response);
    }

    public override Task<SipDevice> GetSipDevice(GetSipDeviceRequest request, ServerCallContext context)
    {
        var state = Visible(request.DeviceId, context);
        lock (state)
        {
            return Task.FromResult(state.ToWire(time.GetUtcNow().ToUnixTimeMilliseconds()));
        }
    }

    public override async Task<RemoveSipDeviceResponse> RemoveSipDevice(RemoveSipDeviceRequest request, ServerCallContext context)
    {
        var state = Visible(request.DeviceId, context);
        await journal.ExecuteAsync(tx => SipRepository.DeleteDevice(tx, state.DeviceId), context.CancellationToken).ConfigureAwait(false);
        directory.Forget(state.DeviceId);
        return new RemoveSipDeviceResponse();
    }

    public override async Task<SipDevice> SyncCatalog(SyncCatalogRequest request, ServerCallContext context)
    {
        var state = Visible(request.DeviceId, context);
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        bool registered;
        lock (state)
        {
            registered = state.IsRegistered(nowMs);
        }

        if (!registered)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"device_id: {state.DeviceId} is not registered over SIP now; its catalog can be queried once it registers"));
        }

        _ = catalogs.StartAsync(state, CancellationToken.None); // the answers come as MESSAGEs; progress is in the device's catalog
        await Task.Yield();
        lock (state)
        {
            return state.ToWire(nowMs);
        }
    }

    private SipDeviceState Visible(string deviceId, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        var state = directory.Find(deviceId);
        return state is not null && caller.Owns(state.VendorId)
            ? state
            : throw new RpcException(new Status(StatusCode.NotFound, $"device_id: {Observability.LogText.Client(deviceId, 64)} is not a SIP device"));
    }

    private T Read<T>(Func<System.Data.Common.DbConnection, T> read)
    {
        using var connection = store.OpenRead();
        return read(connection);
    }

    private static SipAccount Wire(SipAccountRow row, int devices) => new()
    {
        AccountId = row.AccountId,
        VendorId = row.VendorId,
        AutoEnrol = row.AutoEnrol,
        CreatedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(row.CreatedAtMs)),
        Devices = devices,
    };

    private static void CheckPassword(string field, string password, bool required)
    {
        if ((required || password.Length > 0) && (password.Length < 8 || password.Length > 128))
        {
            throw Invalid(field, required ? "required: 8 to 128 characters" : "8 to 128 characters, or empty for the account's password");
        }
    }

    private static RpcException Invalid(string field, string reason) => new(new Status(StatusCode.InvalidArgument, $"{field}: {reason}"));
}
