using System.Globalization;
using System.Text.Json;
using NetTopologySuite.Geometries;
using NetTopologySuite.Geometries.Prepared;
using NetTopologySuite.IO.Converters;
using NetTopologySuite.Index.Strtree;
using NetTopologySuite.Operation.Valid;
using SharpEyes.Geo.Datums;
using SharpEyes.Geo.Projection;

namespace SharpEyes.Geo.Regions;

/// <summary>
/// Validating import of grid and key-site GeoJSON FeatureCollections. Every problem is reported with the index of
/// the offending feature and a machine-readable reason; a file with any problem imports nothing.
/// </summary>
public static class GeoJsonImport
{
    /// <summary>Overlaps up to this many square metres are digitising noise, not an error.</summary>
    public const double OverlapToleranceM2 = 1.0;

    /// <summary>Overlaps up to this fraction of the smaller feature's area are noise, not an error (0.01 %).</summary>
    public const double OverlapToleranceFraction = 1e-4;

    /// <summary>A child may stick out of its parent by at most this fraction of its own area (0.5 %).</summary>
    public const double OutsideParentToleranceFraction = 0.005;

    private static readonly GeometryFactory s_factory = new(new PrecisionModel(), 4326);

    private static readonly JsonSerializerOptions s_jsonOptions = CreateJsonOptions();

    /// <summary>
    /// Parses and validates a grid FeatureCollection (properties <c>code</c>, <c>name</c>, optional <c>coverage_target</c> 0..1; Polygon or MultiPolygon
    /// geometry in <paramref name="datum"/>, returned in WGS-84). Parents must be in <paramref name="existing"/> or in
    /// the file; counties must be in <paramref name="knownCountyCodes"/>. A code present both in the file and in
    /// <paramref name="existing"/> is a replacement: the file's version is the one checked.
    /// </summary>
    public static ImportResult<GridFeature> ParseGrids(
        string geojson,
        Datum datum,
        IReadOnlyCollection<GridFeature> existing,
        IReadOnlySet<string> knownCountyCodes)
    {
        ArgumentNullException.ThrowIfNull(geojson);
        ArgumentNullException.ThrowIfNull(existing);
        ArgumentNullException.ThrowIfNull(knownCountyCodes);

        var errors = new List<FeatureError>();
        var codesInFile = new HashSet<string>(StringComparer.Ordinal);
        var parsed = ParseEach(geojson, errors, (element, index) => ParseGridFeature(element, index, datum, errors, codesInFile));
        if (parsed is null)
        {
            return new ImportResult<GridFeature>([], errors);
        }

        var fileByCode = parsed.ToDictionary(p => p.Feature.Code, p => p.Feature, StringComparer.Ordinal);
        var existingByCode = new Dictionary<string, GridFeature>(StringComparer.Ordinal);
        foreach (var feature in existing)
        {
            existingByCode[feature.Code] = feature;
        }

        CheckParents(parsed, fileByCode, existingByCode, codesInFile, knownCountyCodes, errors);
        CheckOverlaps(parsed, existing, fileByCode, errors);

        errors.Sort((a, b) => a.FeatureIndex.CompareTo(b.FeatureIndex));
        return errors.Count > 0
            ? new ImportResult<GridFeature>([], errors)
            : new ImportResult<GridFeature>(parsed.Select(p => p.Feature).ToList(), errors);
    }

