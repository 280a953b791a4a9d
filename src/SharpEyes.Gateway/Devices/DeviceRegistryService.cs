using Grpc.Core;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Devices;

/// <summary>
/// DeviceRegistry: thin gRPC layer over <see cref="DeviceValidator"/>, <see cref="DeviceUpdate"/> and
/// <see cref="DeviceCatalog"/>. A vendor key gets the same NOT_FOUND for another vendor's device as for an unregistered
/// one, so that it cannot tell which foreign ids exist (RegisterDevice must still refuse to take one over).
/// </summary>
public sealed class DeviceRegistryService(
    DeviceValidator validator,
    DeviceCatalog catalog,
    Journal journal,
    ClientRefusals refusals,
    TimeProvider time,
    IOptions<GatewayOptions> options) : DeviceRegistry.DeviceRegistryBase
{
    private const int BulkBatch = 2000;

    /// <summary>Batches of a RegisterDevices stream queued to the journal at once; reading the stream waits beyond this, so memory stays bounded.</summary>
    private const int BulkBatchesInFlight = 4;

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
        var results = new BulkResults(options.Value.Limits.BulkRejectedResults);
        var batch = new List<ValidatedDevice>(BulkBatch);
        var batchIndexes = new List<int>(BulkBatch);
        var pending = new Queue<Task>();
        var index = 0;

        async Task Flush(List<ValidatedDevice> devices, List<int> indexes)
        {
            var outcomes = await catalog.UpsertAsync(devices, context.CancellationToken).ConfigureAwait(false);
            for (var i = 0; i < outcomes.Count; i++)
            {
                var (outcome, error) = outcomes[i];
                if (error is null)
                {
                    results.Accept(outcome!.Created, outcome.Changed);
                }
                else
                {
                    results.Reject(new DeviceResult { Index = indexes[i], DeviceId = devices[i].Device.DeviceId, Code = (int)error.StatusCode, Message = error.Status.Detail });
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
                results.Reject(new DeviceResult { Index = index, DeviceId = LogText.Client(request.DeviceId, 64), Code = (int)StatusCode.InvalidArgument, Message = e.Message });
            }

            index++;
            if (batch.Count == BulkBatch)
            {
                pending.Enqueue(Flush(batch, batchIndexes));
                batch = new List<ValidatedDevice>(BulkBatch);
                batchIndexes = new List<int>(BulkBatch);
                if (pending.Count >= BulkBatchesInFlight)
                {
                    await pending.Dequeue().ConfigureAwait(false);
                }
            }
        }

        if (batch.Count > 0)
        {
            pending.Enqueue(Flush(batch, batchIndexes));
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
        var response = results.Response();
        if (response.RejectedNotListed > 0)
        {
            refusals.Count("bulk-rejected-results", $"{response.RejectedNotListed} of {response.Rejected} rejected devices of a RegisterDevices stream " +
                $"counted but not listed (Limits:BulkRejectedResults = {options.Value.Limits.BulkRejectedResults}); key {caller.KeyId}");
        }

        return response;
    }

    public override async Task<Device> UpdateDevice(UpdateDeviceRequest request, ServerCallContext context)
    {
        var caller = Caller.Of(context);

        ValidatedDevice validated;
        try
        {
            if (request.Device is null)
            {
                throw new FieldException("device", "required: device_id and the fields named in update_mask");
            }

            DeviceUpdate.CheckMask(request.UpdateMask);
            var entry = FindVisible(request.Device.DeviceId, caller, mustOwn: true);
            var (merged, edits) = DeviceUpdate.Merge(entry.Device.ToWire(), request.Device, request.UpdateMask);
            validated = validator.Validate(merged, caller) with { Edits = edits, ExpectedUpdatedAt = entry.Device.UpdatedAt };
        }
        catch (FieldException e)
        {
            throw e.ToRpc();
        }

        var (outcome, error) = (await catalog.UpsertAsync([validated], context.CancellationToken).ConfigureAwait(false))[0];
        return error is not null ? throw error : outcome!.Device;
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
        var pageSize = DevicePages.Size(request.PageSize, request.View == DeviceView.Map ? DevicePages.MaxMapPageSize : DevicePages.MaxPageSize);
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
        response.Devices.AddRange(matches.Take(pageSize).Select(e => request.View == DeviceView.Map ? MapView(e) : e.Snapshot()));
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
            // Another vendor's device is as unknown to this caller as an unregistered one.
            var entry = catalog.Find(id);
            if (entry is null || !caller.Owns(entry.VendorId))
            {
                response.UnknownDeviceIds.Add(id);
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

    /// <summary>ListDevices' MAP view: what a map draws of a device, without cloning the rest of it.</summary>
    private static Device MapView(DeviceEntry entry)
    {
        var d = entry.Device;
        var map = new Device
        {
            DeviceId = d.DeviceId,
            Kind = d.Kind,
            Name = d.Name,
            Position = d.Position.ToWire(),
            Status = entry.Status,
            Faulty = entry.Faulty,
            RegionCode = d.RegionCode,
        };
        if (d.Camera is { } camera)
        {
            map.Camera = new CameraSpec { AzimuthDeg = camera.AzimuthDeg, HfovDeg = camera.HfovDeg, RangeM = camera.RangeM, Ptz = camera.Ptz };
        }

        return map;
    }

    private DeviceEntry FindVisible(string deviceId, Principal caller, bool mustOwn = false)
    {
        // The same answer, word for word, whether the id is free or another vendor's.
        var entry = catalog.FindFor(deviceId, caller);
        if (mustOwn && !caller.Owns(entry.VendorId))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"device_id: role {caller.Role} may not change devices"));
        }

        return entry;
    }

    /// <summary>
    /// The outcome of a RegisterDevices stream as it is assembled: counts, and the rejected devices with the lowest
    /// stream indexes up to the limit (batches commit concurrently, so rejections arrive out of order).
    /// </summary>
    private sealed class BulkResults(int listLimit)
    {
        private readonly SortedList<int, DeviceResult> _listed = new();
        private int _accepted;
        private int _rejected;
        private int _created;
        private int _changed;

        public void Accept(bool created, bool changed)
        {
            lock (_listed)
            {
                _accepted++;
                _created += created ? 1 : 0;
                _changed += changed ? 1 : 0;
            }
        }

        public void Reject(DeviceResult result)
        {
            lock (_listed)
            {
                _rejected++;
                _listed.Add(result.Index, result);
                if (_listed.Count > listLimit)
                {
                    _listed.RemoveAt(_listed.Count - 1);
                }
            }
        }

        public RegisterDevicesResponse Response()
        {
            lock (_listed)
            {
                var response = new RegisterDevicesResponse
                {
                    Accepted = _accepted,
                    Rejected = _rejected,
                    Created = _created,
                    Changed = _changed,
                    RejectedNotListed = _rejected - _listed.Count,
                };
                response.RejectedResults.Add(_listed.Values);
                return response;
            }
        }
    }
}
