using System.Globalization;

namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>A piece of text after pre-tokenization: its text and where it starts in the text given to the tokenizer.</summary>
internal readonly record struct PreToken(string Text, int Offset);

/// <summary>How a split pattern's matches join the text around them (Hugging Face's <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior
{
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

/// <summary>
/// A Hugging Face pre-tokenizer: it splits each piece into smaller pieces (and may rewrite them, as Metaspace does),
/// with the same semantics as the Rust <c>tokenizers</c> library.
/// </summary>
internal abstract class JsonPreTokenizer
{
    /// <summary>Splits every piece of <paramref name="pieces"/> into <paramref name="output"/>.</summary>
    public void Apply(List<PreToken> pieces, List<PreToken> output, List<(int Start, int Length)> scratch)
    {
        foreach (var piece in pieces)
        {
            Split(piece, output, scratch);
        }
    }

    /// <summary>Splits one piece.</summary>
    protected abstract void Split(PreToken piece, List<PreToken> output, List<(int Start, int Length)> scratch);

    /// <summary>How <c>onnxgpt inspect</c> names it.</summary>
    public abstract string Describe();

    /// <summary>
    /// Splits <paramref name="piece"/> around <paramref name="matches"/> as Hugging Face's <c>NormalizedString::split</c>:
    /// the text is cut into matching and non-matching parts, the behavior joins or drops them, empty parts vanish.
    /// </summary>
    protected static void SplitAround(PreToken piece, List<(int Start, int Length)> matches, SplitBehavior behavior, bool invert, List<PreToken> output)
    {
        var text = piece.Text;
        if (matches.Count == 0)
        {
            if (invert && behavior == SplitBehavior.Removed)
            {
                return;
            }

            if (text.Length > 0)
            {
                output.Add(piece);
            }

            return;
        }

        // Parts covering the whole text: (start, end, isMatch).
        Span<(int Start, int End, bool IsMatch)> initial = matches.Count * 2 + 1 <= 64 ? stackalloc (int, int, bool)[matches.Count * 2 + 1] : new (int, int, bool)[matches.Count * 2 + 1];
        var count = 0;
        var previous = 0;
        foreach (var (start, length) in matches)
        {
            if (start != previous)
            {
                initial[count++] = (previous, start, invert);
            }

            initial[count++] = (start, start + length, !invert);
            previous = start + length;
        }

        if (previous != text.Length)
        {
            initial[count++] = (previous, text.Length, invert);
        }

        var parts = initial[..count];
        Span<(int Start, int End, bool Remove)> splits = count <= 64 ? stackalloc (int, int, bool)[count] : new (int, int, bool)[count];
        var n = 0;
        switch (behavior)
        {
            case SplitBehavior.Isolated:
                foreach (var (s, e, _) in parts)
                {
                    splits[n++] = (s, e, false);
                }

                break;
            case SplitBehavior.Removed:
                foreach (var (s, e, isMatch) in parts)
                {
                    splits[n++] = (s, e, isMatch);
                }

                break;
            case SplitBehavior.Contiguous:
                {
                    var previousMatch = false;
                    foreach (var (s, e, isMatch) in parts)
                    {
                        if (isMatch == previousMatch && n > 0)
                        {
                            splits[n - 1].End = e;
                        }
                        else
                        {
                            splits[n++] = (s, e, false);
                        }

                        previousMatch = isMatch;
                    }

                    break;
                }

            case SplitBehavior.MergedWithPrevious:
                {
                    var previousMatch = false;
                    foreach (var (s, e, isMatch) in parts)
                    {
                        if (isMatch && !previousMatch && n > 0)
                        {
                            splits[n - 1].End = e;
                        }
                        else
                        {
                            splits[n++] = (s, e, false);
                        }

                        previousMatch = isMatch;
                    }

                    break;
                }

            case SplitBehavior.MergedWithNext:
                {
                    // Right to left, then reversed.
                    var previousMatch = false;
                    for (var i = parts.Length - 1; i >= 0; i--)
                    {
                        var (s, e, isMatch) = parts[i];
                        if (isMatch && !previousMatch && n > 0)
                        {
                            splits[n - 1].Start = s;
                        }
                        else
                        {
                            splits[n++] = (s, e, false);
                        }

                        previousMatch = isMatch;
                    }

                    splits[..n].Reverse();
                    break;
                }
        }

        foreach (var (s, e, remove) in splits[..n])
        {
            if (!remove && e > s)
            {
                output.Add(new PreToken(s == 0 && e == text.Length ? text : text[s..e], piece.Offset + s));
            }
        }
    }
}

/// <summary>Splits on a string or regex pattern (<c>Split</c>).</summary>
internal sealed class SplitPreTokenizer(TextPattern pattern, SplitBehavior behavior, bool invert) : JsonPreTokenizer
{
    protected override void Split(PreToken piece, List<PreToken> output, List<(int Start, int Length)> scratch)
    {
        scratch.Clear();
        pattern.Matches(piece.Text, scratch);
        SplitAround(piece, scratch, behavior, invert, output);
    }

    public override string Describe() => $"Split({pattern}, {behavior}{(invert ? ", invert" : string.Empty)})";
}

/// <summary>
/// Byte-level (<c>ByteLevel</c>): optionally a leading space and GPT-2's regex split. The mapping of bytes to characters
/// is done by the BPE model (Microsoft.ML.Tokenizers' <c>ByteLevel</c> option), so this must be the last pre-tokenizer.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : JsonPreTokenizer
{
    internal const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly OnigRegex Gpt2Regex = new(Gpt2Pattern);

    protected override void Split(PreToken piece, List<PreToken> output, List<(int Start, int Length)> scratch)
    {
        if (addPrefixSpace && !piece.Text.StartsWith(' '))
        {
            piece = piece with { Text = " " + piece.Text };
        }

        if (!useRegex)
        {
            output.Add(piece);
            return;
        }

        scratch.Clear();
        Gpt2Regex.Matches(piece.Text, scratch);
        SplitAround(piece, scratch, SplitBehavior.Isolated, invert: false, output);
    }

    public override string Describe() => $"ByteLevel(add_prefix_space: {addPrefixSpace}, use_regex: {useRegex})";
}

/// <summary>When Metaspace adds its replacement at the start of a piece.</summary>
internal enum PrependScheme
{
    Always,
    First,
    Never,
}

/// <summary>SentencePiece's whitespace handling (<c>Metaspace</c>): spaces become the replacement (▁), optionally split before each.</summary>
internal sealed class MetaspacePreTokenizer(char replacement, PrependScheme prependScheme, bool split) : JsonPreTokenizer
{
    public char Replacement => replacement;

    public PrependScheme Scheme => prependScheme;

    protected override void Split(PreToken piece, List<PreToken> output, List<(int Start, int Length)> scratch)
    {
        var text = piece.Text.Replace(' ', replacement);
        if (!text.StartsWith(replacement) && (prependScheme == PrependScheme.Always || (prependScheme == PrependScheme.First && piece.Offset == 0)))
        {
            text = replacement + text;
        }

        piece = piece with { Text = text };
        if (!split)
        {
            output.Add(piece);
            return;
        }

        scratch.Clear();
        for (var i = text.IndexOf(replacement); i >= 0; i = text.IndexOf(replacement, i + 1))
        {
            scratch.Add((i, 1));
        }

        SplitAround(piece, scratch, SplitBehavior.MergedWithNext, invert: false, output);
    }

    public override string Describe() => $"Metaspace('{replacement}', prepend: {prependScheme.ToString().ToLowerInvariant()}, split: {split})";
}

/// <summary>Splits digits from other characters (<c>Digits</c>), each digit alone when <c>individual_digits</c>.</summary>
internal sealed class DigitsPreTokenizer(bool individualDigits) : JsonPreTokenizer
{
    protected override void Split(PreToken piece, List<PreToken> output, List<(int Start, int Length)> scratch)
    {
        scratch.Clear();
        CharMatches(piece.Text, scratch, static cp => CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber);
        SplitAround(piece, scratch, individualDigits ? SplitBehavior.Isolated : SplitBehavior.Contiguous, invert: false, output);
    }

    public override string Describe() => $"Digits(individual: {individualDigits})";

    /// <summary>One match per code point for which <paramref name="predicate"/> holds.</summary>
    internal static void CharMatches(string text, List<(int Start, int Length)> matches, Func<int, bool> predicate)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var length = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            var cp = length == 2 ? char.ConvertToUtf32(text[i], text[i + 1]) : text[i];
            if (predicate(cp))
            {
                matches.Add((i, length));
            }

            i += length - 1;
        }
    }
}