    /// <summary>
    /// Parses and validates a key-site FeatureCollection (properties <c>code</c>, <c>name</c>, <c>category</c>
    /// (name or GB/T 28181 PositionType 1–10), <c>priority</c> (1..5, 5 most important); Point, Polygon or
    /// MultiPolygon geometry in <paramref name="datum"/>, returned in WGS-84).
    /// </summary>
    public static ImportResult<KeySiteFeature> ParseKeySites(string geojson, Datum datum)
    {
        ArgumentNullException.ThrowIfNull(geojson);
        var errors = new List<FeatureError>();
        var codesInFile = new HashSet<string>(StringComparer.Ordinal);
        var parsed = ParseEach(geojson, errors, (element, index) => ParseKeySiteFeature(element, index, datum, errors, codesInFile))
            ?.Select(p => p.Feature).ToList();
        if (parsed is null)
        {
            return new ImportResult<KeySiteFeature>([], errors);
        }

        return errors.Count > 0
            ? new ImportResult<KeySiteFeature>([], errors)
            : new ImportResult<KeySiteFeature>(parsed, errors);
    }

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var options = new JsonSerializerOptions();
        options.Converters.Add(new GeoJsonConverterFactory(s_factory));
        return options;
    }

    /// <summary>
    /// Opens the FeatureCollection and parses each feature with <paramref name="parse"/> (which records its own errors);
    /// null when the file itself could not be opened.
    /// </summary>
    private static List<(int Index, T Feature)>? ParseEach<T>(string geojson, List<FeatureError> errors, Func<JsonElement, int, T?> parse)
        where T : class
    {
        if (!TryOpenFeatures(geojson, errors, out var document, out var features))
        {
            return null;
        }

        var parsed = new List<(int Index, T Feature)>();
        using (document)
        {
            int index = 0;
            foreach (var element in features)
            {
                if (parse(element, index) is { } feature)
                {
                    parsed.Add((index, feature));
                }

                index++;
            }
        }

        return parsed;
    }

    private static bool TryOpenFeatures(
        string geojson,
        List<FeatureError> errors,
        out JsonDocument? document,
        out JsonElement.ArrayEnumerator features)
    {
        features = default;
        try
        {
            document = JsonDocument.Parse(geojson);
        }
        catch (JsonException ex)
        {
            document = null;
            errors.Add(new FeatureError(-1, null, FeatureErrorReasons.InvalidJson, $"Not valid JSON: {ex.Message}"));
            return false;
        }

        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("type", out var type)
            || type.ValueKind != JsonValueKind.String
            || type.GetString() != "FeatureCollection"
            || !root.TryGetProperty("features", out var array)
            || array.ValueKind != JsonValueKind.Array)
        {
            document.Dispose();
            document = null;
            errors.Add(new FeatureError(
                -1,
                null,
                FeatureErrorReasons.NotAFeatureCollection,
                "The document is not a GeoJSON FeatureCollection with a 'features' array."));
            return false;
        }

        features = array.EnumerateArray();
        return true;
    }

    private static GridFeature? ParseGridFeature(
        JsonElement element,
        int index,
        Datum datum,
        List<FeatureError> errors,
        HashSet<string> codesInFile)
    {
        if (!IsFeature(element, index, errors))
        {
            return null;
        }

        var properties = element.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        string? code = ReadCode(properties, index, errors);
        string? name = ReadRequiredString(properties, "name", index, code, errors);
        int? level = null;
        if (code is not null)
        {
            level = GridFeature.LevelOf(code);
            if (level is null)
            {
                errors.Add(new FeatureError(
                    index,
                    code,
                    FeatureErrorReasons.InvalidProperty,
                    $"Property 'code' must be 6 (county), 9 (township), 12 (village) or 13–20 (grid) digits; got '{code}'."));
            }
            else if (!codesInFile.Add(code))
            {
                errors.Add(new FeatureError(
                    index,
                    code,
                    FeatureErrorReasons.DuplicateCode,
                    $"Code '{code}' appears more than once in the file."));
                level = null;
            }
        }

        double? target = ReadCoverageTarget(properties, index, code, errors);
        var geometry = ReadGeometry(element, index, code, datum, areal: true, errors);
        if (code is null || name is null || level is null || geometry is null)
        {
            return null;
        }

        return new GridFeature(code, name, level.Value, GridFeature.ParentCodeOf(code), geometry) { CoverageTarget = target };
    }

    private static KeySiteFeature? ParseKeySiteFeature(
        JsonElement element,
        int index,
        Datum datum,
        List<FeatureError> errors,
        HashSet<string> codesInFile)
    {
        if (!IsFeature(element, index, errors))
        {
            return null;
        }

        var properties = element.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        string? code = ReadRequiredString(properties, "code", index, null, errors);
        if (code is not null && !codesInFile.Add(code))
        {
            errors.Add(new FeatureError(index, code, FeatureErrorReasons.DuplicateCode, $"Code '{code}' appears more than once in the file."));
            code = null;
        }

        string? name = ReadRequiredString(properties, "name", index, code, errors);
        string? category = ReadCategory(properties, index, code, errors);
        int? priority = ReadPriority(properties, index, code, errors);
        var geometry = ReadGeometry(element, index, code, datum, areal: false, errors);
        if (code is null || name is null || category is null || priority is null || geometry is null)
        {
            return null;
        }

        return new KeySiteFeature(code, name, category, priority.Value, geometry);
    }

    private static bool IsFeature(JsonElement element, int index, List<FeatureError> errors)
    {
        if (element.ValueKind == JsonValueKind.Object
            && element.TryGetProperty("type", out var type)
            && type.ValueKind == JsonValueKind.String
            && type.GetString() == "Feature")
        {
            return true;
        }

        errors.Add(new FeatureError(
            index,
            null,
            FeatureErrorReasons.NotAFeatureCollection,
            $"features[{index}] is not a GeoJSON Feature object."));
        return false;
    }

    private static string? ReadCode(JsonElement properties, int index, List<FeatureError> errors)
    {
        if (properties.ValueKind != JsonValueKind.Object
            || !properties.TryGetProperty("code", out var value)
            || value.ValueKind == JsonValueKind.Null)
        {
            errors.Add(new FeatureError(index, null, FeatureErrorReasons.MissingProperty, "Property 'code' is missing."));
            return null;
        }

        string? code = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()?.Trim(),
            JsonValueKind.Number when value.TryGetUInt64(out ulong n) => n.ToString(CultureInfo.InvariantCulture),
            _ => null,
        };
        if (string.IsNullOrEmpty(code))
        {
            errors.Add(new FeatureError(
                index,
                null,
                value.ValueKind == JsonValueKind.String ? FeatureErrorReasons.MissingProperty : FeatureErrorReasons.InvalidProperty,
                $"Property 'code' must be a non-empty string of digits; got {value.GetRawText()}."));
            return null;
        }

        return code;
    }

    private static string? ReadRequiredString(JsonElement properties, string key, int index, string? code, List<FeatureError> errors)
    {
        if (properties.ValueKind != JsonValueKind.Object
            || !properties.TryGetProperty(key, out var value)
            || value.ValueKind == JsonValueKind.Null
            || (value.ValueKind == JsonValueKind.String && string.IsNullOrWhiteSpace(value.GetString())))
        {
            errors.Add(new FeatureError(index, code, FeatureErrorReasons.MissingProperty, $"Property '{key}' is missing or empty."));
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            errors.Add(new FeatureError(index, code, FeatureErrorReasons.InvalidProperty, $"Property '{key}' must be a string; got {value.GetRawText()}."));
            return null;
        }

        return value.GetString()!.Trim();
    }

    private static string? ReadCategory(JsonElement properties, int index, string? code, List<FeatureError> errors)
    {
        if (properties.ValueKind != JsonValueKind.Object
            || !properties.TryGetProperty("category", out var value)
            || value.ValueKind == JsonValueKind.Null)
        {
            errors.Add(new FeatureError(index, code, FeatureErrorReasons.MissingProperty, "Property 'category' is missing."));
            return null;
        }

        string? raw = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => value.GetRawText(),
            _ => null,
        };
        string? category = KeySiteCategories.Normalize(raw);
        if (category is null)
        {
            errors.Add(new FeatureError(
                index,
                code,
                FeatureErrorReasons.InvalidProperty,
                $"Property 'category' {value.GetRawText()} is not a GB/T 28181 PositionType 1–10 or one of: {string.Join(", ", KeySiteCategories.All.Order(StringComparer.Ordinal))}."));
        }

        return category;
    }

    /// <summary>Optional <c>coverage_target</c>: a number 0..1 (the covered-area fraction below which the grid is a gap).</summary>
    private static double? ReadCoverageTarget(JsonElement properties, int index, string? code, List<FeatureError> errors)
    {
        if (properties.ValueKind != JsonValueKind.Object
            || !properties.TryGetProperty("coverage_target", out var value)
            || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double target) && target >= 0 && target <= 1)
        {
            return target;
        }

        errors.Add(new FeatureError(
            index,
            code,
            FeatureErrorReasons.InvalidProperty,
            $"Property 'coverage_target' must be a number 0..1 (a covered-area fraction); got {value.GetRawText()}."));
        return null;
    }

    private static int? ReadPriority(JsonElement properties, int index, string? code, List<FeatureError> errors)
    {
        if (properties.ValueKind != JsonValueKind.Object
            || !properties.TryGetProperty("priority", out var value)
            || value.ValueKind == JsonValueKind.Null)
        {
            errors.Add(new FeatureError(index, code, FeatureErrorReasons.MissingProperty, "Property 'priority' is missing."));
            return null;
        }

        int priority = 0;
        bool ok = value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetInt32(out priority),
            JsonValueKind.String => int.TryParse(value.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out priority),
            _ => false,
        };
        if (!ok || priority < KeySiteFeature.MinPriority || priority > KeySiteFeature.MaxPriority)
        {
            errors.Add(new FeatureError(
                index,
                code,
                FeatureErrorReasons.InvalidProperty,
                $"Property 'priority' must be an integer 1..5 (5 = most important); got {value.GetRawText()}."));
            return null;
        }

        return priority;
    }

    private static Geometry? ReadGeometry(
        JsonElement element,
        int index,
        string? code,
        Datum datum,
        bool areal,
        List<FeatureError> errors)
    {
        if (!element.TryGetProperty("geometry", out var geometryElement) || geometryElement.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FeatureError(index, code, FeatureErrorReasons.InvalidGeometry, "The feature has no geometry."));
            return null;
        }

        Geometry? geometry;
        try
        {
            geometry = geometryElement.Deserialize<Geometry>(s_jsonOptions);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException or NotSupportedException or IndexOutOfRangeException)
        {
            errors.Add(new FeatureError(index, code, FeatureErrorReasons.InvalidGeometry, $"The geometry cannot be read: {ex.Message}"));
            return null;
        }

        if (geometry is null)
        {
            errors.Add(new FeatureError(index, code, FeatureErrorReasons.InvalidGeometry, "The feature has no geometry."));
            return null;
        }

        bool typeOk = geometry is Polygon or MultiPolygon || (!areal && geometry is Point);
        if (!typeOk)
        {
            string allowed = areal ? "Polygon or MultiPolygon" : "Point, Polygon or MultiPolygon";
            errors.Add(new FeatureError(index, code, FeatureErrorReasons.WrongGeometryType, $"Geometry is {geometry.GeometryType}; expected {allowed}."));
            return null;
        }

        if (geometry.IsEmpty)
        {
            errors.Add(new FeatureError(index, code, FeatureErrorReasons.InvalidGeometry, "The geometry is empty."));
            return null;
        }

        foreach (var c in geometry.Coordinates)
        {
            if (!double.IsFinite(c.X) || !double.IsFinite(c.Y) || DatumConverter.IsOutsideChina(c.X, c.Y))
            {
                errors.Add(new FeatureError(
                    index,
                    code,
                    FeatureErrorReasons.OutsideChina,
                    $"Coordinate ({c.X.ToString(CultureInfo.InvariantCulture)}, {c.Y.ToString(CultureInfo.InvariantCulture)}) is outside China "
                    + "(lon 72.004..137.8347, lat 0.8293..55.8271); coordinates must be [longitude, latitude]."));
                return null;
            }
        }

        var wgs84 = DatumConverter.ToWgs84(geometry, datum);
        var validation = new IsValidOp(wgs84).ValidationError;
        if (validation is not null)
        {
            string at = validation.Coordinate is { } c
                ? $" at ({c.X.ToString(CultureInfo.InvariantCulture)}, {c.Y.ToString(CultureInfo.InvariantCulture)})"
                : string.Empty;
            errors.Add(new FeatureError(index, code, FeatureErrorReasons.InvalidGeometry, $"Invalid geometry: {validation.Message}{at}."));
            return null;
        }

        return wgs84;
    }

    private static void CheckParents(
        List<(int Index, GridFeature Feature)> parsed,
        Dictionary<string, GridFeature> fileByCode,
        Dictionary<string, GridFeature> existingByCode,
        HashSet<string> codesInFile,
        IReadOnlySet<string> knownCountyCodes,
        List<FeatureError> errors)
    {
        var preparedParents = new Dictionary<string, IPreparedGeometry>(StringComparer.Ordinal);
        foreach (var (index, feature) in parsed)
        {
            if (feature.ParentCode is null)
            {
                if (!knownCountyCodes.Contains(feature.Code))
                {
                    errors.Add(new FeatureError(
                        index,
                        feature.Code,
                        FeatureErrorReasons.UnknownCounty,
                        $"County code '{feature.Code}' is not one of the counties this gateway serves."));
                }

                continue;
            }

            if (!fileByCode.TryGetValue(feature.ParentCode, out var parent))
            {
                if (codesInFile.Contains(feature.ParentCode))
                {
                    continue; // The parent is in the file but broken; its own error says so.
                }

                if (!existingByCode.TryGetValue(feature.ParentCode, out parent))
                {
                    errors.Add(new FeatureError(
                        index,
                        feature.Code,
                        FeatureErrorReasons.UnknownParent,
                        $"Parent '{feature.ParentCode}' of '{feature.Code}' is neither in the file nor already imported."));
                    continue;
                }
            }

            if (!preparedParents.TryGetValue(parent.Code, out var prepared))
            {
                prepared = PreparedGeometryFactory.Prepare(parent.Geometry);
                preparedParents[parent.Code] = prepared;
            }

            if (prepared.Covers(feature.Geometry))
            {
                continue;
            }

            var projection = LocalProjection.CenteredOn(feature.Geometry.EnvelopeInternal);
            double childArea = projection.AreaM2(feature.Geometry);
            double outsideArea = projection.AreaM2(feature.Geometry.Difference(parent.Geometry));
            if (outsideArea > OutsideParentToleranceFraction * childArea)
            {
                errors.Add(new FeatureError(
                    index,
                    feature.Code,
                    FeatureErrorReasons.OutsideParent,
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"'{feature.Code}' lies {outsideArea:F1} m² ({100 * outsideArea / childArea:F2} %) outside its parent '{parent.Code}'; at most {100 * OutsideParentToleranceFraction} % is tolerated.")));
            }
        }
    }

    private static void CheckOverlaps(
        List<(int Index, GridFeature Feature)> parsed,
        IReadOnlyCollection<GridFeature> existing,
        Dictionary<string, GridFeature> fileByCode,
        List<FeatureError> errors)
    {
        // Candidates per level: the file's features, then existing features not replaced by the file.
        var candidates = new List<(int FileIndex, GridFeature Feature)>(parsed.Count + existing.Count);
        candidates.AddRange(parsed);
        candidates.AddRange(existing.Where(e => !fileByCode.ContainsKey(e.Code)).Select(e => (-1, e)));

        foreach (var level in parsed.Select(p => p.Feature.Level).Distinct())
        {
            var tree = new STRtree<int>();
            var areas = new Dictionary<int, double>();
            for (int i = 0; i < candidates.Count; i++)
            {
                if (candidates[i].Feature.Level == level)
                {
                    tree.Insert(candidates[i].Feature.Geometry.EnvelopeInternal, i);
                }
            }

            tree.Build();
            for (int i = 0; i < parsed.Count; i++)
            {
                var (index, feature) = candidates[i];
                if (feature.Level != level)
                {
                    continue;
                }

                IPreparedGeometry? prepared = null;
                foreach (int j in tree.Query(feature.Geometry.EnvelopeInternal))
                {
                    // File-file pairs are checked once (from the lower list position); file-existing always.
                    if (j == i || (j < parsed.Count && j < i))
                    {
                        continue;
                    }

                    var other = candidates[j].Feature;
                    prepared ??= PreparedGeometryFactory.Prepare(feature.Geometry);
                    if (!prepared.Intersects(other.Geometry))
                    {
                        continue;
                    }

                    var intersection = feature.Geometry.Intersection(other.Geometry);
                    if (intersection.IsEmpty || intersection.Dimension != Dimension.Surface)
                    {
                        continue;
                    }

                    double overlap = LocalProjection.CenteredOn(intersection.EnvelopeInternal).AreaM2(intersection);
                    double smaller = Math.Min(AreaOf(i, feature, areas), AreaOf(j, other, areas));
                    if (overlap > OverlapToleranceM2 && overlap > OverlapToleranceFraction * smaller)
                    {
                        string otherWhere = j < parsed.Count ? $"features[{candidates[j].FileIndex}]" : "an already imported feature";
                        errors.Add(new FeatureError(
                            index,
                            feature.Code,
                            FeatureErrorReasons.Overlap,
                            string.Create(
                                CultureInfo.InvariantCulture,
                                $"'{feature.Code}' overlaps '{other.Code}' ({otherWhere}) by {overlap:F1} m² ({100 * overlap / smaller:F3} % of the smaller).")));
                    }
                }
            }
        }
    }

    private static double AreaOf(int key, GridFeature feature, Dictionary<int, double> cache)
    {
        if (!cache.TryGetValue(key, out double area))
        {
            area = LocalProjection.CenteredOn(feature.Geometry.EnvelopeInternal).AreaM2(feature.Geometry);
            cache[key] = area;
        }

        return area;
    }
}
