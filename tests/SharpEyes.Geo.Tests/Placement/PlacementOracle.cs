using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Coverage.Placement;
using SharpEyes.Geo.Projection;

namespace SharpEyes.Geo.Tests.Placement;

/// <summary>
/// An independent reference for placement: coverage by <see cref="Sector.Contains"/> in WGS-84 (not the planner's
/// metric wedge test and grid hash), the objective by its definition, and plain brute-force searches.
/// </summary>
internal static class PlacementOracle
{
    /// <summary>covers[j][i]: candidate j sees demand point i.</summary>
    public static bool[][] Coverage(
        IReadOnlyList<DemandPoint> demand, IReadOnlyList<PlacementCandidate> candidates, CameraModel model, LocalProjection projection)
    {
        var points = demand.Select(d => projection.Unproject(d.X, d.Y)).ToArray();
        return candidates.Select(c =>
        {
            var (lon, lat) = projection.Unproject(c.X, c.Y);
            return points.Select(p => Sector.Contains(projection, lon, lat, c.AzimuthDeg, model.HfovDeg, model.RangeM, p.Lon, p.Lat)).ToArray();
        }).ToArray();
    }

    /// <summary>Uncovered weight removed by the chosen candidates: Σ W/R · min(max(0, R − C), cameras seeing it).</summary>
    public static double Objective(IReadOnlyList<DemandPoint> demand, bool[][] covers, IEnumerable<int> chosen)
    {
        var seen = new int[demand.Count];
        foreach (int j in chosen)
        {
            for (int i = 0; i < demand.Count; i++)
            {
                seen[i] += covers[j][i] ? 1 : 0;
            }
        }

        double total = 0;
        for (int i = 0; i < demand.Count; i++)
        {
            var d = demand[i];
            total += d.Weight / d.Required * Math.Min(Math.Max(0, d.Required - d.Current), seen[i]);
        }

        return total;
    }

    /// <summary>The best value over every set of exactly <paramref name="k"/> candidates.</summary>
    public static double BruteForceOptimum(IReadOnlyList<DemandPoint> demand, bool[][] covers, int k)
    {
        double best = 0;
        foreach (var subset in Subsets(covers.Length, k))
        {
            best = Math.Max(best, Objective(demand, covers, subset));
        }

        return best;
    }

    /// <summary>Plain (non-lazy) greedy: re-evaluates every remaining candidate each round; ties to the lower index.</summary>
    public static List<(int Index, double Gain)> PlainGreedy(IReadOnlyList<DemandPoint> demand, bool[][] covers, int k)
    {
        var chosen = new List<(int Index, double Gain)>();
        for (int round = 0; round < k; round++)
        {
            double current = Objective(demand, covers, chosen.Select(c => c.Index));
            int best = -1;
            double bestGain = 0;
            for (int j = 0; j < covers.Length; j++)
            {
                if (chosen.Any(c => c.Index == j))
                {
                    continue;
                }

                double gain = Objective(demand, covers, chosen.Select(c => c.Index).Append(j)) - current;
                if (gain > bestGain)
                {
                    best = j;
                    bestGain = gain;
                }
            }

            if (best < 0)
            {
                break;
            }

            chosen.Add((best, bestGain));
        }

        return chosen;
    }

    public static IEnumerable<int[]> Subsets(int n, int k)
    {
        var index = Enumerable.Range(0, k).ToArray();
        while (true)
        {
            yield return (int[])index.Clone();
            int i = k - 1;
            while (i >= 0 && index[i] == n - k + i)
            {
                i--;
            }

            if (i < 0)
            {
                yield break;
            }

            index[i]++;
            for (int j = i + 1; j < k; j++)
            {
                index[j] = index[j - 1] + 1;
            }
        }
    }

    /// <summary>
    /// A random instance east of the projection's centre (so meridian convergence matters): demand with integer
    /// weights and Required 1–2 (gains are exact multiples of ½), candidates at <paramref name="positions"/> spots
    /// with <paramref name="azimuthsPerPosition"/> random azimuths each, named "c&lt;index&gt;".
    /// </summary>
    public static (List<DemandPoint> Demand, List<PlacementCandidate> Candidates) RandomInstance(
        int seed, int demandCount, int positions, int azimuthsPerPosition, double sideM)
    {
        var rng = new Random(seed);
        const double originX = 8000, originY = -3000;
        var demand = new List<DemandPoint>();
        for (int i = 0; i < demandCount; i++)
        {
            int required = rng.Next(1, 3);
            int current = rng.Next(0, 4) == 0 ? rng.Next(0, required + 1) : 0;
            demand.Add(new DemandPoint(
                originX + (rng.NextDouble() * sideM), originY + (rng.NextDouble() * sideM), rng.Next(1, 6), required, current, null, 0));
        }

        var candidates = new List<PlacementCandidate>();
        for (int p = 0; p < positions; p++)
        {
            double x = originX + (rng.NextDouble() * sideM), y = originY + (rng.NextDouble() * sideM);
            for (int a = 0; a < azimuthsPerPosition; a++)
            {
                candidates.Add(new PlacementCandidate(x, y, rng.NextDouble() * 360, "c" + candidates.Count));
            }
        }

        return (demand, candidates);
    }

    public static int IndexOf(PlacementSuggestion suggestion) => int.Parse(suggestion.Source.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
}
