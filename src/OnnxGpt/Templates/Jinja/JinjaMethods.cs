using System.Globalization;
using System.Text;

namespace OnnxGpt.Templates.Jinja;

/// <summary>The Python methods templates call on strings, dicts and lists (<c>strip</c>, <c>get</c>, <c>items</c>, ...).</summary>
internal static class JinjaMethods
{
    private static readonly HashSet<string> StringMethods = new(StringComparer.Ordinal)
    {
        "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "rsplit", "replace", "upper", "lower", "title",
        "capitalize", "format", "count", "find", "rfind", "index", "join", "splitlines", "isdigit", "isalpha", "isspace",
        "isupper", "islower", "zfill", "removeprefix", "removesuffix",
    };

    private static readonly HashSet<string> DictMethods = new(StringComparer.Ordinal) { "get", "items", "keys", "values", "copy" };

    private static readonly HashSet<string> ListMethods = new(StringComparer.Ordinal) { "append", "index", "count", "copy", "pop", "extend", "insert" };

    public static bool IsStringMethod(string name) => StringMethods.Contains(name);

    public static bool IsDictMethod(string name) => DictMethods.Contains(name);

    public static bool IsListMethod(string name) => ListMethods.Contains(name);

    public static object? Call(object? target, string name, List<object?> args, List<KeyValuePair<string, object?>>? kwargs) => target switch
    {
        string s => CallString(s, name, args, kwargs),
        JinjaDict dict => CallDict(dict, name, args),
        List<object?> list => CallList(list, name, args),
        JinjaLoop loop when name == "cycle" => loop.Cycle(args),
        _ => throw new JinjaException($"'{PyOps.TypeName(target)}' object has no method '{name}'"),
    };

    private static object? Arg(List<object?> args, int index) => index < args.Count ? args[index] : null;

    private static object? CallString(string s, string name, List<object?> args, List<KeyValuePair<string, object?>>? kwargs)
    {
        switch (name)
        {
            case "strip":
                return Arg(args, 0) is string chars ? s.Trim(chars.ToCharArray()) : s.Trim();
            case "lstrip":
                return Arg(args, 0) is string lchars ? s.TrimStart(lchars.ToCharArray()) : s.TrimStart();
            case "rstrip":
                return Arg(args, 0) is string rchars ? s.TrimEnd(rchars.ToCharArray()) : s.TrimEnd();
            case "startswith":
                return Affix(args, prefix => s.StartsWith(prefix, StringComparison.Ordinal));
            case "endswith":
                return Affix(args, suffix => s.EndsWith(suffix, StringComparison.Ordinal));
            case "split":
            case "rsplit":
                return Split(s, Arg(args, 0) as string, JinjaArgs.Get(args, kwargs, 1, "maxsplit") is { } max and not JinjaUndefined ? PyOps.ToLong(max) : -1, name == "rsplit");
            case "splitlines":
                return s.Split('\n').Select(line => (object?)line.TrimEnd('\r')).Take(s.EndsWith('\n') ? s.Count(c => c == '\n') : int.MaxValue).ToList();
            case "replace":
                return Replace(s, JinjaArgs.String(Arg(args, 0), "replace() old"), JinjaArgs.String(Arg(args, 1), "replace() new"), Arg(args, 2) is { } count ? PyOps.ToLong(count) : -1);
            case "upper":
                return s.ToUpperInvariant();
            case "lower":
                return s.ToLowerInvariant();
            case "title":
                return Title(s);
            case "capitalize":
                return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
            case "format":
                return Format(s, args, kwargs);
            case "count":
                return (long)Count(s, JinjaArgs.String(Arg(args, 0), "count() argument"));
            case "find":
                return (long)s.IndexOf(JinjaArgs.String(Arg(args, 0), "find() argument"), StringComparison.Ordinal);
            case "rfind":
                return (long)s.LastIndexOf(JinjaArgs.String(Arg(args, 0), "rfind() argument"), StringComparison.Ordinal);
            case "index":
                {
                    var at = s.IndexOf(JinjaArgs.String(Arg(args, 0), "index() argument"), StringComparison.Ordinal);
                    return at >= 0 ? (long)at : throw new JinjaException("substring not found");
                }

            case "join":
                return string.Join(s, PyOps.Iterate(Arg(args, 0)).Select(PyOps.Str));
            case "isdigit":
                return s.Length > 0 && s.All(char.IsDigit);
            case "isalpha":
                return s.Length > 0 && s.All(char.IsLetter);
            case "isspace":
                return s.Length > 0 && s.All(char.IsWhiteSpace);
            case "isupper":
                return s.Any(char.IsLetter) && !s.Any(char.IsLower);
            case "islower":
                return s.Any(char.IsLetter) && !s.Any(char.IsUpper);
            case "zfill":
                {
                    var width = (int)PyOps.ToLong(Arg(args, 0));
                    return s.Length >= width ? s : s.StartsWith('-') || s.StartsWith('+') ? s[0] + new string('0', width - s.Length) + s[1..] : new string('0', width - s.Length) + s;
                }

            case "removeprefix":
                {
                    var prefix = JinjaArgs.String(Arg(args, 0), "removeprefix() argument");
                    return s.StartsWith(prefix, StringComparison.Ordinal) ? s[prefix.Length..] : s;
                }

            case "removesuffix":
                {
                    var suffix = JinjaArgs.String(Arg(args, 0), "removesuffix() argument");
                    return suffix.Length > 0 && s.EndsWith(suffix, StringComparison.Ordinal) ? s[..^suffix.Length] : s;
                }

            default:
                throw new JinjaException($"'str' object has no attribute '{name}'");
        }
    }

