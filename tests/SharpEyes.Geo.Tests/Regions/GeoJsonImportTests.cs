using System.Diagnostics;
using NetTopologySuite.Geometries;
using SharpEyes.Geo.Datums;
using SharpEyes.Geo.Regions;
using static SharpEyes.Geo.Tests.Regions.GeoJsonFixtures;

namespace SharpEyes.Geo.Tests.Regions;

public sealed class GeoJsonImportTests
{
    private const string Bowtie = "{\"type\":\"Polygon\",\"coordinates\":[[[114.5,37.5],[114.6,37.6],[114.6,37.5],[114.5,37.6],[114.5,37.5]]]}";

    public static TheoryData<string, string, string, int> InvalidGridFiles => new()
    {
        { "not json", "{\"type\":\"FeatureCollection\",", FeatureErrorReasons.InvalidJson, -1 },
        { "a single feature", County, FeatureErrorReasons.NotAFeatureCollection, -1 },
        { "no features array", "{\"type\":\"FeatureCollection\"}", FeatureErrorReasons.NotAFeatureCollection, -1 },
        { "array element not a feature", Collection(County, "42"), FeatureErrorReasons.NotAFeatureCollection, 1 },
        { "code missing", Collection(County, Feature(null, "高邑镇", Rect(114.5, 37.5, 114.6, 37.7))), FeatureErrorReasons.MissingProperty, 1 },
        { "name missing", Collection(County, Feature("130127100", null, Rect(114.5, 37.5, 114.6, 37.7))), FeatureErrorReasons.MissingProperty, 1 },
        { "name empty", Collection(County, Feature("130127100", " ", Rect(114.5, 37.5, 114.6, 37.7))), FeatureErrorReasons.MissingProperty, 1 },
        { "code not digits", Collection(County, Feature("13012710A", "x", Rect(114.5, 37.5, 114.6, 37.7))), FeatureErrorReasons.InvalidProperty, 1 },
        { "code of 7 digits", Collection(County, Feature("1301271", "x", Rect(114.5, 37.5, 114.6, 37.7))), FeatureErrorReasons.InvalidProperty, 1 },
        { "code of 21 digits", Collection(County, Feature("130127100201001000000", "x", Rect(114.5, 37.5, 114.6, 37.6))), FeatureErrorReasons.InvalidProperty, 1 },
        { "self-intersecting", Collection(County, Feature("130127100", "x", Bowtie)), FeatureErrorReasons.InvalidGeometry, 1 },
        { "null geometry", Collection(County, Feature("130127100", "x", "null")), FeatureErrorReasons.InvalidGeometry, 1 },
        { "unclosed ring", Collection(County, Feature("130127100", "x", "{\"type\":\"Polygon\",\"coordinates\":[[[114.5,37.5],[114.6,37.5],[114.6,37.6],[114.5,37.6]]]}")), FeatureErrorReasons.InvalidGeometry, 1 },
        { "point grid", Collection(County, Feature("130127100", "x", "{\"type\":\"Point\",\"coordinates\":[114.55,37.55]}")), FeatureErrorReasons.WrongGeometryType, 1 },
        { "line grid", Collection(County, Feature("130127100", "x", "{\"type\":\"LineString\",\"coordinates\":[[114.55,37.55],[114.56,37.56]]}")), FeatureErrorReasons.WrongGeometryType, 1 },
        { "duplicate code", Collection(County, TownshipWest, TownshipWest), FeatureErrorReasons.DuplicateCode, 2 },
        { "unknown parent", Collection(County, Village), FeatureErrorReasons.UnknownParent, 1 },
        { "grid without village", Collection(County, TownshipWest, Grid), FeatureErrorReasons.UnknownParent, 2 },
        { "outside parent", Collection(County, Feature("130127100", "x", Rect(114.5, 37.5, 114.8, 37.7))), FeatureErrorReasons.OutsideParent, 1 },
        { "overlapping townships", Collection(County, TownshipWest, Feature("130127101", "x", Rect(114.59, 37.5, 114.7, 37.7))), FeatureErrorReasons.Overlap, 1 },
        { "outside China", Collection(Feature("130127", "x", Rect(2.3, 48.8, 2.4, 48.9))), FeatureErrorReasons.OutsideChina, 0 },
        { "lat/lon swapped", Collection(Feature("130127", "x", Rect(37.5, 114.5, 37.7, 114.7))), FeatureErrorReasons.OutsideChina, 0 },
        { "unknown county", Collection(Feature("130128", "x", Rect(114.5, 37.5, 114.7, 37.7))), FeatureErrorReasons.UnknownCounty, 0 },
        { "coverage target above 1", Collection(County, TownshipWest, Village, Feature("130127100201001", "x", Rect(114.5, 37.5, 114.6, 37.6), "\"coverage_target\":1.5")), FeatureErrorReasons.InvalidProperty, 3 },
        { "coverage target negative", Collection(County, TownshipWest, Village, Feature("130127100201001", "x", Rect(114.5, 37.5, 114.6, 37.6), "\"coverage_target\":-0.1")), FeatureErrorReasons.InvalidProperty, 3 },
        { "coverage target as text", Collection(County, TownshipWest, Village, Feature("130127100201001", "x", Rect(114.5, 37.5, 114.6, 37.6), "\"coverage_target\":\"80%\"")), FeatureErrorReasons.InvalidProperty, 3 },
    };

