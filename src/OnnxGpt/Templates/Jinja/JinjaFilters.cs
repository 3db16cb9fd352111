using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace OnnxGpt.Templates.Jinja;

/// <summary>Jinja's filters as chat templates use them, with transformers' <c>tojson</c>.</summary>
internal static partial class JinjaFilters
{
    private static readonly HashSet<string> Names = new(StringComparer.Ordinal)
    {
        "tojson", "trim", "length", "count", "first", "last", "join", "default", "d", "upper", "lower", "title",
        "capitalize", "replace", "items", "list", "selectattr", "rejectattr", "map", "select", "reject", "unique",
        "sort", "reverse", "int", "float", "string", "safe", "indent", "wordcount", "abs", "round", "min", "max", "sum",
        "dictsort", "e", "escape", "attr", "batch", "center", "truncate", "format", "striptags", "urlencode",
    };

    public static bool Exists(string name) => Names.Contains(name);

    public static object? Apply(JinjaRenderer renderer, string name, object? value, List<object?> args, List<KeyValuePair<string, object?>>? kwargs)
    {
        object? Arg(int index, string key, object? fallback = null) => JinjaArgs.Get(args, kwargs, index, key, fallback);
        switch (name)
        {
            case "tojson":
                {
                    var indent = Arg(0, "indent");
                    var separators = Arg(1, "separators");
                    var sortKeys = PyOps.Truthy(Arg(2, "sort_keys", false));
                    return JinjaJson.Serialize(value, indent is null or JinjaUndefined ? null : indent, separators, sortKeys);
                }

            case "trim":
                return Arg(0, "chars") is string chars ? PyOps.Str(value).Trim(chars.ToCharArray()) : PyOps.Str(value).Trim();
            case "length":
            case "count":
                return (long)PyOps.Length(value);
            case "first":
                {
                    var items = PyOps.Iterate(value);
                    return items.Count > 0 ? items[0] : new JinjaUndefined("No first item, sequence was empty.");
                }

            case "last":
                {
                    var items = PyOps.Iterate(value);
                    return items.Count > 0 ? items[^1] : new JinjaUndefined("No last item, sequence was empty.");
                }

            case "join":
                {
                    var separator = PyOps.Str(Arg(0, "d", string.Empty));
                    var attribute = Arg(1, "attribute");
                    return string.Join(separator, PyOps.Iterate(value).Select(item => PyOps.Str(attribute is null ? item : Attribute(item, attribute))));
                }

            case "default":
            case "d":
                {
                    var fallback = Arg(0, "default_value", string.Empty);
                    var boolean = PyOps.Truthy(Arg(1, "boolean", false));
                    return value is JinjaUndefined || (boolean && !PyOps.Truthy(value)) ? fallback : value;
                }

            case "upper":
                return PyOps.Str(value).ToUpperInvariant();
            case "lower":
                return PyOps.Str(value).ToLowerInvariant();
            case "title":
                return TitleWords(PyOps.Str(value));
            case "capitalize":
                {
                    var s = PyOps.Str(value);
                    return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
                }

            case "replace":
                return JinjaMethods.Replace(PyOps.Str(value), PyOps.Str(Arg(0, "old")), PyOps.Str(Arg(1, "new")), Arg(2, "count") is { } count and not JinjaUndefined ? PyOps.ToLong(count) : -1);
            case "items":
                return value switch
                {
                    JinjaDict dict => dict.Select(pair => (object?)new JinjaTuple([JinjaDict.FromKey(pair.Key), pair.Value])).ToList(),
                    JinjaUndefined => new List<object?>(),
                    _ => throw new JinjaException($"can only get item pairs from a mapping, not {PyOps.TypeName(value)}"),
                };
            case "list":
                return new List<object?>(PyOps.Iterate(value));
            case "selectattr":
            case "rejectattr":
                return SelectOrReject(renderer, value, args, kwargs, byAttribute: true, keep: name == "selectattr");
            case "select":
            case "reject":
                return SelectOrReject(renderer, value, args, kwargs, byAttribute: false, keep: name == "select");
            case "map":
                return Map(renderer, value, args, kwargs);
            case "unique":
                {
                    var caseSensitive = PyOps.Truthy(Arg(0, "case_sensitive", false));
                    var attribute = Arg(1, "attribute");
                    var seen = new List<object?>();
                    var result = new List<object?>();
                    foreach (var item in PyOps.Iterate(value))
                    {
                        var key = SortKey(attribute is null ? item : Attribute(item, attribute), caseSensitive);
                        if (!seen.Exists(k => PyOps.AreEqual(k, key)))
                        {
                            seen.Add(key);
                            result.Add(item);
                        }
                    }

                    return result;
                }

            case "sort":
                {
                    var reverse = PyOps.Truthy(Arg(0, "reverse", false));
                    var caseSensitive = PyOps.Truthy(Arg(1, "case_sensitive", false));
                    var attribute = Arg(2, "attribute");
                    var items = new List<object?>(PyOps.Iterate(value));
                    var keyed = items.Select((item, index) => (Key: SortKey(attribute is null ? item : Attribute(item, attribute), caseSensitive), Index: index, Item: item)).ToList();
                    keyed.Sort((a, b) =>
                    {
                        var order = PyOps.Compare(a.Key, b.Key);
                        return order != 0 ? (reverse ? -order : order) : a.Index.CompareTo(b.Index);
                    });
                    return keyed.Select(k => k.Item).ToList();
                }

            case "dictsort":
                {
                    if (value is not JinjaDict dict)
                    {
                        throw new JinjaException("dictsort filter expects a mapping");
                    }

                    var caseSensitive = PyOps.Truthy(Arg(0, "case_sensitive", false));
                    var byValue = PyOps.Str(Arg(1, "by", "key")) == "value";
                    var reverse = PyOps.Truthy(Arg(2, "reverse", false));
                    var pairs = dict.Select(p => (Pair: (object?)new JinjaTuple([JinjaDict.FromKey(p.Key), p.Value]), Key: SortKey(byValue ? p.Value : JinjaDict.FromKey(p.Key), caseSensitive))).ToList();
                    pairs.Sort((a, b) => reverse ? PyOps.Compare(b.Key, a.Key) : PyOps.Compare(a.Key, b.Key));
                    return pairs.Select(p => p.Pair).ToList();
                }

            case "reverse":
                if (value is string text)
                {
                    var characters = PyOps.Iterate(text);
                    return string.Concat(characters.Reverse().Select(c => (string)c!));
                }

                return PyOps.Iterate(value).Reverse().ToList();
            case "int":
                return ToInt(value, Arg(0, "default", 0L), Arg(1, "base", 10L));
            case "float":
                return ToFloat(value, Arg(0, "default", 0.0));
            case "string":
                return PyOps.Str(value);
            case "safe":
                return value is string ? value : PyOps.Str(value);
            case "e":
            case "escape":
                return PyOps.Str(value).Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
                    .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&#34;", StringComparison.Ordinal).Replace("'", "&#39;", StringComparison.Ordinal);
            case "indent":
                return Indent(PyOps.Str(value), Arg(0, "width", 4L), PyOps.Truthy(Arg(1, "first", false)), PyOps.Truthy(Arg(2, "blank", false)));
            case "wordcount":
                return (long)WordPattern().Count(PyOps.Str(value));
            case "abs":
                return value switch
                {
                    long l => (object)Math.Abs(l),
                    double d => Math.Abs(d),
                    bool b => b ? 1L : 0L,
                    _ => throw new JinjaException($"bad operand type for abs(): '{PyOps.TypeName(value)}'"),
                };
            case "round":
                {
                    var precision = (int)PyOps.ToLong(Arg(0, "precision", 0L));
                    var method = PyOps.Str(Arg(1, "method", "common"));
                    var number = PyOps.ToDouble(value);
                    var factor = Math.Pow(10, precision);
                    return method switch
                    {
                        "ceil" => Math.Ceiling(number * factor) / factor,
                        "floor" => Math.Floor(number * factor) / factor,
                        _ => Math.Round(number, precision, MidpointRounding.ToEven),  // Python's round()
                    };
                }

            case "min":
            case "max":
                {
                    var items = PyOps.Iterate(value);
                    if (items.Count == 0)
                    {
                        return new JinjaUndefined($"No aggregated item, sequence was empty.");
                    }

                    var caseSensitive = PyOps.Truthy(Arg(0, "case_sensitive", false));
                    var attribute = Arg(1, "attribute");
                    var best = items[0];
                    foreach (var item in items.Skip(1))
                    {
                        var order = PyOps.Compare(SortKey(attribute is null ? item : Attribute(item, attribute), caseSensitive), SortKey(attribute is null ? best : Attribute(best, attribute), caseSensitive));
                        if (name == "min" ? order < 0 : order > 0)
                        {
                            best = item;
                        }
                    }

                    return best;
                }

            case "sum":
                {
                    var attribute = Arg(0, "attribute");
                    object? total = Arg(1, "start", 0L);
                    foreach (var item in PyOps.Iterate(value))
                    {
                        total = PyOps.Add(total, attribute is null ? item : Attribute(item, attribute));
                    }

                    return total;
                }

            case "attr":
                return PyOps.GetAttribute(value, PyOps.Str(Arg(0, "name")));
            case "batch":
                {
                    var size = (int)PyOps.ToLong(Arg(0, "linecount"));
                    var result = new List<object?>();
                    List<object?>? current = null;
                    foreach (var item in PyOps.Iterate(value))
                    {
                        if (current is null || current.Count == size)
                        {
                            current = [];
                            result.Add(current);
                        }

                        current.Add(item);
                    }

                    return result;
                }

            case "center":
                {
                    var s = PyOps.Str(value);
                    var width = (int)PyOps.ToLong(Arg(0, "width", 80L));
                    if (s.Length >= width)
                    {
                        return s;
                    }

                    var total = width - s.Length;
                    var left = (total / 2) + (total & width & 1);
                    return new string(' ', left) + s + new string(' ', total - left);
                }

            case "truncate":
                {
                    var s = PyOps.Str(value);
                    var length = (int)PyOps.ToLong(Arg(0, "length", 255L));
                    var end = PyOps.Str(Arg(2, "end", "..."));
                    return s.Length <= length + (int)PyOps.ToLong(Arg(4, "leeway", 5L)) ? s : s[..Math.Max(0, length - end.Length)] + end;
                }

            case "format":
                return PyOps.Arithmetic("%", PyOps.Str(value), args.Count == 1 ? args[0] : new JinjaTuple([.. args]));
            case "striptags":
                return WhitespacePattern().Replace(TagPattern().Replace(PyOps.Str(value), string.Empty), " ").Trim();
            case "urlencode":
                return Uri.EscapeDataString(PyOps.Str(value));
            default:
                throw new JinjaException($"no filter named '{name}'");
        }
    }

