namespace SharpEyes.Gateway.Streams;

/// <summary>
/// One holder at a time per key (here: a camera and a kind of check); a second caller waits until the first is done.
/// A key's entry exists only while someone holds or waits for it, so the table never outgrows the checks in flight.
/// </summary>
internal sealed class KeyedGate
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Keys held or waited for now.</summary>
    public int Count
    {
        get
        {
            lock (_entries)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Waits until the key is free and takes it; disposing the answer frees it.</summary>
    public async Task<IDisposable> EnterAsync(string key, CancellationToken ct)
    {
        Entry? entry;
        lock (_entries)
        {
            if (!_entries.TryGetValue(key, out entry))
            {
                entry = new Entry();
                _entries[key] = entry;
            }

            entry.Users++;
        }

        try
        {
            await entry.Lock.WaitAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            Leave(key, entry, held: false);
            throw;
        }

        return new Holder(this, key, entry);
    }

    private void Leave(string key, Entry entry, bool held)
    {
        lock (_entries)
        {
            if (held)
            {
                entry.Lock.Release();
            }

            if (--entry.Users == 0)
            {
                _entries.Remove(key);
                entry.Lock.Dispose();
            }
        }
    }

    private sealed class Entry
    {
        public SemaphoreSlim Lock { get; } = new(1, 1);

        public int Users { get; set; }
    }

    private sealed class Holder(KeyedGate gate, string key, Entry entry) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                gate.Leave(key, entry, held: true);
            }
        }
    }
}
