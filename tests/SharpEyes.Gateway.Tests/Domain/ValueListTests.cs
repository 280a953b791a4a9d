using CsCheck;
using Google.Protobuf.Collections;
using SharpEyes.Gateway.Domain;

namespace SharpEyes.Gateway.Tests.Domain;

/// <summary>
/// <see cref="ValueList{T}.Union{TKey}"/>, the incident's cameras and key sites after each alarm: the same answer as a
/// plain LINQ union by key whether it scans (small lists) or builds a set (over <c>ScanLimit</c> comparisons), and the
/// very list back (nothing allocated) when nothing is new; and protobuf's AddRange copies a ValueList whole.
/// </summary>
public sealed class ValueListTests
{
    /// <summary>Short ids from a small alphabet, so that lists share many of them (and repeat within one).</summary>
    private static readonly Gen<string> Id = Gen.String[Gen.Char['a', 'f'], 1, 2];

    private static ValueList<string> Reference(ValueList<string> list, ValueList<string> more) =>
        [.. list, .. more.Where(m => !list.Contains(m)).Distinct()];

    [Fact]
    public void A_union_equals_a_plain_union_by_key_on_either_path()
    {
        // Lists of up to 40 against up to 40 new items straddle ScanLimit (1,024 comparisons): both paths are taken.
        Gen.Select(Id.Array[0, 40], Id.Array[0, 40]).Sample((a, b) =>
        {
            var list = a.Distinct().ToValueList();
            var more = b.ToValueList();
            var union = list.Union(more, s => s);

            Assert.Equal(Reference(list, more), union);
            Assert.True(ReferenceEquals(list, union) == more.All(list.Contains), "the same list back exactly when nothing is new");
        }, iter: 2_000);
    }

    [Fact]
    public void Both_paths_run_and_agree_at_the_boundary()
    {
        var large = Enumerable.Range(0, 2_000).Select(i => $"cam{i:D5}").ToValueList();
        ValueList<string> known = ["cam00007", "cam01999"];
        ValueList<string> fresh = ["cam00007", "new-1", "new-1", "new-2"];

        Assert.Same(large, large.Union(known, s => s)); // 4,000 comparisons: the set path
        Assert.Equal([.. large, "new-1", "new-2"], large.Union(fresh, s => s));
        ValueList<string> small = ["a", "b"];
        Assert.Same(small, small.Union(["b", "a", "b"], s => s)); // the scan path
        Assert.Equal(["a", "b", "c"], small.Union(["c", "a", "c"], s => s));
    }

    [Fact]
    public void Key_sites_are_compared_by_their_key_only()
    {
        ValueList<KeySiteNearby> sites = [new("KS1", "gate", "school", 1, 10.5)];
        var union = sites.Union([new("KS1", "gate (renamed)", "school", 2, 99), new("KS2", "yard", "market", 3, 20)], s => s.Code);

        Assert.Equal(["KS1", "KS2"], union.Select(s => s.Code));
        Assert.Equal("gate", union[0].Name); // the incident keeps what it first saw
    }

    [Fact]
    public void Protobufs_AddRange_copies_a_value_list_whole()
    {
        var ids = Enumerable.Range(0, 300).Select(i => $"id{i}").ToValueList();
        var field = new RepeatedField<string> { "first" };

        field.AddRange(ids);

        Assert.Equal(["first", .. ids], field);
        Assert.Equal(301, field.Capacity); // one resize to the exact size (adding one by one doubles: 512)
    }
}
