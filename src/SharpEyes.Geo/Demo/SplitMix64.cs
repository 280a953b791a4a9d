namespace SharpEyes.Geo.Demo;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood 2014): a tiny fixed-seed generator whose sequence depends only on integer
/// arithmetic, so generated demo data never changes across .NET versions or platforms (unlike System.Random).
/// Tests use it too, for randomised cases that are the same on every run.
/// </summary>
public sealed class SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        unchecked
        {
            _state += 0x9E3779B97F4A7C15UL;
            ulong z = _state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n) => (int)(NextUInt64() % (ulong)n);
}
