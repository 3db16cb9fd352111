namespace OnnxGpt.Constraints;

/// <summary>
/// One node of a compiled JSON grammar: what a value (or a literal piece of text) at some place may be.
/// Nodes are built once per schema and shared, read-only, by every request that uses it.
/// </summary>
internal abstract class GrammarNode
{
    /// <summary>The fewest bytes a text matching this node takes (for closing the value within the token budget).</summary>
    public int MinBytes { get; set; }
}

/// <summary>Any JSON value (objects and arrays nest at most <see cref="MaxDepth"/> deep).</summary>
internal sealed class AnyNode : GrammarNode
{
    public const int MaxDepth = 8;
}

/// <summary>One of several byte strings (an enum or const, <c>true</c>/<c>false</c>/<c>null</c>, an object key, a literal prefix).</summary>
internal sealed class LiteralNode : GrammarNode
{
    /// <param name="alternatives">The texts; at least one, none empty.</param>
    public LiteralNode(IEnumerable<byte[]> alternatives)
    {
        Alternatives = [.. alternatives.DistinctBy(Convert.ToHexString).Order(ByteStringComparer.Instance)];
        MinBytes = Alternatives.Min(a => a.Length);
    }

    /// <summary>The texts in byte order, so those sharing a prefix are adjacent.</summary>
    public byte[][] Alternatives { get; }
}

/// <summary>A JSON string with bounds on its length in code points, or a format.</summary>
internal sealed class StringNode : GrammarNode
{
    public int MinLength { get; init; }

    public int? MaxLength { get; init; }

    public StringFormat? Format { get; init; }
}

/// <summary>A JSON number, an integer when <see cref="Integer"/>, with optional bounds.</summary>
internal sealed class NumberNode : GrammarNode
{
    public bool Integer { get; init; }

    public decimal? Minimum { get; init; }

    public bool ExclusiveMinimum { get; init; }

    public decimal? Maximum { get; init; }

    public bool ExclusiveMaximum { get; init; }

    public bool Bounded => Minimum is not null || Maximum is not null;
}

/// <summary>
/// A JSON object: its declared properties in declared order (each optional one may be left out), or, without
/// declared properties, any keys whose values match <see cref="AdditionalValues"/>.
/// </summary>
internal sealed class ObjectNode : GrammarNode
{
    /// <summary>The declared properties; empty for a free-form object.</summary>
    public ObjectProperty[] Properties { get; set; } = [];

    /// <summary>The values of free-form keys; null when the object has declared properties.</summary>
    public GrammarNode? AdditionalValues { get; set; }

    /// <summary>For each index i, the keys that may come next when property i is the first not yet passed.</summary>
    public LiteralNode?[] KeysFrom { get; set; } = [];

    /// <summary>For each index i, the bytes the required properties from i on take (key, colon, value, comma).</summary>
    public int[] RequiredTail { get; set; } = [];

    /// <summary>The index of the property a key literal names.</summary>
    public int PropertyOfKey(byte[] key) => Array.FindIndex(Properties, p => p.Key.AsSpan().SequenceEqual(key));
}

/// <summary>A declared property of an <see cref="ObjectNode"/>.</summary>
/// <param name="Key">The key as JSON text, quotes included.</param>
/// <param name="Value">The value's grammar.</param>
/// <param name="Required">Whether it must appear.</param>
internal sealed record ObjectProperty(byte[] Key, GrammarNode Value, bool Required);

/// <summary>A JSON array of <see cref="Items"/>, between <see cref="MinItems"/> and <see cref="MaxItems"/> long.</summary>
internal sealed class ArrayNode : GrammarNode
{
    public GrammarNode Items { get; set; } = null!;

    public int MinItems { get; init; }

    public int? MaxItems { get; init; }
}

/// <summary>Any one of several grammars (a type union or <c>anyOf</c>).</summary>
internal sealed class UnionNode : GrammarNode
{
    public GrammarNode[] Alternatives { get; set; } = [];
}

/// <summary>A <c>$ref</c>, resolved after the whole schema is compiled (so definitions may refer to themselves).</summary>
internal sealed class RefNode : GrammarNode
{
    public GrammarNode Target { get; set; } = null!;
}

/// <summary>Several grammars one after the other (literal prefix, the JSON value, literal suffix).</summary>
internal sealed class SequenceNode : GrammarNode
{
    public GrammarNode[] Parts { get; set; } = [];
}

/// <summary>The string formats the constraint can produce.</summary>
internal enum StringFormat
{
    /// <summary>RFC 3339 full-date: <c>2024-02-29</c>.</summary>
    Date,

    /// <summary>RFC 3339 date-time: <c>2024-02-29T13:05:00Z</c>, with optional fraction and offset.</summary>
    DateTime,

    /// <summary>RFC 4122 text form: 8-4-4-4-12 hexadecimal digits.</summary>
    Uuid,
}

/// <summary>Orders byte strings lexicographically (a prefix first).</summary>
internal sealed class ByteStringComparer : IComparer<byte[]>
{
    public static readonly ByteStringComparer Instance = new();

    public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
}