    private static object? Attribute(object? item, object attribute)
    {
        var value = item;
        foreach (var part in PyOps.Str(attribute).Split('.'))
        {
            value = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? PyOps.GetItem(value, index) : PyOps.GetItem(value, part);
        }

        return value;
    }

    private static object? SortKey(object? value, bool caseSensitive) => !caseSensitive && value is string s ? s.ToLowerInvariant() : value;

    private static List<object?> SelectOrReject(JinjaRenderer renderer, object? value, List<object?> args, List<KeyValuePair<string, object?>>? kwargs, bool byAttribute, bool keep)
    {
        var offset = byAttribute ? 1 : 0;
        var attribute = byAttribute ? args.Count > 0 ? args[0] : throw new JinjaException("selectattr/rejectattr need an attribute name") : null;
        var test = args.Count > offset ? PyOps.Str(args[offset]) : null;
        var testArgs = args.Skip(offset + 1).ToList();
        var result = new List<object?>();
        foreach (var item in PyOps.Iterate(value))
        {
            var subject = attribute is null ? item : Attribute(item, attribute);
            var passes = test is null ? PyOps.Truthy(subject) : JinjaTests.Apply(renderer, test, subject, testArgs, kwargs);
            if (passes == keep)
            {
                result.Add(item);
            }
        }

        return result;
    }

