using System.Data.Common;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Incidents;

/// <summary>
/// Correlates alarms into incidents. Two alarms belong together when they fall in the same grid (or, outside every
/// grid, come from the same device), their types are in the same class (<see cref="TypeClass"/>), and their occurrence
/// times are within the correlation window of the incident's latest alarm. An incident closes when no alarm joined it
/// for the quiet period (gateway clock), when a newer alarm of its key falls outside the window, or by an operator.
/// Runs only on the journal's writer thread; open incidents live in memory and are reloaded from the store.
/// </summary>
/// <remarks>
/// Several replicas on one PostgreSQL database: every transaction that changes the incidents of a correlation key first
/// takes that key's lock (<see cref="JournalTransaction.LockShared"/>, held until it commits; an alarm's is taken with
/// the rest of its batch's, in one order: <see cref="LockNameOf"/>) and reads the key's open incident
/// from the store under it, so of two replicas correlating alarms of one grid at once the later sees what the earlier
/// committed (one incident, not two), and an acknowledgement or close elsewhere is never overwritten. Between its own
/// transactions a replica follows the others' incident events (<see cref="Follow"/>), so its open set (the sweeper's,
/// the metrics') is at most the feed listener's delay behind. A quiet incident is closed once: the sweepers of both
/// replicas may find it quiet, but the second one reads it closed under the lock and leaves it.
/// </remarks>
public sealed class IncidentCorrelator(IOptions<GatewayOptions> options, TimeProvider time) : IJournalParticipant, IReplicaFollower
{
    /// <summary>Per transaction: the correlation keys it holds the lock of (<see cref="JournalTransaction.Shared"/>).</summary>
    private static readonly object LockedKeysSlot = new();

    /// <summary>Per transaction: the incidents <see cref="Follow"/> read already (the first read sees every later event of the batch).</summary>
    private static readonly object FollowedSlot = new();

    private readonly TimeSpan _window = options.Value.Incidents.CorrelationWindow;
    private readonly TimeSpan _quiet = options.Value.Incidents.QuietPeriod;
    private readonly Dictionary<string, IncidentRecord> _openByKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IncidentRecord> _openById = new(StringComparer.Ordinal);

    /// <summary>Incidents open now.</summary>
    public int OpenCount => _openById.Count;
    private readonly Dictionary<string, long> _lastReceivedMs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lastOccurred = new(StringComparer.Ordinal);

    /// <summary>Incidents changed in the current transaction, written once at its end (an alarm storm rewrites a row once per commit, not per alarm).</summary>
    private readonly Dictionary<string, IncidentRecord> _dirty = new(StringComparer.Ordinal);

    /// <summary>
    /// The type class of a GB/T 28181 (method, type): video-analytics intrusions (tripwire, intrusion, wrong-way, loitering,
    /// fast movement) go together, as do object left/removed, crowd (flow count, density), device faults (any type),
    /// and phone/SMS reports; everything else only with its own method and type.
    /// </summary>
    public static string TypeClass(int method, int type) => method switch
    {
        5 => type switch
        {
            5 or 6 or 7 or 8 or 12 => "va-intrusion",
            3 or 4 => "va-object",
            9 or 10 => "va-crowd",
            _ => $"va-{type}",
        },
        6 => "device-fault",
        1 or 3 => "report",
        _ => $"m{method}-t{type}",
    };

    public static string KeyOf(AlarmRecord alarm, string typeClass) =>
        (alarm.Region.GridCode.Length > 0 ? alarm.Region.GridCode : DeviceKeyPrefix + alarm.DeviceId) + "|" + typeClass;

    private const string DeviceKeyPrefix = "device:";

    /// <summary>The lock <see cref="Plan"/> takes for <paramref name="alarm"/>, for the journal to take first with its batch's others.</summary>
    public static string LockNameOf(AlarmRecord alarm) => LockPrefix + KeyOf(alarm, TypeClass(alarm.Method, alarm.Type));

    public void Load(DbConnection connection)
    {
        _openByKey.Clear();
        _openById.Clear();
        _lastReceivedMs.Clear();
        _lastOccurred.Clear();
        _dirty.Clear();
        foreach (var (incident, updatedMs) in IncidentRepository.LoadOpen(connection))
        {
            Track(incident, updatedMs);
        }
    }

