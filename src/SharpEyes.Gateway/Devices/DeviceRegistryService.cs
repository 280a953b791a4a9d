using Grpc.Core;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Storage;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Devices;

/// <summary>DeviceRegistry: thin gRPC layer over <see cref="DeviceValidator"/> and <see cref="DeviceCatalog"/>.</summary>
public sealed class DeviceRegistryService(
    DeviceValidator validator,
    DeviceCatalog catalog,
    Journal journal,
    TimeProvider time,
    IOptions<GatewayOptions> options) : DeviceRegistry.DeviceRegistryBase
{
    private const int BulkBatch = 2000;
    public override async Task<RegisterDeviceResponse> RegisterDevice(RegisterDeviceRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        ValidatedDevice validated;
        try
        {
            validated = validator.Validate(request, caller);
        }
        catch (FieldException e)
        {
            throw e.ToRpc();
        }

        var (outcome, error) = (await catalog.UpsertAsync([validated], context.CancellationToken).ConfigureAwait(false))[0];
        return error is not null ? throw error : new RegisterDeviceResponse { Device = outcome!.Device, Created = outcome.Created, Changed = outcome.Changed };
    }

    public override async Task<RegisterDevicesResponse> RegisterDevices(IAsyncStreamReader<RegisterDeviceRequest> requestStream, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        var response = new RegisterDevicesResponse();
        var batch = new List<ValidatedDevice>(BulkBatch);
        var batchIndexes = new List<int>(BulkBatch);
        var pending = new List<Task>();
        var index = 0;

        async Task Flush(List<ValidatedDevice> devices, List<int> indexes)
        {
            var outcomes = await catalog.UpsertAsync(devices, context.CancellationToken).ConfigureAwait(false);
            lock (response)
            {
                for (var i = 0; i < outcomes.Count; i++)
                {
                    var (outcome, error) = outcomes[i];
                    response.Results.Add(error is null
                        ? new DeviceResult { Index = indexes[i], DeviceId = devices[i].Device.DeviceId, Code = 0, Created = outcome!.Created, Changed = outcome.Changed }
                        : new DeviceResult { Index = indexes[i], DeviceId = devices[i].Device.DeviceId, Code = (int)error.StatusCode, Message = error.Status.Detail });
                }
            }
        }

        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            try
            {
                batch.Add(validator.Validate(request, caller));
                batchIndexes.Add(index);
            }
            catch (FieldException e)
            {
                lock (response)
                {
                    response.Results.Add(new DeviceResult { Index = index, DeviceId = request.DeviceId, Code = (int)StatusCode.InvalidArgument, Message = e.Message });
                }
            }

            index++;
            if (batch.Count == BulkBatch)
            {
                pending.Add(Flush(batch, batchIndexes));
                batch = new List<ValidatedDevice>(BulkBatch);
                batchIndexes = new List<int>(BulkBatch);
            }
        }

        if (batch.Count > 0)
        {
            pending.Add(Flush(batch, batchIndexes));
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
        var sorted = response.Results.OrderBy(r => r.Index).ToList();
        response.Results.Clear();
        response.Results.AddRange(sorted);
        response.Accepted = sorted.Count(r => r.Code == 0);
        response.Rejected = sorted.Count - response.Accepted;
        return response;
    }

    public override Task<Device> GetDevice(GetDeviceRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        var entry = FindVisible(request.DeviceId, caller);
        return Task.FromResult(entry.Snapshot());
    }

    public override Task<ListDevicesResponse> ListDevices(ListDevicesRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        var pageSize = DevicePages.Size(request.PageSize);
        var after = DevicePages.After(request.PageToken);
        var vendor = caller.Role == Role.Vendor ? caller.VendorId : request.VendorId;
        var matches = catalog.All
            .Where(e => string.CompareOrdinal(e.Id, after) > 0)
            .Where(e => string.IsNullOrEmpty(vendor) || e.VendorId == vendor)
            .Where(e => e.Device.RegionCode.StartsWith(request.RegionPrefix, StringComparison.Ordinal))
            .Where(e => request.Kind == DeviceKind.Unspecified || e.Device.Kind == request.Kind)
            .Where(e => request.Status == DeviceStatus.Unspecified || e.Status == request.Status)
            .OrderBy(e => e.Id, StringComparer.Ordinal)
            .Take(pageSize + 1)
            .ToList();
        var response = new ListDevicesResponse();
        response.Devices.AddRange(matches.Take(pageSize).Select(e => e.Snapshot()));
        if (matches.Count > pageSize)
        {
            response.NextPageToken = DevicePages.Token(matches[pageSize - 1].Id);
        }

        return Task.FromResult(response);
    }

    public override async Task<DeregisterDeviceResponse> DeregisterDevice(DeregisterDeviceRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        FindVisible(request.DeviceId, caller, mustOwn: true);
        return new DeregisterDeviceResponse { Removed = await catalog.RemoveAsync(request.DeviceId).ConfigureAwait(false) };
    }

    public override async Task<HeartbeatResponse> Heartbeat(HeartbeatRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);
        if (request.DeviceIds.Count > 10_000)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "device_ids: at most 10000 per call"));
        }

        var response = new HeartbeatResponse { KeepaliveIntervalS = (int)options.Value.Liveness.KeepaliveInterval.TotalSeconds };
        var known = new List<DeviceEntry>(request.DeviceIds.Count);
        foreach (var id in request.DeviceIds)
        {
            var entry = catalog.Find(id);
            if (entry is null)
            {
                response.UnknownDeviceIds.Add(id);
            }
            else if (!caller.Owns(entry.VendorId))
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, $"device_ids: {id} belongs to another vendor"));
            }
            else
            {
                known.Add(entry);
            }
        }

        var now = time.GetUtcNow();
        await journal.ExecuteAsync(tx =>
        {
            foreach (var entry in known)
            {
                catalog.MarkSeen(tx, entry, now);
            }

            return true;
        }, context.CancellationToken).ConfigureAwait(false);
        response.Accepted = known.Count;
        response.ServerTime = Timestamp.FromDateTimeOffset(now);
        return response;
    }

    private DeviceEntry FindVisible(string deviceId, Principal caller, bool mustOwn = false)
    {
        if (string.IsNullOrEmpty(deviceId))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "device_id: required"));
        }

        var entry = catalog.Find(deviceId) ?? throw new RpcException(new Status(StatusCode.NotFound, $"device_id: {deviceId} is not registered"));
        var mayRead = caller.Role != Role.Vendor || entry.VendorId == caller.VendorId;
        if (!mayRead || (mustOwn && !caller.Owns(entry.VendorId)))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"device_id: {deviceId} belongs to another vendor"));
        }

        return entry;
    }
}
