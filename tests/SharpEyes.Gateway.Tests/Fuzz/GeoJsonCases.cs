using System.Globalization;
using System.Text.Json.Nodes;
using CsCheck;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Gateway.Tests.Fuzz;

/// <summary>What an import must answer: accept, or (when known) an error with this reason at this feature index (-1: the file).</summary>
internal sealed record GeoExpectation(bool Accept, string? Reason = null, int? Index = null, string? Names = null)
{
    public static readonly GeoExpectation Valid = new(true);

    /// <summary>A byte-level mutation: rejected or not, every error must still be specific.</summary>
    public static readonly GeoExpectation Any = new(true, "*");

    public static GeoExpectation Error(string reason, int? index, string? names = null) => new(false, reason, index, names);
}

/// <summary>One GeoJSON import: grids or key sites, the text, how many features it holds, and what the importer must answer.</summary>
internal sealed record GeoCase(string Kind, bool Sites, string Json, int Features, GeoExpectation Expect)
{
    public override string ToString() => $"{Kind} ({(Sites ? "key sites" : "grids")}, {Features} features): {Json}";
}

/// <summary>
/// CsCheck generators of grid and key-site FeatureCollections and their mutations. Valid grid files follow one
/// fixed partition of county 130127 (the gateway's default county: four township strips, three villages in the
/// lower half of each, two grids in the lower quarter of each village), drawn as plain, densified, holed or split
/// (MultiPolygon) polygons whose holes and gaps stay clear of the children, in either orientation, any start vertex
/// and any feature order; so any valid file is valid against whatever earlier valid files imported, and a gateway
/// fed them in turn must accept every one. Mutations: self-intersections, unclosed and too short rings, coordinates
/// of the wrong type or nesting, NaN, infinities, out-of-range and swapped lon/lat, duplicate codes, missing and
/// mistyped properties, unknown parents and counties, children outside their parent, overlapping siblings, wrong
/// geometry types, empty and null geometries, enormous rings within the size limit, and byte-level damage.
/// </summary>
internal static class GeoJsonCases
{
    private const double X0 = 114.40;
    private const double Y0 = 37.50;
    private const double Width = 0.40;
    private const double Height = 0.20;
    private const double StripWidth = Width / 4;

    /// <summary>A feature: its code and level, its JSON, and which rectangle it stands on.</summary>
    private sealed record Feature(string Code, JsonObject Json);

    private static readonly Gen<string> Name = Gen.OneOf(
        Gen.String[Gen.Char['\u4e00', '\u9fa5'], 1, 8], Gen.String[Gen.Char.AlphaNumeric, 1, 20], Gen.OneOf("高邑县", "东门 🚨", "a\"b\\c", "  padded  "));

    /// <summary>How a rectangle is drawn: 0 plain, 1 densified, 2 with a hole in its upper part, 3 split into two polygons across its upper part.</summary>
    private static readonly Gen<(int Shape, bool Reverse, int Rotate, int Dense)> Drawing =
        Gen.Select(Gen.Int[0, 3], Gen.Bool, Gen.Int[0, 3], Gen.Int[1, 40]);

    /// <summary>A valid grid file: the county, some townships, some of their villages and grids.</summary>
    private static readonly Gen<(List<Feature> Features, int[] Order)> ValidGrids =
        Gen.Select(Gen.Bool.Array[4], Gen.Bool.Array[12], Gen.Bool.Array[24], Drawing.Array[41], Gen.Int.Array[41], Gen.Double.Unit.Array[24], Gen.Int[0, 3].Array[41])
            .SelectMany(x => Name.Array[41], (x, names) => Grids(x.Item1, x.Item2, x.Item3, x.Item4, x.Item6, x.Item7, names, x.Item5));

    /// <summary>A valid key-site file: one to six sites (codes from a pool of twenty), points and small areas inside the county.</summary>
    private static readonly Gen<(List<Feature> Features, int[] Order)> ValidSites =
        Gen.Select(Gen.Int[1, 6], Gen.Int[0, 19].Array[6], Gen.Int[0, 3].Array[6], Gen.Double.Unit.Array[12], Gen.Int.Array[6], Gen.Int[0, 5].Array[6], Gen.Int[1, 5].Array[6])
            .SelectMany(x => Name.Array[6], (x, names) => Sites(x.Item1, x.Item2, x.Item3, x.Item4, x.Item6, x.Item7, names, x.Item5));