/// <summary>Splits punctuation (ASCII punctuation and Unicode P categories) from other text (<c>Punctuation</c>).</summary>
internal sealed class PunctuationPreTokenizer(SplitBehavior behavior) : JsonPreTokenizer
{
    protected override void Split(PreToken piece, List<PreToken> output, List<(int Start, int Length)> scratch)
    {
        scratch.Clear();
        DigitsPreTokenizer.CharMatches(piece.Text, scratch, static cp => (cp < 128 && char.IsAsciiLetterOrDigit((char)cp) is false && cp > 32 && cp < 127)
            || CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
                or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation);
        SplitAround(piece, scratch, behavior, invert: false, output);
    }

    public override string Describe() => $"Punctuation({behavior})";
}

/// <summary>Keeps runs of word characters and runs of other non-space characters (<c>Whitespace</c>: <c>\w+|[^\w\s]+</c>).</summary>
internal sealed class WhitespacePreTokenizer : JsonPreTokenizer
{
    private static readonly OnigRegex Words = new(@"\w+|[^\w\s]+");

    protected override void Split(PreToken piece, List<PreToken> output, List<(int Start, int Length)> scratch)
    {
        scratch.Clear();
        Words.Matches(piece.Text, scratch);
        SplitAround(piece, scratch, SplitBehavior.Removed, invert: true, output);
    }

    public override string Describe() => "Whitespace";
}

/// <summary>Splits on whitespace, dropping it (<c>WhitespaceSplit</c>).</summary>
internal sealed class WhitespaceSplitPreTokenizer : JsonPreTokenizer
{
    protected override void Split(PreToken piece, List<PreToken> output, List<(int Start, int Length)> scratch)
    {
        scratch.Clear();
        DigitsPreTokenizer.CharMatches(piece.Text, scratch, static cp => cp <= 0xFFFF && char.IsWhiteSpace((char)cp));
        SplitAround(piece, scratch, SplitBehavior.Removed, invert: false, output);
    }

    public override string Describe() => "WhitespaceSplit";
}

/// <summary>Applies pre-tokenizers in order (<c>Sequence</c>).</summary>
internal sealed class SequencePreTokenizer(IReadOnlyList<JsonPreTokenizer> steps) : JsonPreTokenizer
{
    public IReadOnlyList<JsonPreTokenizer> Steps => steps;

    protected override void Split(PreToken piece, List<PreToken> output, List<(int Start, int Length)> scratch)
    {
        var current = new List<PreToken> { piece };
        var next = new List<PreToken>();
        foreach (var step in steps)
        {
            next.Clear();
            step.Apply(current, next, scratch);
            (current, next) = (next, current);
        }

        output.AddRange(current);
    }

    public override string Describe() => steps.Count == 0 ? "none" : string.Join(" > ", steps.Select(s => s.Describe()));
}
