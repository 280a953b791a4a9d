namespace SharpEyes.Gateway.Sip;

/// <summary>The GB/T 28181 side's counters since start (in <c>/metrics</c> as <c>sharpeyes_sip_*</c>).</summary>
public sealed class SipStats
{
    private long _registrations, _unregistrations, _challenges, _keepalives, _notRegistered, _invitesRefused, _ignored,
        _catalogItems, _catalogRefused, _alarmsAccepted, _alarmsDuplicate, _alarmsDeadLettered, _alarmsRetryLater, _requestsFailed;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _refusedRegistrations = new(StringComparer.Ordinal);

    public long Registrations => Interlocked.Read(ref _registrations);

    public long Unregistrations => Interlocked.Read(ref _unregistrations);

    public long Challenges => Interlocked.Read(ref _challenges);

    public long Keepalives => Interlocked.Read(ref _keepalives);

    /// <summary>MESSAGEs from a device that is not registered (or not from its registered address): answered 403.</summary>
    public long NotRegistered => Interlocked.Read(ref _notRegistered);

    public long InvitesRefused => Interlocked.Read(ref _invitesRefused);

    /// <summary>MANSCDP messages of a kind the gateway does not act on (answered 200).</summary>
    public long Ignored => Interlocked.Read(ref _ignored);

    public long CatalogItemsReceived => Interlocked.Read(ref _catalogItems);

    public long CatalogRefused => Interlocked.Read(ref _catalogRefused);

    public long AlarmsAccepted => Interlocked.Read(ref _alarmsAccepted);

    public long AlarmsDuplicate => Interlocked.Read(ref _alarmsDuplicate);

    public long AlarmsDeadLettered => Interlocked.Read(ref _alarmsDeadLettered);

    /// <summary>Alarms answered 503 with Retry-After because the store could not take them (nothing was kept; the device sends again).</summary>
    public long AlarmsRetryLater => Interlocked.Read(ref _alarmsRetryLater);

    /// <summary>Requests the gateway sent (catalog queries, arming, subscriptions) that got no 2xx.</summary>
    public long RequestsFailed => Interlocked.Read(ref _requestsFailed);

    /// <summary>Registrations refused (403), by reason: wrong-password, unknown-username, unknown-device, other-account.</summary>
    public IReadOnlyDictionary<string, long> RefusedRegistrations => _refusedRegistrations;

    public void Registered() => Interlocked.Increment(ref _registrations);

    public void Unregistered() => Interlocked.Increment(ref _unregistrations);

    public void Challenged() => Interlocked.Increment(ref _challenges);

    public void Keepalive() => Interlocked.Increment(ref _keepalives);

    public void FromUnregistered() => Interlocked.Increment(ref _notRegistered);

    public void InviteRefused() => Interlocked.Increment(ref _invitesRefused);

    public void IgnoredMessage() => Interlocked.Increment(ref _ignored);

    public void CatalogItems(int items, int refused)
    {
        Interlocked.Add(ref _catalogItems, items);
        Interlocked.Add(ref _catalogRefused, refused);
    }

    public void Alarm(Alarms.IntakeStatus status)
    {
        switch (status)
        {
            case Alarms.IntakeStatus.Accepted:
                Interlocked.Increment(ref _alarmsAccepted);
                break;
            case Alarms.IntakeStatus.Duplicate:
                Interlocked.Increment(ref _alarmsDuplicate);
                break;
            default:
                Interlocked.Increment(ref _alarmsDeadLettered);
                break;
        }
    }

    public void AlarmRetryLater() => Interlocked.Increment(ref _alarmsRetryLater);

    public void RequestFailed() => Interlocked.Increment(ref _requestsFailed);

    public void RegistrationRefused(string reason) => _refusedRegistrations.AddOrUpdate(reason, 1, (_, n) => n + 1);
}
