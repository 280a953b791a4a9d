using NetTopologySuite.Geometries;

namespace SharpEyes.Geo.Regions;

/// <summary>
/// A management area of the county → township → village → grid hierarchy, geometry in WGS-84 lon/lat.
/// </summary>
/// <param name="Code">Digits only. 6 = county (GB/T 2260), 9 = township, 12 = village, 13–20 = grid.</param>
/// <param name="Level">1 county, 2 township, 3 village, 4 grid (derived from the code's length).</param>
/// <param name="ParentCode">The 6/9/12-digit prefix of the code; null for a county.</param>
public sealed record GridFeature(string Code, string Name, int Level, string? ParentCode, Geometry Geometry)
{
    public const int CountyLevel = 1;
    public const int TownshipLevel = 2;
    public const int VillageLevel = 3;
    public const int GridLevel = 4;

    /// <summary>
    /// Level-4 grids: the covered-area fraction (0..1, real coverage) below which the grid is a coverage gap; null = the
    /// gateway's configured default. GeoJSON property <c>coverage_target</c>.
    /// </summary>
    public double? CoverageTarget { get; init; }

    /// <summary>Level for a code of digits, or null when its length fits no level (6, 9, 12, 13–20).</summary>
    public static int? LevelOf(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (code.Length == 0 || !code.All(char.IsAsciiDigit))
        {
            return null;
        }

        return code.Length switch
        {
            6 => CountyLevel,
            9 => TownshipLevel,
            12 => VillageLevel,
            >= 13 and <= 20 => GridLevel,
            _ => null,
        };
    }

    /// <summary>The parent's code (the prefix one level up), or null for a county.</summary>
    public static string? ParentCodeOf(string code) => LevelOf(code) switch
    {
        CountyLevel => null,
        TownshipLevel => code[..6],
        VillageLevel => code[..9],
        GridLevel => code[..12],
        _ => throw new ArgumentException($"'{code}' is not a valid region code.", nameof(code)),
    };
}

/// <summary>A key site (重点部位) that must be watched: a point or an area, geometry in WGS-84 lon/lat.</summary>
/// <param name="Category">Normalised category name, one of <see cref="KeySiteCategories.All"/>.</param>
/// <param name="Priority">
/// Importance from 1 to 5 where <b>5 is the most important</b> (and 1 the least): coverage reports weight blind
/// spots by it. Note this is the opposite direction of GB/T 28181 alarm priority, where 1 is highest.
/// </param>
public sealed record KeySiteFeature(string Code, string Name, string Category, int Priority, Geometry Geometry)
{
    public const int MinPriority = 1;
    public const int MaxPriority = 5;
}

/// <summary>Key-site categories: GB/T 28181 PositionType 1–10 by name, plus further GB 37300 places.</summary>
public static class KeySiteCategories
{
    /// <summary>GB/T 28181 PositionType names, index + 1 = the PositionType number.</summary>
    public static readonly IReadOnlyList<string> PositionTypes =
    [
        "checkpoint", "government", "station", "square", "stadium",
        "commercial", "religious", "school", "complex-security", "traffic-artery",
    ];

    /// <summary>Every accepted category name.</summary>
    public static readonly IReadOnlySet<string> All = new HashSet<string>(
        PositionTypes.Concat(["hospital", "intersection", "market", "road", "scenic", "other"]),
        StringComparer.Ordinal);

    /// <summary>
    /// Normalises a category given by name (case-insensitive) or by GB/T 28181 PositionType number 1–10
    /// to its lower-case name; null when unknown.
    /// </summary>
    public static string? Normalize(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        string v = value.Trim().ToLowerInvariant();
        if (int.TryParse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n))
        {
            return n >= 1 && n <= PositionTypes.Count ? PositionTypes[n - 1] : null;
        }

        return All.Contains(v) ? v : null;
    }
}

/// <summary>One problem found while importing a GeoJSON file.</summary>
/// <param name="FeatureIndex">Index in the file's features array; -1 for a file-level problem.</param>
/// <param name="Reason">A machine-readable reason, one of <see cref="FeatureErrorReasons"/>.</param>
public sealed record FeatureError(int FeatureIndex, string? Code, string Reason, string Message);

/// <summary>The machine-readable <see cref="FeatureError.Reason"/> values.</summary>
public static class FeatureErrorReasons
{
    public const string InvalidJson = "invalid-json";
    public const string NotAFeatureCollection = "not-a-feature-collection";
    public const string MissingProperty = "missing-property";
    public const string InvalidProperty = "invalid-property";
    public const string InvalidGeometry = "invalid-geometry";
    public const string WrongGeometryType = "wrong-geometry-type";
    public const string DuplicateCode = "duplicate-code";
    public const string UnknownParent = "unknown-parent";
    public const string OutsideParent = "outside-parent";
    public const string Overlap = "overlap";
    public const string OutsideChina = "outside-china";
    public const string UnknownCounty = "unknown-county";
}

/// <summary>
/// The outcome of an import. An import is all or nothing: when there is any error, <see cref="Features"/> is empty.
/// </summary>
public sealed record ImportResult<T>(IReadOnlyList<T> Features, IReadOnlyList<FeatureError> Errors)
{
    public bool Ok => Errors.Count == 0;
}
