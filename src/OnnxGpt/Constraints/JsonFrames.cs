namespace OnnxGpt.Constraints;

/// <summary>
/// The state of the JSON matcher: a persistent stack of frames, the innermost first. Each frame's
/// <see cref="Parent"/> is already the state to continue in once the frame is done, so finishing a frame is just
/// returning its parent. Frames are immutable records (structural equality: equal stacks have equal futures),
/// so the vocabulary walk can branch from one state into many without copying, and masks can be cached by state.
/// </summary>
internal abstract record JsonFrame
{
    /// <summary>The state to continue in once this frame is done (null only for <see cref="DoneFrame"/>).</summary>
    public abstract JsonFrame? Parent { get; init; }

    /// <summary>Bytes of whitespace allowed in one gap between JSON tokens.</summary>
    public const int MaxWhitespace = 16;

    /// <summary>Whether this frame may end here without another byte (a number, a literal that is a prefix of another).</summary>
    public virtual bool CanFinish => false;

    /// <summary>The fewest bytes this frame still needs before it returns to its parent.</summary>
    public abstract int Remaining { get; }

    /// <summary>Adds to <paramref name="next"/> every state that <paramref name="b"/> leads to (none: rejected).</summary>
    public abstract void Step(byte b, List<JsonFrame> next);

    /// <summary>The fewest bytes the whole stack needs to complete.</summary>
    public int RemainingTotal()
    {
        var total = 0;
        for (var frame = this; frame is not null; frame = frame.Parent)
        {
            total += frame.Remaining;
        }

        return total;
    }

    /// <summary>Whether the stack may end here: the value (and suffix) is complete.</summary>
    public bool Accepting()
    {
        for (var frame = this; ; frame = frame.Parent!)
        {
            if (frame is DoneFrame)
            {
                return true;
            }

            if (!frame.CanFinish)
            {
                return false;
            }
        }
    }

    /// <summary>Adds to <paramref name="next"/> the states that start a value of <paramref name="node"/> with <paramref name="b"/>.</summary>
    public static void StartValue(GrammarNode node, JsonFrame parent, byte b, List<JsonFrame> next)
    {
        switch (node)
        {
            case RefNode reference:
                StartValue(reference.Target, parent, b, next);
                break;
            case UnionNode union:
                foreach (var alternative in union.Alternatives)
                {
                    StartValue(alternative, parent, b, next);
                }

                break;
            case SequenceNode sequence:
                // Each later part waits as a value frame: when a part is done, the next one starts.
                var continuation = parent;
                for (var i = sequence.Parts.Length - 1; i > 0; i--)
                {
                    continuation = new ValueFrame(continuation, sequence.Parts[i]);
                }

                StartValue(sequence.Parts[0], continuation, b, next);
                break;
            case LiteralNode literal:
                new LiteralFrame(parent, literal, 0, literal.Alternatives.Length, 0).Step(b, next);
                break;
            case StringNode text:
                if (b == '"')
                {
                    next.Add(new StringFrame(parent, text, 0, 0, 0, 0, 0, text.Format is null ? null : string.Empty));
                }

                break;
            case NumberNode number:
                new NumberFrame(parent, number, NumberPhase.Start, 0, number.Bounded ? string.Empty : null).Step(b, next);
                break;
            case ObjectNode obj:
                if (b == '{')
                {
                    next.Add(new ObjectFrame(parent, obj, ObjectPhase.Open, 0, 0, 0, 0, 0, 0));
                }

                break;
            case ArrayNode array:
                if (b == '[')
                {
                    next.Add(new ArrayFrame(parent, array, ArrayPhase.Open, 0, 0));
                }

                break;
            case AnyNode:
                StartAny(parent, b, next);
                break;
        }
    }

    /// <summary>Whitespace JSON allows between tokens.</summary>
    public static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t';