    private static List<object?> Map(JinjaRenderer renderer, object? value, List<object?> args, List<KeyValuePair<string, object?>>? kwargs)
    {
        var attribute = JinjaArgs.Get([], kwargs, 0, "attribute");
        var result = new List<object?>();
        if (attribute is not null)
        {
            var fallback = JinjaArgs.Get([], kwargs, 0, "default");
            foreach (var item in PyOps.Iterate(value))
            {
                var mapped = Attribute(item, attribute);
                result.Add(mapped is JinjaUndefined && fallback is not null ? fallback : mapped);
            }

            return result;
        }

        if (args.Count == 0)
        {
            throw new JinjaException("map() needs a filter name or attribute=");
        }

        var filter = PyOps.Str(args[0]);
        if (!Exists(filter))
        {
            throw new JinjaException($"no filter named '{filter}'");
        }

        var filterArgs = args.Skip(1).ToList();
        foreach (var item in PyOps.Iterate(value))
        {
            result.Add(Apply(renderer, filter, item, filterArgs, kwargs));
        }

        return result;
    }

    private static object? ToInt(object? value, object? fallback, object? numberBase)
    {
        switch (value)
        {
            case long l:
                return l;
            case bool b:
                return b ? 1L : 0L;
            case double d:
                return double.IsFinite(d) ? (long)d : fallback;
            case string s:
                {
                    var text = s.Trim().Replace("_", string.Empty, StringComparison.Ordinal);
                    var radix = (int)PyOps.ToLong(numberBase);
                    try
                    {
                        if (radix == 10)
                        {
                            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
                            {
                                return parsed;
                            }

                            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && double.IsFinite(real) ? (long)real : fallback;
                        }

                        return Convert.ToInt64(text, radix);
                    }
                    catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException)
                    {
                        return fallback;
                    }
                }

