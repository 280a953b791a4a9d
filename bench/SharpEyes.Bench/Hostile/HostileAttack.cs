using System.Collections.Concurrent;
using System.Globalization;

namespace SharpEyes.Bench.Hostile;

/// <summary>
/// One attack of issue 11: its name (as in <c>--attacks</c>), what the bench does, what the issue measured against
/// the gateway before the fixes (quoted), and the attack itself, which ends by itself (bounded loops and deadlines).
/// </summary>
internal sealed record HostileAttack(string Name, Func<HostileSettings, string> What, string IssueFigures, Func<HostileTarget, HostileSettings, CancellationToken, Task<AttackOutcome>> RunAsync);

/// <summary>What an attack got: one line for the table, and raw observations for the notes under it.</summary>
internal sealed record AttackOutcome(string Summary, IReadOnlyList<string> Details);

/// <summary>The sizes of the attacks (each a bench option; defaults reproduce issue 11).</summary>
internal sealed record HostileSettings(
    int FloodAddresses,
    int FloodPerAddress,
    TimeSpan FloodHold,
    int BigConnects,
    long BigConnectBytes,
    int BigPublishes,
    long BigPublishBytes,
    int Imports,
    int ImportBytes,
    int Sessions,
    int DeadLetters,
    int Guesses,
    TimeSpan After)
{
    public static HostileSettings From(Options o) => new(
        FloodAddresses: o.Int("flood-addresses", 21),
        FloodPerAddress: o.Int("flood-per-address", 1_000),
        FloodHold: TimeSpan.FromSeconds(o.Int("flood-hold-s", 30)),
        BigConnects: o.Int("big-connects", 4),
        BigConnectBytes: o.Int("big-connect-mb", 250) * 1_000_000L,
        BigPublishes: o.Int("big-publishes", 10),
        BigPublishBytes: o.Int("big-publish-mb", 50) * 1_000_000L,
        Imports: o.Int("imports", 32),
        ImportBytes: o.Int("import-mb", 28) * 1_000_000,
        Sessions: o.Int("sessions", 1_000),
        DeadLetters: o.Int("dead-letters", 5_000),
        Guesses: o.Int("guesses", 5_000),
        After: TimeSpan.FromSeconds(o.Int("after-s", 10)));
}

/// <summary>Counts outcomes by kind from many tasks at once; renders "kind ×n, kind ×m" (most frequent first).</summary>
internal sealed class Tally
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

    public void Add(string kind) => _counts.AddOrUpdate(kind, 1, (_, n) => n + 1);

    public int this[string kind] => _counts.GetValueOrDefault(kind);

    public int Total => _counts.Values.Sum();

    public override string ToString() => _counts.IsEmpty
        ? "none"
        : string.Join(", ", _counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Key} ×{c.Value:N0}")));
}
