using System.Data.Common;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Audit;

/// <summary>One audit entry as recorded: who (key, role, vendor, client address, certificate subject), what (action,
/// targets, summary), when, the outcome and how many calls it stands for (1, or the repeats of a folded refusal).</summary>
public sealed record AuditRecord(
    DateTimeOffset At,
    string? KeyId,
    Role Role,
    string? VendorId,
    string ClientAddress,
    string? CertificateSubject,
    string Action,
    IReadOnlyList<string> Targets,
    string Summary,
    string Outcome,
    string Message,
    long Count = 1)
{
    public const string Ok = "OK";
}

/// <summary>What <see cref="AuditLog.Query"/> selects; null or empty fields select everything.</summary>
public sealed record AuditQuery(
    DateTimeOffset? Since = null,
    DateTimeOffset? Until = null,
    string? KeyId = null,
    string? VendorId = null,
    string? Target = null,
    string? Action = null,
    string? Outcome = null,
    long? BeforeId = null,
    int Limit = 100);

/// <summary>
/// The append-only audit log (stored by <see cref="AuditRepository"/>), written through the
/// journal's single writer: an entry is committed before the audited call's answer ends. Entries are never updated (a
/// trigger refuses an UPDATE) and there is no API that changes or deletes them; only retention deletes them after
/// <see cref="AuditOptions.Retention"/>. Refused calls are folded per source, action and outcome per
/// <see cref="AuditOptions.RefusalInterval"/> (the first in full, the repeats as one counted entry at the interval's
/// end), so a flood of refused calls costs a few entries a minute.
/// </summary>
public sealed partial class AuditLog : IJournalParticipant, IHostedService, IAsyncDisposable
{
    /// <summary>Refusals of sources beyond <see cref="AuditOptions.MaxRefusalSources"/> are folded under this source.</summary>
    public const string OtherSources = "(other sources)";

    private const int MaxFoldedTargets = 20;

    private readonly Journal _journal;
    private readonly GatewayStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<AuditLog> _logger;
    private readonly AuditOptions _options;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _entries = new(StringComparer.Ordinal);
    private readonly long[] _folded = new long[2]; // repeats, sources-full
    private Dictionary<(string Source, string Action, string Outcome), Fold> _window = [];
    private long _pruned, _targetsDropped, _writeFailures;
    private ITimer? _timer;

    public AuditLog(Journal journal, GatewayStore store, TimeProvider time, IOptions<GatewayOptions> options, ILogger<AuditLog> logger)
    {
        _journal = journal;
        _store = store;
        _time = time;
        _logger = logger;
        _options = options.Value.Audit;
    }

    public AuditOptions Options => _options;

    /// <summary>Entries recorded since the store was created, by outcome (counters <c>audit.entries:OUTCOME</c>).</summary>
    public IReadOnlyList<(string Outcome, long Count)> Entries()
    {
        lock (_lock)
        {
            return [.. _entries.Select(p => (p.Key, p.Value)).OrderBy(p => p.Key, StringComparer.Ordinal)];
        }
    }

    /// <summary>Entries deleted by retention since the store was created.</summary>
    public long Pruned => Interlocked.Read(ref _pruned);

    /// <summary>Refused calls folded into a counted entry since start: repeats of a source, and sources beyond the limit.</summary>
    public (long Repeats, long SourcesFull) Folded => (Interlocked.Read(ref _folded[0]), Interlocked.Read(ref _folded[1]));

    /// <summary>Target ids left out of entries over <see cref="AuditOptions.MaxTargetsPerEntry"/>, since start.</summary>
    public long TargetsDropped => Interlocked.Read(ref _targetsDropped);

    /// <summary>Entries the store refused to take (the call itself was answered), since start.</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    internal void CountDroppedTargets(long dropped) => Interlocked.Add(ref _targetsDropped, dropped);

    public void Load(DbConnection connection)
    {
        var counters = CounterRepository.ReadPrefixed(connection, "audit.");
        lock (_lock)
        {
            _entries.Clear();
            foreach (var (name, value) in counters)
            {
                if (name == PrunedCounter)
                {
                    _pruned = value;
                }
                else if (name.StartsWith(EntriesCounter, StringComparison.Ordinal))
                {
                    _entries[name[EntriesCounter.Length..]] = value;
                }
            }
        }
    }

