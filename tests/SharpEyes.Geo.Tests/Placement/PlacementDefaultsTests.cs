using SharpEyes.Geo.Coverage.Placement;

namespace SharpEyes.Geo.Tests.Placement;

public sealed class PlacementDefaultsTests
{
    [Theory]
    [InlineData(60, 1e6, 30, 60)] // small region: the range decides
    [InlineData(60, 220e6, 33.166, 60)] // county, 60 m: √(220 km² / 200 000) = 33.2 m beats range / 2
    [InlineData(5, 220e6, 33.166, 46.904)] // county, 5 m: both floored by the budget
    [InlineData(2000, 220e6, 1000, 2000)]
    public void SpacingsScaleWithTheRangeAndAreFlooredByTheBudget(double range, double area, double demandSpacing, double candidateStep)
    {
        var model = new CameraModel(70, range);

        Assert.Equal(demandSpacing, PlacementDefaults.DemandSpacingM(model, area), 3);
        Assert.Equal(candidateStep, PlacementDefaults.CandidateStepM(model, area), 3);
    }
}