    private static void StartAny(JsonFrame parent, byte b, List<JsonFrame> next)
    {
        var depth = 0;
        for (var frame = parent; frame is not null; frame = frame.Parent)
        {
            depth += frame is ObjectFrame or ArrayFrame ? 1 : 0;
        }

        GrammarNode? node = b switch
        {
            (byte)'{' when depth < AnyNode.MaxDepth => AnyGrammar.Object,
            (byte)'[' when depth < AnyNode.MaxDepth => AnyGrammar.Array,
            (byte)'"' => AnyGrammar.String,
            (byte)'-' or (>= (byte)'0' and <= (byte)'9') => AnyGrammar.Number,
            (byte)'t' or (byte)'f' or (byte)'n' => AnyGrammar.Literals,
            _ => null,
        };
        if (node is not null)
        {
            StartValue(node, parent, b, next);
        }
    }
}

/// <summary>The grammars of "any value"'s parts, shared.</summary>
internal static class AnyGrammar
{
    public static readonly AnyNode Any = new() { MinBytes = 1 };
    public static readonly StringNode String = new() { MinBytes = 2 };
    public static readonly NumberNode Number = new() { MinBytes = 1 };
    public static readonly LiteralNode Literals = new([[.. "true"u8], [.. "false"u8], [.. "null"u8]]);
    public static readonly ObjectNode Object = new() { AdditionalValues = Any, KeysFrom = [null], RequiredTail = [0], MinBytes = 2 };
    public static readonly ArrayNode Array = new() { Items = Any, MinBytes = 2 };
}

/// <summary>The end: the value and any suffix are complete; nothing more may follow.</summary>
internal sealed record DoneFrame : JsonFrame
{
    public override JsonFrame? Parent { get => null; init { } }

    public static readonly DoneFrame Instance = new();

    public override int Remaining => 0;

    public override void Step(byte b, List<JsonFrame> next)
    {
    }
}

/// <summary>A value of <see cref="Node"/> is expected next (a later part of a sequence).</summary>
internal sealed record ValueFrame(JsonFrame? Parent, GrammarNode Node) : JsonFrame
{
    public override int Remaining => Node.MinBytes;

    public override void Step(byte b, List<JsonFrame> next) => StartValue(Node, Parent!, b, next);
}

/// <summary>Inside one of several literal texts: alternatives [Lo, Hi) all share the first Pos bytes read.</summary>
internal sealed record LiteralFrame(JsonFrame? Parent, LiteralNode Node, int Lo, int Hi, int Pos) : JsonFrame
{
    public override bool CanFinish => Node.Alternatives[Lo].Length == Pos;

    public override int Remaining
    {
        get
        {
            var least = int.MaxValue;
            for (var i = Lo; i < Hi; i++)
            {
                least = Math.Min(least, Node.Alternatives[i].Length - Pos);
            }

            return least;
        }
    }

    public override void Step(byte b, List<JsonFrame> next)
    {
        var alternatives = Node.Alternatives;
        var lo = -1;
        var hi = -1;
        for (var i = Lo; i < Hi; i++)
        {
            var text = alternatives[i];
            if (text.Length > Pos && text[Pos] == b)
            {
                lo = lo < 0 ? i : lo;
                hi = i + 1;
            }
        }

        if (lo >= 0)
        {
            // The only alternative left, and it just ended: back to the parent.
            next.Add(hi - lo == 1 && alternatives[lo].Length == Pos + 1 ? Parent! : new LiteralFrame(Parent, Node, lo, hi, Pos + 1));
        }

        if (CanFinish)
        {
            Parent!.Step(b, next);
        }
    }
}