            default:
                return fallback;
        }
    }

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        double d => d,
        long l => (double)l,
        bool b => b ? 1.0 : 0.0,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => fallback,
    };

    /// <summary>Jinja's <c>indent</c>: every line but the first (unless <c>first</c>), blank lines only with <c>blank</c>.</summary>
    private static string Indent(string s, object? width, bool first, bool blank)
    {
        var indentation = width is string text ? text : new string(' ', (int)PyOps.ToLong(width));
        var lines = SplitLines(s + "\n");
        string result;
        if (blank)
        {
            result = string.Join("\n" + indentation, lines);
        }
        else
        {
            var builder = new StringBuilder(lines.Count > 0 ? lines[0] : string.Empty);
            for (var i = 1; i < lines.Count; i++)
            {
                builder.Append('\n');
                if (lines[i].Length > 0)
                {
                    builder.Append(indentation);
                }

                builder.Append(lines[i]);
            }

            result = builder.ToString();
        }

        return first ? indentation + result : result;
    }

    /// <summary>Python's <c>str.splitlines()</c> for \n, \r\n and \r.</summary>
    private static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        var start = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] is '\n' or '\r')
            {
                lines.Add(s[start..i]);
                if (s[i] == '\r' && i + 1 < s.Length && s[i + 1] == '\n')
                {
                    i++;
                }

                start = i + 1;
            }
        }

        if (start < s.Length)
        {
            lines.Add(s[start..]);
        }

        return lines;
    }

    /// <summary>Jinja's <c>title</c> filter: the first letter of each word (split on spaces, dashes, brackets) upper-cased.</summary>
    private static string TitleWords(string s)
    {
        var builder = new StringBuilder(s.Length);
        var atWordStart = true;
        foreach (var c in s)
        {
            builder.Append(atWordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            atWordStart = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
        }

        return builder.ToString();
    }

    [GeneratedRegex(@"\w+")]
    private static partial Regex WordPattern();

    [GeneratedRegex(@"<[^>]*>")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"\s+")]
    private static partial Regex WhitespacePattern();
}
