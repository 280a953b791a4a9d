using Google.Protobuf;
using SharpEyes.Gateway.Auth;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Audit;

/// <summary>What the audit log makes of an operation of <see cref="AccessTable"/>.</summary>
public enum AuditKind
{
    /// <summary>Reads nothing changes: not audited.</summary>
    Read,

    /// <summary>A change: every call is recorded, refused ones too.</summary>
    Change,

    /// <summary>Data a device sends at its own pace (alarms, heartbeats): not audited one by one; counted in /metrics.</summary>
    Data,
}

/// <summary>What an audited call changed, as the entry says it: the ids it touched and a summary without secrets.</summary>
public sealed record AuditNote(IReadOnlyList<string> Targets, string Summary);

/// <summary>
/// One operation's audit rule: its kind, the action name entries carry ("DeviceRegistry.RegisterDevice",
/// "Session.SignIn") and, for a change, how its request and (when it succeeded) its answer are described.
/// </summary>
public sealed record AuditRule(string Operation, AuditKind Kind, string Action, Func<IMessage?, IMessage?, AuditNote>? Describe = null, string Why = "");

/// <summary>
/// Which operations of <see cref="AccessTable"/> are changes, and how each is described in the audit log. Every
/// operation of the access table is a change or data here, or a read; <c>AuditTableTests</c> checks that an operation
/// counted as a read is named as one (Get, List, ...), so a new method that changes something cannot be left out
/// by accident, and that every change listed here is recorded when it is called. Summaries name fields and counts,
/// never values that may hold a secret (RTSP URLs, keys, passwords).
/// </summary>
public static class AuditTable
{
    public const string SignInAction = "Session.SignIn";
    public const string SignOutAction = "Session.SignOut";

