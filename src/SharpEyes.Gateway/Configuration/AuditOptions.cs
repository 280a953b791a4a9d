using System.ComponentModel.DataAnnotations;

namespace SharpEyes.Gateway.Configuration;

/// <summary>
/// The "SharpEyes:Audit" section: the audit log of every change (who, what, when, the outcome; refused calls too),
/// kept in the store's <c>audit_entries</c> table and read with <c>Admin.QueryAudit</c> or <c>sharpeyes audit</c>.
/// </summary>
public sealed class AuditOptions
{
    /// <summary>
    /// Audit entries older than this are deleted by the retention pass (every Outbox:PruneInterval), and counted in
    /// <c>sharpeyes_audit_pruned_total</c>.
    /// </summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(365);

    /// <summary>
    /// Refused calls are recorded in full once per source (the key id, or the client's IP address without a key),
    /// action and status per this interval; the repeats within it become one entry at its end whose count says how
    /// many (counted in <c>sharpeyes_audit_refusals_folded_total</c>), so a flood of refused calls cannot fill the disk.
    /// </summary>
    public TimeSpan RefusalInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Sources of refused calls tracked at once within one <see cref="RefusalInterval"/>; the refusals of further
    /// sources are folded into one entry per action and status without a source (<c>reason="sources-full"</c>).
    /// </summary>
    [Range(1, 1_000_000)] public int MaxRefusalSources { get; set; } = 1_000;

    /// <summary>
    /// Target ids (device ids, region codes...) kept per entry; a bulk registration of more lists the first ones and
    /// says how many more in its summary (counted in <c>sharpeyes_audit_targets_dropped_total</c>).
    /// </summary>
    [Range(1, 1_000_000)] public int MaxTargetsPerEntry { get; set; } = 1_000;
}