    private static readonly Gen<GeoCase> Valid = Gen.Frequency(
        (3, ValidGrids.Select(v => Case("valid", false, v.Features, v.Order, GeoExpectation.Valid))),
        (1, ValidSites.Select(v => Case("valid", true, v.Features, v.Order, GeoExpectation.Valid))));

    /// <summary>A valid file of either kind, and a mutation to apply to its feature <c>Pick % count</c>.</summary>
    private static readonly Gen<(bool Sites, List<Feature> Features, int[] Order, int Pick)> Base = Gen.Frequency(
        (3, Gen.Select(ValidGrids, Gen.Int[0, 1000], (v, p) => (false, v.Features, v.Order, p))),
        (1, Gen.Select(ValidSites, Gen.Int[0, 1000], (v, p) => (true, v.Features, v.Order, p))));

    private static readonly string[] BadCoordinates =
    [
        "[\"114.5\",37.55]", "[114.5]", "[]", "null", "[true,false]", "{\"x\":114.5,\"y\":37.55}", "[[114.5,37.55]]", "[114.5,37.55,0,0,0]", "114.5",
        "[1e400,37.55]", "[-1e400,37.55]", "[114.5,1e-400]", "[200,37.55]", "[114.5,95]", "[37.55,114.5]", "[0,0]", "[-114.5,-37.55]", "[114.5,\"NaN\"]",
    ];

    private static readonly string[] BadGeometries =
    [
        """{"type":"Polygon","coordinates":[]}""", """{"type":"Polygon","coordinates":[[]]}""", """{"type":"Polygon"}""", """{"coordinates":[[[114.5,37.5],[114.6,37.5],[114.6,37.6],[114.5,37.5]]]}""",
        """{"type":"Polygon","coordinates":[[[114.5,37.5],[114.6,37.5],[114.5,37.5]]]}""", """{"type":"Polygon","coordinates":[[[114.5,37.5],[114.6,37.5],[114.6,37.6],[114.5,37.6]]]}""",
        """{"type":"Polygon","coordinates":[[[114.5,37.5],[114.6,37.6],[114.6,37.5],[114.5,37.6],[114.5,37.5]]]}""", """{"type":"Polygon","coordinates":[[[[114.5,37.5]]]]}""",
        """{"type":"MultiPolygon","coordinates":[[[114.5,37.5],[114.6,37.5],[114.6,37.6],[114.5,37.5]]]}""", """{"type":"Polygon","coordinates":"114.5,37.5"}""",
        """{"type":"Polygon","coordinates":{"0":[114.5,37.5]}}""", """{"type":"Circle","coordinates":[114.5,37.5],"radius":100}""", """{"type":null,"coordinates":[]}""",
        """{"type":"Polygon","coordinates":[[[114.5,37.5],[114.6,37.5],[114.6,37.6],[114.5,37.6],[114.5,37.5]],[[114.7,37.7],[114.8,37.7],[114.8,37.8],[114.7,37.7]]]}""",
        """{"type":"MultiPolygon","coordinates":[[[[114.5,37.5],[114.6,37.5],[114.6,37.6],[114.5,37.6],[114.5,37.5]]],[[[114.55,37.55],[114.65,37.55],[114.65,37.65],[114.55,37.65],[114.55,37.55]]]]}""",
        """{"type":"Polygon","coordinates":[[[114.5,37.5],[114.5,37.5],[114.5,37.5],[114.5,37.5]]]}""", """{"type":"Polygon","coordinates":[[[114.5,37.5],[114.6,37.5],[114.7,37.5],[114.5,37.5]]]}""",
        """{"type":"Polygon","coordinates":[[[114.5,37.5,1],[114.6,37.5],[114.6,37.6,"x"],[114.5,37.5]]]}""", """{"type":"Polygon","coordinates":[[[114.5,37.5],null,[114.6,37.6],[114.5,37.5]]]}""",
    ];

