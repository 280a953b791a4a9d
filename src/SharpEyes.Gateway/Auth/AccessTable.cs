using SharpEyes.V1;

namespace SharpEyes.Gateway.Auth;

/// <summary>Which request-size limit a gRPC method answers to (settings in SharpEyes:Limits).</summary>
public enum RequestLimit
{
    /// <summary>Limits:GrpcMaxRequestBytes (4 MiB).</summary>
    Default,

    /// <summary>Limits:GrpcMaxImportBytes (64 MiB): GeoJSON imports.</summary>
    Import,
}

/// <summary>
/// Who may do one thing the gateway offers: a gRPC method (by its full path), an HTTP endpoint ("GET /path") or an
/// MQTT operation ("MQTT ..."). <see cref="Roles"/> are the API key roles allowed; <see cref="Anonymous"/> means no
/// key is needed to call it (with roles as well: the endpoint checks a key it is given itself, as signing in does).
/// <see cref="VendorScope"/> says what a vendor key sees or may change there.
/// </summary>
public sealed record Access(string Operation, IReadOnlyList<Role> Roles, string VendorScope = "", bool Anonymous = false, RequestLimit Limit = RequestLimit.Default)
{
    public bool Allows(Role role) => Roles.Contains(role);
}

/// <summary>
/// The authorization of every gRPC method, HTTP endpoint and MQTT operation, kept as data in one place:
/// deny-by-default. The gateway refuses to start when a mapped endpoint has no entry here (<see cref="AccessEnforcement"/>),
/// the authorization matrix test calls every method with every role and checks the outcome against this table, and
/// docs/security.md renders it. Admin keys are listed explicitly where they are allowed.
/// </summary>
public static class AccessTable
{
    private const Role A = Role.Admin, V = Role.Vendor, O = Role.Operator, P = Role.Planner, C = Role.Centre;

    private const string Own = "its own devices only; another vendor's device is answered as not registered";
    private const string Taken = "its own devices only; an id another vendor registered is refused (the one answer that tells an id is taken)";

    public const string SignIn = "POST /api/session";
    public const string MqttConnect = "MQTT CONNECT";
    public const string MqttPublishAlarm = "MQTT PUBLISH sharpeyes/v1/alarms/{device_id}";
    public const string MqttSubscribeDeadLetters = "MQTT SUBSCRIBE sharpeyes/v1/deadletter/{vendor_id}";

