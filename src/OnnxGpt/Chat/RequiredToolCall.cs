using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using OnnxGpt.Constraints;

namespace OnnxGpt.Chat;

/// <summary>
/// A required tool call (<see cref="ChatToolMode.RequireAny"/> or <see cref="ChatToolMode.RequireSpecific"/>) as
/// constrained output: the format's opening marker, one call of an allowed tool whose arguments match its parameter
/// schema, then the closing marker. Hermes/Qwen: <c>&lt;tool_call&gt;\n{"name": ..., "arguments": {...}}\n&lt;/tool_call&gt;</c>;
/// Phi-4-mini: <c>&lt;|tool_call|&gt;[{...}]&lt;|/tool_call|&gt;</c>; Mistral: <c>[TOOL_CALLS][{...}]</c>; Llama 3.1:
/// the bare <c>{"name": ..., "parameters": {...}}</c>. Markers that are tokens of the vocabulary are forced as those tokens.
/// </summary>
internal static class RequiredToolCall
{
    /// <summary>The constrained output for a required call.</summary>
    /// <param name="format">How the model writes calls.</param>
    /// <param name="tools">The request's tools.</param>
    /// <param name="required">The tool mode (its <see cref="RequiredChatToolMode.RequiredFunctionName"/> limits the call to that tool).</param>
    /// <returns>The frame: markers and the schema of the call.</returns>
    /// <exception cref="ArgumentException">The required tool is not among the tools, or no tool is a function.</exception>
    public static JsonOutputFrame Frame(ToolCallFormat format, IList<AITool> tools, RequiredChatToolMode required)
    {
        var functions = tools.OfType<AIFunctionDeclaration>().ToList();
        if (required.RequiredFunctionName is { } name)
        {
            functions = functions.Where(f => string.Equals(f.Name, name, StringComparison.Ordinal)).ToList();
            if (functions.Count == 0)
            {
                var known = tools.OfType<AIFunctionDeclaration>().Select(f => $"'{f.Name}'").ToList();
                throw Invalid(
                    nameof(ChatOptions.ToolMode),
                    $"ChatOptions.ToolMode requires the tool '{name}', but ChatOptions.Tools has no function of that name (it has {(known.Count == 0 ? "none" : string.Join(", ", known))}). Add the tool or require one of those.");
            }
        }
        else if (functions.Count == 0)
        {
            throw Invalid(nameof(ChatOptions.ToolMode), "ChatOptions.ToolMode requires a tool call, but ChatOptions.Tools holds no function (AIFunctionDeclaration). Add one, or use ChatToolMode.Auto.");
        }

        var argumentsKey = format == ToolCallFormat.Llama3Json ? "parameters" : "arguments";
        var definitions = new JsonObject();
        var calls = new JsonArray();
        for (var i = 0; i < functions.Count; i++)
        {
            var parameters = Parameters(functions[i], $"tool{i}_", definitions);
            calls.Add(new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject
                {
                    ["name"] = new JsonObject { ["const"] = functions[i].Name },
                    [argumentsKey] = parameters,
                },
                ["required"] = new JsonArray("name", argumentsKey),
                ["additionalProperties"] = false,
            });
        }

        JsonObject call = calls.Count == 1 ? (JsonObject)calls[0]!.DeepClone() : new JsonObject { ["anyOf"] = calls };
        var value = format is ToolCallFormat.Mistral or ToolCallFormat.Phi4Mini
            ? new JsonObject { ["type"] = "array", ["items"] = call, ["minItems"] = 1, ["maxItems"] = 1 }
            : call;
        if (definitions.Count > 0)
        {
            value["$defs"] = definitions;
        }

        var schema = value.ToJsonString();
        return format switch
        {
            ToolCallFormat.Hermes => new JsonOutputFrame("<tool_call>\n", schema, "\n</tool_call>"),
            ToolCallFormat.Phi4Mini => new JsonOutputFrame("<|tool_call|>", schema, "<|/tool_call|>"),
            ToolCallFormat.Mistral => new JsonOutputFrame("[TOOL_CALLS]", schema, string.Empty),
            ToolCallFormat.Llama3Json => new JsonOutputFrame(string.Empty, schema, string.Empty),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "A required tool call needs a tool-call format."),
        };
    }

    /// <summary>
    /// A tool's parameter schema, its <c>$defs</c> moved into the call schema's (renamed with <paramref name="prefix"/>) and
    /// its references rewritten to match, so several tools' schemas live in one document.
    /// </summary>
    private static JsonObject Parameters(AIFunctionDeclaration function, string prefix, JsonObject definitions)
    {
        var schema = function.JsonSchema.ValueKind == JsonValueKind.Object
            ? JsonNode.Parse(function.JsonSchema.GetRawText())!.AsObject()
            : new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() };
        var self = false;
        foreach (var key in new[] { "$defs", "definitions" })
        {
            if (schema[key] is JsonObject defs)
            {
                schema.Remove(key);
                foreach (var (name, definition) in defs.ToList())
                {
                    defs.Remove(name);
                    definitions[prefix + name] = definition;
                }
            }
        }

        // A reference to the tool's root ("#") points at a copy of it among the definitions.
        foreach (var node in Walk(schema).Concat(definitions.Where(d => d.Key.StartsWith(prefix, StringComparison.Ordinal)).SelectMany(d => Walk(d.Value))).ToList())
        {
            if (node["$ref"] is JsonValue reference && reference.TryGetValue<string>(out var target))
            {
                var rewritten = target == "#" ? "#/$defs/" + prefix.TrimEnd('_')
                    : target.StartsWith("#/$defs/", StringComparison.Ordinal) ? "#/$defs/" + prefix + target["#/$defs/".Length..]
                    : target.StartsWith("#/definitions/", StringComparison.Ordinal) ? "#/$defs/" + prefix + target["#/definitions/".Length..]
                    : target;
                self |= target == "#";
                node["$ref"] = rewritten;
            }
        }

        if (self)
        {
            definitions[prefix.TrimEnd('_')] = schema.DeepClone();
        }

        return schema;
    }

    // The exception names the ChatOptions property at fault.
    private static ArgumentException Invalid(string option, string message) => new(message, option);

    private static IEnumerable<JsonObject> Walk(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                yield return obj;
                foreach (var (_, child) in obj)
                {
                    foreach (var inner in Walk(child))
                    {
                        yield return inner;
                    }
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    foreach (var inner in Walk(child))
                    {
                        yield return inner;
                    }
                }

                break;
        }
    }
}
