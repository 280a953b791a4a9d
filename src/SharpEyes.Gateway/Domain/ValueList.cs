using System.Collections;
using System.Runtime.CompilerServices;

namespace SharpEyes.Gateway.Domain;

/// <summary>
/// An immutable list that compares by its items, so that a domain record holding one keeps a record's value equality
/// (a record compares an <see cref="IReadOnlyList{T}"/> or an ImmutableArray by reference). Written here because the
/// base library has no immutable collection with structural equality.
/// </summary>
[CollectionBuilder(typeof(ValueList), nameof(ValueList.Create))]
public sealed class ValueList<T> : IReadOnlyList<T>, IEquatable<ValueList<T>>
{
    private readonly T[] _items;

    internal ValueList(T[] items) => _items = items;

    public static ValueList<T> Empty { get; } = new([]);

    public int Count => _items.Length;

    public T this[int index] => _items[index];

    /// <summary>This list with <paramref name="more"/>'s items that it has no item of the same key of appended, in their order (this list when none).</summary>
    public ValueList<T> Union<TKey>(IEnumerable<T> more, Func<T, TKey> key)
    {
        List<T>? added = null;
        HashSet<TKey>? keys = null;
        foreach (var item in more)
        {
            keys ??= [.. _items.Select(key)];
            if (keys.Add(key(item)))
            {
                (added ??= []).Add(item);
            }
        }

        return added is null ? this : new([.. _items, .. added]);
    }

    public bool Equals(ValueList<T>? other) =>
        other is not null && (ReferenceEquals(this, other) || _items.AsSpan().SequenceEqual(other._items, EqualityComparer<T>.Default));

    public override bool Equals(object? obj) => Equals(obj as ValueList<T>);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in _items)
        {
            hash.Add(item);
        }

        return hash.ToHashCode();
    }

    public override string ToString() => "[" + string.Join(", ", _items) + "]";

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();
}

/// <summary>Builds <see cref="ValueList{T}"/>s (collection expressions: <c>ValueList&lt;string&gt; ids = [.. more]</c>).</summary>
public static class ValueList
{
    public static ValueList<T> Create<T>(ReadOnlySpan<T> items) => items.IsEmpty ? ValueList<T>.Empty : new(items.ToArray());

    public static ValueList<T> ToValueList<T>(this IEnumerable<T> items) => Create<T>([.. items]);
}