    private static bool Affix(List<object?> args, Func<string, bool> test) => Arg(args, 0) switch
    {
        string affix => test(affix),
        JinjaTuple tuple => tuple.Items.Any(item => item is string affix && test(affix)),
        var other => throw new JinjaException($"startswith/endswith first arg must be str or a tuple of str, not {PyOps.TypeName(other)}"),
    };

    public static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0)
        {
            return old.Length == 0 ? InsertEverywhere(s, replacement) : s.Replace(old, replacement, StringComparison.Ordinal);
        }

        var builder = new StringBuilder();
        var position = 0;
        for (var done = 0L; done < count; done++)
        {
            var at = s.IndexOf(old, position, StringComparison.Ordinal);
            if (at < 0 || old.Length == 0)
            {
                break;
            }

            builder.Append(s, position, at - position).Append(replacement);
            position = at + old.Length;
        }

        return builder.Append(s, position, s.Length - position).ToString();
    }

    private static string InsertEverywhere(string s, string insert)
    {
        var builder = new StringBuilder(insert);
        foreach (var c in s)
        {
            builder.Append(c).Append(insert);
        }

        return builder.ToString();
    }

    private static int Count(string s, string sub)
    {
        if (sub.Length == 0)
        {
            return s.Length + 1;
        }

        var count = 0;
        for (var at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static List<object?> Split(string s, string? separator, long maxSplit, bool fromRight)
    {
        var result = new List<object?>();
        if (separator is null)
        {
            var words = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (maxSplit < 0 || words.Length <= maxSplit + 1)
            {
                result.AddRange(words);
                return result;
            }

            // Python keeps the rest of the string, leading whitespace stripped, as the last piece.
            var rest = s.TrimStart();
            for (var i = 0; i < maxSplit; i++)
            {
                var end = rest.IndexOfAny([' ', '\t', '\n', '\r', '\f', '\v']);
                result.Add(rest[..end]);
                rest = rest[end..].TrimStart();
            }

            result.Add(rest);
            return result;
        }

        if (separator.Length == 0)
        {
            throw new JinjaException("empty separator");
        }

        if (fromRight && maxSplit >= 0)
        {
            var parts = new List<object?>();
            var end = s.Length;
            for (var i = 0; i < maxSplit; i++)
            {
                var at = s.LastIndexOf(separator, end - 1 < 0 ? 0 : end - 1, StringComparison.Ordinal);
                if (at < 0 || at + separator.Length > end)
                {
                    break;
                }

                parts.Insert(0, s[(at + separator.Length)..end]);
                end = at;
            }

            parts.Insert(0, s[..end]);
            return parts;
        }

        var pieces = maxSplit < 0 ? s.Split(separator) : s.Split(separator, (int)Math.Min(maxSplit + 1, int.MaxValue));
        result.AddRange(pieces);
        return result;
    }

    public static string Title(string s)
    {
        var builder = new StringBuilder(s.Length);
        var previousCased = false;
        foreach (var c in s)
        {
            builder.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = char.IsLetter(c);
        }

        return builder.ToString();
    }

    /// <summary>Python's <c>str.format</c> for <c>{}</c>, <c>{0}</c> and <c>{name}</c> fields (no format specs beyond none).</summary>
    private static string Format(string format, List<object?> args, List<KeyValuePair<string, object?>>? kwargs)
    {
        var builder = new StringBuilder();
        var automatic = 0;
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if (c == '{' && i + 1 < format.Length && format[i + 1] == '{')
            {
                builder.Append('{');
                i++;
                continue;
            }

            if (c == '}' && i + 1 < format.Length && format[i + 1] == '}')
            {
                builder.Append('}');
                i++;
                continue;
            }

            if (c != '{')
            {
                builder.Append(c);
                continue;
            }

            var close = format.IndexOf('}', i);
            if (close < 0)
            {
                throw new JinjaException("single '{' encountered in format string");
            }

            var field = format[(i + 1)..close];
            var colon = field.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0)
            {
                field = field[..colon];
            }

            object? value;
            if (field.Length == 0)
            {
                value = automatic < args.Count ? args[automatic++] : throw new JinjaException("Replacement index out of range for positional args tuple");
            }
            else if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                value = index < args.Count ? args[index] : throw new JinjaException("Replacement index out of range for positional args tuple");
            }
            else
            {
                value = JinjaArgs.Has([], kwargs, 0, field) ? JinjaArgs.Get([], kwargs, 0, field) : throw new JinjaException($"KeyError: '{field}'");
            }

            builder.Append(PyOps.Str(value));
            i = close;
        }

        return builder.ToString();
    }

    private static object? CallDict(JinjaDict dict, string name, List<object?> args)
    {
        switch (name)
        {
            case "get":
                return dict.TryGetValue(JinjaDict.Key(Arg(args, 0)), out var value) ? value : Arg(args, 1);
            case "items":
                return dict.Select(pair => (object?)new JinjaTuple([JinjaDict.FromKey(pair.Key), pair.Value])).ToList();
            case "keys":
                return dict.Keys.Select(JinjaDict.FromKey).ToList();
            case "values":
                return dict.Values.ToList();
            case "copy":
                {
                    var copy = new JinjaDict(dict.Count);
                    foreach (var (key, item) in dict)
                    {
                        copy[key] = item;
                    }

                    return copy;
                }

            default:
                throw new JinjaException($"'dict' object has no attribute '{name}'");
        }
    }

    private static object? CallList(List<object?> list, string name, List<object?> args)
    {
        switch (name)
        {
            case "append":
                list.Add(Arg(args, 0));
                return null;
            case "extend":
                list.AddRange(PyOps.Iterate(Arg(args, 0)));
                return null;
            case "insert":
                list.Insert((int)Math.Clamp(PyOps.ToLong(Arg(args, 0)), 0, list.Count), Arg(args, 1));
                return null;
            case "pop":
                {
                    if (list.Count == 0)
                    {
                        throw new JinjaException("pop from empty list");
                    }

                    var index = args.Count > 0 ? (int)PyOps.ToLong(args[0]) : list.Count - 1;
                    if (index < 0)
                    {
                        index += list.Count;
                    }

                    var value = list[index];
                    list.RemoveAt(index);
                    return value;
                }

            case "index":
                {
                    var index = list.FindIndex(item => PyOps.AreEqual(item, Arg(args, 0)));
                    return index >= 0 ? (long)index : throw new JinjaException($"{PyOps.Repr(Arg(args, 0))} is not in list");
                }

            case "count":
                return (long)list.Count(item => PyOps.AreEqual(item, Arg(args, 0)));
            case "copy":
                return new List<object?>(list);
            default:
                throw new JinjaException($"'list' object has no attribute '{name}'");
        }
    }
}
