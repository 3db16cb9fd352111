using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>
/// A regex written for Hugging Face tokenizers (Rust, Oniguruma syntax) run by .NET with Oniguruma's meaning.
/// </summary>
/// <remarks>
/// Two differences matter. Syntax: possessive quantifiers, <c>\h</c>, <c>\x{...}</c> and Oniguruma's wider <c>\w</c>
/// are rewritten (<see cref="Translate"/>), and what .NET cannot express fails with <see cref="NotSupportedException"/>.
/// Characters: Oniguruma matches code points while .NET matches UTF-16 units, so a character outside the BMP (an emoji,
/// a CJK extension ideograph) would be two "characters" of category Cs to .NET. Before matching, each such character is
/// replaced by one BMP stand-in of the same general category, and match offsets are mapped back.
/// </remarks>
internal sealed class OnigRegex
{
    private readonly Regex _regex;

    /// <summary>Translates and compiles <paramref name="pattern"/>.</summary>
    /// <exception cref="NotSupportedException">The pattern uses syntax .NET cannot reproduce.</exception>
    /// <exception cref="ArgumentException">The translated pattern is not a valid .NET regex.</exception>
    public OnigRegex(string pattern)
    {
        Pattern = pattern;
        DotNetPattern = Translate(pattern);
        _regex = new Regex(DotNetPattern, RegexOptions.Compiled | RegexOptions.CultureInvariant | RegexOptions.Multiline);
    }

    /// <summary>The pattern as the tokenizer file gives it.</summary>
    public string Pattern { get; }

    /// <summary>The equivalent .NET pattern.</summary>
    public string DotNetPattern { get; }

