using System.Text.Json;
using Microsoft.Extensions.AI;

namespace OnnxGpt.Cli;

/// <summary>Reads OpenAI-style messages and tools (as the chat completions API takes them) into Microsoft.Extensions.AI types.</summary>
internal static class OpenAiChatJson
{
    public static List<ChatMessage> ReadMessages(JsonDocument document)
    {
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new CliUsageException("--messages must hold a JSON array of messages.");
        }

        var messages = new List<ChatMessage>();
        foreach (var (item, index) in document.RootElement.EnumerateArray().Select((item, index) => (item, index)))
        {
            var role = item.ValueKind == JsonValueKind.Object && item.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String
                ? r.GetString()!
                : throw new CliUsageException($"--messages[{index}] has no \"role\".");
            var contents = new List<AIContent>();
            var text = item.TryGetProperty("content", out var content) ? Text(content, index) : null;
            if (role == "tool")
            {
                var callId = item.TryGetProperty("tool_call_id", out var id) && id.ValueKind == JsonValueKind.String
                    ? id.GetString()!
                    : throw new CliUsageException($"--messages[{index}] (role \"tool\") has no \"tool_call_id\".");
                contents.Add(new FunctionResultContent(callId, text ?? string.Empty));
            }
            else if (!string.IsNullOrEmpty(text))
            {
                contents.Add(new TextContent(text));
            }

            if (item.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
            {
                foreach (var call in calls.EnumerateArray())
                {
                    contents.Add(Call(call, index));
                }
            }

            messages.Add(new ChatMessage(new ChatRole(role), contents));
        }

        return messages;
    }

    public static List<AITool> ReadTools(JsonDocument document)
    {
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new CliUsageException("--tools must hold a JSON array of tools.");
        }

        var tools = new List<AITool>();
        foreach (var (item, index) in document.RootElement.EnumerateArray().Select((item, index) => (item, index)))
        {
            var function = item.ValueKind == JsonValueKind.Object && item.TryGetProperty("function", out var f) ? f : item;
            if (function.ValueKind != JsonValueKind.Object || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
            {
                throw new CliUsageException($"--tools[{index}] has no function name.");
            }

            var description = function.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            var parameters = function.TryGetProperty("parameters", out var p) ? p.Clone() : JsonDocument.Parse("{}").RootElement.Clone();
            tools.Add(AIFunctionFactory.CreateDeclaration(name.GetString()!, description, parameters));
        }

        return tools;
    }

    private static string? Text(JsonElement content, int index) => content.ValueKind switch
    {
        JsonValueKind.String => content.GetString(),
        JsonValueKind.Null => null,
        JsonValueKind.Array => string.Concat(content.EnumerateArray()
            .Where(part => part.TryGetProperty("type", out var type) && type.GetString() == "text")
            .Select(part => part.GetProperty("text").GetString())),
        _ => throw new CliUsageException($"--messages[{index}].content must be a string, null or an array of parts."),
    };

    private static FunctionCallContent Call(JsonElement call, int index)
    {
        if (!call.TryGetProperty("function", out var function) || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
        {
            throw new CliUsageException($"--messages[{index}].tool_calls holds a call without function.name.");
        }

        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (function.TryGetProperty("arguments", out var raw))
        {
            // OpenAI sends the arguments as a JSON string; templates want a mapping.
            var parsed = raw.ValueKind == JsonValueKind.String ? JsonDocument.Parse(raw.GetString()!).RootElement : raw;
            if (parsed.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in parsed.EnumerateObject())
                {
                    arguments[property.Name] = property.Value.Clone();
                }
            }
        }

        var id = call.TryGetProperty("id", out var callId) && callId.ValueKind == JsonValueKind.String ? callId.GetString()! : $"call_{index}";
        return new FunctionCallContent(id, name.GetString()!, arguments);
    }
}
