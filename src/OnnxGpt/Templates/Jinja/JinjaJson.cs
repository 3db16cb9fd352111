using System.Globalization;
using System.Text;

namespace OnnxGpt.Templates.Jinja;

/// <summary>
/// transformers' <c>tojson</c>: Python's <c>json.dumps(x, ensure_ascii=False, indent=indent, separators=separators,
/// sort_keys=sort_keys)</c>. Without an indent the separators are <c>", "</c> and <c>": "</c>; with one, <c>","</c>
/// and <c>": "</c> with each item on its own line.
/// </summary>
internal static class JinjaJson
{
    public static string Serialize(object? value, object? indent, object? separators, bool sortKeys)
    {
        string? indentText = indent switch
        {
            null => null,
            string s => s,
            long or bool => new string(' ', (int)Math.Max(0, PyOps.ToLong(indent))),
            _ => throw new JinjaException($"tojson indent must be an integer or a string, not {PyOps.TypeName(indent)}"),
        };
        var (item, key) = indentText is null ? (", ", ": ") : (",", ": ");
        if (separators is JinjaTuple { Items: [string itemSeparator, string keySeparator] }
            || separators is List<object?> { Count: 2 } && separators is List<object?> list && list[0] is string && list[1] is string)
        {
            var pair = separators is JinjaTuple tuple ? tuple.Items : ((List<object?>)separators).ToArray();
            (item, key) = ((string)pair[0]!, (string)pair[1]!);
        }

        var builder = new StringBuilder();
        Write(builder, value, indentText, item, key, sortKeys, 0);
        return builder.ToString();
    }

    private static void NewLine(StringBuilder builder, string? indent, int depth)
    {
        if (indent is null)
        {
            return;
        }

        builder.Append('\n');
        for (var i = 0; i < depth; i++)
        {
            builder.Append(indent);
        }
    }

    private static void Write(StringBuilder builder, object? value, string? indent, string item, string key, bool sortKeys, int depth)
    {
        switch (value)
        {
            case null:
                builder.Append("null");
                break;
            case bool b:
                builder.Append(b ? "true" : "false");
                break;
            case long l:
                builder.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                builder.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyOps.FormatFloat(d));
                break;
            case string s:
                WriteString(builder, s);
                break;
            case List<object?> or JinjaTuple:
                {
                    var items = PyOps.Iterate(value);
                    if (items.Count == 0)
                    {
                        builder.Append("[]");
                        break;
                    }

                    builder.Append('[');
                    for (var i = 0; i < items.Count; i++)
                    {
                        if (i > 0)
                        {
                            builder.Append(item);
                        }

                        NewLine(builder, indent, depth + 1);
                        Write(builder, items[i], indent, item, key, sortKeys, depth + 1);
                    }

                    NewLine(builder, indent, depth);
                    builder.Append(']');
                    break;
                }

            case JinjaDict dict:
                {
                    if (dict.Count == 0)
                    {
                        builder.Append("{}");
                        break;
                    }

                    IEnumerable<KeyValuePair<object, object?>> entries = dict;
                    if (sortKeys)
                    {
                        entries = dict.OrderBy(pair => JinjaDict.FromKey(pair.Key), Comparer<object?>.Create(PyOps.Compare));
                    }

                    builder.Append('{');
                    var first = true;
                    foreach (var (entryKey, entryValue) in entries)
                    {
                        if (!first)
                        {
                            builder.Append(item);
                        }

                        first = false;
                        NewLine(builder, indent, depth + 1);
                        WriteString(builder, JinjaDict.FromKey(entryKey) switch
                        {
                            string s => s,
                            null => "null",
                            bool b => b ? "true" : "false",
                            long l => l.ToString(CultureInfo.InvariantCulture),
                            double d => PyOps.FormatFloat(d),
                            var other => throw new JinjaException($"keys must be str, int, float, bool or None, not {PyOps.TypeName(other)}"),
                        });
                        builder.Append(key);
                        Write(builder, entryValue, indent, item, key, sortKeys, depth + 1);
                    }

                    NewLine(builder, indent, depth);
                    builder.Append('}');
                    break;
                }

            default:
                throw new JinjaException($"Object of type {PyOps.TypeName(value)} is not JSON serializable");
        }
    }

    private static void WriteString(StringBuilder builder, string s)
    {
        builder.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                default:
                    if (c < 0x20)
                    {
                        builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        builder.Append('"');
    }
}
