using System.Globalization;
using System.Text;
using CsCheck;

namespace SharpEyes.Gateway.Tests.Fuzz;

/// <summary>
/// Deterministic fuzzing with CsCheck's generators: case <c>i</c> of a target is generated from its own PCG seeded
/// with <c>seed + i</c>, so a run is the same on every machine and a failing case is replayed alone by making its
/// seed the first (<c>SHARPEYES_FUZZ_SEED=seed+i</c>). CsCheck's own <c>Sample</c> draws a new seed each run, which
/// is what a CI gate must not do; its generators (and their printing) are what this uses.
/// </summary>
internal static class Fuzzing
{
    /// <summary>Replaces every target's fixed seed (an unsigned 64-bit integer).</summary>
    public const string SeedVariable = "SHARPEYES_FUZZ_SEED";

    /// <summary>Multiplies every target's case count (a positive integer; 10 runs ten times the cases).</summary>
    public const string IterVariable = "SHARPEYES_FUZZ_ITER";

    /// <summary>Failures listed in one report; the rest are counted.</summary>
    private const int FailuresListed = 5;

    /// <summary>The seed a target runs with: its fixed one unless <see cref="SeedVariable"/> says otherwise.</summary>
    public static ulong Seed(ulong fixedSeed) =>
        Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } text
            ? ulong.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture)
            : fixedSeed;

    /// <summary>How many cases a target runs: <paramref name="count"/> times <see cref="IterVariable"/>.</summary>
    public static int Count(int count) =>
        count * (Environment.GetEnvironmentVariable(IterVariable) is { Length: > 0 } text ? int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture) : 1);

    /// <summary>Case <paramref name="index"/> of the run seeded <paramref name="seed"/>.</summary>
    public static T Case<T>(Gen<T> gen, ulong seed, int index) => gen.Generate(new PCG(1, seed + (ulong)index), null, out _);

    /// <summary>The run's cases, in order.</summary>
    public static List<T> Cases<T>(Gen<T> gen, ulong seed, int count) => [.. Enumerable.Range(0, count).Select(i => Case(gen, seed, i))];

    /// <summary>How to replay case <paramref name="index"/> of a run alone.</summary>
    public static string Replay(ulong seed, int index) => string.Create(CultureInfo.InvariantCulture, $"{SeedVariable}={seed + (ulong)index} {IterVariable}=1 (case {index} of seed {seed})");

    /// <summary>
    /// Checks <paramref name="property"/> (which throws on failure) for every case of a run and fails with the first
    /// few failing cases, each with its replay seed and its input as <paramref name="print"/> shows it.
    /// </summary>
    /// <param name="classify">The kind of a case (its outcome may be appended by the property's return): the report counts each.</param>
    public static void Check<T>(string target, Gen<T> gen, ulong fixedSeed, int count, Func<T, string> property, Func<T, string> print, Func<T, string> classify)
    {
        var seed = Seed(fixedSeed);
        var n = Count(count);
        var failures = new List<string>();
        var kinds = new SortedDictionary<string, (int Count, double Ms)>(StringComparer.Ordinal);
        var failed = 0;
        for (var i = 0; i < n; i++)
        {
            var value = Case(gen, seed, i);
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                var kind = classify(value) + " → " + property(value);
                var (sum, ms) = kinds.GetValueOrDefault(kind);
                kinds[kind] = (sum + 1, ms + System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            catch (Exception e)
            {
                if (++failed <= FailuresListed)
                {
                    failures.Add($"{Replay(seed, i)}: {e.GetType().Name}: {e.Message}\n  input: {Shorten(print(value), 2000)}");
                }
            }
        }

        Report(target, seed, n, failed, "\n  " + string.Join("\n  ", kinds.Select(k => string.Create(CultureInfo.InvariantCulture, $"{k.Key}: {k.Value.Count} ({k.Value.Ms / k.Value.Count:0.0} ms each)"))));
        Assert.True(failed == 0, $"{target}: {failed} of {n} cases failed (seed {seed}):\n{string.Join('\n', failures)}");
    }

    /// <summary>Writes what ran, so a log shows the seed and the count even when everything passed.</summary>
    public static void Report(string target, ulong seed, int count, int failed, string? detail = null)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"fuzz {target}: seed {seed}, {count:N0} cases, {failed} failed{(detail is null ? "" : "; " + detail)}");
        TestContext.Current.TestOutputHelper?.WriteLine(text);
        Console.WriteLine(text);
    }

    public static string Shorten(string text, int max) => text.Length <= max ? text : text[..max] + $"… ({text.Length:N0} chars)";

    /// <summary>Bytes as text for a report: UTF-8 where it decodes, with the other bytes as \xNN.</summary>
    public static string Show(byte[] bytes)
    {
        var text = new StringBuilder(bytes.Length);
        var at = 0;
        while (at < bytes.Length)
        {
            if (System.Text.Rune.DecodeFromUtf8(bytes.AsSpan(at), out var rune, out var used) == System.Buffers.OperationStatus.Done && !System.Text.Rune.IsControl(rune))
            {
                text.Append(rune.ToString());
                at += used;
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"\\x{bytes[at]:X2}");
                at++;
            }
        }

        return text.ToString();
    }
}
