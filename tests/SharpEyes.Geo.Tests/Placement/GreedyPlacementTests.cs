using SharpEyes.Geo.Coverage.Placement;
using SharpEyes.Geo.Projection;

namespace SharpEyes.Geo.Tests.Placement;

public sealed class GreedyPlacementTests
{
    private static readonly LocalProjection s_projection = new(114.6, 37.6);
    private static readonly CameraModel s_model = new(90, 120);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void GreedyIsWithinOneMinusOneOverEOfTheBruteForceOptimum(int seed)
    {
        var (demand, candidates) = PlacementOracle.RandomInstance(seed, demandCount: 40, positions: 12, azimuthsPerPosition: 1, sideM: 300);
        var covers = PlacementOracle.Coverage(demand, candidates, s_model, s_projection);

        var result = GreedyPlacement.Place(demand, candidates, s_model, 3, s_projection, ct: TestContext.Current.CancellationToken);

        double optimum = PlacementOracle.BruteForceOptimum(demand, covers, 3);
        double greedy = result.Suggestions.Sum(s => s.GainWeight);
        Assert.True(optimum > 0);
        Assert.True(greedy >= ((1 - (1 / Math.E)) * optimum) - 1e-9, $"greedy {greedy} < (1 - 1/e) · {optimum}");
        Assert.True(greedy <= optimum + 1e-9, $"greedy {greedy} beats the optimum {optimum}");
        // The reported gains are what the oracle says the chosen set is worth.
        Assert.Equal(PlacementOracle.Objective(demand, covers, result.Suggestions.Select(PlacementOracle.IndexOf)), greedy, 9);
        Assert.Equal(result.UncoveredWeightBefore - greedy, result.UncoveredWeightAfter, 9);
    }