    /// <summary>Geometries with members the importer may ignore or refuse: either answer is specific.</summary>
    private static readonly string[] OddGeometries =
    [
        """{"type":"Polygon","coordinates":[[[114.5,37.5],[114.6,37.5],[114.6,37.6],[114.5,37.5]]],"crs":{"type":"name","properties":{"name":"EPSG:3857"}}}""",
        """{"type":"Polygon","coordinates":[[[114.5,37.5],[114.6,37.5],[114.6,37.6],[114.5,37.5]]],"bbox":[1,2]}""",
        """{"type":"Polygon","coordinates":[[[114.5,37.5],[114.6,37.5],[114.6,37.6],[114.5,37.5]]],"type":"Point"}""",
        """{"type":"Polygon","coordinates":[[[114.5,37.5],[114.6,37.5],[114.6,37.6],[114.5,37.5]]],"coordinates":[]}""",
    ];

    private static readonly string[] WrongTypes =
    [
        """{"type":"Point","coordinates":[114.5,37.55]}""", """{"type":"LineString","coordinates":[[114.5,37.55],[114.6,37.55]]}""",
        """{"type":"MultiPoint","coordinates":[[114.5,37.55]]}""", """{"type":"MultiLineString","coordinates":[[[114.5,37.55],[114.6,37.55]]]}""",
        """{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[114.5,37.55]}]}""", """{"type":"GeometryCollection","geometries":[]}""",
    ];

    private static readonly string[] BrokenFiles =
    [
        "", " ", "null", "[]", "{}", "\"FeatureCollection\"", """{"type":"FeatureCollection"}""", """{"type":"FeatureCollection","features":{}}""",
        """{"type":"FeatureCollection","features":null}""", """{"type":"Feature","properties":{},"geometry":null}""", """{"type":"featurecollection","features":[]}""",
        """{"type":"FeatureCollection","features":[null,1,"x",[]]}""", """{"type":"FeatureCollection","features":[{"type":"feature"}]}""",
        """{"type":"FeatureCollection","features":[{"type":"FeatureCollection","features":[]}]}""", "{\"type\":\"FeatureCollection\",\"features\":[", "NaN",
        """{"type":"FeatureCollection","features":[],"type":"Feature"}""", "\ufeff{\"type\":\"FeatureCollection\",\"features\":[]}",
    ];

    /// <summary>Every kind of import case, valid ones among them.</summary>
    public static readonly Gen<GeoCase> Any = Gen.Frequency(
        (24, Valid),
        (6, Gen.Select(Base, Gen.OneOf(BadCoordinates), (b, c) => Mutate(b, "bad-coordinate", (f, i) => ReplaceCoordinate(f, c), i => Coordinate(c, i)))),
        (6, Gen.Select(Base, Gen.OneOf(BadGeometries), (b, g) => Mutate(b, "bad-geometry", (f, _) => f.Json["geometry"] = JsonNode.Parse(g),
            i => GeoExpectation.Error(FeatureErrorReasons.InvalidGeometry, i)))),
        (3, Gen.Select(Base, Gen.OneOf(OddGeometries), (b, g) => Mutate(b, "odd-geometry", (f, _) => f.Json["geometry"] = JsonNode.Parse(g), _ => GeoExpectation.Any))),
        (3, Gen.Select(Base, Gen.OneOf(WrongTypes), (b, g) => Mutate(b, "wrong-type", (f, _) => f.Json["geometry"] = JsonNode.Parse(g),
            i => b.Sites && g.Contains("\"Point\"", StringComparison.Ordinal) ? GeoExpectation.Any : GeoExpectation.Error(FeatureErrorReasons.WrongGeometryType, i)))),
        (3, Base.Select(b => Mutate(b, "null-geometry", (f, _) => f.Json["geometry"] = null, i => GeoExpectation.Error(FeatureErrorReasons.InvalidGeometry, i)))),
        (6, Gen.Select(Base, Gen.OneOf("code", "name", "category", "priority"), Gen.Int[0, 2], (b, key, how) => MutateProperty(b, key, how))),
        (3, Gen.Select(Base, Gen.OneOf("1.5", "-0.1", "\"0.5\"", "true", "[]", "1e400"), (b, t) => b.Sites ? Valid1(b) : Mutate(b, "coverage-target",
            (f, _) => f.Json["properties"]!["coverage_target"] = JsonNode.Parse(t), i => GeoExpectation.Error(FeatureErrorReasons.InvalidProperty, i, "coverage_target")))),
        (6, Base.Select(Duplicate)),
        (3, Gen.Select(Base, Gen.OneOf("1301271", "13012", "13012A", "130127100001000000000", "０１", "-130127", "130127.5"), (b, c) => b.Sites ? Valid1(b)
            : Mutate(b, "bad-code", (f, _) => f.Json["properties"]!["code"] = c, i => GeoExpectation.Error(FeatureErrorReasons.InvalidProperty, i, "code")))),
        (6, Gen.Select(Gen.Int[0, 3], Gen.Int[0, 3], Name, (kind, strip, name) => Structural(kind, strip, name))),
        (1, Gen.Select(Gen.Frequency((6, Gen.Int[1_000, 20_000]), (1, Gen.Int[20_000, 100_000])), Gen.Bool, (n, sites) => Enormous(n, sites))),
        (3, Gen.Select(Gen.Bool, Gen.OneOf(BrokenFiles), (sites, json) => new GeoCase("broken-file", sites, json, 0, GeoExpectation.Any with { Accept = json.Contains("[]", StringComparison.Ordinal) }))),
        (9, Gen.Select(Base, Gen.Int[0, 3], Gen.Int.Uniform.Array[4], (b, how, r) => Damage(b, how, r))));

