namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>
/// BPE merges by pair of ids: (left id, right id) -> (rank, merged id), in an open-addressing table (linear probing,
/// Fibonacci hashing, key and value side by side so that a lookup touches one cache line). Written once while loading,
/// then only read, so it is safe to read from several threads.
/// </summary>
internal sealed class MergeTable
{
    private const long Empty = -1;

    private Entry[] _entries;
    private int _mask;

    /// <summary>Creates a table sized for <paramref name="capacity"/> merges.</summary>
    public MergeTable(int capacity)
    {
        _entries = NewEntries(SizeFor(capacity));
        _mask = _entries.Length - 1;
    }

    /// <summary>The number of pairs.</summary>
    public int Count { get; private set; }

    /// <summary>Sets the merge of (<paramref name="left"/>, <paramref name="right"/>); a pair set twice keeps the last.</summary>
    public void Set(int left, int right, int rank, int mergedId)
    {
        if (SizeFor(Count + 1) > _entries.Length)
        {
            Grow();
        }

        if (Insert(_entries, _mask, Key(left, right), ((long)rank << 32) | (uint)mergedId))
        {
            Count++;
        }
    }

    /// <summary>Finds the merge of (<paramref name="left"/>, <paramref name="right"/>).</summary>
    /// <param name="left">The left id.</param>
    /// <param name="right">The right id.</param>
    /// <param name="merge">The merge: its rank in the high 32 bits, the merged id in the low 32 bits.</param>
    /// <returns>Whether the pair merges.</returns>
    public bool TryGet(int left, int right, out long merge)
    {
        var key = Key(left, right);
        var entries = _entries;
        var mask = _mask;
        var slot = Hash(key) & mask;
        while (true)
        {
            ref var entry = ref entries[slot];
            if (entry.Key == key)
            {
                merge = entry.Value;
                return true;
            }

            if (entry.Key == Empty)
            {
                merge = 0;
                return false;
            }

            slot = (slot + 1) & mask;
        }
    }

    /// <summary>A power of two at least 1.5 times the number of pairs (a load factor of at most two thirds).</summary>
    private static int SizeFor(int count)
    {
        var size = 16;
        while (size < count + (count / 2))
        {
            size *= 2;
        }

        return size;
    }

    private static Entry[] NewEntries(int size)
    {
        var entries = new Entry[size];
        foreach (ref var entry in entries.AsSpan())
        {
            entry.Key = Empty;
        }

        return entries;
    }

    private static long Key(int left, int right) => ((long)(uint)left << 32) | (uint)right;

    private static int Hash(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);

    private static bool Insert(Entry[] entries, int mask, long key, long value)
    {
        var slot = Hash(key) & mask;
        while (entries[slot].Key != Empty && entries[slot].Key != key)
        {
            slot = (slot + 1) & mask;
        }

        var added = entries[slot].Key == Empty;
        entries[slot].Key = key;
        entries[slot].Value = value;
        return added;
    }

    private void Grow()
    {
        var entries = NewEntries(_entries.Length * 2);
        var mask = entries.Length - 1;
        foreach (var entry in _entries)
        {
            if (entry.Key != Empty)
            {
                Insert(entries, mask, entry.Key, entry.Value);
            }
        }

        _entries = entries;
        _mask = mask;
    }

    private struct Entry
    {
        public long Key;
        public long Value;
    }
}