/// <summary>Inside a string, after its opening quote.</summary>
/// <param name="Parent">Where to continue after the closing quote.</param>
/// <param name="Node">The string's grammar.</param>
/// <param name="Count">Code points so far (kept only when the length is bounded).</param>
/// <param name="Need">Continuation bytes still due for the current UTF-8 character.</param>
/// <param name="Low">The lowest byte the next continuation byte may be.</param>
/// <param name="High">The highest byte the next continuation byte may be.</param>
/// <param name="Escape">0: none; 1: after a backslash; 2 to 5: in a \u escape, that many hex digits read + 2.</param>
/// <param name="Text">For a format, the characters so far.</param>
internal sealed record StringFrame(JsonFrame? Parent, StringNode Node, int Count, int Need, byte Low, byte High, int Escape, string? Text) : JsonFrame
{
    private bool Counted => Node.MinLength > 0 || Node.MaxLength is not null;

    public override int Remaining => Text is not null
        ? FormatMatcher.Remaining(Node.Format!.Value, Text) + 1
        : Need + (Escape == 0 ? 0 : Escape == 1 ? 1 : 6 - Escape) + Math.Max(0, Node.MinLength - Count - (Escape > 0 ? 1 : 0)) + 1;

    public override void Step(byte b, List<JsonFrame> next)
    {
        if (Text is not null)
        {
            var format = Node.Format!.Value;
            if (b == '"')
            {
                if (FormatMatcher.IsComplete(format, Text))
                {
                    next.Add(Parent!);
                }
            }
            else if (b < 0x80 && FormatMatcher.Allows(format, Text, (char)b))
            {
                next.Add(this with { Text = Text + (char)b });
            }

            return;
        }

        if (Escape == 1)
        {
            if (b is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t')
            {
                next.Add(this with { Escape = 0, Count = Counted ? Count + 1 : 0 });
            }
            else if (b == 'u')
            {
                next.Add(this with { Escape = 2 });
            }

            return;
        }

        if (Escape >= 2)
        {
            // Four hex digits; escapes of surrogates (\uD800-\uDFFF, and the rest of \uDxxx with them) are left to raw UTF-8.
            if (!char.IsAsciiHexDigit((char)b) || (Escape == 2 && b is (byte)'d' or (byte)'D'))
            {
                return;
            }

            next.Add(Escape == 5 ? this with { Escape = 0, Count = Counted ? Count + 1 : 0 } : this with { Escape = Escape + 1 });
            return;
        }

        if (Need > 0)
        {
            if (b >= Low && b <= High)
            {
                next.Add(this with { Need = Need - 1, Low = 0x80, High = 0xBF });
            }

            return;
        }

        if (b == '"')
        {
            if (Count >= Node.MinLength)
            {
                next.Add(Parent!);
            }

            return;
        }

        if (b < 0x20 || (Node.MaxLength is { } max && Count >= max))
        {
            return;
        }

        if (b == '\\')
        {
            next.Add(this with { Escape = 1 });
            return;
        }

        if (b < 0x80)
        {
            // Plain ASCII in an unbounded string leaves the state as it was: no allocation on the common path.
            next.Add(Counted ? this with { Count = Count + 1 } : this);
            return;
        }

        // A UTF-8 lead byte: how many continuation bytes, and the range of the first (no overlongs, no surrogates, at most U+10FFFF).
        (int need, byte low, byte high) = b switch
        {
            >= 0xC2 and <= 0xDF => (1, (byte)0x80, (byte)0xBF),
            0xE0 => (2, (byte)0xA0, (byte)0xBF),
            0xED => (2, (byte)0x80, (byte)0x9F),
            >= 0xE1 and <= 0xEF => (2, (byte)0x80, (byte)0xBF),
            0xF0 => (3, (byte)0x90, (byte)0xBF),
            >= 0xF1 and <= 0xF3 => (3, (byte)0x80, (byte)0xBF),
            0xF4 => (3, (byte)0x80, (byte)0x8F),
            _ => (0, (byte)0, (byte)0),
        };
        if (need > 0)
        {
            next.Add(this with { Need = need, Low = low, High = high, Count = Counted ? Count + 1 : 0 });
        }
    }
}

/// <summary>Where a number's text is.</summary>
internal enum NumberPhase
{
    Start,
    Minus,
    Zero,
    Integer,
    Dot,
    Fraction,
    Exponent,
    ExponentSign,
    ExponentDigits,
}

/// <summary>Inside a number.</summary>
/// <param name="Parent">Where to continue after the number.</param>
/// <param name="Node">The number's grammar.</param>
/// <param name="Phase">Where in the number's syntax.</param>
/// <param name="Digits">Digits in the current part (integer, fraction or exponent), capped to keep numbers short.</param>
/// <param name="Text">For bounded numbers, the text so far.</param>
internal sealed record NumberFrame(JsonFrame? Parent, NumberNode Node, NumberPhase Phase, int Digits, string? Text) : JsonFrame
{
    public override bool CanFinish => Phase is NumberPhase.Zero or NumberPhase.Integer or NumberPhase.Fraction or NumberPhase.ExponentDigits
        && (Text is null || NumberBounds.Complete(Node, Text));

