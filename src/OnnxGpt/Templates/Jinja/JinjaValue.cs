using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OnnxGpt.Templates.Jinja;

/// <summary>Turns .NET values (JSON documents, dictionaries, lists, primitives) into the values templates see.</summary>
internal static class JinjaValue
{
    public static object? From(object? value) => value switch
    {
        null => null,
        string or bool or long or double => value,
        int i => (long)i,
        short s => (long)s,
        byte b => (long)b,
        uint u => (long)u,
        ulong ul => (long)ul,
        float f => double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
        decimal m => (double)m,
        JsonElement element => FromElement(element),
        JsonNode node => FromElement(JsonSerializer.SerializeToElement(node)),
        JinjaDict or List<object?> or JinjaTuple => value,
        IDictionary<string, object?> dictionary => FromPairs(dictionary),
        IReadOnlyDictionary<string, object?> dictionary => FromPairs(dictionary),
        IDictionary dictionary => FromDictionary(dictionary),
        IEnumerable sequence => sequence.Cast<object?>().Select(From).ToList(),
        _ => value.ToString(),
    };

    private static JinjaDict FromPairs(IEnumerable<KeyValuePair<string, object?>> pairs)
    {
        var dict = new JinjaDict();
        foreach (var (key, item) in pairs)
        {
            dict[key] = From(item);
        }

        return dict;
    }

    private static JinjaDict FromDictionary(IDictionary dictionary)
    {
        var dict = new JinjaDict();
        foreach (DictionaryEntry entry in dictionary)
        {
            dict[JinjaDict.Key(From(entry.Key))] = From(entry.Value);
        }

        return dict;
    }

    public static object? FromElement(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                {
                    var dict = new JinjaDict();
                    foreach (var property in element.EnumerateObject())
                    {
                        dict[property.Name] = FromElement(property.Value);
                    }

                    return dict;
                }

            case JsonValueKind.Array:
                {
                    var list = new List<object?>(element.GetArrayLength());
                    foreach (var item in element.EnumerateArray())
                    {
                        list.Add(FromElement(item));
                    }

                    return list;
                }

            case JsonValueKind.String:
                return element.GetString();
            case JsonValueKind.Number:
                {
                    // JSON "1" is a Python int, "1.0" and "1e3" are floats, as json.loads reads them.
                    var raw = element.GetRawText();
                    if (raw.AsSpan().IndexOfAny(".eE") < 0 && element.TryGetInt64(out var integer))
                    {
                        return integer;
                    }

                    return element.GetDouble();
                }

            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            default:
                return null;
        }
    }
}
