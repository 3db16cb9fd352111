using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace OnnxGpt.Chat;

/// <summary>
/// Turns Microsoft.Extensions.AI messages and tools into what Hugging Face chat templates expect: <c>{role, content}</c>;
/// an assistant's calls as <c>tool_calls: [{id, type: "function", function: {name, arguments}}]</c> with the arguments
/// as a mapping; each result as its own <c>{role: "tool", tool_call_id, name, content}</c>; reasoning as
/// <c>reasoning_content</c>; tools as <c>{type: "function", function: {name, description, parameters}}</c>.
/// </summary>
internal static class ChatMessageMapper
{
    public static List<object?> Messages(IReadOnlyList<ChatMessage> messages)
    {
        var result = new List<object?>(messages.Count);
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var message in messages)
        {
            ArgumentNullException.ThrowIfNull(message, nameof(messages));
            var text = new StringBuilder();
            var reasoning = new StringBuilder();
            var calls = new List<object?>();
            var results = new List<FunctionResultContent>();
            foreach (var content in message.Contents)
            {
                switch (content)
                {
                    case TextContent t:
                        text.Append(t.Text);
                        break;
                    case TextReasoningContent r:
                        reasoning.Append(r.Text);
                        break;
                    case FunctionCallContent call:
                        callNames[call.CallId] = call.Name;
                        calls.Add(new Dictionary<string, object?>
                        {
                            ["id"] = call.CallId,
                            ["type"] = "function",
                            ["function"] = new Dictionary<string, object?> { ["name"] = call.Name, ["arguments"] = Arguments(call.Arguments) },
                        });
                        break;
                    case FunctionResultContent functionResult:
                        results.Add(functionResult);
                        break;
                    case UsageContent:
                        break;
                    default:
                        throw new NotSupportedException($"A {message.Role} message holds {content.GetType().Name}; {nameof(GptChatClient)} renders text, reasoning, function calls and function results.");
                }
            }

            foreach (var functionResult in results)
            {
                var tool = new Dictionary<string, object?>
                {
                    ["role"] = "tool",
                    ["tool_call_id"] = functionResult.CallId,
                    ["content"] = ResultText(functionResult.Result),
                };
                if (callNames.TryGetValue(functionResult.CallId, out var name))
                {
                    tool["name"] = name;
                }

                result.Add(tool);
            }

            if (results.Count > 0 && text.Length == 0 && calls.Count == 0)
            {
                continue;
            }

            var mapped = new Dictionary<string, object?>
            {
                ["role"] = message.Role.Value,
                ["content"] = text.ToString(),
            };
            if (reasoning.Length > 0)
            {
                mapped["reasoning_content"] = reasoning.ToString();
            }

            if (calls.Count > 0)
            {
                mapped["tool_calls"] = calls;
            }

            result.Add(mapped);
        }

        return result;
    }

    public static List<object?>? Tools(IList<AITool>? tools)
    {
        if (tools is not { Count: > 0 })
        {
            return null;
        }

        var result = new List<object?>(tools.Count);
        foreach (var tool in tools)
        {
            if (tool is not AIFunctionDeclaration function)
            {
                throw new NotSupportedException($"ChatOptions.Tools holds {tool.GetType().Name} '{tool.Name}'; {nameof(GptChatClient)} describes functions (AIFunction, AIFunctionDeclaration) to the model.");
            }

            var described = new Dictionary<string, object?> { ["name"] = function.Name };
            if (!string.IsNullOrEmpty(function.Description))
            {
                described["description"] = function.Description;
            }

            described["parameters"] = function.JsonSchema;
            result.Add(new Dictionary<string, object?> { ["type"] = "function", ["function"] = described });
        }

        return result;
    }

    private static Dictionary<string, object?> Arguments(IDictionary<string, object?>? arguments)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in arguments ?? new Dictionary<string, object?>())
        {
            result[name] = value is null or string or bool or int or long or double or JsonElement ? value : JsonSerializer.SerializeToElement(value, AIJsonUtilities.DefaultOptions);
        }

        return result;
    }

    private static string ResultText(object? result) => result switch
    {
        null => string.Empty,
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } element => element.GetString()!,
        _ => JsonSerializer.Serialize(result, AIJsonUtilities.DefaultOptions),
    };
}