    [Theory]
    [MemberData(nameof(InvalidGridFiles))]
    public void RejectsInvalidGridFiles(string description, string geojson, string reason, int featureIndex)
    {
        var result = GeoJsonImport.ParseGrids(geojson, Datum.Wgs84, [], KnownCounties);

        Assert.False(result.Ok, description);
        Assert.Empty(result.Features);
        Assert.Contains(result.Errors, e => e.Reason == reason && e.FeatureIndex == featureIndex);
        Assert.All(result.Errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
    }

    [Fact]
    public void InvalidGeometryMessageCarriesTheValidationError()
    {
        var result = GeoJsonImport.ParseGrids(Collection(County, Feature("130127100", "x", Bowtie)), Datum.Wgs84, [], KnownCounties);
        var error = Assert.Single(result.Errors);
        Assert.Equal("130127100", error.Code);
        Assert.Contains("Self-intersection", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void OverlapNamesBothCodes()
    {
        var result = GeoJsonImport.ParseGrids(
            Collection(County, TownshipWest, Feature("130127101", "x", Rect(114.59, 37.5, 114.7, 37.7))), Datum.Wgs84, [], KnownCounties);
        var error = Assert.Single(result.Errors);
        Assert.Equal(FeatureErrorReasons.Overlap, error.Reason);
        Assert.Contains("130127100", error.Message, StringComparison.Ordinal);
        Assert.Contains("130127101", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AcceptsAValidHierarchy()
    {
        var result = GeoJsonImport.ParseGrids(Valid, Datum.Wgs84, [], KnownCounties);

        Assert.True(result.Ok, string.Join("\n", result.Errors));
        Assert.Equal(["130127", "130127100", "130127101", "130127100201", "130127100201001"], result.Features.Select(f => f.Code));
        Assert.Equal([1, 2, 2, 3, 4], result.Features.Select(f => f.Level));
        Assert.Equal([null, "130127", "130127", "130127100", "130127100201"], result.Features.Select(f => f.ParentCode));
        Assert.Equal("东关村第一网格", result.Features[4].Name);
        Assert.All(result.Features, f => Assert.Null(f.CoverageTarget));
    }

    [Theory]
    [InlineData("0", 0.0)]
    [InlineData("0.35", 0.35)]
    [InlineData("1", 1.0)]
    [InlineData("null", null)]
    public void ReadsAGridsOptionalCoverageTarget(string json, double? expected)
    {
        var grid = Feature("130127100201001", "东关村第一网格", Rect(114.5, 37.5, 114.6, 37.6), $"\"coverage_target\":{json}");
        var result = GeoJsonImport.ParseGrids(Collection(County, TownshipWest, Village, grid), Datum.Wgs84, [], KnownCounties);

        Assert.True(result.Ok, string.Join("\n", result.Errors));
        Assert.Equal(expected, result.Features.Single(f => f.Code == "130127100201001").CoverageTarget);
    }

    [Fact]
    public void AcceptsNumericCodesAndMultiPolygons()
    {
        var multi = "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[114.5,37.5],[114.55,37.5],[114.55,37.6],[114.5,37.5]]],[[[114.6,37.6],[114.7,37.6],[114.7,37.7],[114.6,37.6]]]]}";
        var geojson = Collection("{\"type\":\"Feature\",\"properties\":{\"code\":130127,\"name\":\"高邑县\"},\"geometry\":" + multi + "}");
        var result = GeoJsonImport.ParseGrids(geojson, Datum.Wgs84, [], KnownCounties);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        Assert.IsType<MultiPolygon>(result.Features[0].Geometry);
        Assert.Equal("130127", result.Features[0].Code);
    }

    [Fact]
    public void SmallOverlapsWithinToleranceAreAccepted()
    {
        // A 1e-7° (≈ 1 cm) sliver along a 22 km edge: ≈ 200 m², above 1 m² but only 1e-6 of the ≈ 195 km²
        // township, far below the 0.01 % threshold: digitising noise, not an overlap.
        var result = GeoJsonImport.ParseGrids(
            Collection(County, TownshipWest, Feature("130127101", "x", Rect(114.5999999, 37.5, 114.7, 37.7))), Datum.Wgs84, [], KnownCounties);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
    }

    [Fact]
    public void SlightlyOutsideParentWithinHalfAPercentIsAccepted()
    {
        // The township sticks out of the county by 0.0004° of its 0.1° width: 0.4 %.
        var result = GeoJsonImport.ParseGrids(
            Collection(County, Feature("130127100", "x", Rect(114.4996, 37.5, 114.5996, 37.7))), Datum.Wgs84, [], KnownCounties);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
    }

    [Fact]
    public void ParentsMayComeFromExistingFeatures()
    {
        var first = GeoJsonImport.ParseGrids(Collection(County, TownshipWest, TownshipEast), Datum.Wgs84, [], KnownCounties);
        Assert.True(first.Ok);

        var second = GeoJsonImport.ParseGrids(Collection(Village, Grid), Datum.Wgs84, first.Features, KnownCounties);
        Assert.True(second.Ok, string.Join("\n", second.Errors));
        Assert.Equal(2, second.Features.Count);
    }

    [Fact]
    public void OverlapWithExistingFeatureIsReported()
    {
        var existing = GeoJsonImport.ParseGrids(Collection(County, TownshipWest), Datum.Wgs84, [], KnownCounties).Features;
        var result = GeoJsonImport.ParseGrids(
            Collection(Feature("130127101", "x", Rect(114.55, 37.5, 114.7, 37.7))), Datum.Wgs84, existing, KnownCounties);

        var error = Assert.Single(result.Errors);
        Assert.Equal(FeatureErrorReasons.Overlap, error.Reason);
        Assert.Equal(0, error.FeatureIndex);
        Assert.Contains("130127100", error.Message, StringComparison.Ordinal);
        Assert.Empty(result.Features);
    }

    [Fact]
    public void ReimportingACodeReplacesIt()
    {
        var existing = GeoJsonImport.ParseGrids(Collection(County, TownshipWest, TownshipEast), Datum.Wgs84, [], KnownCounties).Features;

        // Move the border between the two towns east: both are re-imported, so neither overlaps its old self.
        var result = GeoJsonImport.ParseGrids(
            Collection(Feature("130127100", "高邑镇", Rect(114.5, 37.5, 114.65, 37.7)), Feature("130127101", "大营镇", Rect(114.65, 37.5, 114.7, 37.7))),
            Datum.Wgs84,
            existing,
            KnownCounties);

        Assert.True(result.Ok, string.Join("\n", result.Errors));
        Assert.Equal(2, result.Features.Count);
    }

    [Fact]
    public void ConvertsFromGcj02()
    {
        var result = GeoJsonImport.ParseGrids(Collection(County), Datum.Gcj02, [], KnownCounties);
        var coordinate = result.Features[0].Geometry.Coordinates[0];
        var expected = DatumConverter.Gcj02ToWgs84(114.5, 37.5);
        Assert.Equal(expected.Lon, coordinate.X, 1e-12);
        Assert.Equal(expected.Lat, coordinate.Y, 1e-12);
    }

    [Fact]
    public void ErrorsAreReportedForEveryBadFeature()
    {
        var result = GeoJsonImport.ParseGrids(
            Collection(County, Feature(null, "a", Rect(114.5, 37.5, 114.6, 37.7)), TownshipEast, Feature("130127102", "b", "null")),
            Datum.Wgs84,
            [],
            KnownCounties);

        Assert.Equal([1, 3], result.Errors.Select(e => e.FeatureIndex));
        Assert.Empty(result.Features);
    }

    [Fact]
    public void TwoThousandGridsAreCheckedQuickly()
    {
        // A 45 × 45 lattice of ~150 m grids in one village, sharing edges exactly.
        var features = new List<string> { County, TownshipWest, Village };
        const double step = 0.0015;
        for (int i = 0; i < 45; i++)
        {
            for (int j = 0; j < 45; j++)
            {
                double lon = 114.51 + (i * step), lat = 37.51 + (j * step);
                features.Add(Feature($"130127100201{(i * 45) + j:D4}", $"网格{i}-{j}", Rect(lon, lat, lon + step, lat + step)));
            }
        }

        var geojson = Collection([.. features]);
        var stopwatch = Stopwatch.StartNew();
        var result = GeoJsonImport.ParseGrids(geojson, Datum.Wgs84, [], KnownCounties);
        stopwatch.Stop();

        Assert.True(result.Ok, string.Join("\n", result.Errors.Take(5)));
        Assert.Equal(2028, result.Features.Count);
        TestContext.Current.SendDiagnosticMessage($"2,028 features validated in {stopwatch.ElapsedMilliseconds} ms");

        // And one overlapping grid among them is found.
        features.Add(Feature("1301271002019999", "重叠网格", Rect(114.52, 37.52, 114.5215, 37.5215)));
        var withOverlap = GeoJsonImport.ParseGrids(Collection([.. features]), Datum.Wgs84, [], KnownCounties);
        Assert.Contains(withOverlap.Errors, e => e.Reason == FeatureErrorReasons.Overlap && e.Message.Contains("1301271002019999", StringComparison.Ordinal));
        Assert.Empty(withOverlap.Features);
    }

    // ---- key sites ----

    private static string Site(string code, string category, string priority, string geometry = "{\"type\":\"Point\",\"coordinates\":[114.55,37.55]}") =>
        Feature(code, "高邑镇中心小学", geometry, $"\"category\":{category},\"priority\":{priority}");

    public static TheoryData<string, string, string, int> InvalidKeySiteFiles => new()
    {
        { "not json", "[", FeatureErrorReasons.InvalidJson, -1 },
        { "missing category", Collection(Feature("KS-1", "x", "{\"type\":\"Point\",\"coordinates\":[114.55,37.55]}", "\"priority\":3")), FeatureErrorReasons.MissingProperty, 0 },
        { "missing priority", Collection(Feature("KS-1", "x", "{\"type\":\"Point\",\"coordinates\":[114.55,37.55]}", "\"category\":\"school\"")), FeatureErrorReasons.MissingProperty, 0 },
        { "missing code", Collection(Feature(null, "x", "{\"type\":\"Point\",\"coordinates\":[114.55,37.55]}", "\"category\":\"school\",\"priority\":3")), FeatureErrorReasons.MissingProperty, 0 },
        { "unknown category", Collection(Site("KS-1", "\"zoo\"", "3")), FeatureErrorReasons.InvalidProperty, 0 },
        { "PositionType 11", Collection(Site("KS-1", "11", "3")), FeatureErrorReasons.InvalidProperty, 0 },
        { "priority 0", Collection(Site("KS-1", "\"school\"", "0")), FeatureErrorReasons.InvalidProperty, 0 },
        { "priority 6", Collection(Site("KS-1", "\"school\"", "6")), FeatureErrorReasons.InvalidProperty, 0 },
        { "priority not a number", Collection(Site("KS-1", "\"school\"", "\"high\"")), FeatureErrorReasons.InvalidProperty, 0 },
        { "priority fractional", Collection(Site("KS-1", "\"school\"", "2.5")), FeatureErrorReasons.InvalidProperty, 0 },
        { "line site", Collection(Site("KS-1", "\"road\"", "3", "{\"type\":\"LineString\",\"coordinates\":[[114.55,37.55],[114.56,37.56]]}")), FeatureErrorReasons.WrongGeometryType, 0 },
        { "duplicate code", Collection(Site("KS-1", "\"school\"", "3"), Site("KS-1", "\"market\"", "3")), FeatureErrorReasons.DuplicateCode, 1 },
        { "invalid polygon", Collection(Site("KS-1", "\"school\"", "3", Bowtie)), FeatureErrorReasons.InvalidGeometry, 0 },
        { "outside China", Collection(Site("KS-1", "\"school\"", "3", "{\"type\":\"Point\",\"coordinates\":[-74.0,40.7]}")), FeatureErrorReasons.OutsideChina, 0 },
    };

    [Theory]
    [MemberData(nameof(InvalidKeySiteFiles))]
    public void RejectsInvalidKeySiteFiles(string description, string geojson, string reason, int featureIndex)
    {
        var result = GeoJsonImport.ParseKeySites(geojson, Datum.Wgs84);

        Assert.False(result.Ok, description);
        Assert.Empty(result.Features);
        Assert.Contains(result.Errors, e => e.Reason == reason && e.FeatureIndex == featureIndex);
    }

    [Theory]
    [InlineData("1", "checkpoint")]
    [InlineData("\"2\"", "government")]
    [InlineData("3", "station")]
    [InlineData("7", "religious")]
    [InlineData("8", "school")]
    [InlineData("9", "complex-security")]
    [InlineData("10", "traffic-artery")]
    [InlineData("\"School\"", "school")]
    [InlineData("\"hospital\"", "hospital")]
    [InlineData("\"intersection\"", "intersection")]
    [InlineData("\"scenic\"", "scenic")]
    [InlineData("\"other\"", "other")]
    public void NormalisesCategories(string category, string expected)
    {
        var result = GeoJsonImport.ParseKeySites(Collection(Site("KS-1", category, "5")), Datum.Wgs84);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        Assert.Equal(expected, result.Features[0].Category);
        Assert.Equal(5, result.Features[0].Priority);
    }

    [Fact]
    public void KeySitesAcceptPointsAndPolygonsAndConvertDatums()
    {
        var result = GeoJsonImport.ParseKeySites(
            Collection(Site("KS-1", "\"school\"", "5"), Site("KS-2", "\"market\"", "\"3\"", Rect(114.55, 37.55, 114.551, 37.551))),
            Datum.Bd09);

        Assert.True(result.Ok, string.Join("\n", result.Errors));
        Assert.IsType<Point>(result.Features[0].Geometry);
        Assert.IsType<Polygon>(result.Features[1].Geometry);
        Assert.Equal(3, result.Features[1].Priority);
        var expected = DatumConverter.ToWgs84(114.55, 37.55, Datum.Bd09);
        Assert.Equal(expected.Lon, result.Features[0].Geometry.Coordinate.X, 1e-12);
        Assert.Equal(expected.Lat, result.Features[0].Geometry.Coordinate.Y, 1e-12);
    }
}
