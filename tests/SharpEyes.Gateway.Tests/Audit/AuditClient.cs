using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Audit;

/// <summary>Reads the audit log as an admin does (Admin.QueryAudit, every page).</summary>
internal static class AuditClient
{
    public static async Task<List<AuditEntry>> AllAsync(GatewayHost host, QueryAuditRequest? request = null)
    {
        var query = request?.Clone() ?? new QueryAuditRequest();
        query.PageSize = query.PageSize == 0 ? 1000 : query.PageSize;
        var entries = new List<AuditEntry>();
        do
        {
            var page = await new Admin.AdminClient(host.Channel).QueryAuditAsync(query, host.AdminAuth);
            entries.AddRange(page.Entries);
            query.PageToken = page.NextPageToken;
        }
        while (query.PageToken.Length > 0);
        return entries;
    }

    /// <summary>
    /// The entries <paramref name="request"/> selects once there are at least <paramref name="count"/>: a refusal the
    /// pipeline answered with a trailers-only gRPC response reaches the client before its entry's commit.
    /// </summary>
    public static Task<List<AuditEntry>> WaitAsync(GatewayHost host, QueryAuditRequest request, int count = 1) =>
        Eventually.WaitAsync(async () =>
        {
            var entries = await AllAsync(host, request);
            return entries.Count >= count ? entries : null;
        }, $"{count} audit entries for {request}");

    /// <summary>The entries of one action (newest first).</summary>
    public static Task<List<AuditEntry>> OfAsync(GatewayHost host, string action, string? target = null) =>
        AllAsync(host, new QueryAuditRequest { Action = action, TargetId = target ?? "" });

    /// <summary>The one entry of an action (and target); fails when there is none or more than one.</summary>
    public static async Task<AuditEntry> SingleAsync(GatewayHost host, string action, string? target = null)
    {
        var entries = (await WaitAsync(host, new QueryAuditRequest { Action = action, TargetId = target ?? "" })).Where(e => e.Action == action).ToList();
        Assert.True(entries.Count == 1, $"{action} {target}: {entries.Count} entries\n{string.Join('\n', entries)}");
        return entries[0];
    }

    /// <summary>The key id of a key se_{id}_{secret}.</summary>
    public static string KeyId(string key) => key.Split('_')[1];

    /// <summary>"127.0.0.1:PORT": the caller's address and its connection's port.</summary>
    public static void IsLoopbackEndpoint(string clientAddress) =>
        Assert.Matches(@"^127\.0\.0\.1:\d{2,5}$", clientAddress);
}