    public override int Remaining => CanFinish ? 0 : Phase == NumberPhase.Start ? Node.MinBytes : 1;

    public override void Step(byte b, List<JsonFrame> next)
    {
        var digit = b is >= (byte)'0' and <= (byte)'9';
        NumberPhase? phase = Phase switch
        {
            NumberPhase.Start => b == '-' ? NumberPhase.Minus : b == '0' ? NumberPhase.Zero : digit ? NumberPhase.Integer : null,
            NumberPhase.Minus => b == '0' ? NumberPhase.Zero : digit ? NumberPhase.Integer : null,
            NumberPhase.Zero or NumberPhase.Integer when b == '.' => Node.Integer ? null : NumberPhase.Dot,
            NumberPhase.Zero or NumberPhase.Integer or NumberPhase.Fraction when b is (byte)'e' or (byte)'E' => Node.Integer || Node.Bounded ? null : NumberPhase.Exponent,
            NumberPhase.Integer when digit => Digits < NumberBounds.MaxDigits ? NumberPhase.Integer : null,
            NumberPhase.Dot => digit ? NumberPhase.Fraction : null,
            NumberPhase.Fraction when digit => Digits < NumberBounds.MaxDigits ? NumberPhase.Fraction : null,
            NumberPhase.Exponent => b is (byte)'+' or (byte)'-' ? NumberPhase.ExponentSign : digit ? NumberPhase.ExponentDigits : null,
            NumberPhase.ExponentSign => digit ? NumberPhase.ExponentDigits : null,
            NumberPhase.ExponentDigits when digit => Digits < 2 ? NumberPhase.ExponentDigits : null,
            _ => null,
        };

        if (phase is { } p)
        {
            var text = Text is null ? null : Text + (char)b;
            if (text is null || NumberBounds.Feasible(Node, text))
            {
                var digits = p == Phase && digit ? Digits + 1 : digit ? 1 : 0;
                next.Add(new NumberFrame(Parent, Node, p, digits, text));
            }
        }

        if (CanFinish)
        {
            // The number may end here: the byte belongs to what follows.
            Parent!.Step(b, next);
        }
    }
}

/// <summary>Where an object's text is.</summary>
internal enum ObjectPhase
{
    /// <summary>After <c>{</c>.</summary>
    Open,

    /// <summary>Inside a declared key (Lo, Hi, Pos give the candidate keys).</summary>
    Key,

    /// <summary>After a key, before <c>:</c>.</summary>
    Colon,

    /// <summary>After <c>:</c>, before the value.</summary>
    Value,

    /// <summary>After a value, before <c>,</c> or <c>}</c>.</summary>
    AfterValue,