    private const string EntriesCounter = "audit.entries:";
    private const string PrunedCounter = "audit.pruned";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _timer = _time.CreateTimer(_ => _ = FlushSafelyAsync(), null, _options.RefusalInterval, _options.RefusalInterval);
        return Task.CompletedTask;
    }

    /// <summary>Writes the folded refusals of the interval so far (before the journal stops: hosts stop in reverse order).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
            _timer = null;
        }

        await FlushSafelyAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Records one call. A successful change is written at once and the returned task completes after its commit; a
    /// refusal is written at once only when it is the first of its source, action and outcome in this interval.
    /// A store failure is logged and counted, never thrown: the call has been answered.
    /// </summary>
    public async Task RecordAsync(AuditRecord entry)
    {
        entry = Redacted(entry);
        if (entry.Outcome != AuditRecord.Ok && !FirstOfItsKind(entry))
        {
            return;
        }

        await WriteSafelyAsync(entry).ConfigureAwait(false);
    }

    private bool FirstOfItsKind(AuditRecord entry)
    {
        var source = entry.KeyId ?? AddressOnly(entry.ClientAddress);
        lock (_lock)
        {
            if (_window.TryGetValue((source, entry.Action, entry.Outcome), out var fold))
            {
                fold.Add(entry, _time.GetUtcNow());
                Interlocked.Increment(ref _folded[0]);
                return false;
            }

            if (_window.Count >= _options.MaxRefusalSources)
            {
                var key = (OtherSources, entry.Action, entry.Outcome);
                if (!_window.TryGetValue(key, out var other))
                {
                    other = new Fold(entry with { KeyId = null, Role = Role.Unspecified, VendorId = null, ClientAddress = "", CertificateSubject = null, Targets = [] }, _time.GetUtcNow(), written: false);
                    _window[key] = other;
                }

                other.Add(entry, _time.GetUtcNow());
                Interlocked.Increment(ref _folded[1]);
                return false;
            }

            _window[(source, entry.Action, entry.Outcome)] = new Fold(entry, _time.GetUtcNow(), written: true);
            return true;
        }
    }

    /// <summary>Writes one counted entry per folded source, action and outcome, and starts a new interval.</summary>
    public async Task FlushAsync()
    {
        Dictionary<(string Source, string Action, string Outcome), Fold> window;
        lock (_lock)
        {
            window = _window;
            _window = [];
        }

        var now = _time.GetUtcNow();
        foreach (var fold in window.Values.Where(f => f.Repeats > 0))
        {
            var first = fold.First;
            var summary = fold.Written
                ? $"{fold.Repeats} more refused calls like the one recorded at {fold.FirstAt:O}, until {fold.LastAt:O} (folded per source, action and outcome every SharpEyes:Audit:RefusalInterval); first: {first.Summary}"
                : $"{fold.Repeats} refused calls from sources beyond SharpEyes:Audit:MaxRefusalSources between {fold.FirstAt:O} and {fold.LastAt:O}";
            await WriteSafelyAsync(first with
            {
                At = now,
                ClientAddress = fold.Written ? fold.LastAddress : "",
                Targets = [.. fold.Targets],
                Summary = summary,
                Count = fold.Repeats,
            }).ConfigureAwait(false);
        }
    }

    private async Task FlushSafelyAsync()
    {
        try
        {
            await FlushAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogFlushFailed(_logger, e);
        }
    }

    private async Task WriteSafelyAsync(AuditRecord entry)
    {
        try
        {
            await _journal.ExecuteAsync(tx => Insert(tx, entry)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Interlocked.Increment(ref _writeFailures);
            LogWriteFailed(_logger, entry.Action, entry.Outcome, e.Message);
        }
    }

    private long Insert(JournalTransaction tx, AuditRecord e)
    {
        var id = AuditRepository.Append(tx, e);

        // One counter update per outcome and batch, however many entries the batch holds.
        var counts = tx.Shared(this, static () => new Dictionary<string, long>(StringComparer.Ordinal));
        if (counts.Count == 0)
        {
            tx.BeforeCommitOnce(this, t =>
            {
                foreach (var (outcome, count) in counts)
                {
                    CounterRepository.Add(t, EntriesCounter + outcome, count);
                }
            });
            tx.AfterCommit(() =>
            {
                lock (_lock)
                {
                    foreach (var (outcome, count) in counts)
                    {
                        _entries[outcome] = _entries.GetValueOrDefault(outcome) + count;
                    }
                }
            });
        }

        counts[e.Outcome] = counts.GetValueOrDefault(e.Outcome) + 1;
        return id;
    }

    /// <summary>Deletes at most <paramref name="max"/> entries older than <paramref name="cutoff"/> (the retention pass's transaction).</summary>
    public long Prune(JournalTransaction tx, DateTimeOffset cutoff, int max)
    {
        long pruned = AuditRepository.DeleteOlderThan(tx, cutoff.ToUnixTimeMilliseconds(), max);
        if (pruned > 0)
        {
            CounterRepository.Add(tx, PrunedCounter, pruned);
            tx.AfterCommit(() => Interlocked.Add(ref _pruned, pruned));
        }

        return pruned;
    }

    /// <summary>Entries newest first (by id) matching <paramref name="query"/>, at most <see cref="AuditQuery.Limit"/>.</summary>
    public List<(long Id, AuditRecord Entry)> Query(AuditQuery query)
    {
        using var connection = _store.OpenRead();
        return [.. AuditRepository.Query(connection, query).Select(row => (row.Id, row.Entry))];
    }

    /// <summary>The IP address of "ip:port" ("[v6]:port"): refusals are folded per address, whatever port each connection had.</summary>
    private static string AddressOnly(string clientAddress)
    {
        var colon = clientAddress.LastIndexOf(':');
        return colon > 0 && !clientAddress.EndsWith(']') ? clientAddress[..colon] : clientAddress;
    }

    /// <summary>
    /// Every text of an entry without what may be a secret: URL userinfo and credential query parameters
    /// (<see cref="Streams.RtspCredentials.Redact"/>), and the secret part of anything shaped like an API key.
    /// </summary>
    public static AuditRecord Redacted(AuditRecord e) => e with
    {
        Summary = Redact(e.Summary),
        Message = Redact(e.Message),
        Targets = [.. e.Targets.Select(Redact)],
        CertificateSubject = e.CertificateSubject is null ? null : Redact(e.CertificateSubject),
    };

    public static string Redact(string text) =>
        text.AsSpan().IndexOfAny(RedactionMarks) < 0 // each pattern needs one of these: most texts skip the regular expressions
            ? text
            : ApiKeySecret().Replace(Streams.RtspCredentials.Redact(text, null), "se_$1_***");

    /// <summary>Userinfo needs '@', a credential parameter '=', an API key '_'.</summary>
    private static readonly System.Buffers.SearchValues<char> RedactionMarks = System.Buffers.SearchValues.Create("@=_");

    [GeneratedRegex(@"\bse_([A-Za-z0-9]{1,64})_[A-Za-z0-9_\-]{4,}")]
    private static partial Regex ApiKeySecret();

    [LoggerMessage(Level = LogLevel.Error, Message = "An audit entry ({Action}, {Outcome}) could not be written: {Reason}")]
    private static partial void LogWriteFailed(ILogger logger, string action, string outcome, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Writing the folded refusals of the audit log failed")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception);

    /// <summary>Refusals of one source, action and outcome within an interval.</summary>
    private sealed class Fold(AuditRecord first, DateTimeOffset at, bool written)
    {
        public AuditRecord First { get; } = first;

        public bool Written { get; } = written;

        public DateTimeOffset FirstAt { get; } = at;

        public DateTimeOffset LastAt { get; private set; } = at;

        public string LastAddress { get; private set; } = first.ClientAddress;

        public long Repeats { get; private set; }

        public SortedSet<string> Targets { get; } = new(StringComparer.Ordinal);

        public void Add(AuditRecord entry, DateTimeOffset at)
        {
            Repeats++;
            LastAt = at;
            LastAddress = entry.ClientAddress;
            foreach (var target in entry.Targets)
            {
                if (Targets.Count >= MaxFoldedTargets)
                {
                    break;
                }

                Targets.Add(target);
            }
        }
    }
}
