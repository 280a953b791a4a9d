using System.Data.Common;
using SharpEyes.Gateway.Storage;
using SharpEyes.Gateway.Storage.Repositories;

namespace SharpEyes.Gateway.Streams;

/// <summary>
/// Every camera's online/offline transitions (table <c>status_log</c>), for the online rate by time: online hours ÷
/// expected hours, where a camera is expected from its registration (or the window's start, if later) and counts as
/// offline until it is first heard from. While the gateway itself is down a camera keeps its last recorded state: the
/// gateway cannot tell, and the restart grace keeps that state on the live side too.
/// Written inside the journal transaction that changes the status; rebuilt from the store with the device catalog.
/// </summary>
public sealed class UptimeLedger
{
    private readonly Dictionary<string, List<(long AtMs, bool Online)>> _log = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public void Load(DbConnection connection, long retainFromMs)
    {
        lock (_gate)
        {
            _log.Clear();
            // Older rows go, except each camera's last one before the cut-off: it says what state the window starts in.
            StatusLogRepository.PruneBefore(connection, retainFromMs);
            foreach (var row in StatusLogRepository.LoadAll(connection))
            {
                Add(row.DeviceId, row.AtMs, row.Online);
            }
        }
    }

    public void Record(JournalTransaction tx, string deviceId, long atMs, bool online)
    {
        StatusLogRepository.Append(tx, deviceId, atMs, online);
        lock (_gate)
        {
            Add(deviceId, atMs, online);
        }
    }

    public void Remove(JournalTransaction tx, string deviceId)
    {
        StatusLogRepository.DeleteDevice(tx, deviceId);
        Forget(deviceId);
    }

    /// <summary>Another replica changed the camera's status: its log is read again as committed (no write).</summary>
    public void Follow(JournalTransaction tx, string deviceId)
    {
        var entries = StatusLogRepository.LoadDevice(tx, deviceId).ConvertAll(row => (row.AtMs, row.Online));

        lock (_gate)
        {
            if (entries.Count == 0)
            {
                _log.Remove(deviceId);
            }
            else
            {
                _log[deviceId] = entries;
            }
        }
    }

    /// <summary>Another replica removed the camera (and its log): forgets it in memory only.</summary>
    public void Forget(string deviceId)
    {
        lock (_gate)
        {
            _log.Remove(deviceId);
        }
    }

    /// <summary>Online and expected milliseconds of one camera over [fromMs, toMs].</summary>
    public (long OnlineMs, long ExpectedMs) Measure(string deviceId, long registeredMs, long fromMs, long toMs)
    {
        var start = Math.Max(fromMs, registeredMs);
        if (toMs <= start)
        {
            return (0, 0);
        }

        lock (_gate)
        {
            if (!_log.TryGetValue(deviceId, out var entries))
            {
                return (0, toMs - start);
            }

            long online = 0;
            var state = false;
            var since = start;
            foreach (var (at, isOnline) in entries)
            {
                if (at <= start)
                {
                    state = isOnline;
                    continue;
                }

                if (at >= toMs)
                {
                    break;
                }

                if (state)
                {
                    online += at - since;
                }

                state = isOnline;
                since = at;
            }

            if (state)
            {
                online += toMs - since;
            }

            return (online, toMs - start);
        }
    }

    /// <summary>
    /// One camera's status over [fromMs, toMs]: its state at <paramref name="fromMs"/> (offline when nothing was
    /// recorded before), then each recorded change after it, oldest first.
    /// </summary>
    public List<(long AtMs, bool Online)> Changes(string deviceId, long fromMs, long toMs)
    {
        lock (_gate)
        {
            var state = false;
            var changes = new List<(long, bool)>();
            foreach (var (at, online) in _log.GetValueOrDefault(deviceId) ?? [])
            {
                if (at <= fromMs)
                {
                    state = online;
                }
                else if (at <= toMs)
                {
                    changes.Add((at, online));
                }
            }

            changes.Insert(0, (fromMs, state));
            return changes;
        }
    }

    private void Add(string deviceId, long atMs, bool online)
    {
        if (!_log.TryGetValue(deviceId, out var list))
        {
            _log[deviceId] = list = [];
        }

        list.Add((atMs, online));
    }
}