    public static IReadOnlyList<Access> Rules { get; } =
    [
        new("/sharpeyes.v1.DeviceRegistry/RegisterDevice", [A, V], Taken),
        new("/sharpeyes.v1.DeviceRegistry/RegisterDevices", [A, V], Taken),
        new("/sharpeyes.v1.DeviceRegistry/UpdateDevice", [A, V], Own),
        new("/sharpeyes.v1.DeviceRegistry/GetDevice", [A, V, O, P, C], Own),
        new("/sharpeyes.v1.DeviceRegistry/ListDevices", [A, V, O, P, C], "its own devices only"),
        new("/sharpeyes.v1.DeviceRegistry/DeregisterDevice", [A, V], Own),
        new("/sharpeyes.v1.DeviceRegistry/Heartbeat", [A, V], "its own devices only; another vendor's ids are listed as unknown"),

        new("/sharpeyes.v1.Admin/CreateApiKey", [A]),
        new("/sharpeyes.v1.Admin/ListApiKeys", [A]),
        new("/sharpeyes.v1.Admin/RevokeApiKey", [A]),
        new("/sharpeyes.v1.Admin/SetApiKeyExpiry", [A]),
        new("/sharpeyes.v1.Admin/GetStats", [A]),
        new("/sharpeyes.v1.Admin/RotateSecretKeys", [A]),
        new("/sharpeyes.v1.Admin/QueryAudit", [A]),

        new("/sharpeyes.v1.Sip/CreateSipAccount", [A]),
        new("/sharpeyes.v1.Sip/ListSipAccounts", [A, V], "its own SIP accounts only"),
        new("/sharpeyes.v1.Sip/DeleteSipAccount", [A]),
        new("/sharpeyes.v1.Sip/AssignSipDevice", [A]),
        new("/sharpeyes.v1.Sip/ListSipDevices", [A, V], "its own accounts' SIP devices only"),
        new("/sharpeyes.v1.Sip/GetSipDevice", [A, V], "its own accounts' SIP devices only; another's is answered as unknown"),
        new("/sharpeyes.v1.Sip/RemoveSipDevice", [A]),
        new("/sharpeyes.v1.Sip/SyncCatalog", [A, V], "its own accounts' SIP devices only; another's is answered as unknown"),

        new("/sharpeyes.v1.Geography/ImportGrids", [A, P], Limit: RequestLimit.Import),
        new("/sharpeyes.v1.Geography/ImportKeySites", [A, P], Limit: RequestLimit.Import),
        new("/sharpeyes.v1.Geography/LoadDemo", [A, P]),
        new("/sharpeyes.v1.Geography/ListGrids", [A, O, P, C]),
        new("/sharpeyes.v1.Geography/ListKeySites", [A, O, P, C]),
        new("/sharpeyes.v1.Geography/Locate", [A, O, P, C]),

        new("/sharpeyes.v1.Incidents/GetIncident", [A, O, P, C]),
        new("/sharpeyes.v1.Incidents/ListIncidents", [A, O, P, C]),
        new("/sharpeyes.v1.Incidents/CloseIncident", [A, O]),
        new("/sharpeyes.v1.Incidents/AcknowledgeIncident", [A, O]),

        new("/sharpeyes.v1.Feeds/Subscribe", [A, C]),

        new("/sharpeyes.v1.Coverage/GetCoverageReport", [A, O, P, C]),
        new("/sharpeyes.v1.Coverage/ListGridCoverage", [A, O, P, C]),
        new("/sharpeyes.v1.Coverage/ListKeySiteCoverage", [A, O, P, C]),
        new("/sharpeyes.v1.Coverage/ListBlindSpots", [A, O, P, C]),
        new("/sharpeyes.v1.Coverage/GetCameraCoverage", [A, V, O, P, C], "its own cameras only, without the key sites they see"),
        new("/sharpeyes.v1.Coverage/GetCoverageMap", [A, O, P, C]),
        new("/sharpeyes.v1.Coverage/ExportCoverageReport", [A, O, P, C]),
        new("/sharpeyes.v1.Coverage/SuggestPlacements", [A, O, P, C]),
        new("/sharpeyes.v1.Coverage/ListCoverageGaps", [A, O, P, C]),
        new("/sharpeyes.v1.Coverage/GetKpiHistory", [A, O, P, C]),

        new("/sharpeyes.v1.StreamHealth/GetCameraHealth", [A, V, O, P, C], Own),
        new("/sharpeyes.v1.StreamHealth/ListCameraHealth", [A, V, O, P, C], "its own cameras only"),
        new("/sharpeyes.v1.StreamHealth/GetSnapshot", [A, V, O, C], Own),
        new("/sharpeyes.v1.StreamHealth/CheckNow", [A, O]),
        new("/sharpeyes.v1.StreamHealth/GetHealthReport", [A, O, P, C]),
        new("/sharpeyes.v1.StreamHealth/GetCameraHistory", [A, V, O, P, C], Own),

        // The standard services off-the-shelf tools expect: health like /healthz (load balancers probe it without a
        // key); reflection describes the API (the same .proto files as the repository) to any valid key.
        new("/grpc.health.v1.Health/Check", [], Anonymous: true),
        new("/grpc.health.v1.Health/Watch", [], Anonymous: true),
        new("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", [A, V, O, P, C]),
        new("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", [A, V, O, P, C]),

        new("GET /healthz", [], Anonymous: true),
        new("GET /metrics", [], Anonymous: true),
        // The browser console (Hosting/ConsoleFiles.cs): the page and its bundled files hold none of the gateway's data,
        // which the page reads from the authenticated APIs.
        new("GET /", [], "the console's page (index.html); no data of the gateway's", Anonymous: true),
        new("GET /assets/{**path}", [], "the console's scripts, styles and icons, and the demo county's public regions", Anonymous: true),

        // The console's sign-in and live connection (docs/console-api.md). Signing in needs no key in a header: the key
        // comes in the body, and only the roles listed here get a session; the others are refused 403.
        new(SignIn, [A, O, P], "signs in with the key in the body: a vendor or centre key is refused (403)", Anonymous: true),
        new("GET /api/session", [A, O, P]),
        new("DELETE /api/session", [A, O, P]),
        new("GET /api/events", [A, O, P]),
        new("GET /api/console/config", [A, O, P], "the console's settings (the intranet base layer), the gateway's clock and version"),

        new(MqttConnect, [V], "username = its vendor id; a client id another vendor's session holds is refused"),
        new(MqttPublishAlarm, [V], "alarms of its own devices; others are dead-lettered unknown-device"),
        new(MqttSubscribeDeadLetters, [V], "its own vendor id only, no wildcards"),
    ];

    private static readonly Dictionary<string, Access> ByOperation = Rules.ToDictionary(r => r.Operation, StringComparer.Ordinal);

    public static Access? Find(string operation) => ByOperation.GetValueOrDefault(operation);

    /// <summary>
    /// The table as Markdown, one row per operation: which roles may perform it (✓), whether it needs a key at all,
    /// and what a vendor key sees there. docs/security.md holds this text; a test keeps the two equal.
    /// </summary>
    public static string RenderMarkdown()
    {
        Role[] roles = [A, V, O, P, C];
        var text = new System.Text.StringBuilder();
        text.AppendLine("| operation | admin | vendor | operator | planner | centre | without a key | what a vendor key sees; notes |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var rule in Rules)
        {
            text.Append("| `").Append(rule.Operation).Append("` |");
            foreach (var role in roles)
            {
                text.Append((rule.Anonymous && rule.Roles.Count == 0) || rule.Allows(role) ? " ✓ |" : " — |");
            }

            text.Append(rule.Anonymous ? " ✓ |" : " — |");
            var scope = rule.VendorScope;
            if (rule.Limit == RequestLimit.Import)
            {
                scope = (scope.Length > 0 ? scope + "; " : "") + "request limit Limits:GrpcMaxImportBytes";
            }

            text.Append(' ').Append(scope.Length > 0 ? scope : rule.Allows(V) ? "everything" : "").AppendLine(" |");
        }

        return text.ToString();
    }

    /// <summary>The entry of an operation the code itself names (MQTT); a missing one is a programming error.</summary>
    public static Access Get(string operation) => Find(operation) ?? throw new InvalidOperationException($"no access rule for {operation}");
}
