using System.Collections;
using System.Runtime.CompilerServices;

namespace SharpEyes.Gateway.Domain;

/// <summary>
/// An immutable list that compares by its items, so that a domain record holding one keeps a record's value equality
/// (a record compares an <see cref="IReadOnlyList{T}"/> or an ImmutableArray by reference). Written here because the
/// base library has no immutable collection with structural equality. It is a non-generic <see cref="ICollection"/> too
/// (read-only: it has no Add), so that protobuf's <c>RepeatedField.AddRange</c> copies it in one step.
/// </summary>
[CollectionBuilder(typeof(ValueList), nameof(ValueList.Create))]
public sealed class ValueList<T> : IReadOnlyList<T>, ICollection, IEquatable<ValueList<T>>
{
    private readonly T[] _items;

    internal ValueList(T[] items) => _items = items;

    public static ValueList<T> Empty { get; } = new([]);

    public int Count => _items.Length;

    public T this[int index] => _items[index];

    /// <summary>
    /// This list with <paramref name="more"/>'s items that it has no item of the same key of appended, in their order
    /// (this list when none). It runs once per alarm on an incident's cameras and key sites, where almost every alarm
    /// brings nothing new: up to <see cref="ScanLimit"/> comparisons it scans without allocating; beyond (an incident
    /// of hundreds of cameras) a set of this list's keys is built.
    /// </summary>
    public ValueList<T> Union<TKey>(ValueList<T> more, Func<T, TKey> key)
    {
        if (more.Count == 0)
        {
            return this;
        }

        if ((long)_items.Length * more.Count > ScanLimit)
        {
            return UnionBySet(more, key);
        }

        var comparer = EqualityComparer<TKey>.Default;
        List<T>? added = null;
        foreach (var item in more._items)
        {
            var k = key(item);
            if (!Contains(_items, k, key, comparer) && (added is null || !Contains(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(added), k, key, comparer)))
            {
                (added ??= []).Add(item);
            }
        }

        return added is null ? this : new([.. _items, .. added]);
    }

    /// <summary>Most key comparisons <see cref="Union{TKey}"/> makes by scanning (this list's length × the new items').</summary>
    internal const int ScanLimit = 1_024;

    private static bool Contains<TKey>(ReadOnlySpan<T> items, TKey k, Func<T, TKey> key, EqualityComparer<TKey> comparer)
    {
        foreach (var item in items)
        {
            if (comparer.Equals(key(item), k))
            {
                return true;
            }
        }

        return false;
    }

    private ValueList<T> UnionBySet<TKey>(ValueList<T> more, Func<T, TKey> key)
    {
        var keys = new HashSet<TKey>(_items.Length + more.Count);
        foreach (var item in _items)
        {
            keys.Add(key(item));
        }

        List<T>? added = null;
        foreach (var item in more._items)
        {
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

    // ICollection (non-generic) so that protobuf's RepeatedField.AddRange sizes once and copies, instead of adding one by one.
    bool ICollection.IsSynchronized => false;

    object ICollection.SyncRoot => _items;

    void ICollection.CopyTo(Array array, int index) => _items.CopyTo(array, index);

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();
}

/// <summary>Builds <see cref="ValueList{T}"/>s (collection expressions: <c>ValueList&lt;string&gt; ids = [.. more]</c>).</summary>
public static class ValueList
{
    public static ValueList<T> Create<T>(ReadOnlySpan<T> items) => items.IsEmpty ? ValueList<T>.Empty : new(items.ToArray());

    public static ValueList<T> ToValueList<T>(this IEnumerable<T> items) => Create<T>([.. items]);
}