    /// <summary>Adds the (start, length) of every match in <paramref name="text"/>, in UTF-16 offsets of the text.</summary>
    public void Matches(string text, List<(int Start, int Length)> matches)
    {
        var astral = false;
        foreach (var c in text)
        {
            if (char.IsSurrogate(c))
            {
                astral = true;
                break;
            }
        }

        if (!astral)
        {
            for (var m = _regex.Match(text); m.Success; m = m.NextMatch())
            {
                matches.Add((m.Index, m.Length));
            }

            return;
        }

        // One stand-in char per code point; map[i] is the original offset of compact char i (map[^1] = text.Length).
        var compact = new StringBuilder(text.Length);
        var map = new List<int>(text.Length + 1);
        for (var i = 0; i < text.Length; i++)
        {
            map.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                compact.Append(StandIn(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]))));
                i++;
            }
            else
            {
                compact.Append(text[i]);
            }
        }

        map.Add(text.Length);
        for (var m = _regex.Match(compact.ToString()); m.Success; m = m.NextMatch())
        {
            var start = map[m.Index];
            matches.Add((start, map[m.Index + m.Length] - start));
        }
    }

    /// <summary>A BMP character of the same general category, for characters outside the BMP.</summary>
    private static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u01FA',
        UnicodeCategory.LowercaseLetter => '\u01FB',
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u01BB',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.ConnectorPunctuation => '\u203F',
        UnicodeCategory.DashPunctuation => '\u2010',
        UnicodeCategory.OpenPunctuation => '\u2045',
        UnicodeCategory.ClosePunctuation => '\u2046',
        UnicodeCategory.InitialQuotePunctuation => '\u00AB',
        UnicodeCategory.FinalQuotePunctuation => '\u00BB',
        UnicodeCategory.OtherPunctuation => '\u00B6',
        UnicodeCategory.MathSymbol => '\u00AC',
        UnicodeCategory.CurrencySymbol => '\u00A2',
        UnicodeCategory.ModifierSymbol => '\u02C2',
        UnicodeCategory.OtherSymbol => '\u00A6',
        UnicodeCategory.Format => '\u200B',
        UnicodeCategory.PrivateUse => '\uE000',
        _ => '\u0378',
    };

    private static readonly HashSet<string> GeneralCategories =
    [
        "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
        "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Cs", "Co", "Cn",
    ];

    /// <summary>Oniguruma's Unicode <c>\w</c>: letters, marks, decimal digits, connector punctuation (.NET's lacks Mc and Me).</summary>
    private const string WordClassBody = @"\p{L}\p{M}\p{Nd}\p{Pc}";

    /// <summary>Rewrites an Oniguruma (Ruby syntax) pattern as the .NET pattern with the same meaning.</summary>
    /// <exception cref="NotSupportedException">The pattern uses a construct .NET cannot reproduce.</exception>
    internal static string Translate(string pattern)
    {
        var output = new StringBuilder(pattern.Length + 16);
        var groupStarts = new Stack<int>();
        var lastAtom = -1;
        var i = 0;
        while (i < pattern.Length)
        {
            var c = pattern[i];
            switch (c)
            {
                case '\\':
                    lastAtom = output.Length;
                    i = Escape(pattern, i, output, inClass: false);
                    continue;
                case '[':
                    lastAtom = output.Length;
                    i = CharacterClass(pattern, i, output);
                    continue;
                case '(':
                    groupStarts.Push(output.Length);
                    output.Append(c);
                    i++;
                    if (i < pattern.Length && pattern[i] == '?')
                    {
                        // (?: (?= (?! (?<= (?<! (?<name> (?i: (?i) (?> pass through unchanged; Oniguruma-only kinds do not.
                        var next = i + 1 < pattern.Length ? pattern[i + 1] : '\0';
                        if (next is '#' or '~' || (next == '<' && i + 2 < pattern.Length && pattern[i + 2] is not ('=' or '!') && !char.IsLetter(pattern[i + 2])))
                        {
                            throw new NotSupportedException($"the group '(?{next}' at offset {i - 1} has no .NET equivalent");
                        }
                    }

                    continue;
                case ')':
                    lastAtom = groupStarts.Count > 0 ? groupStarts.Pop() : output.Length;
                    output.Append(c);
                    i++;
                    continue;
                case '*' or '+' or '?' or '{':
                    {
                        var end = i + 1;
                        if (c == '{')
                        {
                            var close = pattern.IndexOf('}', i);
                            if (close < 0 || !IsCountedRepetition(pattern.AsSpan(i + 1, close - i - 1)))
                            {
                                // A literal brace, as in Oniguruma.
                                lastAtom = output.Length;
                                output.Append(@"\{");
                                i++;
                                continue;
                            }

                            end = close + 1;
                        }

                        if (end < pattern.Length && pattern[end] == '+' && lastAtom >= 0)
                        {
                            // Possessive: the atom and its quantifier never give back what they matched.
                            output.Insert(lastAtom, "(?>");
                            output.Append(pattern, i, end - i).Append(')');
                            i = end + 1;
                            continue;
                        }

                        output.Append(pattern, i, end - i);
                        i = end;
                        if (i < pattern.Length && pattern[i] == '?')
                        {
                            output.Append('?');
                            i++;
                        }

                        continue;
                    }

                default:
                    if (char.IsSurrogate(c))
                    {
                        throw new NotSupportedException($"the literal character outside the BMP at offset {i} is not supported");
                    }

                    lastAtom = output.Length;
                    output.Append(c);
                    i++;
                    continue;
            }
        }

        return output.ToString();
    }

    private static bool IsCountedRepetition(ReadOnlySpan<char> inside)
    {
        if (inside.IsEmpty)
        {
            return false;
        }

        var comma = false;
        foreach (var ch in inside)
        {
            if (ch == ',')
            {
                if (comma)
                {
                    return false;
                }

                comma = true;
            }
            else if (!char.IsAsciiDigit(ch))
            {
                return false;
            }
        }

        return char.IsAsciiDigit(inside[0]) || (comma && inside.Length > 1);
    }

    private static int CharacterClass(string pattern, int start, StringBuilder output)
    {
        output.Append('[');
        var i = start + 1;
        if (i < pattern.Length && pattern[i] == '^')
        {
            output.Append('^');
            i++;
        }

        var first = true;
        while (i < pattern.Length)
        {
            var c = pattern[i];
            if (c == ']' && !first)
            {
                output.Append(']');
                return i + 1;
            }

            first = false;
            if (c == '\\')
            {
                i = Escape(pattern, i, output, inClass: true);
                continue;
            }

            if (c == '[')
            {
                throw new NotSupportedException($"the nested character class or POSIX bracket at offset {i} is not supported");
            }

            if (c == '&' && i + 1 < pattern.Length && pattern[i + 1] == '&')
            {
                throw new NotSupportedException($"the character class intersection '&&' at offset {i} is not supported");
            }

            if (char.IsSurrogate(c))
            {
                throw new NotSupportedException($"the literal character outside the BMP at offset {i} is not supported");
            }

            if (c == '-' && i + 1 < pattern.Length && pattern[i + 1] == '[')
            {
                // .NET would read this as class subtraction.
                throw new NotSupportedException($"'-[' at offset {i} is not supported");
            }

            output.Append(c);
            i++;
        }

        throw new NotSupportedException($"the character class at offset {start} is not closed");
    }

    private static int Escape(string pattern, int start, StringBuilder output, bool inClass)
    {
        if (start + 1 >= pattern.Length)
        {
            throw new NotSupportedException("the pattern ends with a lone backslash");
        }

        var c = pattern[start + 1];
        switch (c)
        {
            case 'p' or 'P':
                {
                    if (start + 2 >= pattern.Length || pattern[start + 2] != '{')
                    {
                        throw new NotSupportedException($"'\\{c}' at offset {start} needs a {{property}}");
                    }

                    var close = pattern.IndexOf('}', start + 3);
                    if (close < 0)
                    {
                        throw new NotSupportedException($"the property at offset {start} is not closed");
                    }

                    var name = pattern[(start + 3)..close];
                    var negated = c == 'P';
                    if (name.StartsWith('^'))
                    {
                        negated = !negated;
                        name = name[1..];
                    }

                    if (!GeneralCategories.Contains(name))
                    {
                        throw new NotSupportedException($"the Unicode property '\\{c}{{{name}}}' at offset {start} is not a general category .NET supports");
                    }

                    output.Append('\\').Append(negated ? 'P' : 'p').Append('{').Append(name).Append('}');
                    return close + 1;
                }

            case 'h':
                output.Append(inClass ? "0-9a-fA-F" : "[0-9a-fA-F]");
                return start + 2;
            case 'H' when !inClass:
                output.Append("[^0-9a-fA-F]");
                return start + 2;
            case 'w':
                output.Append(inClass ? WordClassBody : "[" + WordClassBody + "]");
                return start + 2;
            case 'W' when !inClass:
                output.Append("[^" + WordClassBody + "]");
                return start + 2;
            case 'x' when start + 2 < pattern.Length && pattern[start + 2] == '{':
                {
                    var close = pattern.IndexOf('}', start + 3);
                    if (close < 0 || !int.TryParse(pattern.AsSpan(start + 3, close - start - 3), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var codePoint))
                    {
                        throw new NotSupportedException($"the escape '\\x{{' at offset {start} is not a hexadecimal code point");
                    }

                    if (codePoint > 0xFFFF)
                    {
                        throw new NotSupportedException($"the code point \\x{{{codePoint:X}}} outside the BMP at offset {start} is not supported");
                    }

                    output.Append("\\u").Append(codePoint.ToString("X4", CultureInfo.InvariantCulture));
                    return close + 1;
                }

            case 'H' or 'W' or 'R' or 'X' or 'K' or 'G' or 'g' or 'k' or 'y' or 'Y' or 'O' or 'N':
                throw new NotSupportedException($"the escape '\\{c}' at offset {start} has no .NET equivalent here");
            default:
                output.Append('\\').Append(c);
                return start + 2;
        }
    }
}
