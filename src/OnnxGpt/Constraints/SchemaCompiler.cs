using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace OnnxGpt.Constraints;

/// <summary>
/// Compiles a JSON schema into a <see cref="GrammarNode"/> tree: the subset that Microsoft.Extensions.AI's
/// <c>AIJsonUtilities</c> produces and OpenAI's strict mode allows. Any other keyword is refused by name.
/// </summary>
internal sealed class SchemaCompiler
{
    /// <summary>Keywords that describe a schema without constraining its values.</summary>
    private static readonly HashSet<string> Annotations =
    [
        "$schema", "$id", "$comment", "$anchor", "title", "description", "default", "examples", "readOnly", "writeOnly", "deprecated",
        "$defs", "definitions", "strict",
    ];

    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly JsonElement _root;
    private readonly string _setting;
    private readonly Dictionary<string, RefNode> _refs = new(StringComparer.Ordinal);
    private readonly List<GrammarNode> _nodes = [];

    private SchemaCompiler(JsonElement root, string setting)
    {
        _root = root;
        _setting = setting;
    }

    /// <summary>Compiles <paramref name="schema"/>.</summary>
    /// <param name="schema">The schema document.</param>
    /// <param name="setting">The setting to name in errors.</param>
    /// <param name="prefix">Literal text before the value (may be empty).</param>
    /// <param name="suffix">Literal text after the value (may be empty).</param>
    /// <exception cref="ArgumentException">The schema uses a keyword or value the constraint cannot produce.</exception>
    public static GrammarNode Compile(JsonElement? schema, string setting, string prefix = "", string suffix = "")
    {
        var compiler = new SchemaCompiler(schema ?? default, setting);
        var value = schema is { } root ? compiler.Node(root, "#") : compiler.Add(new AnyNode());
        foreach (var reference in compiler._refs.Values)
        {
            if (reference.Target is null)
            {
                throw new ArgumentException($"{setting}: a $ref could not be resolved.", setting);
            }
        }

        var parts = new List<GrammarNode>();
        if (prefix.Length > 0)
        {
            parts.Add(compiler.Add(new LiteralNode([Encoding.UTF8.GetBytes(prefix)])));
        }

        parts.Add(value);
        if (suffix.Length > 0)
        {
            parts.Add(compiler.Add(new LiteralNode([Encoding.UTF8.GetBytes(suffix)])));
        }

        var top = parts.Count == 1 ? value : compiler.Add(new SequenceNode { Parts = [.. parts] });
        compiler.ComputeSizes();
        return top;
    }

    private T Add<T>(T node)
        where T : GrammarNode
    {
        _nodes.Add(node);
        return node;
    }

    private ArgumentException Unsupported(string path, string what) =>
        new($"{_setting}: {what} (at {path}) is not supported by constrained JSON output. Supported: type (object, array, string, number, integer, boolean, null, or a list of them), "
            + "properties, required, additionalProperties, items, minItems, maxItems, enum, const, minLength, maxLength, format (date, date-time, uuid), "
            + "minimum, maximum, exclusiveMinimum, exclusiveMaximum, anyOf, $ref and $defs.", _setting);

    private GrammarNode Node(JsonElement schema, string path)
    {
        if (schema.ValueKind == JsonValueKind.True)
        {
            return Add(new AnyNode());
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"{_setting}: the schema at {path} must be an object or true, but is {schema.ValueKind}.", _setting);
        }