    [Fact]
    public void GreedyIsOptimalWhenTheCandidatesSeeDisjointDemand()
    {
        // Three clusters 1 km apart; every candidate sees part or all of exactly one cluster, so the objective is modular
        // and taking the best candidate of the two heaviest clusters is the optimum.
        var demand = new List<DemandPoint>();
        AddCluster(demand, 0, [3, 4]); // A: 7
        AddCluster(demand, 1000, [1, 2, 3]); // B: 6
        AddCluster(demand, 2000, [2, 2]); // C: 4
        var candidates = new List<PlacementCandidate>
        {
            new(2000, -50, 0, "c0"), // C, all (4)
            new(0, 15, 0, "c1"), // A, only the points north of it (weight 4 at y = 20)
            new(1000, -50, 0, "c2"), // B, all (6)
            new(0, -50, 0, "c3"), // A, all (7)
        };

        var result = GreedyPlacement.Place(demand, candidates, new CameraModel(90, 100), 2, s_projection, ct: TestContext.Current.CancellationToken);

        Assert.Equal(["c3", "c2"], result.Suggestions.Select(s => s.Source));
        Assert.Equal([7.0, 6.0], result.Suggestions.Select(s => s.GainWeight));
        var covers = PlacementOracle.Coverage(demand, candidates, new CameraModel(90, 100), s_projection);
        Assert.Equal(PlacementOracle.BruteForceOptimum(demand, covers, 2), result.Suggestions.Sum(s => s.GainWeight));
        Assert.Equal(17.0, result.UncoveredWeightBefore);
        Assert.Equal(4.0, result.UncoveredWeightAfter);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    public void FirstPickIsTheCandidateSeeingTheMostUncoveredWeight(int seed)
    {
        var (demand, candidates) = PlacementOracle.RandomInstance(seed, demandCount: 80, positions: 15, azimuthsPerPosition: 3, sideM: 300);
        var covers = PlacementOracle.Coverage(demand, candidates, s_model, s_projection);
        var single = Enumerable.Range(0, candidates.Count).Select(j => PlacementOracle.Objective(demand, covers, [j])).ToList();
        double best = single.Max();
        int expected = single.IndexOf(best); // the lowest index among equals

        var result = GreedyPlacement.Place(demand, candidates, s_model, 1, s_projection, ct: TestContext.Current.CancellationToken);

        var first = Assert.Single(result.Suggestions);
        Assert.Equal(1, first.Rank);
        Assert.Equal("c" + expected, first.Source);
        Assert.Equal(best, first.GainWeight, 9);
    }

    [Fact]
    public void DemandAlreadySatisfiedAddsNothing()
    {
        var demand = new List<DemandPoint>
        {
            new(0, 50, 100, 1, 1, "seen", 0), // already watched by a working camera
            new(500, 50, 1, 1, 0, "open", 0),
        };
        var candidates = new List<PlacementCandidate> { new(0, 0, 0, "c0"), new(500, 0, 0, "c1") };

        var result = GreedyPlacement.Place(demand, candidates, s_model, 2, s_projection, ct: TestContext.Current.CancellationToken);

        var only = Assert.Single(result.Suggestions);
        Assert.Equal("c1", only.Source);
        Assert.Equal(1.0, only.GainWeight);
        Assert.Equal(["open"], only.SitesCompleted);
        Assert.Empty(only.SitesImproved);
        Assert.Equal(1.0, result.UncoveredWeightBefore);
        Assert.Equal(0.0, result.UncoveredWeightAfter);
    }

    [Theory]
    [InlineData(1, 0, new[] { 12.0 })]
    [InlineData(2, 0, new[] { 6.0, 6.0 })]
    [InlineData(2, 1, new[] { 6.0 })]
    [InlineData(3, 0, new[] { 4.0, 4.0, 4.0 })]
    [InlineData(3, 2, new[] { 4.0 })]
    [InlineData(2, 2, new double[0])]
    public void EachCameraEarnsWeightOverRequiredUntilSatisfied(int required, int current, double[] expectedGains)
    {
        var demand = new List<DemandPoint> { new(0, 0, 12, required, current, "s", 400) };
        // Four cameras around the point, each aimed at it.
        var candidates = new List<PlacementCandidate>
        {
            new(0, -50, 0, "c0"), new(50, 0, 270, "c1"), new(0, 50, 180, "c2"), new(-50, 0, 90, "c3"),
        };

        var result = GreedyPlacement.Place(demand, candidates, s_model, 4, s_projection, ct: TestContext.Current.CancellationToken);

        Assert.Equal(expectedGains, result.Suggestions.Select(s => s.GainWeight));
        Assert.Equal(expectedGains.Select(_ => 400.0 / required), result.Suggestions.Select(s => s.GainAreaM2));
        for (int i = 0; i < result.Suggestions.Count; i++)
        {
            bool last = i == result.Suggestions.Count - 1;
            Assert.Equal(last ? ["s"] : Array.Empty<string>(), result.Suggestions[i].SitesCompleted);
            Assert.Equal(last ? Array.Empty<string>() : ["s"], result.Suggestions[i].SitesImproved);
        }

        Assert.Equal(12.0 * (required - Math.Min(required, current)) / required, result.UncoveredWeightBefore, 12);
        Assert.Equal(0.0, result.UncoveredWeightAfter, 12);
    }

    [Theory]
    [InlineData(21, 1, 400, 600, 70, 150)]
    [InlineData(22, 1, 400, 600, 70, 150)]
    [InlineData(23, 4, 400, 600, 70, 150)]
    [InlineData(24, 4, 400, 600, 270, 120)]
    [InlineData(25, 8, 400, 600, 70, 150)]
    // Dense demand and a long range: many points per hash cell, so whole cells inside a wedge are credited at once.
    [InlineData(26, 4, 5000, 300, 60, 200)]
    [InlineData(27, 4, 5000, 300, 230, 200)]
    [InlineData(28, 2, 5000, 300, 360, 120)]
    public void LazyGreedyPicksWhatPlainGreedyPicks(int seed, int azimuthsPerPosition, int demandCount, double side, double hfov, double range)
    {
        var (demand, candidates) = PlacementOracle.RandomInstance(seed, demandCount, positions: 120 / azimuthsPerPosition, azimuthsPerPosition, side);
        var model = new CameraModel(hfov, range);
        var covers = PlacementOracle.Coverage(demand, candidates, model, s_projection);
        var plain = PlacementOracle.PlainGreedy(demand, covers, 12);

        var result = GreedyPlacement.Place(demand, candidates, model, 12, s_projection, ct: TestContext.Current.CancellationToken);

        Assert.True(plain.Count >= 6); // enough rounds for the lazy bounds to go stale
        Assert.Equal(plain.Select(p => "c" + p.Index), result.Suggestions.Select(s => s.Source));
        Assert.Equal(plain.Select(p => p.Gain), result.Suggestions.Select(s => s.GainWeight));
        Assert.Equal(Enumerable.Range(1, plain.Count), result.Suggestions.Select(s => s.Rank));
    }

    [Theory]
    [InlineData(30, 500)]
    [InlineData(90, 400)]
    [InlineData(180, 450)]
    [InlineData(200, 400)]
    [InlineData(270, 350)]
    [InlineData(359, 300)]
    [InlineData(360, 250)]
    public void EachCandidateGainsExactlyTheWeightItSees(double hfov, double range)
    {
        // 4000 points in 400 m and a long range: hash cells hold many points and many lie wholly inside a wedge.
        var (demand, candidates) = PlacementOracle.RandomInstance(31, 4000, positions: 30, azimuthsPerPosition: 1, sideM: 400);
        var model = new CameraModel(hfov, range);
        var covers = PlacementOracle.Coverage(demand, candidates, model, s_projection);

        for (int j = 0; j < candidates.Count; j++)
        {
            var result = GreedyPlacement.Place(demand, [candidates[j]], model, 1, s_projection, ct: TestContext.Current.CancellationToken);

            double expected = PlacementOracle.Objective(demand, covers, [j]);
            Assert.Equal(expected, result.Suggestions.Sum(s => s.GainWeight));
        }
    }

    [Theory]
    [InlineData(360, 50)]
    [InlineData(90, 60)]
    [InlineData(30, 80)]
    public void GridAreaGainIsTheWedgeArea(double hfov, double range)
    {
        // A 400 m square sampled every 2 m; a camera in the middle sees about the wedge's area of it.
        var model = new CameraModel(hfov, range);
        var square = DemandSamplerTests.Square(7800, -3200, 400, 0);
        var demand = DemandSampler.GridArea([("G", square)], 2, 1e-3, (_, _) => 0).ToList();
        var candidates = new List<PlacementCandidate> { new(8000, -3000, 33, "c0") };

        var suggestion = Assert.Single(GreedyPlacement.Place(demand, candidates, model, 1, s_projection, ct: TestContext.Current.CancellationToken).Suggestions);

        double wedge = Math.PI * range * range * hfov / 360;
        Assert.Equal(wedge, suggestion.GainAreaM2, wedge * 0.03);
        Assert.Equal(suggestion.GainAreaM2 * 1e-3, suggestion.GainWeight, 1e-9);
        Assert.Empty(suggestion.SitesCompleted);
        Assert.Empty(suggestion.SitesImproved);
    }

    [Fact]
    public void StopsEarlyWhenNothingGains()
    {
        var demand = new List<DemandPoint> { new(0, 100, 1, 1, 0, null, 0) };
        var candidates = new List<PlacementCandidate> { new(0, 0, 180, "away"), new(0, 0, 0, "toward"), new(0, 0, 10, "also") };

        var result = GreedyPlacement.Place(demand, candidates, s_model, 5, s_projection, ct: TestContext.Current.CancellationToken);

        Assert.Equal(["toward"], result.Suggestions.Select(s => s.Source));
        Assert.Equal(3, result.Candidates);
        Assert.Equal(1, result.DemandPoints);
    }

    [Fact]
    public void SuggestionCarriesTheWgs84PositionOfTheCandidate()
    {
        var demand = new List<DemandPoint> { new(8000, -2900, 1, 1, 0, null, 0) };
        var candidates = new List<PlacementCandidate> { new(8000, -3000, 0, "c0") };

        var suggestion = Assert.Single(GreedyPlacement.Place(demand, candidates, s_model, 1, s_projection, ct: TestContext.Current.CancellationToken).Suggestions);

        var (lon, lat) = s_projection.Unproject(8000, -3000);
        Assert.Equal((lon, lat), (suggestion.Lon, suggestion.Lat));
        Assert.Equal((8000.0, -3000.0, 0.0), (suggestion.X, suggestion.Y, suggestion.AzimuthDeg));
    }

    [Fact]
    public void ConvergenceTurnsTheWedge()
    {
        // 60 km east of the central meridian at 37.6° N true north is about 0.4° west of grid north: a 0.2° wedge aimed
        // at true north misses a point straight up the grid's y axis; one aimed along the grid axis sees it.
        var (lon, lat) = s_projection.Unproject(60_000, 0);
        double convergence = s_projection.ConvergenceDegrees(lon, lat);
        Assert.InRange(convergence, -0.7, -0.3);
        var demand = new List<DemandPoint> { new(60_000, 1000, 1, 1, 0, null, 0) };
        var narrow = new CameraModel(0.2, 2000);
        var candidates = new List<PlacementCandidate>
        {
            new(60_000, 0, 0, "true-north"),
            new(60_000, 0, -convergence, "grid-north"),
        };

        var result = GreedyPlacement.Place(demand, candidates, narrow, 2, s_projection, ct: TestContext.Current.CancellationToken);

        Assert.Equal(["grid-north"], result.Suggestions.Select(s => s.Source));
    }

    [Fact]
    public void CancelledTokenThrows()
    {
        var (demand, candidates) = PlacementOracle.RandomInstance(1, 10, 5, 1, 100);
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => GreedyPlacement.Place(demand, candidates, s_model, 3, s_projection, cts.Token));
    }

