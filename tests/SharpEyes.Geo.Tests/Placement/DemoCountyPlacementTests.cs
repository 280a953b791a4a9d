using NetTopologySuite.Geometries;
using SharpEyes.Geo.Coverage;
using SharpEyes.Geo.Coverage.Placement;
using SharpEyes.Geo.Demo;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Geo.Tests.Placement;

/// <summary>Placement on the real Gaoyi county demo (107 grids, 40 key sites) with no cameras yet.</summary>
public sealed class DemoCountyPlacementTests
{
    private static readonly Lazy<DemoRun> s_run = new(() => new DemoRun(new CameraModel(70, 60), 5, areaWeightPerKm2: 1));

    [Fact]
    public void FiveSuggestionsWithNonIncreasingGains()
    {
        var result = s_run.Value.Result;

        Assert.Equal(5, result.Suggestions.Count);
        Assert.Equal([1, 2, 3, 4, 5], result.Suggestions.Select(s => s.Rank));
        Assert.All(result.Suggestions, s => Assert.True(s.GainWeight > 0));
        for (int i = 1; i < result.Suggestions.Count; i++)
        {
            Assert.True(result.Suggestions[i].GainWeight <= result.Suggestions[i - 1].GainWeight + 1e-12);
        }

        Assert.Equal(result.UncoveredWeightBefore - result.Suggestions.Sum(s => s.GainWeight), result.UncoveredWeightAfter, 9);
        Assert.Equal(s_run.Value.Candidates.Count, result.Candidates);
        Assert.Equal(s_run.Value.Demand.Count, result.DemandPoints);
    }

    [Fact]
    public void EverySuggestionIsInsideTheCounty()
    {
        var run = s_run.Value;
        var county = run.Index.Projection.Project(run.Index.Grids.Single(g => g.Level == GridFeature.CountyLevel).Geometry);
        var factory = new GeometryFactory(new PrecisionModel(), 0);

        Assert.All(run.Result.Suggestions, s =>
        {
            // Positions on the county border come from walking grid borders; allow a micrometre of rounding.
            Assert.True(county.Distance(factory.CreatePoint(new Coordinate(s.X, s.Y))) <= 1e-6, $"rank {s.Rank} at ({s.X}, {s.Y})");
            Assert.Equal(run.Index.Projection.Unproject(s.X, s.Y), (s.Lon, s.Lat));
        });
    }

    [Fact]
    public void EveryKeySiteCandidateSeesItsSite()
    {
        var run = s_run.Value;
        var projection = run.Index.Projection;
        int checkedCount = 0;
        foreach (var candidate in run.Candidates.Where(c => c.Source.StartsWith("key-site:", StringComparison.Ordinal)))
        {
            var (siteLon, siteLat) = run.SitePoint(candidate.Source["key-site:".Length..]);
            var (lon, lat) = projection.Unproject(candidate.X, candidate.Y);
            Assert.True(
                Sector.Contains(projection, lon, lat, candidate.AzimuthDeg, run.Model.HfovDeg, run.Model.RangeM, siteLon, siteLat),
                $"{candidate} misses its site");
            checkedCount++;
        }

        // 40 sites × (8 ring + 8 at the site), less ring positions that fall outside the county.
        Assert.InRange(checkedCount, 40 * 12, 40 * 16);
    }

    [Fact]
    public void SuggestionsSeeTheSitesTheyClaim()
    {
        var run = s_run.Value;
        var projection = run.Index.Projection;
        var claimed = 0;
        foreach (var s in run.Result.Suggestions)
        {
            if (s.Source.StartsWith("key-site:", StringComparison.Ordinal))
            {
                var (siteLon, siteLat) = run.SitePoint(s.Source["key-site:".Length..]);
                Assert.True(Sector.Contains(projection, s.Lon, s.Lat, s.AzimuthDeg, run.Model.HfovDeg, run.Model.RangeM, siteLon, siteLat));
            }

            foreach (var code in s.SitesCompleted.Concat(s.SitesImproved))
            {
                // At least one sample of the site lies in the wedge, by Sector.Contains in WGS-84.
                var samples = run.Demand.Where(d => d.SiteCode == code).Select(d => projection.Unproject(d.X, d.Y)).ToList();
                Assert.NotEmpty(samples);
                Assert.Contains(samples, p => Sector.Contains(projection, s.Lon, s.Lat, s.AzimuthDeg, run.Model.HfovDeg, run.Model.RangeM, p.Lon, p.Lat));
                claimed++;
            }
        }

        // Sites outweigh area at 1 per km², so every pick completes or improves some site.
        Assert.True(claimed >= run.Result.Suggestions.Count);
        var completed = run.Result.Suggestions.SelectMany(s => s.SitesCompleted).ToList();
        Assert.Equal(completed.Count, completed.Distinct().Count());
    }