    public static IReadOnlyList<AuditRule> Rules { get; } =
    [
        Change<RegisterDeviceRequest, RegisterDeviceResponse>("/sharpeyes.v1.DeviceRegistry/RegisterDevice", (r, a) => new(
            Ids(r?.DeviceId),
            a is null
                ? $"register {Kind(r?.Kind)}{VendorOf(r?.VendorId)}{Credentials(r?.Camera)}"
                : $"{(a.Created ? "registered" : a.Changed ? "changed" : "unchanged (an idempotent repeat)")} {Kind(a.Device.Kind)} of vendor {a.Device.VendorId}{Credentials(r?.Camera)}")),
        // The stream's device ids are gathered by AuditTrail as the service reads them.
        Change<RegisterDeviceRequest, RegisterDevicesResponse>("/sharpeyes.v1.DeviceRegistry/RegisterDevices", (_, a) => new(
            [],
            a is null
                ? "bulk registration"
                : $"bulk registration of {a.Accepted + a.Rejected} devices: {a.Accepted} accepted ({a.Created} new, {a.Changed} changed), {a.Rejected} rejected")),
        Change<UpdateDeviceRequest, Device>("/sharpeyes.v1.DeviceRegistry/UpdateDevice", (r, a) => new(
            Ids(r?.Device?.DeviceId),
            $"{(a is null ? "update" : "updated")} fields {(r?.UpdateMask is { Paths.Count: > 0 } mask ? string.Join(", ", mask.Paths.Select(p => Text(p, 64)).Take(32)) : "(none named)")}")),
        Change<DeregisterDeviceRequest, DeregisterDeviceResponse>("/sharpeyes.v1.DeviceRegistry/DeregisterDevice", (r, a) => new(
            Ids(r?.DeviceId), a is null ? "deregister" : a.Removed ? "deregistered" : "already removed by another call")),
        Data("/sharpeyes.v1.DeviceRegistry/Heartbeat", "keepalives devices send every minute; their effect is in the device's status and last_seen_at"),

        Change<CreateApiKeyRequest, CreateApiKeyResponse>("/sharpeyes.v1.Admin/CreateApiKey", (r, a) => new(
            Ids(a?.Info.KeyId),
            $"{(a is null ? "create" : "created")} {r?.Role} key{VendorOf(r?.VendorId)}{(r?.Description.Length > 0 ? $" (description of {r.Description.Length} characters)" : "")}" +
            (a?.Info.ExpiresAt is { } expires ? $", expires at {expires.ToDateTimeOffset():yyyy-MM-dd'T'HH:mm:ss'Z'}" : r?.ExpiryCase is null or CreateApiKeyRequest.ExpiryOneofCase.None ? "" : ", with an expiry"))),
        Change<RevokeApiKeyRequest, RevokeApiKeyResponse>("/sharpeyes.v1.Admin/RevokeApiKey", (r, a) => new(
            Ids(r?.KeyId), a is null ? "revoke" : a.Revoked ? "revoked" : "not revoked: no active key has this id")),
        Change<SetApiKeyExpiryRequest, SetApiKeyExpiryResponse>("/sharpeyes.v1.Admin/SetApiKeyExpiry", (r, a) => new(
            Ids(r?.KeyId),
            $"{(a is null ? "set expiry" : "expiry set")}: {r?.ExpiryCase switch
            {
                SetApiKeyExpiryRequest.ExpiryOneofCase.ExpiresAt => $"expires at {r.ExpiresAt.Seconds} s after 1970 UTC",
                SetApiKeyExpiryRequest.ExpiryOneofCase.ExpiresIn => $"expires in {r.ExpiresIn.Seconds} s",
                SetApiKeyExpiryRequest.ExpiryOneofCase.NeverExpires => "never expires",
                _ => "(none given)",
            }}")),
        Change<RotateSecretKeysRequest, RotateSecretKeysResponse>("/sharpeyes.v1.Admin/RotateSecretKeys", (_, a) => new(
            Ids(a?.KeyId),
            a is null ? "rotate the RTSP credentials' key ring" : $"new key ring key; {a.Reencrypted} cameras' credentials re-encrypted, {a.Unreadable} unreadable left as they were")),

        // Never the password: whether one was given, and its length is not said either.
        Change<CreateSipAccountRequest, SipAccount>("/sharpeyes.v1.Sip/CreateSipAccount", (r, a) => new(
            Ids(r?.AccountId), $"{(a is null ? "create or change" : "created or changed")} SIP account{VendorOf(r?.VendorId)}{(r?.AutoEnrol == true ? ", enrolling devices automatically" : "")}")),
        Change<DeleteSipAccountRequest, DeleteSipAccountResponse>("/sharpeyes.v1.Sip/DeleteSipAccount", (r, a) => new(
            Ids(r?.AccountId), a is null ? "delete SIP account" : $"deleted SIP account with {a.DevicesRemoved} SIP devices")),
        Change<AssignSipDeviceRequest, SipDevice>("/sharpeyes.v1.Sip/AssignSipDevice", (r, a) => new(
            Ids(r?.DeviceId), $"{(a is null ? "assign" : "assigned")} to SIP account {Text(r?.AccountId, 64)}{(r?.Password.Length > 0 ? " with a password of its own" : "")}")),
        Change<RemoveSipDeviceRequest, RemoveSipDeviceResponse>("/sharpeyes.v1.Sip/RemoveSipDevice", (r, a) => new(
            Ids(r?.DeviceId), a is null ? "remove SIP device" : "removed SIP device")),
        Change<SyncCatalogRequest, SipDevice>("/sharpeyes.v1.Sip/SyncCatalog", (r, a) => new(
            Ids(r?.DeviceId), a is null ? "query the catalog" : "catalog queried")),

        // The imported codes are noted by GeographyService (AuditTrail.Note), which has parsed the file.
        Change<ImportGeoJsonRequest, ImportResponse>("/sharpeyes.v1.Geography/ImportGrids", (r, a) => new([], Import("grids", r, a))),
        Change<ImportGeoJsonRequest, ImportResponse>("/sharpeyes.v1.Geography/ImportKeySites", (r, a) => new([], Import("key sites", r, a))),
        Change<V1.Empty, ImportResponse>("/sharpeyes.v1.Geography/LoadDemo", (_, a) => new([], a is null ? "load the demo geography" : $"loaded the demo geography: {a.Imported} features")),

        Change<CloseIncidentRequest, Incident>("/sharpeyes.v1.Incidents/CloseIncident", (r, a) => new(
            Ids(r?.IncidentId), $"{(a is null ? "close" : "closed")}; reason: {Text(r?.Reason?.Trim(), 128)}")),
        Change<AcknowledgeIncidentRequest, Incident>("/sharpeyes.v1.Incidents/AcknowledgeIncident", (r, a) => new(
            Ids(r?.IncidentId), $"{(a is null ? "acknowledge" : "acknowledged")}{(r?.Note.Trim().Length > 0 ? "; note: " + Text(r.Note.Trim(), 128) : "")}")),

        Change<CheckNowRequest, CheckNowResponse>("/sharpeyes.v1.StreamHealth/CheckNow", (r, a) => new(
            a is not null ? [.. a.Cameras.Select(c => c.DeviceId)] : r is null ? [] : [.. r.DeviceIds, .. Ids(r.RegionPrefix)],
            $"{(a is null ? "check" : "checked")} {(r?.DeviceIds.Count > 0 ? $"{r.DeviceIds.Count} cameras" : r?.RegionPrefix.Length > 0 ? "the cameras of region " + Text(r.RegionPrefix, 32) : "every camera")} at depth {r?.Depth ?? CheckDepth.Unspecified}"
            + (a is null ? "" : $": {a.Checked} checked, {a.Ok} ok, {a.Failed} failed"))),

        new(AccessTable.SignIn, AuditKind.Change, SignInAction, (_, _) => new([], "sign in to the console")),
        new("DELETE /api/session", AuditKind.Change, SignOutAction, (_, _) => new([], "sign out of the console")),

        Data(AccessTable.MqttConnect, "connections of alarm devices; refusals are counted in sharpeyes_refusals_total"),
        Data(AccessTable.MqttPublishAlarm, "alarms are data, not changes: each is stored, and counted in /metrics"),
        Data(AccessTable.MqttSubscribeDeadLetters, "a vendor reading its own dead letters"),
    ];

    private static readonly Dictionary<string, AuditRule> ByOperation = Rules.ToDictionary(r => r.Operation, StringComparer.Ordinal);

    /// <summary>The rule of an operation; one not listed is a read.</summary>
    public static AuditRule Of(string operation) => ByOperation.GetValueOrDefault(operation) ?? new(operation, AuditKind.Read, ActionOf(operation));

    /// <summary>"DeviceRegistry.RegisterDevice" for "/sharpeyes.v1.DeviceRegistry/RegisterDevice"; an HTTP operation as it is.</summary>
    public static string ActionOf(string operation)
    {
        if (!operation.StartsWith('/'))
        {
            return operation;
        }

        var slash = operation.LastIndexOf('/');
        var service = operation[1..slash];
        return service[(service.LastIndexOf('.') + 1)..] + "." + operation[(slash + 1)..];
    }

    private static AuditRule Change<TRequest, TResponse>(string operation, Func<TRequest?, TResponse?, AuditNote> describe)
        where TRequest : class, IMessage
        where TResponse : class, IMessage =>
        new(operation, AuditKind.Change, ActionOf(operation), (request, response) => describe(request as TRequest, response as TResponse));

    private static AuditRule Data(string operation, string why) => new(operation, AuditKind.Data, ActionOf(operation), Why: why);

    private static string[] Ids(string? id) => string.IsNullOrEmpty(id) ? [] : [Text(id, 64)];

    private static string Kind(DeviceKind? kind) => kind switch
    {
        DeviceKind.Camera => "camera",
        DeviceKind.AlarmDevice => "alarm device",
        _ => "device",
    };

    private static string VendorOf(string? vendorId) => string.IsNullOrEmpty(vendorId) ? "" : " for vendor " + Text(vendorId, 64);

    /// <summary>Whether RTSP credentials came with a registration: that they did, never what they are.</summary>
    private static string Credentials(CameraSpec? camera) =>
        camera is null || camera.RtspUrl.Length == 0 ? ""
        : camera.RtspUsername.Length > 0 || camera.RtspPassword.Length > 0 || camera.RtspUrl.Contains('@', StringComparison.Ordinal)
            || Streams.RtspCredentials.Redact(camera.RtspUrl, null) != camera.RtspUrl
            ? ", with RTSP credentials (not recorded)" : "";

    private static string Import(string what, ImportGeoJsonRequest? request, ImportResponse? answer) =>
        request?.ValidateOnly == true
            ? $"validated a {what} file ({request.Geojson.Length} characters) without importing it" + (answer is null ? "" : $": {answer.Errors.Count} errors")
            : answer is null ? $"import {what} ({request?.Geojson.Length ?? 0} characters)" : $"imported {answer.Imported} {what}";

    internal static string Text(string? text, int max) => Observability.LogText.Client(text, max);
}