    /// <summary>
    /// The incident an alarm would join (its id, and whether it would be new), changing nothing but taking the key's lock
    /// for the rest of <paramref name="tx"/> on a shared store (and reading the key's open incident under it).
    /// </summary>
    public IncidentPlan Plan(JournalTransaction tx, AlarmRecord alarm)
    {
        var typeClass = TypeClass(alarm.Method, alarm.Type);
        var key = KeyOf(alarm, typeClass);
        Lock(tx, key);
        return _openByKey.TryGetValue(key, out var open) && WithinWindow(open, alarm)
            ? new IncidentPlan(open.IncidentId, false, key, typeClass)
            : new IncidentPlan("inc_" + Guid.CreateVersion7(time.GetUtcNow()).ToString("N"), true, key, typeClass);
    }

    /// <summary>Adds an accepted alarm to the planned incident, persists the incident and appends its feed event(s).</summary>
    public IncidentRecord Apply(JournalTransaction tx, AlarmRecord alarm, IncidentPlan plan)
    {
        var (typeClass, key) = (plan.TypeClass, plan.Key);
        var now = time.GetUtcNow();
        IncidentRecord incident;
        if (plan.Opens)
        {
            if (_openByKey.TryGetValue(key, out var superseded))
            {
                Close(tx, superseded, "window-elapsed", now);
            }

            incident = new IncidentRecord(plan.IncidentId, IncidentState.Open, key, typeClass, alarm.Priority, alarm.Region, alarm.Position,
                [], [], 0, null, alarm.ReceivedAt, alarm.ReceivedAt);
        }
        else
        {
            incident = _openById[plan.IncidentId];
            incident = incident with { HighestPriority = Math.Min(incident.HighestPriority, alarm.Priority) };
        }

        incident = incident with
        {
            KeySites = incident.KeySites.Union(alarm.KeySites, s => s.Code),
            CameraIds = incident.CameraIds.Union(alarm.CameraIds, c => c),
            AlarmCount = incident.AlarmCount + 1,
            UpdatedAt = alarm.ReceivedAt,
            LastAlarm = alarm,
        };
        Persist(tx, incident);
        Track(incident, now.ToUnixTimeMilliseconds(), alarm.OccurredAt);
        Joined(tx, plan.Opens, incident, alarm);
        return incident;
    }

    /// <summary>
    /// Adds an alarm to its incident's one INCIDENT_OPENED or INCIDENT_UPDATED event of this transaction: the first alarm
    /// of the incident in the transaction appends the event (its place in the feed), and the incident as the last alarm
    /// left it is written into it before the commit, carrying every alarm that joined in this transaction, oldest first.
    /// </summary>
    private void Joined(JournalTransaction tx, bool opens, IncidentRecord incident, AlarmRecord alarm)
    {
        var joins = tx.Shared(JoinsSlot, NewJoins);
        if (!joins.TryGetValue(incident.IncidentId, out var join))
        {
            var feedEvent = tx.AppendFeedEvent(new FeedEvent { Kind = opens ? FeedEventKind.IncidentOpened : FeedEventKind.IncidentUpdated });
            join = new Join(feedEvent);
            joins.Add(incident.IncidentId, join);
            tx.BeforeCommitOnce(JoinsSlot, WriteJoins);
        }
        else
        {
            tx.JoinFeedEvent(join.FeedEvent);
        }

        join.Incident = incident;
        join.Alarms.Add(alarm);
    }

    private static void WriteJoins(JournalTransaction tx)
    {
        foreach (var join in tx.Shared(JoinsSlot, NewJoins).Values)
        {
            join.Write();
        }
    }

    /// <summary>Writes the incident's pending join event now and ends it: an event about it that follows (closed, acknowledged) comes after it, and a later alarm starts a new one.</summary>
    private static void EndJoin(JournalTransaction tx, string incidentId)
    {
        if (tx.Shared(JoinsSlot, NewJoins).Remove(incidentId, out var join))
        {
            join.Write();
        }
    }

    /// <summary>Per transaction: the join event of each incident alarms joined in it (<see cref="Joined"/>).</summary>
    private static readonly object JoinsSlot = new();

    private static Dictionary<string, Join> NewJoins() => new(StringComparer.Ordinal);

    /// <summary>An incident's join event in a transaction, and the alarms it carries.</summary>
    private sealed class Join(FeedEvent feedEvent)
    {
        public FeedEvent FeedEvent => feedEvent;

        public IncidentRecord Incident { get; set; } = null!;

        public List<AlarmRecord> Alarms { get; } = new(1);

        public void Write() => Describe(feedEvent, Incident, Incident.UpdatedAt, Alarms);
    }