    [Theory]
    [InlineData(0, 1, 0)]
    [InlineData(-1, 1, 0)]
    [InlineData(1, 0, 0)]
    [InlineData(1, 1, -1)]
    public void InvalidDemandIsRejected(double weight, int required, int current)
    {
        var demand = new List<DemandPoint> { new(0, 0, weight, required, current, null, 0) };

        Assert.Throws<ArgumentException>(() => GreedyPlacement.Place(demand, [new(0, 0, 0, "c0")], s_model, 1, s_projection, ct: TestContext.Current.CancellationToken));
    }

    [Fact]
    public void InvalidCandidateIsRejected()
    {
        var demand = new List<DemandPoint> { new(0, 0, 1, 1, 0, null, 0) };

        Assert.Throws<ArgumentException>(() => GreedyPlacement.Place(
            demand, [new(0, 0, 0, "c0"), new(double.NaN, 0, 0, "c1")], s_model, 1, s_projection, TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData(0, 50)]
    [InlineData(361, 50)]
    [InlineData(90, 0)]
    [InlineData(90, 5001)]
    public void InvalidCameraModelIsRejected(double hfov, double range)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CameraModel(hfov, range));
    }

    private static void AddCluster(List<DemandPoint> demand, double x, int[] weights)
    {
        // South to north, 20 m apart, starting at y = 0.
        for (int i = 0; i < weights.Length; i++)
        {
            demand.Add(new DemandPoint(x, i * 20.0, weights[i], 1, 0, null, 0));
        }
    }
}