    private static GeoCase Valid1((bool Sites, List<Feature> Features, int[] Order, int Pick) b) => Case("valid", b.Sites, b.Features, b.Order, GeoExpectation.Valid);

    private static (List<Feature>, int[]) Grids(bool[] townships, bool[] villages, bool[] grids, (int Shape, bool Reverse, int Rotate, int Dense)[] drawings,
        double[] targets, int[] codeStyles, string[] names, int[] order)
    {
        var features = new List<Feature>();
        var d = 0;
        Feature Add(string code, JsonNode geometry, double? target = null)
        {
            var properties = new JsonObject
            {
                ["code"] = codeStyles[d] == 0 && code.Length <= 15 ? JsonValue.Create(ulong.Parse(code, CultureInfo.InvariantCulture)) : JsonValue.Create(codeStyles[d] == 1 ? $" {code} " : code),
                ["name"] = names[d],
            };
            if (target is { } t)
            {
                properties["coverage_target"] = t;
            }

            if (codeStyles[d] == 3)
            {
                properties["x-source"] = "survey 2026";
            }

            var feature = new Feature(code, new JsonObject { ["type"] = "Feature", ["properties"] = properties, ["geometry"] = geometry });
            features.Add(feature);
            d++;
            return feature;
        }

        Add("130127", Rectangle(X0, Y0, X0 + Width, Y0 + Height, drawings[d] with { Shape = drawings[d].Shape % 2 }));
        for (var k = 0; k < 4; k++)
        {
            if (!townships[k])
            {
                continue;
            }

            var x = X0 + (k * StripWidth);
            Add($"130127{100 + k}", Rectangle(x, Y0, x + StripWidth, Y0 + Height, drawings[d]));
            for (var j = 0; j < 3; j++)
            {
                if (!villages[(k * 3) + j])
                {
                    continue;
                }

                var vx = x + (j * StripWidth / 3);
                var village = $"130127{100 + k}{j + 1:D3}";
                Add(village, Rectangle(vx, Y0, vx + (StripWidth / 3), Y0 + (Height / 2), drawings[d]));
                for (var g = 0; g < 2; g++)
                {
                    var index = (((k * 3) + j) * 2 + g) % 24;
                    if (grids[index])
                    {
                        var gx = vx + (g * StripWidth / 6);
                        Add($"{village}{g + 1:D4}", Rectangle(gx, Y0, gx + (StripWidth / 6), Y0 + (Height / 4), drawings[d]), targets[index] < 0.3 ? targets[index] / 0.3 : null);
                    }
                }
            }
        }

        return (features, order);
    }

