using System.Globalization;
using System.Text;

namespace OnnxGpt.Templates.Jinja;

/// <summary>Python's semantics for the values templates see: truthiness, str/repr, equality, ordering and arithmetic.</summary>
internal static class PyOps
{
    public static bool Truthy(object? value) => value switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        JinjaTuple tuple => tuple.Items.Length > 0,
        JinjaDict dict => dict.Count > 0,
        JinjaUndefined => false,
        _ => true,
    };

    /// <summary>Python's <c>str()</c>, as <c>{{ value }}</c> prints it (Undefined prints nothing).</summary>
    public static string Str(object? value) => value switch
    {
        string s => s,
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        JinjaUndefined => string.Empty,
        _ => Repr(value),
    };

    public static void AppendStr(StringBuilder output, object? value)
    {
        switch (value)
        {
            case string s:
                output.Append(s);
                break;
            case long l:
                output.Append(l);
                break;
            case JinjaUndefined:
                break;
            default:
                output.Append(Str(value));
                break;
        }
    }

    /// <summary>Python's <c>repr()</c>, used for items inside printed lists and dicts.</summary>
    public static string Repr(object? value)
    {
        var builder = new StringBuilder();
        AppendRepr(builder, value);
        return builder.ToString();
    }

    private static void AppendRepr(StringBuilder builder, object? value)
    {
        switch (value)
        {
            case string s:
                AppendStringRepr(builder, s);
                break;
            case List<object?> list:
                builder.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0)
                    {
                        builder.Append(", ");
                    }

                    AppendRepr(builder, list[i]);
                }

                builder.Append(']');
                break;
            case JinjaTuple tuple:
                builder.Append('(');
                for (var i = 0; i < tuple.Items.Length; i++)
                {
                    if (i > 0)
                    {
                        builder.Append(", ");
                    }

                    AppendRepr(builder, tuple.Items[i]);
                }

                builder.Append(tuple.Items.Length == 1 ? ",)" : ")");
                break;
            case JinjaDict dict:
                builder.Append('{');
                var first = true;
                foreach (var (key, item) in dict)
                {
                    if (!first)
                    {
                        builder.Append(", ");
                    }

                    first = false;
                    AppendRepr(builder, JinjaDict.FromKey(key));
                    builder.Append(": ");
                    AppendRepr(builder, item);
                }

                builder.Append('}');
                break;
            case JinjaNamespace:
                builder.Append("<Namespace>");
                break;
            case JinjaUndefined:
                break;
            case IJinjaCallable or JinjaBoundMethod:
                builder.Append("<function>");
                break;
            default:
                builder.Append(Str(value));
                break;
        }
    }

    private static void AppendStringRepr(StringBuilder builder, string s)
    {
        var quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        builder.Append(quote);
        foreach (var c in s)
        {
            switch (c)
            {
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (c == quote)
                    {
                        builder.Append('\\').Append(c);
                    }
                    else if (c < 0x20 || c == 0x7f)
                    {
                        builder.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        builder.Append(quote);
    }

    /// <summary>Python's float repr: the shortest round-trip digits, <c>1.0</c>, <c>1e-05</c>, <c>1e+16</c>.</summary>
    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d))
        {
            return "nan";
        }

        if (double.IsInfinity(d))
        {
            return d > 0 ? "inf" : "-inf";
        }

        if (d == 0)
        {
            return double.IsNegative(d) ? "-0.0" : "0.0";
        }

        // "E16" is not shortest; "R" is, so take its digits and exponent and lay them out as Python does.
        var r = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        string digits;
        int exponent;
        var e = r.IndexOf('E', StringComparison.Ordinal);
        var mantissa = e >= 0 ? r[..e] : r;
        var extra = e >= 0 ? int.Parse(r[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) : 0;
        var dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        var intPart = dot >= 0 ? mantissa[..dot] : mantissa;
        var fracPart = dot >= 0 ? mantissa[(dot + 1)..] : string.Empty;
        digits = (intPart + fracPart).TrimStart('0');
        var leadingZeros = (intPart + fracPart).Length - digits.Length;
        exponent = intPart.Length - 1 - leadingZeros + extra;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0)
        {
            digits = "0";
        }

        var sign = d < 0 ? "-" : string.Empty;
        if (exponent is >= -4 and < 16)
        {
            string text;
            if (exponent >= 0)
            {
                text = digits.Length > exponent + 1
                    ? digits[..(exponent + 1)] + "." + digits[(exponent + 1)..]
                    : digits + new string('0', exponent + 1 - digits.Length) + ".0";
            }
            else
            {
                text = "0." + new string('0', -exponent - 1) + digits;
            }

            return sign + text;
        }

        var body = digits.Length > 1 ? digits[0] + "." + digits[1..] : digits;
        return sign + body + "e" + (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);
    }

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new JinjaException($"expected a number, got {TypeName(value)}"),
    };

    public static bool AreEqual(object? x, object? y)
    {
        if (x is string sx)
        {
            return y is string sy && string.Equals(sx, sy, StringComparison.Ordinal);
        }

        if (IsNumber(x) && IsNumber(y))
        {
            return x is double || y is double ? ToDouble(x) == ToDouble(y) : ToLong(x) == ToLong(y);
        }

        switch (x)
        {
            case null:
                return y is null;
            case JinjaUndefined:
                return y is JinjaUndefined;
            case List<object?> lx:
                return y is List<object?> ly && SequenceEqual(lx, ly);
            case JinjaTuple tx:
                return y is JinjaTuple ty && SequenceEqual(tx.Items, ty.Items);
            case JinjaDict dx:
                if (y is not JinjaDict dy || dx.Count != dy.Count)
                {
                    return false;
                }

                foreach (var (key, value) in dx)
                {
                    if (!dy.TryGetValue(key, out var other) || !AreEqual(value, other))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return ReferenceEquals(x, y) || Equals(x, y);
        }
    }

    private static bool SequenceEqual(IReadOnlyList<object?> x, IReadOnlyList<object?> y)
    {
        if (x.Count != y.Count)
        {
            return false;
        }

        for (var i = 0; i < x.Count; i++)
        {
            if (!AreEqual(x[i], y[i]))
            {
                return false;
            }
        }

        return true;
    }

    public static long ToLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)d,
        _ => throw new JinjaException($"expected an integer, got {TypeName(value)}"),
    };

    /// <summary>Python's ordering (&lt;): numbers, strings by code point, sequences lexicographically.</summary>
    public static int Compare(object? x, object? y)
    {
        if (IsNumber(x) && IsNumber(y))
        {
            return x is double || y is double ? ToDouble(x).CompareTo(ToDouble(y)) : ToLong(x).CompareTo(ToLong(y));
        }

        if (x is string sx && y is string sy)
        {
            return string.CompareOrdinal(sx, sy);
        }

        if (AsSequence(x) is { } lx && AsSequence(y) is { } ly && x?.GetType() == y?.GetType())
        {
            for (var i = 0; i < Math.Min(lx.Count, ly.Count); i++)
            {
                if (!AreEqual(lx[i], ly[i]))
                {
                    return Compare(lx[i], ly[i]);
                }
            }

            return lx.Count.CompareTo(ly.Count);
        }

        if (x is JinjaUndefined u)
        {
            throw u.Error();
        }

        if (y is JinjaUndefined v)
        {
            throw v.Error();
        }

        throw new JinjaException($"'<' not supported between instances of '{TypeName(x)}' and '{TypeName(y)}'");
    }

    private static IReadOnlyList<object?>? AsSequence(object? value) => value switch
    {
        List<object?> list => list,
        JinjaTuple tuple => tuple.Items,
        _ => null,
    };

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        JinjaTuple => "tuple",
        JinjaDict => "dict",
        JinjaUndefined => "Undefined",
        JinjaNamespace => "Namespace",
        _ => "function",
    };

    public static object? Add(object? x, object? y)
    {
        if (x is string sx && y is string sy)
        {
            return string.Concat(sx, sy);
        }

        if (IsNumber(x) && IsNumber(y))
        {
            return x is double || y is double ? (object)(ToDouble(x) + ToDouble(y)) : ToLong(x) + ToLong(y);
        }

        if (x is List<object?> lx && y is List<object?> ly)
        {
            var result = new List<object?>(lx.Count + ly.Count);
            result.AddRange(lx);
            result.AddRange(ly);
            return result;
        }

        if (x is JinjaTuple tx && y is JinjaTuple ty)
        {
            return new JinjaTuple([.. tx.Items, .. ty.Items]);
        }

        throw Unsupported("+", x, y);
    }

    public static object? Arithmetic(string op, object? x, object? y)
    {
        if (op == "+")
        {
            return Add(x, y);
        }

        if (op == "*")
        {
            if (x is string s && y is long or bool)
            {
                return Repeat(s, ToLong(y));
            }

            if (y is string t && x is long or bool)
            {
                return Repeat(t, ToLong(x));
            }

            if (x is List<object?> list && y is long count)
            {
                var result = new List<object?>();
                for (var i = 0; i < count; i++)
                {
                    result.AddRange(list);
                }

                return result;
            }
        }

        if (op == "%" && x is string format)
        {
            return PercentFormat(format, y);
        }

        if (!IsNumber(x) || !IsNumber(y))
        {
            throw Unsupported(op, x, y);
        }

        var isFloat = x is double || y is double;
        switch (op)
        {
            case "-":
                return isFloat ? (object)(ToDouble(x) - ToDouble(y)) : ToLong(x) - ToLong(y);
            case "*":
                return isFloat ? (object)(ToDouble(x) * ToDouble(y)) : ToLong(x) * ToLong(y);
            case "/":
                return ToDouble(y) == 0 ? throw new JinjaException("division by zero") : ToDouble(x) / ToDouble(y);
            case "//":
                if (ToDouble(y) == 0)
                {
                    throw new JinjaException("integer division or modulo by zero");
                }

                return isFloat ? (object)Math.Floor(ToDouble(x) / ToDouble(y)) : FloorDiv(ToLong(x), ToLong(y));
            case "%":
                if (ToDouble(y) == 0)
                {
                    throw new JinjaException("integer division or modulo by zero");
                }

                if (isFloat)
                {
                    var a = ToDouble(x);
                    var b = ToDouble(y);
                    return a - (b * Math.Floor(a / b));
                }

                var lx = ToLong(x);
                var ly = ToLong(y);
                return lx - (ly * FloorDiv(lx, ly));
            case "**":
                if (!isFloat && ToLong(y) >= 0)
                {
                    long result = 1;
                    for (long i = 0, n = ToLong(y), b = ToLong(x); i < n; i++)
                    {
                        result *= b;
                    }

                    return result;
                }

                return Math.Pow(ToDouble(x), ToDouble(y));
            default:
                throw new JinjaException($"unknown operator '{op}'");
        }
    }

    private static long FloorDiv(long a, long b)
    {
        var q = a / b;
        return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q;
    }

    private static string Repeat(string s, long count)
    {
        if (count <= 0)
        {
            return string.Empty;
        }

        var builder = new StringBuilder(s.Length * (int)count);
        for (var i = 0; i < count; i++)
        {
            builder.Append(s);
        }

        return builder.ToString();
    }

    private static string PercentFormat(string format, object? args)
    {
        var values = args is JinjaTuple tuple ? tuple.Items : [args];
        var builder = new StringBuilder();
        var next = 0;
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                builder.Append(format[i]);
                continue;
            }

            var spec = format[++i];
            if (spec == '%')
            {
                builder.Append('%');
                continue;
            }

            if (next >= values.Length)
            {
                throw new JinjaException("not enough arguments for format string");
            }

            var value = values[next++];
            builder.Append(spec switch
            {
                's' => Str(value),
                'r' => Repr(value),
                'd' or 'i' => ToLong(value is double d ? (long)d : value).ToString(CultureInfo.InvariantCulture),
                'f' => ToDouble(value).ToString("F6", CultureInfo.InvariantCulture),
                _ => throw new JinjaException($"unsupported format character '{spec}'"),
            });
        }

        return builder.ToString();
    }

    private static JinjaException Unsupported(string op, object? x, object? y)
    {
        if (x is JinjaUndefined u)
        {
            return u.Error();
        }

        if (y is JinjaUndefined v)
        {
            return v.Error();
        }

        return new JinjaException($"unsupported operand type(s) for {op}: '{TypeName(x)}' and '{TypeName(y)}'");
    }

    public static object? Negate(object? value) => value switch
    {
        long l => (object)(-l),
        double d => -d,
        bool b => b ? -1L : 0L,
        JinjaUndefined u => throw u.Error(),
        _ => throw new JinjaException($"bad operand type for unary -: '{TypeName(value)}'"),
    };

    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string s:
                return item is string sub ? s.Contains(sub, StringComparison.Ordinal) : throw new JinjaException($"'in <string>' requires string as left operand, not {TypeName(item)}");
            case JinjaDict dict:
                return dict.ContainsKey(JinjaDict.Key(item));
            case JinjaUndefined:
                return false;
            case JinjaNamespace ns:
                return item is string name && ns.Attributes.ContainsKey(name);
            default:
                if (AsSequence(container) is { } list)
                {
                    foreach (var element in list)
                    {
                        if (AreEqual(element, item))
                        {
                            return true;
                        }
                    }

                    return false;
                }

                throw new JinjaException($"argument of type '{TypeName(container)}' is not iterable");
        }
    }

    public static int Length(object? value) => value switch
    {
        string s => new StringInfoLength(s).Value,
        List<object?> list => list.Count,
        JinjaTuple tuple => tuple.Items.Length,
        JinjaDict dict => dict.Count,
        JinjaUndefined => 0,
        _ => throw new JinjaException($"object of type '{TypeName(value)}' has no len()"),
    };

    /// <summary>Python counts code points; a surrogate pair is one character.</summary>
    private readonly struct StringInfoLength(string s)
    {
        public int Value
        {
            get
            {
                var count = s.Length;
                for (var i = 0; i < s.Length - 1; i++)
                {
                    if (char.IsHighSurrogate(s[i]) && char.IsLowSurrogate(s[i + 1]))
                    {
                        count--;
                        i++;
                    }
                }

                return count;
            }
        }
    }

    /// <summary>What a <c>for</c> loop or a filter iterates: items of a sequence, keys of a dict, characters of a string.</summary>
    public static IReadOnlyList<object?> Iterate(object? value)
    {
        switch (value)
        {
            case List<object?> list:
                return list;
            case JinjaTuple tuple:
                return tuple.Items;
            case JinjaDict dict:
                {
                    var keys = new List<object?>(dict.Count);
                    foreach (var key in dict.Keys)
                    {
                        keys.Add(JinjaDict.FromKey(key));
                    }

                    return keys;
                }

            case string s:
                {
                    var chars = new List<object?>(s.Length);
                    for (var i = 0; i < s.Length; i++)
                    {
                        if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length)
                        {
                            chars.Add(s.Substring(i, 2));
                            i++;
                        }
                        else
                        {
                            chars.Add(s[i].ToString());
                        }
                    }

                    return chars;
                }

            case JinjaUndefined:
                return [];
            default:
                throw new JinjaException($"'{TypeName(value)}' object is not iterable");
        }
    }

    /// <summary>Jinja's <c>obj.name</c>: an attribute (a method) first, then an item; Undefined when neither exists.</summary>
    public static object? GetAttribute(object? target, string name)
    {
        switch (target)
        {
            case JinjaUndefined u:
                throw u.Error();
            case JinjaDict dict:
                if (JinjaMethods.IsDictMethod(name))
                {
                    return new JinjaBoundMethod(dict, name);
                }

                return dict.TryGetValue(name, out var value) ? value : new JinjaUndefined($"'dict object' has no attribute '{name}'");
            case JinjaNamespace ns:
                return ns.Attributes.TryGetValue(name, out var attribute) ? attribute : new JinjaUndefined($"'Namespace' has no attribute '{name}'");
            case string when JinjaMethods.IsStringMethod(name):
            case List<object?> when JinjaMethods.IsListMethod(name):
                return new JinjaBoundMethod(target, name);
            case JinjaLoop loop:
                return loop.Get(name);
            default:
                return new JinjaUndefined($"'{TypeName(target)} object' has no attribute '{name}'");
        }
    }

    /// <summary>Jinja's <c>obj[key]</c>: an item first, then an attribute; Undefined when neither exists.</summary>
    public static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case JinjaDict dict:
                return dict.TryGetValue(JinjaDict.Key(key), out var value) ? value
                    : key is string name && JinjaMethods.IsDictMethod(name) ? new JinjaBoundMethod(dict, name)
                    : new JinjaUndefined($"'dict object' has no attribute '{Str(key)}'");
            case JinjaUndefined u:
                throw u.Error();
            case string s when key is long or bool:
                {
                    var chars = Iterate(s);
                    var index = ToLong(key);
                    if (index < 0)
                    {
                        index += chars.Count;
                    }

                    return index >= 0 && index < chars.Count ? chars[(int)index] : new JinjaUndefined("string index out of range");
                }

            default:
                if (AsSequence(target) is { } list && key is long or bool)
                {
                    var index = ToLong(key);
                    if (index < 0)
                    {
                        index += list.Count;
                    }

                    return index >= 0 && index < list.Count ? list[(int)index] : new JinjaUndefined($"'{TypeName(target)} object' has no element {Str(key)}");
                }

                return key is string attribute ? GetAttribute(target, attribute) : new JinjaUndefined($"'{TypeName(target)} object' has no element {Str(key)}");
        }
    }

    /// <summary>Python slicing, <c>[start:stop:step]</c>, on lists, tuples and strings.</summary>
    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        var stepValue = step is null or JinjaUndefined ? 1 : ToLong(step);
        if (stepValue == 0)
        {
            throw new JinjaException("slice step cannot be zero");
        }

        IReadOnlyList<object?> items = target switch
        {
            string s => Iterate(s),
            JinjaUndefined u => throw u.Error(),
            _ => AsSequence(target) ?? throw new JinjaException($"'{TypeName(target)}' object is not subscriptable"),
        };
        var count = items.Count;
        long Bound(object? value, long fallback)
        {
            if (value is null or JinjaUndefined)
            {
                return fallback;
            }

            var index = ToLong(value);
            if (index < 0)
            {
                index += count;
                if (index < 0)
                {
                    index = stepValue < 0 ? -1 : 0;
                }
            }
            else if (index >= count)
            {
                index = stepValue < 0 ? count - 1 : count;
            }

            return index;
        }

        var from = Bound(start, stepValue < 0 ? count - 1 : 0);
        var to = Bound(stop, stepValue < 0 ? -1 : count);
        var result = new List<object?>();
        for (var i = from; stepValue > 0 ? i < to : i > to; i += stepValue)
        {
            result.Add(items[(int)i]);
        }

        return target switch
        {
            string => string.Concat(result.Select(c => (string)c!)),
            JinjaTuple => new JinjaTuple([.. result]),
            _ => result,
        };
    }
}
