using System.Text;
using Microsoft.ML.Tokenizers;

namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>A Hugging Face normalizer as a Microsoft.ML.Tokenizers <see cref="Normalizer"/>, with a short description.</summary>
internal abstract class JsonNormalizer : Normalizer
{
    /// <summary>How <c>onnxgpt inspect</c> names it, for example "NFC" or "Replace(' ' -> '▁')".</summary>
    public abstract string Describe();

    /// <inheritdoc />
    public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString());
}

/// <summary>Unicode normalization: NFC, NFD, NFKC or NFKD.</summary>
internal sealed class UnicodeNormalizer(NormalizationForm form, string name) : JsonNormalizer
{
    public override string Normalize(string original) => original.IsNormalized(form) ? original : original.Normalize(form);

    public override string Describe() => name;
}

/// <summary>
/// Lowercases the text as the Rust library does, with Rust's <c>char::to_lowercase</c>: Unicode's full, context-free
/// lowercase mapping. It differs from .NET's simple mapping (<see cref="string.ToLowerInvariant"/>) only where one
/// character lowercases to several, which Unicode (SpecialCasing.txt) has for U+0130 'İ' alone: "i" + U+0307 COMBINING
/// DOT ABOVE. No final-sigma rule: the Rust library maps each character on its own, so 'Σ' is always 'σ'.
/// </summary>
internal sealed class LowercaseJsonNormalizer : JsonNormalizer
{
    private const char CapitalIWithDotAbove = '\u0130';

    public override string Normalize(string original)
    {
        if (!original.Contains(CapitalIWithDotAbove, StringComparison.Ordinal))
        {
            return original.ToLowerInvariant();
        }

        var builder = new System.Text.StringBuilder(original.Length + 8);
        var start = 0;
        for (var i = original.IndexOf(CapitalIWithDotAbove); i >= 0; i = original.IndexOf(CapitalIWithDotAbove, start))
        {
            builder.Append(original.AsSpan(start, i - start).ToString().ToLowerInvariant()).Append("i\u0307");
            start = i + 1;
        }

        return builder.Append(original[start..].ToLowerInvariant()).ToString();
    }

    public override string Describe() => "Lowercase";
}

/// <summary>Replaces every match of a string or regex with <c>content</c>.</summary>
internal sealed class ReplaceNormalizer(TextPattern pattern, string content) : JsonNormalizer
{
    public override string Normalize(string original) => pattern.Replace(original, content);

    public override string Describe() => $"Replace({pattern} -> '{content}')";
}

/// <summary>Prepends a string to a non-empty text.</summary>
internal sealed class PrependNormalizer(string prepend) : JsonNormalizer
{
    public override string Normalize(string original) => original.Length == 0 ? original : prepend + original;

    public override string Describe() => $"Prepend('{prepend}')";
}

/// <summary>Removes whitespace at the start and/or the end.</summary>
internal sealed class StripNormalizer(bool left, bool right) : JsonNormalizer
{
    public override string Normalize(string original)
    {
        var span = original.AsSpan();
        if (left)
        {
            span = span.TrimStart();
        }

        if (right)
        {
            span = span.TrimEnd();
        }

        return span.Length == original.Length ? original : span.ToString();
    }

    public override string Describe() => $"Strip(left: {left}, right: {right})";
}

/// <summary>Applies normalizers in order.</summary>
internal sealed class SequenceNormalizer(IReadOnlyList<JsonNormalizer> normalizers) : JsonNormalizer
{
    public override string Normalize(string original)
    {
        foreach (var normalizer in normalizers)
        {
            original = normalizer.Normalize(original);
        }

        return original;
    }

    public override string Describe() => normalizers.Count == 0 ? "none" : string.Join(" > ", normalizers.Select(n => n.Describe()));
}

/// <summary>A <c>{"String": ...}</c> or <c>{"Regex": ...}</c> pattern of a normalizer, pre-tokenizer or decoder.</summary>
internal sealed class TextPattern
{
    private TextPattern(string? literal, OnigRegex? regex)
    {
        Literal = literal;
        Regex = regex;
    }

    /// <summary>The literal string, when the pattern is one.</summary>
    public string? Literal { get; }

    /// <summary>The regex, when the pattern is one.</summary>
    public OnigRegex? Regex { get; }

    public static TextPattern FromString(string literal) => new(literal, null);

    public static TextPattern FromRegex(string pattern) => new(null, new OnigRegex(pattern));

    /// <summary>Adds every non-overlapping match, left to right.</summary>
    public void Matches(string text, List<(int Start, int Length)> matches)
    {
        if (Regex is not null)
        {
            Regex.Matches(text, matches);
            return;
        }

        var literal = Literal!;
        if (literal.Length == 0)
        {
            return;
        }

        for (var at = text.IndexOf(literal, StringComparison.Ordinal); at >= 0; at = text.IndexOf(literal, at + literal.Length, StringComparison.Ordinal))
        {
            matches.Add((at, literal.Length));
        }
    }

    public string Replace(string text, string content)
    {
        if (Literal is not null)
        {
            return Literal.Length == 0 ? text : text.Replace(Literal, content, StringComparison.Ordinal);
        }

        var matches = new List<(int Start, int Length)>();
        Regex!.Matches(text, matches);
        if (matches.Count == 0)
        {
            return text;
        }

        var result = new StringBuilder(text.Length);
        var at = 0;
        foreach (var (start, length) in matches)
        {
            result.Append(text, at, start - at).Append(content);
            at = start + length;
        }

        return result.Append(text, at, text.Length - at).ToString();
    }

    public override string ToString() => Literal is not null ? $"'{Literal}'" : $"/{Regex!.Pattern}/";
}