        var keywords = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in schema.EnumerateObject())
        {
            if (!Annotations.Contains(property.Name))
            {
                keywords[property.Name] = property.Value;
            }
        }

        if (keywords.TryGetValue("$ref", out var reference))
        {
            if (keywords.Count > 1)
            {
                throw Unsupported(path, $"'$ref' beside '{keywords.Keys.First(k => k != "$ref")}'");
            }

            return Ref(reference.GetString() ?? string.Empty, path);
        }

        if (keywords.TryGetValue("anyOf", out var anyOf))
        {
            if (keywords.Count > 1 || anyOf.ValueKind != JsonValueKind.Array || anyOf.GetArrayLength() == 0)
            {
                throw Unsupported(path, keywords.Count > 1 ? $"'anyOf' beside '{keywords.Keys.First(k => k != "anyOf")}'" : "an empty 'anyOf'");
            }

            var alternatives = anyOf.EnumerateArray().Select((a, i) => Node(a, $"{path}/anyOf/{i}")).ToArray();
            return Add(new UnionNode { Alternatives = alternatives });
        }

        if (keywords.TryGetValue("const", out var constant))
        {
            return Add(new LiteralNode([Literal(constant)]));
        }

        if (keywords.TryGetValue("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
            {
                throw new ArgumentException($"{_setting}: 'enum' at {path} must be a non-empty array.", _setting);
            }

            return Add(new LiteralNode(values.EnumerateArray().Select(Literal)));
        }

        var types = Types(keywords, path);
        var nodes = types.Select(type => TypedNode(type, keywords, path)).ToArray();
        foreach (var keyword in keywords.Keys)
        {
            if (!Known(keyword))
            {
                throw Unsupported(path, $"the keyword '{keyword}'");
            }
        }

        return nodes.Length == 1 ? nodes[0] : Add(new UnionNode { Alternatives = nodes });
    }

    private static bool Known(string keyword) => keyword is "type" or "properties" or "required" or "additionalProperties" or "items" or "minItems" or "maxItems"
        or "minLength" or "maxLength" or "format" or "minimum" or "maximum" or "exclusiveMinimum" or "exclusiveMaximum";

    private List<string> Types(Dictionary<string, JsonElement> keywords, string path)
    {
        if (keywords.TryGetValue("type", out var type))
        {
            var list = type.ValueKind == JsonValueKind.Array ? [.. type.EnumerateArray().Select(t => t.GetString() ?? string.Empty)] : new List<string> { type.GetString() ?? string.Empty };
            foreach (var name in list)
            {
                if (name is not ("object" or "array" or "string" or "number" or "integer" or "boolean" or "null"))
                {
                    throw new ArgumentException($"{_setting}: the type '{name}' at {path} is not a JSON schema type.", _setting);
                }
            }

            return list.Count == 0 ? throw new ArgumentException($"{_setting}: 'type' at {path} is an empty list.", _setting) : list;
        }

        // No type: the keywords say which one, else any value.
        if (keywords.Keys.Any(k => k is "properties" or "required" or "additionalProperties"))
        {
            return ["object"];
        }

        if (keywords.Keys.Any(k => k is "items" or "minItems" or "maxItems"))
        {
            return ["array"];
        }

        if (keywords.Keys.Any(k => k is "minLength" or "maxLength" or "format"))
        {
            return ["string"];
        }

        return keywords.Keys.Any(k => k is "minimum" or "maximum" or "exclusiveMinimum" or "exclusiveMaximum") ? ["number"] : ["any"];
    }

    private GrammarNode TypedNode(string type, Dictionary<string, JsonElement> keywords, string path) => type switch
    {
        "object" => Object(keywords, path),
        "array" => Array(keywords, path),
        "string" => String(keywords, path),
        "number" or "integer" => Number(type == "integer", keywords, path),
        "boolean" => Add(new LiteralNode([Encoding.UTF8.GetBytes("true"), Encoding.UTF8.GetBytes("false")])),
        "null" => Add(new LiteralNode([Encoding.UTF8.GetBytes("null")])),
        _ => Add(new AnyNode()),
    };

    private ObjectNode Object(Dictionary<string, JsonElement> keywords, string path)
    {
        var node = Add(new ObjectNode());
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (keywords.TryGetValue("required", out var names))
        {
            foreach (var name in names.EnumerateArray())
            {
                required.Add(name.GetString() ?? string.Empty);
            }
        }

        var additional = keywords.TryGetValue("additionalProperties", out var extra) ? extra : (JsonElement?)null;
        if (keywords.TryGetValue("properties", out var properties) && properties.EnumerateObject().Any())
        {
            // Declared properties only, in declared order (as OpenAI's strict mode): what is produced always validates.
            var declared = properties.EnumerateObject().ToList();
            node.Properties = [.. declared.Select(p => new ObjectProperty(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(p.Name, Compact)), Node(p.Value, $"{path}/properties/{p.Name}"), required.Contains(p.Name)))];
            foreach (var name in required)
            {
                if (!declared.Any(p => p.Name == name))
                {
                    throw Unsupported(path, $"the required property '{name}' without a declaration in 'properties'");
                }
            }

            if (node.Properties.Length > 64)
            {
                throw Unsupported(path, "an object with more than 64 properties");
            }
        }
        else if (required.Count > 0)
        {
            throw Unsupported(path, "'required' without 'properties'");
        }
        else
        {
            node.AdditionalValues = additional is { ValueKind: JsonValueKind.Object } schema ? Node(schema, $"{path}/additionalProperties") : Add(new AnyNode());
        }

        var count = node.Properties.Length;
        node.KeysFrom = new LiteralNode?[count + 1];
        for (var i = 0; i <= count; i++)
        {
            var keys = new List<byte[]>();
            for (var j = i; j < count; j++)
            {
                keys.Add(node.Properties[j].Key);
                if (node.Properties[j].Required)
                {
                    break;
                }
            }

            node.KeysFrom[i] = keys.Count == 0 ? null : new LiteralNode(keys);
        }

        return node;
    }

    private ArrayNode Array(Dictionary<string, JsonElement> keywords, string path)
    {
        var min = Count(keywords, "minItems", path) ?? 0;
        var max = Count(keywords, "maxItems", path);
        if (max < min)
        {
            throw new ArgumentException($"{_setting}: maxItems ({max}) is less than minItems ({min}) at {path}.", _setting);
        }

        var node = Add(new ArrayNode { MinItems = min, MaxItems = max });
        node.Items = keywords.TryGetValue("items", out var items) ? Node(items, $"{path}/items") : Add(new AnyNode());
        return node;
    }

    private StringNode String(Dictionary<string, JsonElement> keywords, string path)
    {
        var min = Count(keywords, "minLength", path) ?? 0;
        var max = Count(keywords, "maxLength", path);
        if (max < min)
        {
            throw new ArgumentException($"{_setting}: maxLength ({max}) is less than minLength ({min}) at {path}.", _setting);
        }

        StringFormat? format = null;
        if (keywords.TryGetValue("format", out var name))
        {
            format = name.GetString() switch
            {
                "date" => StringFormat.Date,
                "date-time" => StringFormat.DateTime,
                "uuid" => StringFormat.Uuid,
                var other => throw Unsupported(path, $"the format '{other}'"),
            };
            if (min > 0 || max is not null)
            {
                throw Unsupported(path, "'format' with 'minLength' or 'maxLength'");
            }
        }

        return Add(new StringNode { MinLength = min, MaxLength = max, Format = format });
    }

    private NumberNode Number(bool integer, Dictionary<string, JsonElement> keywords, string path)
    {
        decimal? Bound(string keyword)
        {
            if (!keywords.TryGetValue(keyword, out var value) || value.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return null;
            }

            return value.TryGetDecimal(out var number) && Math.Abs(number) < 1e15m
                ? number
                : throw Unsupported(path, $"'{keyword}' {value.GetRawText()} (bounds must be numbers below 1e15 in magnitude)");
        }

        bool Flag(string keyword) => keywords.TryGetValue(keyword, out var value) && value.ValueKind == JsonValueKind.True;

        var min = Bound("minimum");
        var max = Bound("maximum");
        var exclusiveMin = false;
        var exclusiveMax = false;
        if (Bound("exclusiveMinimum") is { } lower && (min is null || lower >= min))
        {
            (min, exclusiveMin) = (lower, true);
        }
        else if (Flag("exclusiveMinimum"))
        {
            exclusiveMin = true; // draft 4: a flag on minimum
        }

        if (Bound("exclusiveMaximum") is { } upper && (max is null || upper <= max))
        {
            (max, exclusiveMax) = (upper, true);
        }
        else if (Flag("exclusiveMaximum"))
        {
            exclusiveMax = true;
        }

        var node = Add(new NumberNode { Integer = integer, Minimum = min, Maximum = max, ExclusiveMinimum = exclusiveMin, ExclusiveMaximum = exclusiveMax });
        if (!NumberBounds.AnyValue(node))
        {
            throw new ArgumentException($"{_setting}: no {(integer ? "integer" : "number")} lies within the bounds at {path}.", _setting);
        }

        return node;
    }

    private int? Count(Dictionary<string, JsonElement> keywords, string keyword, string path)
    {
        if (!keywords.TryGetValue(keyword, out var value))
        {
            return null;
        }

        return value.TryGetInt32(out var count) && count >= 0
            ? count
            : throw new ArgumentException($"{_setting}: '{keyword}' at {path} must be a non-negative integer, but is {value.GetRawText()}.", _setting);
    }

    private RefNode Ref(string pointer, string path)
    {
        if (_refs.TryGetValue(pointer, out var known))
        {
            return known;
        }

        if (!pointer.StartsWith('#'))
        {
            throw Unsupported(path, $"the $ref '{pointer}' (only references within the schema, '#/...', are)");
        }

        var node = Add(new RefNode());
        _refs[pointer] = node;
        var target = _root;
        foreach (var segment in pointer[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = Uri.UnescapeDataString(segment).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (target.ValueKind == JsonValueKind.Object && target.TryGetProperty(name, out var child))
            {
                target = child;
            }
            else if (target.ValueKind == JsonValueKind.Array && int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < target.GetArrayLength())
            {
                target = target[index];
            }
            else
            {
                throw new ArgumentException($"{_setting}: the $ref '{pointer}' at {path} points at nothing in the schema.", _setting);
            }
        }

        node.Target = Node(target, pointer);
        return node;
    }

    private static byte[] Literal(JsonElement value) => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(value, Compact));

    /// <summary>The fewest bytes of each node, to a fixed point (definitions may be recursive).</summary>
    private void ComputeSizes()
    {
        const int Unknown = 1 << 20;
        foreach (var node in _nodes)
        {
            if (node is not LiteralNode)
            {
                node.MinBytes = Unknown;
            }
        }

        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var node in _nodes)
            {
                var size = Size(node);
                if (size < node.MinBytes)
                {
                    node.MinBytes = size;
                    changed = true;
                }
            }
        }
    }

    private static int Size(GrammarNode node)
    {
        switch (node)
        {
            case AnyNode:
                return 1;
            case LiteralNode literal:
                return literal.MinBytes;
            case StringNode text:
                return text.Format switch
                {
                    StringFormat.Date => 12,
                    StringFormat.DateTime => 22,
                    StringFormat.Uuid => 38,
                    _ => 2 + text.MinLength,
                };
            case NumberNode number:
                return NumberBounds.ShortestLength(number);
            case ArrayNode array:
                return 2 + Math.Max(0, (array.MinItems * (array.Items.MinBytes + 1)) - 1);
            case UnionNode union:
                return union.Alternatives.Min(a => a.MinBytes);
            case RefNode reference:
                return reference.Target.MinBytes;
            case SequenceNode sequence:
                return sequence.Parts.Sum(p => p.MinBytes);
            case ObjectNode obj:
                var tail = new int[obj.Properties.Length + 1];
                for (var i = obj.Properties.Length - 1; i >= 0; i--)
                {
                    var p = obj.Properties[i];
                    tail[i] = tail[i + 1] + (p.Required ? p.Key.Length + 2 + Math.Min(p.Value.MinBytes, 1 << 20) : 0);
                }

                obj.RequiredTail = tail;
                return 2 + Math.Max(0, tail[0] - 1);
            default:
                return 1;
        }
    }
}
