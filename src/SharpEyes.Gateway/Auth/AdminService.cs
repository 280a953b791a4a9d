using Grpc.Core;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Incidents;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Streams;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Auth;

/// <summary>Admin: API keys for every role, intake statistics, and the rotation of the RTSP credentials' key ring.</summary>
public sealed class AdminService(ApiKeyStore keys, AlarmStats stats, IncidentQueries incidents, DeviceCatalog devices, Journal journal, RtspSecretProtector secrets)
    : V1.Admin.AdminBase
{
    public override async Task<RotateSecretKeysResponse> RotateSecretKeys(RotateSecretKeysRequest request, ServerCallContext context)
    {
        var key = await secrets.CreateKeyAsync(context.CancellationToken).ConfigureAwait(false);
        var (reencrypted, unreadable) = await devices.ReencryptSecretsAsync(context.CancellationToken).ConfigureAwait(false);
        return new RotateSecretKeysResponse
        {
            Reencrypted = reencrypted,
            Unreadable = unreadable,
            KeyId = key.KeyId.ToString(),
            ActivatedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(key.ActivationDate),
        };
    }

    public override async Task<CreateApiKeyResponse> CreateApiKey(CreateApiKeyRequest request, ServerCallContext context)
    {
        if (request.Role == Role.Unspecified || !System.Enum.IsDefined(request.Role))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "role: required (ROLE_VENDOR, ROLE_OPERATOR, ROLE_PLANNER, ROLE_CENTRE or ROLE_ADMIN)"));
        }

        if (request.Role == Role.Vendor && !ApiKeyStore.VendorIdPattern().IsMatch(request.VendorId))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "vendor_id: required for vendor keys, [a-z0-9][a-z0-9_-]{1,63}"));
        }

        if (request.Role != Role.Vendor && request.VendorId.Length > 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "vendor_id: only vendor keys belong to a vendor"));
        }

        if (request.Description.Length > 256)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "description: at most 256 characters"));
        }

        var (info, key) = await keys.CreateAsync(request.Role, request.Role == Role.Vendor ? request.VendorId : null, request.Description).ConfigureAwait(false);
        return new CreateApiKeyResponse { Info = info, ApiKey = key };
    }

    public override Task<ListApiKeysResponse> ListApiKeys(ListApiKeysRequest request, ServerCallContext context)
    {
        var response = new ListApiKeysResponse();
        response.Keys.AddRange(keys.List());
        return Task.FromResult(response);
    }

    public override async Task<RevokeApiKeyResponse> RevokeApiKey(RevokeApiKeyRequest request, ServerCallContext context) =>
        new() { Revoked = await keys.RevokeAsync(request.KeyId).ConfigureAwait(false) };

    public override Task<GetStatsResponse> GetStats(GetStatsRequest request, ServerCallContext context)
    {
        var response = new GetStatsResponse
        {
            AlarmsReceived = stats.Received,
            AlarmsAccepted = stats.Accepted,
            AlarmsDuplicate = stats.Duplicates,
            IncidentsOpen = incidents.OpenCount,
            LastSequence = journal.LastSequence,
            Devices = devices.Count,
        };
        foreach (var (reason, count) in stats.DeadLetters)
        {
            response.DeadLettersByReason[reason] = count;
        }

        return Task.FromResult(response);
    }
}