    /// <summary>Closes every incident quiet for longer than the quiet period.</summary>
    public int CloseQuiet(JournalTransaction tx)
    {
        var now = time.GetUtcNow();
        var cutoff = (now - _quiet).ToUnixTimeMilliseconds();
        bool Quiet(IncidentRecord i) => _lastReceivedMs[i.IncidentId] <= cutoff;
        // Keys locked in one order (a sweeper of another replica takes them in the same), then looked at again: under
        // the lock an incident may turn out closed (by the other replica's sweeper) or joined meanwhile.
        var keys = _openById.Values.Where(Quiet).Select(i => i.CorrelationKey).Distinct().Order(StringComparer.Ordinal).ToList();
        foreach (var key in keys)
        {
            Lock(tx, key);
        }

        var expired = _openById.Values.Where(i => Quiet(i) && keys.Contains(i.CorrelationKey)).ToList();
        foreach (var incident in expired)
        {
            Close(tx, incident, "quiet-period", now);
        }

        return expired.Count;
    }

    /// <summary>An operator's close; null when no open incident has that id.</summary>
    public IncidentRecord? CloseByOperator(JournalTransaction tx, string incidentId, string reason)
    {
        LockIncident(tx, incidentId);
        return _openById.TryGetValue(incidentId, out var incident)
            ? Close(tx, incident, "operator: " + reason, time.GetUtcNow())
            : null;
    }

    /// <summary>
    /// An operator's acknowledgement of an open incident, recorded once: the acknowledged incident, or the incident as it
    /// is (acknowledged already, or closed; the caller tells which) with <c>Acknowledged</c> false, or null when no
    /// incident is open with that id.
    /// </summary>
    public (IncidentRecord Incident, bool Acknowledged)? Acknowledge(JournalTransaction tx, string incidentId, string keyId, Role role, string note)
    {
        LockIncident(tx, incidentId);
        if (!_openById.TryGetValue(incidentId, out var open))
        {
            return null;
        }

        if (open.Acknowledgement is not null)
        {
            return (open, false);
        }

        var at = time.GetUtcNow();
        EndJoin(tx, incidentId);
        var acknowledged = open with { Acknowledgement = new Acknowledgement(at, keyId, role, note) };
        Persist(tx, acknowledged);
        _openById[incidentId] = acknowledged;
        if (_openByKey.TryGetValue(acknowledged.CorrelationKey, out var current) && current.IncidentId == incidentId)
        {
            _openByKey[acknowledged.CorrelationKey] = acknowledged;
        }

        Emit(tx, FeedEventKind.IncidentAcknowledged, acknowledged with { LastAlarm = null }, at);
        return (acknowledged, true);
    }

    private IncidentRecord Close(JournalTransaction tx, IncidentRecord open, string reason, DateTimeOffset now)
    {
        EndJoin(tx, open.IncidentId);
        var closed = open with { State = IncidentState.Closed, ClosedAt = now, CloseReason = reason, LastAlarm = null };
        Persist(tx, closed);
        Forget(closed);
        Emit(tx, FeedEventKind.IncidentClosed, closed, now);
        return closed;
    }

    private bool WithinWindow(IncidentRecord open, AlarmRecord alarm) =>
        (alarm.OccurredAt - _lastOccurred[open.IncidentId]).Duration() <= _window;

    /// <summary>
    /// Another replica's incident event: this replica's open set takes the incident as committed now (read from the store,
    /// which is at least as new as the event), unless this transaction holds the incident's key, whose state is then newer.
    /// </summary>
    public void Follow(FeedEvent foreign, JournalTransaction tx)
    {
        if (foreign.Incident is not { } incident
            || tx.Shared(LockedKeysSlot, NewKeySet).Contains(incident.CorrelationKey)
            || !tx.Shared(FollowedSlot, NewKeySet).Add(incident.IncidentId))
        {
            return;
        }

        if (IncidentRepository.FindOpen(tx, incident.IncidentId) is { } committed)
        {
            Track(committed.Incident, committed.UpdatedAtMs);
        }
        else if (_openById.TryGetValue(incident.IncidentId, out var known))
        {
            Forget(known);
        }
    }