    private static (List<Feature>, int[]) Sites(int count, int[] codes, int[] shapes, double[] positions, int[] categories, int[] priorities, string[] names, int[] order)
    {
        var features = new List<Feature>();
        foreach (var (code, i) in codes.Distinct().Take(count).Select((c, i) => (c, i)))
        {
            var lon = X0 + (positions[2 * i] * Width * 0.9) + 0.01;
            var lat = Y0 + (positions[(2 * i) + 1] * Height * 0.9) + 0.01;
            var geometry = shapes[i] == 0
                ? new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray(lon, lat) }
                : Rectangle(lon, lat, lon + 0.005, lat + 0.005, (shapes[i], i % 2 == 0, i, 3));
            JsonNode category = categories[i] switch
            {
                0 => "school",
                1 => "hospital",
                2 => 3,
                3 => "7",
                4 => "Market",
                _ => "checkpoint",
            };
            JsonNode priority = i % 3 == 0 ? JsonValue.Create(priorities[i].ToString(CultureInfo.InvariantCulture)) : priorities[i];
            features.Add(new Feature($"KS-{code:D3}", new JsonObject
            {
                ["type"] = "Feature",
                ["properties"] = new JsonObject { ["code"] = $"KS-{code:D3}", ["name"] = names[i], ["category"] = category, ["priority"] = priority },
                ["geometry"] = geometry,
            }));
        }

