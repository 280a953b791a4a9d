using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using SharpEyes.Gateway.Geography;
using SharpEyes.Gateway.Tests.Infrastructure;
using SharpEyes.Geo.Regions;
using GeoDatum = SharpEyes.Geo.Datums.Datum;

namespace SharpEyes.Gateway.Tests.Fuzz;

/// <summary>
/// The GeoJSON importer with generated grid and key-site FeatureCollections and their mutations
/// (<see cref="GeoJsonCases"/>): no exception and no case slower than its bound; a file is imported (every valid
/// one) or rejected with errors that each carry a known reason, the index of a feature in the file (or the file)
/// and, for a property, its name, among them the error its mutation calls for; and, in a running gateway, a rejected
/// import changes nothing (the geography and the feed the same before and after) while an accepted one holds its
/// features, in memory and after a restart.
/// </summary>
public sealed partial class GeographyImportFuzzTests
{
    private const ulong Seed = 20261122;
    private const int DirectCases = 2_000;
    private const int GatewayCases = 200;
    private static readonly TimeSpan CaseBound = TimeSpan.FromSeconds(20);
    private static readonly HashSet<string> KnownCounties = ["130127"];

    private static readonly HashSet<string> Reasons =
        [.. typeof(FeatureErrorReasons).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetValue(null)!)];

    [Fact]
    public void Every_file_is_imported_or_rejected_with_specific_errors_naming_the_feature_and_field() =>
        Fuzzing.Check("GeoJSON import", GeoJsonCases.Any, Seed, DirectCases, c => Bounded(() => c.Sites
                ? Check(c, GeoJsonImport.ParseKeySites(c.Json, GeoDatum.Wgs84))
                : Check(c, GeoJsonImport.ParseGrids(c.Json, GeoDatum.Wgs84, [], KnownCounties))),
            c => Fuzzing.Shorten(c.ToString(), 3000), c => c.Kind.Split(' ')[0]);

    [Fact]
    public async Task In_a_running_gateway_a_rejected_import_changes_nothing_and_an_accepted_one_holds_its_features_after_a_restart()
    {
        var host = await GatewayHost.StartAsync(demo: false);
        try
        {
            var importer = host.Services.GetRequiredService<GeographyImporter>();
            var state = host.Services.GetRequiredService<GeographyState>();
            var accepted = 0;
            Fuzzing.Check("GeoJSON import in a gateway", GeoJsonCases.Any, Seed + 1, GatewayCases, c => Bounded(() =>
            {
                var before = Snapshot(state);
                var sequence = host.LastSequence;
                string outcome;
                if (c.Sites)
                {
                    var result = importer.ImportKeySitesAsync(c.Json, GeoDatum.Wgs84).GetAwaiter().GetResult();
                    outcome = Check(c, result);
                    AssertStored(result.Ok, before, Snapshot(state), sequence, host.LastSequence, result.Features.Select(f => (f.Code, f.Name)));
                }
                else
                {
                    var result = importer.ImportGridsAsync(c.Json, GeoDatum.Wgs84).GetAwaiter().GetResult();
                    outcome = Check(c, result);
                    AssertStored(result.Ok, before, Snapshot(state), sequence, host.LastSequence, result.Features.Select(f => (f.Code, f.Name)));
                }

                accepted += outcome == "imported" ? 1 : 0;
                return outcome;
            }), c => Fuzzing.Shorten(c.ToString(), 3000), c => c.Kind.Split(' ')[0]);
            Assert.True(accepted > GatewayCases / 10, $"only {accepted} imports were accepted");

            // What the gateway holds is what it stored: a restart loads the same geography.
            var final = Snapshot(state);
            host = await host.RestartAsync();
            Assert.Equal(final, Snapshot(host.Services.GetRequiredService<GeographyState>()));
            Canary.AssertNoUnhandledExceptions(host.Logs);
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    /// <summary>Runs one case within <see cref="CaseBound"/>, or fails it as a hang.</summary>
    private static string Bounded(Func<string> run)
    {
        var task = Task.Run(run);
        return task.Wait(CaseBound) ? task.Result : throw new TimeoutException($"no answer within {CaseBound.TotalSeconds} s");
    }

    /// <summary>Checks one import's result against the case; returns "imported" or the reasons.</summary>
    private static string Check<T>(GeoCase c, ImportResult<T> result)
    {
        if (result.Ok)
        {
            Assert.True(c.Expect.Accept, $"imported, expected {c.Expect.Reason} at {c.Expect.Index}");
            if (c.Expect.Reason is null)
            {
                Assert.Equal(c.Features, result.Features.Count);
            }

            return "imported";
        }

        Assert.Empty(result.Features);
        var features = FeatureCount(c.Json);
        foreach (var e in result.Errors)
        {
            Assert.Contains(e.Reason, Reasons);
            Assert.False(string.IsNullOrWhiteSpace(e.Message), $"{e.Reason} without a message");
            if (e.FeatureIndex < 0)
            {
                Assert.True(e.Reason is FeatureErrorReasons.InvalidJson or FeatureErrorReasons.NotAFeatureCollection, $"a file-level {e.Reason}: {e.Message}");
            }
            else if (features is { } n)
            {
                Assert.InRange(e.FeatureIndex, 0, n - 1);
            }

            if (e.Reason is FeatureErrorReasons.MissingProperty or FeatureErrorReasons.InvalidProperty)
            {
                Assert.Matches(PropertyNamed(), e.Message);
            }
        }

        if (c.Expect.Reason is { } reason && reason != "*")
        {
            var allowed = reason.Split('|');
            Assert.True(result.Errors.Any(e => allowed.Contains(e.Reason) && (c.Expect.Index is not { } i || e.FeatureIndex == i)
                    && (c.Expect.Names is not { } name || e.Message.Contains($"'{name}'", StringComparison.Ordinal))),
                $"expected {reason} at feature {c.Expect.Index}{(c.Expect.Names is null ? "" : " naming " + c.Expect.Names)}; got {Describe(result.Errors)}");
        }

        return string.Join('+', result.Errors.Select(e => e.Reason).Distinct().Order(StringComparer.Ordinal));
    }

    private static string Describe(IReadOnlyList<FeatureError> errors) =>
        string.Join("; ", errors.Take(6).Select(e => $"[{e.FeatureIndex}] {e.Reason}: {Fuzzing.Shorten(e.Message, 200)}"));

    /// <summary>How many features the file's "features" array holds, when the file is JSON with such an array.</summary>
    private static int? FeatureCount(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("features", out var f) && f.ValueKind == JsonValueKind.Array
                ? f.GetArrayLength()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The geography as the gateway serves it: each grid and key site with its properties and exact geometry.</summary>
    private static List<string> Snapshot(GeographyState state)
    {
        var index = state.Index;
        return
        [
            .. index.Grids.Select(g => $"grid {g.Code} {g.Name} {g.Level} {g.ParentCode} {g.CoverageTarget} {Hash(g.Geometry)}"),
            .. index.KeySites.Select(s => $"site {s.Code} {s.Name} {s.Category} {s.Priority} {Hash(s.Geometry)}"),
        ];
    }

    private static int Hash(NetTopologySuite.Geometries.Geometry geometry)
    {
        var hash = new HashCode();
        hash.Add(geometry.GeometryType);
        foreach (var c in geometry.Coordinates)
        {
            hash.Add(c.X);
            hash.Add(c.Y);
        }

        return hash.ToHashCode();
    }

    /// <summary>A rejected import left the geography and the feed as they were; an accepted one holds each feature it imported.</summary>
    private static void AssertStored(bool ok, List<string> before, List<string> after, long sequenceBefore, long sequenceAfter, IEnumerable<(string Code, string Name)> imported)
    {
        if (!ok)
        {
            Assert.Equal(before, after);
            Assert.Equal(sequenceBefore, sequenceAfter);
            return;
        }

        foreach (var (code, name) in imported)
        {
            Assert.Contains(after, line => line.Contains($" {code} {name} ", StringComparison.Ordinal));
        }
    }

    [GeneratedRegex("[Pp]roperty '[a-z_]+'")]
    private static partial Regex PropertyNamed();
}