    /// <summary>After <c>,</c>, before the next key.</summary>
    Comma,
}

/// <summary>Inside an object.</summary>
/// <param name="Parent">Where to continue after <c>}</c>.</param>
/// <param name="Node">The object's grammar.</param>
/// <param name="Phase">Where in the object's syntax.</param>
/// <param name="Next">The first declared property not yet passed (declared order).</param>
/// <param name="Current">The property whose key was read (for its value).</param>
/// <param name="Lo">In a key: the first candidate key of <c>KeysFrom[Next]</c>.</param>
/// <param name="Hi">In a key: after the last candidate key.</param>
/// <param name="Pos">In a key: bytes of it read.</param>
/// <param name="Whitespace">Whitespace bytes in the current gap.</param>
internal sealed record ObjectFrame(JsonFrame? Parent, ObjectNode Node, ObjectPhase Phase, int Next, int Current, int Lo, int Hi, int Pos, int Whitespace) : JsonFrame
{
    private bool Free => Node.AdditionalValues is not null;

    public override int Remaining => Phase switch
    {
        ObjectPhase.Key => KeyRemaining(),
        ObjectPhase.Colon => 1 + ValueOf(Current).MinBytes + TailAfter(Current) + 1,
        ObjectPhase.Value => ValueOf(Current).MinBytes + TailAfter(Current) + 1,
        // The required tail counts a comma before each required property; after "{" the first needs none.
        ObjectPhase.Open => Math.Max(0, Node.RequiredTail[Next] - 1) + 1,
        ObjectPhase.Comma => (Node.RequiredTail[Next] > 0 ? Node.RequiredTail[Next] - 1 : CheapestOptional()) + 1,
        _ => Node.RequiredTail[Next] + 1,
    };

    public override void Step(byte b, List<JsonFrame> next)
    {
        if (Phase == ObjectPhase.Key)
        {
            StepKey(b, next);
            return;
        }

        if (IsWhitespace(b) && Phase != ObjectPhase.Key)
        {
            if (Whitespace < MaxWhitespace)
            {
                next.Add(this with { Whitespace = Whitespace + 1 });
            }

            return;
        }

        switch (Phase)
        {
            case ObjectPhase.Open or ObjectPhase.Comma:
                if (b == '"')
                {
                    StartKey(next);
                }
                else if (b == '}' && Phase == ObjectPhase.Open && Node.RequiredTail[Next] == 0)
                {
                    next.Add(Parent!);
                }

                break;
            case ObjectPhase.Colon:
                if (b == ':')
                {
                    next.Add(this with { Phase = ObjectPhase.Value, Whitespace = 0 });
                }

                break;
            case ObjectPhase.Value:
                var after = this with { Phase = ObjectPhase.AfterValue, Next = Free ? 0 : Current + 1, Whitespace = 0 };
                StartValue(ValueOf(Current), after, b, next);
                break;
            case ObjectPhase.AfterValue:
                if (b == ',' && (Free || Node.KeysFrom[Next] is not null))
                {
                    next.Add(this with { Phase = ObjectPhase.Comma, Whitespace = 0 });
                }
                else if (b == '}' && Node.RequiredTail[Next] == 0)
                {
                    next.Add(Parent!);
                }

                break;
        }
    }

    private void StartKey(List<JsonFrame> next)
    {
        if (Free)
        {
            // Any key: a string, then this object after the key.
            next.Add(new StringFrame(this with { Phase = ObjectPhase.Colon, Whitespace = 0 }, AnyGrammar.String, 0, 0, 0, 0, 0, null));
            return;
        }

        if (Node.KeysFrom[Next] is { } keys)
        {
            // The opening quote is the keys' first byte.
            next.Add(this with { Phase = ObjectPhase.Key, Lo = 0, Hi = keys.Alternatives.Length, Pos = 1, Whitespace = 0 });
        }
    }