        return (features, order);
    }

    /// <summary>
    /// A rectangle drawn one of four ways; the hole and the gap lie in its upper quarter band (above the half where
    /// children sit) and inside it, so a drawn shape always covers its children and never reaches a neighbour.
    /// </summary>
    private static JsonObject Rectangle(double x0, double y0, double x1, double y1, (int Shape, bool Reverse, int Rotate, int Dense) d)
    {
        var h = y1 - y0;
        var w = x1 - x0;
        JsonArray Ring(double a0, double b0, double a1, double b1, int dense)
        {
            (double, double)[] corners = [(a0, b0), (a1, b0), (a1, b1), (a0, b1)];
            var points = new List<(double X, double Y)>();
            for (var c = 0; c < 4; c++)
            {
                var (p, q) = (corners[c], corners[(c + 1) % 4]);
                for (var s = 0; s < dense; s++)
                {
                    points.Add((p.Item1 + ((q.Item1 - p.Item1) * s / dense), p.Item2 + ((q.Item2 - p.Item2) * s / dense)));
                }
            }

            if (d.Reverse)
            {
                points.Reverse();
            }

            var rotate = d.Rotate % points.Count;
            points = [.. points.Skip(rotate), .. points.Take(rotate)];
            points.Add(points[0]);
            return [.. points.Select(p => (JsonNode)new JsonArray(p.X, p.Y))];
        }

        return d.Shape switch
        {
            1 => Polygon(Ring(x0, y0, x1, y1, d.Dense)),
            2 => Polygon(Ring(x0, y0, x1, y1, 1), Ring(x0 + (0.2 * w), y0 + (0.75 * h), x0 + (0.8 * w), y0 + (0.9 * h), 1)),
            3 => new JsonObject
            {
                ["type"] = "MultiPolygon",
                ["coordinates"] = new JsonArray(new JsonArray(Ring(x0, y0, x1, y0 + (0.8 * h), 1)), new JsonArray(Ring(x0, y0 + (0.85 * h), x1, y1, 1))),
            },
            _ => Polygon(Ring(x0, y0, x1, y1, 1)),
        };
    }

    private static JsonObject Polygon(params JsonArray[] rings) => new() { ["type"] = "Polygon", ["coordinates"] = new JsonArray([.. rings]) };

    /// <summary>The file in its generated order (the parents need not come first), and its case.</summary>
    private static GeoCase Case(string kind, bool sites, List<Feature> features, int[] order, GeoExpectation expect)
    {
        var ordered = features.Select((f, i) => (f, Key: order[i % order.Length])).OrderBy(x => x.Key).Select(x => x.f).ToList();
        var index = expect.Index is { } at && at >= 0 && at < features.Count ? ordered.IndexOf(features[at]) : expect.Index;
        var json = new JsonObject { ["type"] = "FeatureCollection", ["features"] = new JsonArray([.. ordered.Select(f => (JsonNode)f.Json.DeepClone())]) };
        return new GeoCase(kind, sites, json.ToJsonString(), features.Count, expect with { Index = index });
    }

    /// <summary>Applies <paramref name="change"/> to one feature; the expectation names that feature's index (before ordering).</summary>
    private static GeoCase Mutate((bool Sites, List<Feature> Features, int[] Order, int Pick) b, string kind, Action<Feature, int> change, Func<int, GeoExpectation> expect)
    {
        var at = b.Pick % b.Features.Count;
        change(b.Features[at], at);
        return Case(kind, b.Sites, b.Features, b.Order, expect(at));
    }

    private static void ReplaceCoordinate(Feature f, string coordinate)
    {
        var geometry = f.Json["geometry"]!.AsObject();
        var node = geometry["coordinates"]!;
        while (node is JsonArray { Count: > 0 } a && a[0] is JsonArray)
        {
            node = a[0]!;
            if (node is JsonArray inner && inner.Count > 0 && inner[0] is not JsonArray)
            {
                break;
            }
        }

        // node is now a position [lon, lat] (a Point's coordinates, or a ring's first vertex).
        var parent = node.Parent;
        if (parent is JsonArray ring)
        {
            ring[0] = JsonNode.Parse(coordinate);
        }
        else
        {
            geometry["coordinates"] = JsonNode.Parse(coordinate);
        }
    }

    /// <summary>A vertex replaced by a bad one: outside China, or not a position at all (a ring whose first vertex changed is also not closed).</summary>
    private static GeoExpectation Coordinate(string coordinate, int index) => coordinate switch
    {
        "[200,37.55]" or "[114.5,95]" or "[37.55,114.5]" or "[0,0]" or "[-114.5,-37.55]" => new GeoExpectation(false, "outside-china|invalid-geometry", index),
        "[1e400,37.55]" or "[-1e400,37.55]" => new GeoExpectation(false, "outside-china|invalid-geometry", index),
        "[114.5,37.55,0,0,0]" => GeoExpectation.Any, // a point may carry more ordinates
        _ => new GeoExpectation(false, "invalid-geometry|outside-china", index),
    };

    private static GeoCase MutateProperty((bool Sites, List<Feature> Features, int[] Order, int Pick) b, string key, int how)
    {
        if (!b.Sites && key is "category" or "priority")
        {
            key = "name";
        }

        if (b.Sites && key == "code" && how == 2)
        {
            how = 0; // any string is a key site's code
        }

        return Mutate(b, $"property {key} {how}", (f, _) =>
        {
            var properties = f.Json["properties"]!.AsObject();
            switch (how)
            {
                case 0:
                    properties.Remove(key);
                    break;
                case 1:
                    properties[key] = key == "name" || key == "code" ? "   " : null;
                    break;
                default:
                    properties[key] = key switch
                    {
                        "priority" => 9,
                        "category" => "mall",
                        "code" => new JsonObject { ["digits"] = "130127" },
                        _ => new JsonArray(1, 2),
                    };
                    break;
            }
        }, i => GeoExpectation.Error(how == 2 ? FeatureErrorReasons.InvalidProperty : FeatureErrorReasons.MissingProperty, i, key));
    }

    /// <summary>A feature repeated later in the file: the second copy is a duplicate code.</summary>
    private static GeoCase Duplicate((bool Sites, List<Feature> Features, int[] Order, int Pick) b)
    {
        var copy = b.Features[b.Pick % b.Features.Count];
        var features = b.Features.Append(new Feature(copy.Code, (JsonObject)copy.Json.DeepClone())).ToList();
        var ordered = new JsonArray([.. features.Select(f => (JsonNode)f.Json.DeepClone())]); // in generation order: the copy comes last
        var json = new JsonObject { ["type"] = "FeatureCollection", ["features"] = ordered }.ToJsonString();
        return new GeoCase("duplicate-code", b.Sites, json, features.Count, GeoExpectation.Error(FeatureErrorReasons.DuplicateCode, features.Count - 1));
    }

    /// <summary>Hierarchy errors: an unknown county, a village whose township exists nowhere, a township outside the county, two overlapping townships.</summary>
    private static GeoCase Structural(int kind, int strip, string name)
    {
        var county = Feature0("130127", Rectangle(X0, Y0, X0 + Width, Y0 + Height, (0, false, 0, 1)), name);
        var x = X0 + (Math.Min(strip, 2) * StripWidth);
        var features = kind switch
        {
            0 => [Feature0("110101", Rectangle(116.40, 39.90, 116.45, 39.95, (0, false, 0, 1)), name)],
            1 => [county, Feature0("130127199001", Rectangle(X0, Y0, X0 + 0.01, Y0 + 0.01, (0, false, 0, 1)), name)],
            2 => [county, Feature0($"130127{100 + strip}", Rectangle(X0 + (strip * StripWidth), Y0 - 0.05, X0 + ((strip + 1) * StripWidth), Y0 + Height, (0, false, 0, 1)), name)],
            _ => new List<Feature>
            {
                county,
                Feature0($"130127{100 + Math.Min(strip, 2)}", Rectangle(x, Y0, x + (1.5 * StripWidth), Y0 + Height, (0, false, 0, 1)), name),
                Feature0($"130127{101 + Math.Min(strip, 2)}", Rectangle(x + StripWidth, Y0, x + (2 * StripWidth), Y0 + Height, (0, false, 0, 1)), name),
            },
        };
        var (reason, index) = kind switch
        {
            0 => (FeatureErrorReasons.UnknownCounty, 0),
            1 => (FeatureErrorReasons.UnknownParent, 1),
            2 => (FeatureErrorReasons.OutsideParent, 1),
            _ => (FeatureErrorReasons.Overlap, 1),
        };
        var json = new JsonObject { ["type"] = "FeatureCollection", ["features"] = new JsonArray([.. features.Select(f => (JsonNode)f.Json)]) }.ToJsonString();
        return new GeoCase("structure " + reason, false, json, features.Count, GeoExpectation.Error(reason, index));
    }

    private static Feature Feature0(string code, JsonNode geometry, string name) =>
        new(code, new JsonObject { ["type"] = "Feature", ["properties"] = new JsonObject { ["code"] = code, ["name"] = name }, ["geometry"] = geometry });

    /// <summary>A county (or a key site) drawn with <paramref name="vertices"/> vertices on its outline: megabytes of coordinates, still valid.</summary>
    private static GeoCase Enormous(int vertices, bool sites)
    {
        var feature = sites
            ? new Feature("KS-big", new JsonObject
            {
                ["type"] = "Feature",
                ["properties"] = new JsonObject { ["code"] = "KS-big", ["name"] = "big", ["category"] = "square", ["priority"] = 3 },
                ["geometry"] = Rectangle(X0 + 0.01, Y0 + 0.01, X0 + 0.02, Y0 + 0.02, (1, false, 0, vertices / 4)),
            })
            : Feature0("130127", Rectangle(X0, Y0, X0 + Width, Y0 + Height, (1, false, 0, vertices / 4)), "高邑县");
        var json = new JsonObject { ["type"] = "FeatureCollection", ["features"] = new JsonArray(feature.Json) }.ToJsonString();
        return new GeoCase($"enormous {vertices / 4 * 4} vertices", sites, json, 1, GeoExpectation.Valid);
    }

    /// <summary>Text-level damage: a truncation, a deleted or inserted character, or a character replaced.</summary>
    private static GeoCase Damage((bool Sites, List<Feature> Features, int[] Order, int Pick) b, int how, int[] r)
    {
        var json = Case("valid", b.Sites, b.Features, b.Order, GeoExpectation.Valid).Json;
        int At(int k) => (int)((uint)r[k] % (uint)json.Length);
        const string Alphabet = "{}[],:\"0123456789.-eE nulltrue\\";
        var c = Alphabet[(int)((uint)r[1] % (uint)Alphabet.Length)];
        json = how switch
        {
            0 => json[..At(0)],
            1 => json.Remove(At(0), 1),
            2 => json.Insert(At(0), c.ToString()),
            _ => json.Remove(At(0), 1).Insert(At(0), c.ToString()),
        };
        return new GeoCase("damaged", b.Sites, json, b.Features.Count, GeoExpectation.Any);
    }
}
