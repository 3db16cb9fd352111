namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>
/// BPE merges by pair of ids: (left id, right id) -> (rank, merged id), in an open-addressing table (linear probing,
/// Fibonacci hashing). Written once while loading, then only read, so it is safe to read from several threads.
/// </summary>
internal sealed class MergeTable
{
    private const long Empty = -1;

    private long[] _keys;
    private long[] _values;
    private int _mask;

    /// <summary>Creates a table sized for <paramref name="capacity"/> merges.</summary>
    public MergeTable(int capacity)
    {
        var size = 16;
        while (size < capacity * 2)
        {
            size *= 2;
        }

        _keys = new long[size];
        _values = new long[size];
        _mask = size - 1;
        System.Array.Fill(_keys, Empty);
    }

    /// <summary>The number of pairs.</summary>
    public int Count { get; private set; }

    /// <summary>Sets the merge of (<paramref name="left"/>, <paramref name="right"/>); a pair set twice keeps the last.</summary>
    public void Set(int left, int right, int rank, int mergedId)
    {
        if ((Count + 1) * 2 > _keys.Length)
        {
            Grow();
        }

        if (Insert(_keys, _values, _mask, Key(left, right), ((long)rank << 32) | (uint)mergedId))
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
        var keys = _keys;
        var slot = Hash(key) & _mask;
        while (true)
        {
            var found = keys[slot];
            if (found == key)
            {
                merge = _values[slot];
                return true;
            }

            if (found == Empty)
            {
                merge = 0;
                return false;
            }

            slot = (slot + 1) & _mask;
        }
    }

    private static long Key(int left, int right) => ((long)(uint)left << 32) | (uint)right;

    private static int Hash(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);

    private static bool Insert(long[] keys, long[] values, int mask, long key, long value)
    {
        var slot = Hash(key) & mask;
        while (keys[slot] != Empty && keys[slot] != key)
        {
            slot = (slot + 1) & mask;
        }

        var added = keys[slot] == Empty;
        keys[slot] = key;
        values[slot] = value;
        return added;
    }

    private void Grow()
    {
        var keys = new long[_keys.Length * 2];
        var values = new long[keys.Length];
        System.Array.Fill(keys, Empty);
        var mask = keys.Length - 1;
        for (var i = 0; i < _keys.Length; i++)
        {
            if (_keys[i] != Empty)
            {
                Insert(keys, values, mask, _keys[i], _values[i]);
            }
        }

        _keys = keys;
        _values = values;
        _mask = mask;
    }
}
