namespace OnnxGpt.Templates.Jinja;

/// <summary>A Python dict: insertion-ordered, keys compared as Python compares them (1 == 1.0 == True).</summary>
internal sealed class JinjaDict : OrderedDictionary<object, object?>
{
    public JinjaDict()
        : base(PyKeyComparer.Instance)
    {
    }

    public JinjaDict(int capacity)
        : base(capacity, PyKeyComparer.Instance)
    {
    }

    /// <summary>The key under which None is stored (.NET dictionaries take no null keys).</summary>
    public static readonly object NoneKey = new();

    public static object Key(object? key) => key ?? NoneKey;

    public static object? FromKey(object key) => ReferenceEquals(key, NoneKey) ? null : key;

    private sealed class PyKeyComparer : IEqualityComparer<object>
    {
        public static readonly PyKeyComparer Instance = new();

        public new bool Equals(object? x, object? y) => PyOps.AreEqual(x, y);

        public int GetHashCode(object obj) => obj switch
        {
            string s => s.GetHashCode(StringComparison.Ordinal),
            bool b => b ? 1 : 0,
            long l => l.GetHashCode(),
            double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => ((long)d).GetHashCode(),
            double d => d.GetHashCode(),
            _ => obj.GetHashCode(),
        };
    }
}
