using System.Globalization;
using System.Text;

namespace OnnxGpt.Templates.Jinja;

/// <summary>
/// Splits a template into text and tag tokens, applying whitespace control as transformers configures Jinja:
/// <c>trim_blocks</c> (the newline after a block or comment tag is dropped), <c>lstrip_blocks</c> (spaces before a
/// block or comment tag at the start of a line are dropped), <c>-</c> and <c>+</c> markers, and no trailing newline.
/// </summary>
internal sealed class JinjaLexer
{
    private static readonly string[] Operators = ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "[", "]", "(", ")", "{", "}", "<", ">", "=", ".", ":", "|", ",", ";"];

    private readonly string _source;
    private readonly List<JinjaToken> _tokens = [];
    private readonly JinjaSourceMap _map;
    private int _pos;

    private JinjaLexer(string source)
    {
        _source = source;
        _map = new JinjaSourceMap(source);
    }

    public static List<JinjaToken> Tokenize(string source)
    {
        var lexer = new JinjaLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    /// <summary>Newlines as Jinja normalises them, and its default of dropping one trailing newline.</summary>
    public static string Normalize(string source)
    {
        var text = source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        return text.EndsWith('\n') ? text[..^1] : text;
    }

    private JinjaException Error(string message, int position)
    {
        var (line, column) = _map.Locate(position);
        return new JinjaException(message, line, column, isSyntax: true);
    }

    private void Run()
    {
        var lineStarting = true;
        while (_pos < _source.Length)
        {
            var tag = FindTagStart(_pos);
            var text = _source[_pos..(tag < 0 ? _source.Length : tag)];
            if (tag < 0)
            {
                AddText(text, _pos);
                break;
            }

            var kind = _source[tag + 1];
            var modifier = tag + 2 < _source.Length ? _source[tag + 2] : '\0';
            if (modifier == '-')
            {
                text = text.TrimEnd();
            }
            else if (kind != '{' && modifier != '+')
            {
                // lstrip_blocks: whitespace between the line's start and a block or comment tag goes.
                var lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && lineStart < text.Length && IsBlank(text, lineStart))
                {
                    text = text[..lineStart];
                }
            }

            AddText(text, _pos);
            var inner = tag + 2 + (modifier is '-' or '+' ? 1 : 0);
            int end;
            bool stripAfter;
            if (kind == '#')
            {
                var close = _source.IndexOf("#}", inner, StringComparison.Ordinal);
                if (close < 0)
                {
                    throw Error("missing end of comment tag '#}'", tag);
                }

                stripAfter = close > inner && _source[close - 1] == '-';
                end = close + 2;
            }
            else if (kind == '%' && TryRaw(tag, inner, out var rawEnd, out var rawStrip))
            {
                end = rawEnd;
                stripAfter = rawStrip;
            }
            else
            {
                (end, stripAfter) = LexTag(kind == '{', tag, inner);
            }

            _pos = end;
            var consumedNewline = false;
            if (!stripAfter && kind != '{' && _pos < _source.Length && _source[_pos] == '\n')
            {
                _pos++;
                consumedNewline = true;
            }

            lineStarting = consumedNewline;
            if (stripAfter)
            {
                var before = _pos;
                while (_pos < _source.Length && char.IsWhiteSpace(_source[_pos]))
                {
                    _pos++;
                }

                lineStarting = _pos > before && _source[_pos - 1] == '\n';
            }
        }

        _tokens.Add(new JinjaToken(JinjaTokenKind.End, string.Empty, _source.Length));
    }

    private static bool IsBlank(string text, int from)
    {
        for (var i = from; i < text.Length; i++)
        {
            if (!char.IsWhiteSpace(text[i]))
            {
                return false;
            }
        }

        return true;
    }

    private void AddText(string text, int position)
    {
        if (text.Length > 0)
        {
            _tokens.Add(new JinjaToken(JinjaTokenKind.Text, text, position));
        }
    }

    private int FindTagStart(int from)
    {
        for (var i = _source.IndexOf('{', from); i >= 0 && i + 1 < _source.Length; i = _source.IndexOf('{', i + 1))
        {
            var next = _source[i + 1];
            if (next is '{' or '%' or '#')
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary><c>{% raw %}...{% endraw %}</c>: the text between is emitted as it is.</summary>
    private bool TryRaw(int tag, int inner, out int end, out bool stripAfter)
    {
        end = 0;
        stripAfter = false;
        var i = SkipSpaces(inner);
        if (string.CompareOrdinal(_source, i, "raw", 0, 3) != 0)
        {
            return false;
        }

        i = SkipSpaces(i + 3);
        var stripInside = false;
        if (i < _source.Length && _source[i] == '-')
        {
            stripInside = true;
            i++;
        }

        if (string.CompareOrdinal(_source, i, "%}", 0, 2) != 0)
        {
            return false;
        }

        var bodyStart = i + 2;
        for (var close = _source.IndexOf("{%", bodyStart, StringComparison.Ordinal); close >= 0; close = _source.IndexOf("{%", close + 2, StringComparison.Ordinal))
        {
            var j = close + 2;
            var stripBefore = j < _source.Length && _source[j] == '-';
            j = SkipSpaces(stripBefore ? j + 1 : j);
            if (string.CompareOrdinal(_source, j, "endraw", 0, 6) != 0)
            {
                continue;
            }

            j = SkipSpaces(j + 6);
            if (j < _source.Length && _source[j] == '-')
            {
                stripAfter = true;
                j++;
            }

            if (string.CompareOrdinal(_source, j, "%}", 0, 2) != 0)
            {
                continue;
            }

            var body = _source[bodyStart..close];
            if (stripInside)
            {
                body = body.TrimStart();
            }

            if (stripBefore)
            {
                body = body.TrimEnd();
            }

            AddText(body, bodyStart);
            end = j + 2;
            return true;
        }

        throw Error("missing '{% endraw %}' for this raw block", tag);
    }

    private int SkipSpaces(int i)
    {
        while (i < _source.Length && char.IsWhiteSpace(_source[i]))
        {
            i++;
        }

        return i;
    }

    private (int End, bool StripAfter) LexTag(bool isVariable, int tag, int inner)
    {
        _tokens.Add(new JinjaToken(isVariable ? JinjaTokenKind.VariableBegin : JinjaTokenKind.BlockBegin, isVariable ? "{{" : "{%", tag));
        var closer = isVariable ? "}}" : "%}";
        var depth = 0;
        var i = inner;
        while (true)
        {
            i = SkipSpaces(i);
            if (i >= _source.Length)
            {
                throw Error($"missing end of tag '{closer}'", tag);
            }

            if (depth == 0)
            {
                if (_source[i] == '-' && string.CompareOrdinal(_source, i + 1, closer, 0, 2) == 0)
                {
                    _tokens.Add(new JinjaToken(isVariable ? JinjaTokenKind.VariableEnd : JinjaTokenKind.BlockEnd, closer, i));
                    return (i + 3, true);
                }

                if (string.CompareOrdinal(_source, i, closer, 0, 2) == 0)
                {
                    _tokens.Add(new JinjaToken(isVariable ? JinjaTokenKind.VariableEnd : JinjaTokenKind.BlockEnd, closer, i));
                    return (i + 2, false);
                }
            }

            var c = _source[i];
            if (char.IsLetter(c) || c == '_')
            {
                var start = i;
                while (i < _source.Length && (char.IsLetterOrDigit(_source[i]) || _source[i] == '_'))
                {
                    i++;
                }

                _tokens.Add(new JinjaToken(JinjaTokenKind.Name, _source[start..i], start));
            }
            else if (char.IsAsciiDigit(c))
            {
                i = LexNumber(i);
            }
            else if (c is '\'' or '"')
            {
                i = LexString(i);
            }
            else
            {
                var op = Array.Find(Operators, o => string.CompareOrdinal(_source, i, o, 0, o.Length) == 0)
                    ?? throw Error($"unexpected character '{c}'", i);
                if (op is "(" or "[" or "{")
                {
                    depth++;
                }
                else if (op is ")" or "]" or "}")
                {
                    depth = Math.Max(0, depth - 1);
                }

                _tokens.Add(new JinjaToken(JinjaTokenKind.Operator, op, i));
                i += op.Length;
            }
        }
    }

    private int LexNumber(int i)
    {
        var start = i;
        var isFloat = false;
        while (i < _source.Length && (char.IsAsciiDigit(_source[i]) || _source[i] == '_'))
        {
            i++;
        }

        if (i + 1 < _source.Length && _source[i] == '.' && char.IsAsciiDigit(_source[i + 1]))
        {
            isFloat = true;
            i++;
            while (i < _source.Length && (char.IsAsciiDigit(_source[i]) || _source[i] == '_'))
            {
                i++;
            }
        }

        if (i < _source.Length && _source[i] is 'e' or 'E')
        {
            var j = i + 1;
            if (j < _source.Length && _source[j] is '+' or '-')
            {
                j++;
            }

            if (j < _source.Length && char.IsAsciiDigit(_source[j]))
            {
                isFloat = true;
                i = j;
                while (i < _source.Length && char.IsAsciiDigit(_source[i]))
                {
                    i++;
                }
            }
        }

        var text = _source[start..i].Replace("_", string.Empty, StringComparison.Ordinal);
        _tokens.Add(isFloat
            ? new JinjaToken(JinjaTokenKind.Float, text, start, double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture))
            : new JinjaToken(JinjaTokenKind.Integer, text, start, long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture)));
        return i;
    }

    /// <summary>A string literal with Python's escapes (<c>\n</c>, <c>\t</c>, <c>\uXXXX</c>, ...), as Jinja decodes them.</summary>
    private int LexString(int i)
    {
        var start = i;
        var quote = _source[i++];
        var value = new StringBuilder();
        while (true)
        {
            if (i >= _source.Length)
            {
                throw Error("unterminated string literal", start);
            }

            var c = _source[i++];
            if (c == quote)
            {
                break;
            }

            if (c != '\\' || i >= _source.Length)
            {
                value.Append(c);
                continue;
            }

            var e = _source[i++];
            switch (e)
            {
                case 'n': value.Append('\n'); break;
                case 't': value.Append('\t'); break;
                case 'r': value.Append('\r'); break;
                case '\\': value.Append('\\'); break;
                case '\'': value.Append('\''); break;
                case '"': value.Append('"'); break;
                case '\n': break;
                case 'a': value.Append('\a'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case 'v': value.Append('\v'); break;
                case '0': value.Append('\0'); break;
                case 'x':
                case 'u':
                case 'U':
                    {
                        var width = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                        if (i + width > _source.Length || !int.TryParse(_source.AsSpan(i, width), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code))
                        {
                            throw Error($"truncated \\{e} escape in a string literal", i - 2);
                        }

                        value.Append(char.ConvertFromUtf32(code));
                        i += width;
                        break;
                    }

                default:
                    value.Append('\\').Append(e);
                    break;
            }
        }

        _tokens.Add(new JinjaToken(JinjaTokenKind.String, _source[start..i], start, value.ToString()));
        return i;
    }
}