    /// <summary>
    /// Takes the lock of <paramref name="key"/> for the rest of the transaction (once) and, on a shared store, makes the
    /// key's in-memory open incident the one committed: another replica may have opened, joined, acknowledged or closed
    /// it since this replica last heard. After the first lock the transaction's own changes are the newest. The keys the
    /// batch locked before its items ran (its alarms', <see cref="LockNameOf"/>) are read with it, in one statement per
    /// 64 keys: none of them was changed in this transaction yet (every change takes this path first), and no other
    /// replica can change them while this one holds their locks.
    /// </summary>
    private void Lock(JournalTransaction tx, string key)
    {
        var loaded = tx.Shared(LockedKeysSlot, NewKeySet);
        if (!loaded.Add(key) || !tx.LockShared(LockPrefix + key))
        {
            return;
        }

        var keys = new List<string> { key };
        foreach (var name in tx.HeldLocks)
        {
            if (name.StartsWith(LockPrefix, StringComparison.Ordinal) && loaded.Add(name[LockPrefix.Length..]))
            {
                keys.Add(name[LockPrefix.Length..]);
            }
        }

        var open = IncidentRepository.LoadOpenByKeys(tx, keys);
        foreach (var k in keys)
        {
            if (_openByKey.TryGetValue(k, out var known) && !open.Exists(o => o.Incident.IncidentId == known.IncidentId))
            {
                Forget(known);
            }
        }

        foreach (var (incident, updatedMs) in open)
        {
            Track(incident, updatedMs); // the last updated stays the key's (Load's rule too)
        }
    }

    /// <summary>Locks the key of an incident named by id (an operator's acknowledgement or close), looked up in the store if this replica does not hold it open.</summary>
    private void LockIncident(JournalTransaction tx, string incidentId)
    {
        var key = _openById.TryGetValue(incidentId, out var known)
            ? known.CorrelationKey
            : IncidentRepository.CorrelationKeyOf(tx, incidentId);
        if (key is not null)
        {
            Lock(tx, key);
        }
    }

    private const string LockPrefix = "incident|";

    private static HashSet<string> NewKeySet() => new(StringComparer.Ordinal);

    private void Forget(IncidentRecord incident)
    {
        _openById.Remove(incident.IncidentId);
        _lastReceivedMs.Remove(incident.IncidentId);
        _lastOccurred.Remove(incident.IncidentId);
        if (_openByKey.TryGetValue(incident.CorrelationKey, out var current) && current.IncidentId == incident.IncidentId)
        {
            _openByKey.Remove(incident.CorrelationKey);
        }
    }

    /// <summary>An incident as stored: the last alarm it carries gives its occurrence time.</summary>
    private void Track(IncidentRecord incident, long receivedMs) =>
        Track(incident, receivedMs, incident.LastAlarm?.OccurredAt ?? incident.UpdatedAt);

    private void Track(IncidentRecord incident, long receivedMs, DateTimeOffset occurred)
    {
        _openById[incident.IncidentId] = incident;
        _openByKey[incident.CorrelationKey] = incident;
        _lastReceivedMs[incident.IncidentId] = receivedMs;
        _lastOccurred[incident.IncidentId] = _lastOccurred.TryGetValue(incident.IncidentId, out var prev) && prev > occurred ? prev : occurred;
    }

    private void Persist(JournalTransaction tx, IncidentRecord incident)
    {
        _dirty[incident.IncidentId] = incident;
        tx.BeforeCommitOnce(this, WriteDirty);
    }

    private void WriteDirty(JournalTransaction tx)
    {
        IncidentRepository.UpsertAll(tx, [.. _dirty.Values.Select(i => (i, RegionCodeOf(i)))]);
        _dirty.Clear();
    }

    /// <summary>As for devices: the grid, else the county of the device (outside every grid the key is "device:{id}|...").</summary>
    public static string RegionCodeOf(IncidentRecord incident) =>
        incident.Region.GridCode.Length > 0 ? incident.Region.GridCode : GbDeviceId.CountyCode(incident.CorrelationKey[DeviceKeyPrefix.Length..]);

    private static void Emit(JournalTransaction tx, FeedEventKind kind, IncidentRecord incident, DateTimeOffset at) =>
        Describe(tx.AppendFeedEvent(new FeedEvent { Kind = kind }), incident, at);

    /// <summary>Fills an incident event: when, where, and the incident with <paramref name="alarms"/> (default: its last alarm, if any).</summary>
    private static void Describe(FeedEvent feedEvent, IncidentRecord incident, DateTimeOffset at, IEnumerable<AlarmRecord>? alarms = null)
    {
        feedEvent.OccurredAt = Timestamp.FromDateTimeOffset(at);
        feedEvent.RegionCode = RegionCodeOf(incident);
        feedEvent.Incident = incident.ToWire(alarms);
    }
}

/// <summary>Where <see cref="IncidentCorrelator.Plan"/> would put an alarm: the incident, whether it opens, and the key and type class it computed.</summary>
public readonly record struct IncidentPlan(string IncidentId, bool Opens, string Key, string TypeClass);