    [Fact]
    public void NothingToSuggestWhenWorkingCamerasAlreadySeeEverything()
    {
        var run = s_run.Value;
        Func<double, double, int> everywhere = (_, _) => 1;
        var demand = DemandSampler.GridArea(run.Grids, 50, 1e-6, everywhere)
            .Concat(run.Index.KeySites.SelectMany(s => DemandSampler.KeySite(s.Code, run.Sites[s.Code], s.Priority, 1, 50, everywhere)))
            .ToList();

        var result = GreedyPlacement.Place(demand, run.Candidates, run.Model, 5, run.Index.Projection, TestContext.Current.CancellationToken);

        Assert.Empty(result.Suggestions);
        Assert.Equal(0, result.DemandPoints);
        Assert.Equal(0.0, result.UncoveredWeightBefore);
        Assert.Equal(run.Candidates.Count, result.Candidates);
    }

    [Fact]
    public void DefaultSpacingsKeepTheDemoWithinTheBudget()
    {
        var run = s_run.Value;
        double area = run.Grids.Sum(g => g.Metric.Area);

        int gridSamples = run.Demand.Count(d => d.SiteCode is null);
        double spacing = PlacementDefaults.DemandSpacingM(run.Model, area);

        Assert.InRange(gridSamples, 0.95 * area / (spacing * spacing), 1.05 * area / (spacing * spacing));
        Assert.True(gridSamples <= 1.05 * PlacementDefaults.DemandLatticeBudget);
        int gridPositions = run.Candidates.Count(c => c.Source.StartsWith("grid:", StringComparison.Ordinal)) / 8;
        Assert.True(gridPositions <= 2 * PlacementDefaults.CandidatePositionBudget);
    }

    private sealed class DemoRun
    {
        public DemoRun(CameraModel model, int k, double areaWeightPerKm2)
        {
            Model = model;
            Index = GaoyiDemo.CreateRegionIndex();
            var projection = Index.Projection;
            var grids = Index.Grids.Where(g => g.Level == GridFeature.GridLevel).Select(g => (g.Code, Metric: projection.Project(g.Geometry))).ToList();
            Assert.Equal(107, grids.Count);
            Grids = grids;
            Sites = Index.KeySites.ToDictionary(s => s.Code, s => projection.Project(s.Geometry));
            double area = grids.Sum(g => g.Metric.Area);
            double spacing = PlacementDefaults.DemandSpacingM(model, area);
            double step = PlacementDefaults.CandidateStepM(model, area);

            Func<double, double, int> none = (_, _) => 0;
            Demand = DemandSampler.GridArea(grids, spacing, areaWeightPerKm2 / 1e6, none).ToList();
            foreach (var site in Index.KeySites)
            {
                Demand.AddRange(DemandSampler.KeySite(site.Code, Sites[site.Code], site.Priority, 1, spacing, none));
            }

            Candidates = CandidateGenerator.Generate(Index.KeySites.Select(s => (s.Code, Sites[s.Code])), grids, model, step, projection);
            Result = GreedyPlacement.Place(Demand, Candidates, model, k, projection);
        }

        public CameraModel Model { get; }

        public RegionIndex Index { get; }

        public List<(string Code, Geometry Metric)> Grids { get; }

        public Dictionary<string, Geometry> Sites { get; }

        public List<DemandPoint> Demand { get; }

        public List<PlacementCandidate> Candidates { get; }

        public PlacementResult Result { get; }

        /// <summary>The point a key site's candidates aim at (its metric interior point) in WGS-84.</summary>
        public (double Lon, double Lat) SitePoint(string code)
        {
            var p = Sites[code].InteriorPoint.Coordinate;
            return Index.Projection.Unproject(p.X, p.Y);
        }
    }
}
