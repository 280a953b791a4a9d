using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using SharpEyes.Gateway.Alarms;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Incidents;
using SharpEyes.Gateway.Observability;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Streams;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Auth;

/// <summary>Admin: API keys for every role, intake statistics, the rotation of the RTSP credentials' key ring, and the audit log.</summary>
public sealed class AdminService(
    ApiKeyStore keys, AlarmStats stats, IncidentQueries incidents, DeviceCatalog devices, Journal journal, RtspSecretProtector secrets, Audit.AuditLog audit, TimeProvider time)
    : V1.Admin.AdminBase
{
    public const int MaxAuditPage = 1_000;

    public override Task<QueryAuditResponse> QueryAudit(QueryAuditRequest request, ServerCallContext context)
    {
        if (request.PageSize is < 0 or > MaxAuditPage)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"page_size: 1 to {MaxAuditPage} (0 = 100), got {request.PageSize}"));
        }

        long? before = null;
        if (request.PageToken.Length > 0)
        {
            before = long.TryParse(request.PageToken, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) && id > 0
                ? id
                : throw new RpcException(new Status(StatusCode.InvalidArgument, "page_token: not a next_page_token of an earlier answer"));
        }

        var since = request.Since?.ToRequestTime("since");
        var until = request.Until?.ToRequestTime("until");
        if (since is not null && until is not null && until < since)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"until: {until:O} is before since {since:O}"));
        }

        var size = request.PageSize == 0 ? 100 : request.PageSize;
        var found = audit.Query(new Audit.AuditQuery(since, until, request.ActorKeyId, request.VendorId, request.TargetId, request.Action, request.Outcome, before, size + 1));
        var response = new QueryAuditResponse();
        foreach (var (id, e) in found.Take(size))
        {
            var entry = new AuditEntry
            {
                Id = id,
                At = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(e.At),
                KeyId = e.KeyId ?? "",
                Role = e.Role,
                VendorId = e.VendorId ?? "",
                ClientAddress = e.ClientAddress,
                CertificateSubject = e.CertificateSubject ?? "",
                Action = e.Action,
                Summary = e.Summary,
                Outcome = e.Outcome,
                Message = e.Message,
                Count = e.Count,
            };
            entry.TargetIds.AddRange(e.Targets);
            response.Entries.Add(entry);
        }

        if (found.Count > size)
        {
            response.NextPageToken = found[size - 1].Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return Task.FromResult(response);
    }

    public override async Task<RotateSecretKeysResponse> RotateSecretKeys(RotateSecretKeysRequest request, ServerCallContext context)
    {
        var key = await secrets.CreateKeyAsync(context.CancellationToken).ConfigureAwait(false);
        var (reencrypted, unreadable) = await devices.ReencryptSecretsAsync(context.CancellationToken).ConfigureAwait(false);
        return new RotateSecretKeysResponse
        {
            Reencrypted = reencrypted,
            Unreadable = unreadable,
            KeyId = key.KeyId.ToString(),
            ActivatedAt = Timestamp.FromDateTimeOffset(key.ActivationDate),
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

        var expiresAt = request.ExpiryCase switch
        {
            CreateApiKeyRequest.ExpiryOneofCase.ExpiresAt => ExpiryAt(request.ExpiresAt),
            CreateApiKeyRequest.ExpiryOneofCase.ExpiresIn => ExpiryIn(request.ExpiresIn),
            _ => (DateTimeOffset?)null,
        };
        var (info, key) = await keys.CreateAsync(request.Role, request.Role == Role.Vendor ? request.VendorId : null, request.Description, expiresAt: expiresAt)
            .ConfigureAwait(false);
        return new CreateApiKeyResponse { Info = info.ToWire(), ApiKey = key };
    }

    public override async Task<SetApiKeyExpiryResponse> SetApiKeyExpiry(SetApiKeyExpiryRequest request, ServerCallContext context)
    {
        var expiresAt = request.ExpiryCase switch
        {
            SetApiKeyExpiryRequest.ExpiryOneofCase.ExpiresAt => ExpiryAt(request.ExpiresAt),
            SetApiKeyExpiryRequest.ExpiryOneofCase.ExpiresIn => ExpiryIn(request.ExpiresIn),
            SetApiKeyExpiryRequest.ExpiryOneofCase.NeverExpires when request.NeverExpires => (DateTimeOffset?)null,
            _ => throw new RpcException(new Status(StatusCode.InvalidArgument, "expires_at, expires_in, never_expires: give one of them (never_expires = true clears the expiry)")),
        };
        var (outcome, info) = await keys.SetExpiryAsync(request.KeyId, expiresAt).ConfigureAwait(false);
        return outcome switch
        {
            ApiKeyStore.ExpiryChange.Unknown => throw new RpcException(new Status(StatusCode.NotFound, $"key_id: no key {LogText.Client(request.KeyId, 64)}")),
            ApiKeyStore.ExpiryChange.Revoked => throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"key_id: key {request.KeyId} is revoked; a revoked key cannot be given an expiry (create a new key)")),
            _ => new SetApiKeyExpiryResponse { Info = info!.ToWire() },
        };
    }

    /// <summary>An expiry given as a time: valid and in the future (gateway clock), else INVALID_ARGUMENT naming expires_at.</summary>
    private DateTimeOffset ExpiryAt(Timestamp at)
    {
        var when = at.ToRequestTime("expires_at");

        var now = time.GetUtcNow();
        if (when <= now)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"expires_at: {when:yyyy-MM-dd'T'HH:mm:ss'Z'} is not in the future (gateway clock {now:yyyy-MM-dd'T'HH:mm:ss'Z'}); revoke a key to end it now"));
        }

        return when;
    }

    /// <summary>An expiry given as a lifetime from now: at least 1 s, else INVALID_ARGUMENT naming expires_in.</summary>
    private DateTimeOffset ExpiryIn(Duration lifetime)
    {
        TimeSpan span;
        try
        {
            span = lifetime.ToTimeSpan();
        }
        catch (InvalidOperationException)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "expires_in: not a valid duration (seconds and nanos of the same sign, nanos within ±999,999,999)"));
        }

        var now = time.GetUtcNow();
        if (span < TimeSpan.FromSeconds(1) || span > DateTimeOffset.MaxValue - now)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"expires_in: {span.TotalSeconds:0.###} s is not a lifetime from now (at least 1 s, at most until 9999)"));
        }

        return now + span;
    }

    public override Task<ListApiKeysResponse> ListApiKeys(ListApiKeysRequest request, ServerCallContext context)
    {
        var response = new ListApiKeysResponse();
        response.Keys.AddRange(keys.List().Select(k => k.ToWire()));
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
