using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace OnnxGpt.Chat;

/// <summary>
/// Finds the tool calls in a model's reply, in one of the <see cref="ToolCallFormat"/>s, and returns the reply as
/// text and <see cref="FunctionCallContent"/> in order. A call whose JSON does not parse stays text.
/// </summary>
internal static class ToolCallParser
{
    /// <summary>The text that opens a call in this format (null for Llama's, which is the reply's first character).</summary>
    public static string? OpeningMarker(ToolCallFormat format) => format switch
    {
        ToolCallFormat.Hermes => "<tool_call>",
        ToolCallFormat.Mistral => "[TOOL_CALLS]",
        ToolCallFormat.Phi4Mini => "<|tool_call|>",
        _ => null,
    };

    public static List<AIContent> Parse(string text, ToolCallFormat format)
    {
        var contents = new List<AIContent>();
        switch (format)
        {
            case ToolCallFormat.Hermes:
                ParseTagged(text, "<tool_call>", "</tool_call>", format, contents);
                break;
            case ToolCallFormat.Phi4Mini:
                ParseTagged(text, "<|tool_call|>", "<|/tool_call|>", format, contents);
                break;
            case ToolCallFormat.Mistral:
                ParseMistral(text, contents);
                break;
            case ToolCallFormat.Llama3Json:
                ParseLlama(text, contents);
                break;
            default:
                AddText(contents, text);
                break;
        }

        return contents;
    }

    private static void ParseTagged(string text, string open, string close, ToolCallFormat format, List<AIContent> contents)
    {
        var position = 0;
        while (position < text.Length)
        {
            var start = text.IndexOf(open, position, StringComparison.Ordinal);
            if (start < 0)
            {
                break;
            }

            var bodyStart = start + open.Length;
            var end = text.IndexOf(close, bodyStart, StringComparison.Ordinal);
            var body = end < 0 ? text[bodyStart..] : text[bodyStart..end];
            var calls = ReadCalls(body.Trim(), format, out var consumed);
            if (calls is null || consumed != body.Trim().Length)
            {
                break;
            }

            AddText(contents, text[position..start]);
            contents.AddRange(calls);
            position = end < 0 ? text.Length : end + close.Length;
        }

        AddText(contents, text[position..]);
    }

    private static void ParseMistral(string text, List<AIContent> contents)
    {
        var start = text.IndexOf("[TOOL_CALLS]", StringComparison.Ordinal);
        if (start < 0)
        {
            AddText(contents, text);
            return;
        }

        var body = text[(start + "[TOOL_CALLS]".Length)..];
        var trimmed = body.TrimStart();
        var calls = ReadCalls(trimmed, ToolCallFormat.Mistral, out var consumed);
        if (calls is null)
        {
            AddText(contents, text);
            return;
        }

        AddText(contents, text[..start]);
        contents.AddRange(calls);
        AddText(contents, trimmed[consumed..]);
    }

    private static void ParseLlama(string text, List<AIContent> contents)
    {
        var trimmed = text.TrimStart();
        if (trimmed.StartsWith("<|python_tag|>", StringComparison.Ordinal))
        {
            trimmed = trimmed["<|python_tag|>".Length..].TrimStart();
        }

        var consumed = 0;
        var calls = trimmed.StartsWith('{') || trimmed.StartsWith('[') ? ReadCalls(trimmed, ToolCallFormat.Llama3Json, out consumed) : null;
        if (calls is null)
        {
            AddText(contents, text);
            return;
        }

        contents.AddRange(calls);
        AddText(contents, trimmed[consumed..]);
    }

    private static void AddText(List<AIContent> contents, string text)
    {
        if (!string.IsNullOrWhiteSpace(text))
        {
            contents.Add(new TextContent(text));
        }
    }

    /// <summary>Reads one JSON value (a call object or an array of them) at the start of <paramref name="text"/>.</summary>
    private static List<AIContent>? ReadCalls(string text, ToolCallFormat format, out int consumedChars)
    {
        consumedChars = 0;
        if (text.Length == 0)
        {
            return null;
        }

        var bytes = Encoding.UTF8.GetBytes(text);
        JsonElement value;
        try
        {
            var reader = new Utf8JsonReader(bytes);
            using var document = JsonDocument.ParseValue(ref reader);
            value = document.RootElement.Clone();
            consumedChars = Encoding.UTF8.GetCharCount(bytes.AsSpan(0, (int)reader.BytesConsumed));
        }
        catch (JsonException)
        {
            // Not JSON: the model wrote the marker but no call; the text stays text.
            return null;
        }

        var calls = new List<AIContent>();
        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in value.EnumerateArray())
            {
                if (ReadCall(item, format) is not { } call)
                {
                    return null;
                }

                calls.Add(call);
            }
        }
        else if (ReadCall(value, format) is { } call)
        {
            calls.Add(call);
        }

        if (calls.Count == 0)
        {
            return null;
        }

        // A call may be followed by whitespace before the closing marker.
        while (consumedChars < text.Length && char.IsWhiteSpace(text[consumedChars]))
        {
            consumedChars++;
        }

        return calls;
    }

    private static FunctionCallContent? ReadCall(JsonElement call, ToolCallFormat format)
    {
        if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        if (!call.TryGetProperty("arguments", out var arguments) && !call.TryGetProperty("parameters", out arguments))
        {
            arguments = default;
        }

        if (arguments.ValueKind == JsonValueKind.String)
        {
            try
            {
                using var parsed = JsonDocument.Parse(arguments.GetString()!);
                arguments = parsed.RootElement.Clone();
            }
            catch (JsonException)
            {
                return null;
            }
        }

        if (arguments.ValueKind is not (JsonValueKind.Object or JsonValueKind.Undefined or JsonValueKind.Null))
        {
            return null;
        }

        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (arguments.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in arguments.EnumerateObject())
            {
                values[property.Name] = property.Value.Clone();
            }
        }

        var id = call.TryGetProperty("id", out var given) && given.ValueKind == JsonValueKind.String ? given.GetString()! : NewCallId(format);
        return new FunctionCallContent(id, name.GetString()!, values) { RawRepresentation = call.GetRawText() };
    }

    /// <summary>A fresh call id: Mistral's templates require nine alphanumeric characters; others take OpenAI's shape.</summary>
    public static string NewCallId(ToolCallFormat format)
    {
        if (format == ToolCallFormat.Mistral)
        {
            const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
            return RandomNumberGenerator.GetString(Alphabet, 9);
        }

        return "call_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLower(CultureInfo.InvariantCulture);
    }
}