    private void StepKey(byte b, List<JsonFrame> next)
    {
        var keys = Node.KeysFrom[Next]!.Alternatives;
        var lo = -1;
        var hi = -1;
        for (var i = Lo; i < Hi; i++)
        {
            if (keys[i].Length > Pos && keys[i][Pos] == b)
            {
                lo = lo < 0 ? i : lo;
                hi = i + 1;
            }
        }

        if (lo < 0)
        {
            return;
        }

        // Keys are JSON strings, so none is a prefix of another: a key ends exactly when its closing quote is read.
        next.Add(keys[lo].Length == Pos + 1
            ? this with { Phase = ObjectPhase.Colon, Current = Node.PropertyOfKey(keys[lo]), Lo = 0, Hi = 0, Pos = 0 }
            : this with { Lo = lo, Hi = hi, Pos = Pos + 1 });
    }

    private GrammarNode ValueOf(int property) => Node.AdditionalValues ?? Node.Properties[property].Value;

    private int TailAfter(int property) => Free ? 0 : Node.RequiredTail[property + 1];

    private int CheapestOptional()
    {
        if (Free || Node.KeysFrom[Next] is not { } keys)
        {
            return 4;
        }

        var least = int.MaxValue;
        foreach (var key in keys.Alternatives)
        {
            least = Math.Min(least, key.Length + 1 + ValueOf(Node.PropertyOfKey(key)).MinBytes);
        }

        return least;
    }

    private int KeyRemaining()
    {
        var keys = Node.KeysFrom[Next]!.Alternatives;
        var least = int.MaxValue;
        for (var i = Lo; i < Hi; i++)
        {
            var property = Node.PropertyOfKey(keys[i]);
            least = Math.Min(least, keys[i].Length - Pos + 1 + ValueOf(property).MinBytes + TailAfter(property) + 1);
        }

        return least;
    }
}

/// <summary>Where an array's text is.</summary>
internal enum ArrayPhase
{
    /// <summary>After <c>[</c>.</summary>
    Open,

    /// <summary>After an item.</summary>
    AfterValue,

    /// <summary>After <c>,</c>.</summary>
    Comma,
}

/// <summary>Inside an array, with <see cref="Count"/> items so far.</summary>
internal sealed record ArrayFrame(JsonFrame? Parent, ArrayNode Node, ArrayPhase Phase, int Count, int Whitespace) : JsonFrame
{
    public override int Remaining
    {
        get
        {
            // Items still due, each with a comma before it except the first after "[" or after a comma.
            var missing = Math.Max(0, Node.MinItems - Count);
            return Phase switch
            {
                ArrayPhase.AfterValue => (missing * (Node.Items.MinBytes + 1)) + 1,
                ArrayPhase.Comma => (Math.Max(1, missing) * (Node.Items.MinBytes + 1)) - 1 + 1,
                _ => Math.Max(0, (missing * (Node.Items.MinBytes + 1)) - 1) + 1,
            };
        }
    }

    public override void Step(byte b, List<JsonFrame> next)
    {
        if (IsWhitespace(b))
        {
            if (Whitespace < MaxWhitespace)
            {
                next.Add(this with { Whitespace = Whitespace + 1 });
            }

            return;
        }

        var full = Node.MaxItems is { } max && Count >= max;
        switch (Phase)
        {
            case ArrayPhase.Open:
                if (b == ']' && Node.MinItems == 0)
                {
                    next.Add(Parent!);
                }
                else if (!full)
                {
                    StartValue(Node.Items, this with { Phase = ArrayPhase.AfterValue, Count = Count + 1, Whitespace = 0 }, b, next);
                }

                break;
            case ArrayPhase.AfterValue:
                if (b == ',' && !full)
                {
                    next.Add(this with { Phase = ArrayPhase.Comma, Whitespace = 0 });
                }
                else if (b == ']' && Count >= Node.MinItems)
                {
                    next.Add(Parent!);
                }

                break;
            case ArrayPhase.Comma:
                StartValue(Node.Items, this with { Phase = ArrayPhase.AfterValue, Count = Count + 1, Whitespace = 0 }, b, next);
                break;
        }
    }
}
