using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OnnxGpt.Generation;

namespace OnnxGpt.AspNetCore;

/// <summary>
/// The fields of an OpenAI chat or completion request that this server reads. Fields it cannot honour (n &gt; 1,
/// logprobs, echo, audio, ...) are refused with a 400 naming them; fields that change nothing (user, metadata, store,
/// service_tier, parallel_tool_calls) are ignored; any other field is refused as OpenAI does
/// ("Unrecognized request argument supplied").
/// </summary>
internal sealed class OpenAiRequest
{
    // Read, or checked and refused when unsupported.
    private static readonly HashSet<string> CommonFields =
    [
        "model", "stream", "stream_options", "max_tokens", "temperature", "top_p", "top_k", "frequency_penalty",
        "presence_penalty", "seed", "stop", "n", "logprobs", "logit_bias", "user",
    ];

    private static readonly HashSet<string> ChatFields =
    [
        "messages", "max_completion_tokens", "response_format", "tools", "tool_choice", "parallel_tool_calls", "top_logprobs",
        "metadata", "store", "service_tier", "modalities", "functions", "function_call", "audio", "prediction",
        "reasoning_effort", "web_search_options",
    ];

    private static readonly HashSet<string> CompletionFields = ["prompt", "echo", "suffix", "best_of"];

    private static readonly HashSet<string> MessageFields = ["role", "content", "name", "tool_calls", "tool_call_id", "refusal"];

    public string? Model { get; private set; }

    public bool Stream { get; private set; }

    public bool IncludeUsage { get; private set; }

    public int? MaxTokens { get; private set; }

    public float? Temperature { get; private set; }

    public float? TopP { get; private set; }

    public int? TopK { get; private set; }

    public float? FrequencyPenalty { get; private set; }

    public float? PresencePenalty { get; private set; }

    public long? Seed { get; private set; }

    public IList<string>? Stop { get; private set; }

    public IReadOnlyList<ChatMessage> Messages { get; private set; } = [];

    /// <summary>The characters of every message's text and of the tools' definitions: what the prompt is made of.</summary>
    public long PromptCharacters { get; private set; }

    public GptPrompt? Prompt { get; private set; }

    /// <summary><c>response_format</c>: null for text, <c>json_object</c> as JSON, <c>json_schema</c> with its schema (always strict).</summary>
    public ChatResponseFormatJson? ResponseFormat { get; private set; }

    /// <summary><c>tools</c> as function declarations, or null.</summary>
    public IList<AITool>? Tools { get; private set; }

    /// <summary><c>tool_choice</c>, or null for the default (auto with tools).</summary>
    public ChatToolMode? ToolMode { get; private set; }

    public static OpenAiRequest ParseChat(JsonElement body, OpenAIEndpointOptions limits)
    {
        RefuseUnknown(body, ChatFields);
        var request = ParseCommon(body, limits);
        if (!body.TryGetProperty("messages", out var messages) || messages.ValueKind == JsonValueKind.Null)
        {
            throw OpenAiError.BadRequest("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
        }

        if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            throw OpenAiError.BadRequest("'messages' must be a non-empty array of messages.", "messages");
        }

        if (messages.GetArrayLength() > limits.MaxMessages)
        {
            throw OpenAiError.BadRequest($"'messages' holds {messages.GetArrayLength()} messages; this server accepts at most {limits.MaxMessages}.", "messages", "array_above_max_length");
        }

        var list = new List<ChatMessage>();
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            list.Add(request.ParseMessage(message, $"messages[{index++}]", limits));
        }

        request.Messages = list;
        Refuse(body, "functions", v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0, "the deprecated 'functions' are not supported; send 'tools'.");
        Refuse(body, "function_call", _ => true, "the deprecated 'function_call' is not supported; send 'tool_choice'.");
        Refuse(body, "audio", _ => true, "this server answers with text only.");
        Refuse(body, "prediction", _ => true, "predicted outputs are not supported.");
        Refuse(body, "reasoning_effort", _ => true, "this server has no reasoning models to configure.");
        Refuse(body, "web_search_options", _ => true, "web search is not supported.");
        Refuse(
            body, "modalities",
            v => !(v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(m => m.ValueKind == JsonValueKind.String && m.ValueEquals("text"))),
            "this server answers with text only: send [\"text\"] or leave it out.");
        request.Tools = TryGet(body, "tools", out var tools) ? ParseTools(tools, limits) : null;
        request.ToolMode = TryGet(body, "tool_choice", out var choice) ? ParseToolChoice(choice, request.Tools) : null;
        request.ResponseFormat = TryGet(body, "response_format", out var format) ? ParseResponseFormat(format) : null;
        Refuse(body, "top_logprobs", _ => true, "log probabilities are not supported.");
        if (body.TryGetProperty("max_completion_tokens", out _))
        {
            request.MaxTokens = Int(body, "max_completion_tokens");
        }

        return request;
    }

    public static OpenAiRequest ParseCompletion(JsonElement body, OpenAIEndpointOptions limits)
    {
        RefuseUnknown(body, CompletionFields);
        var request = ParseCommon(body, limits);
        if (!body.TryGetProperty("prompt", out var prompt) || prompt.ValueKind == JsonValueKind.Null)
        {
            throw OpenAiError.BadRequest("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
        }

        request.Prompt = prompt.ValueKind switch
        {
            JsonValueKind.String => GptPrompt.FromText(prompt.GetString()!),
            JsonValueKind.Array when prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String => GptPrompt.FromText(prompt[0].GetString()!),
            JsonValueKind.Array when prompt.GetArrayLength() > 0 && prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var id) && id >= 0) =>
                GptPrompt.FromTokenIds(prompt.EnumerateArray().Select(e => e.GetInt32())),
            _ => throw OpenAiError.BadRequest("'prompt' must be a string, an array of one string, or an array of token ids (several prompts in one request are not supported).", "prompt"),
        };
        request.PromptCharacters = request.Prompt.Text?.Length ?? 0;
        Refuse(body, "echo", v => v.ValueKind == JsonValueKind.True, "echo is not supported.");
        Refuse(body, "suffix", v => v.ValueKind != JsonValueKind.Null, "suffix is not supported.");
        Refuse(body, "best_of", v => !(v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n == 1), "only best_of 1 is supported.");
        return request;
    }

    /// <summary>The request as Microsoft.Extensions.AI chat options (the chat client validates the values).</summary>
    public ChatOptions ToChatOptions() => new()
    {
        MaxOutputTokens = MaxTokens,
        Temperature = Temperature,
        TopP = TopP,
        TopK = TopK,
        FrequencyPenalty = FrequencyPenalty,
        PresencePenalty = PresencePenalty,
        Seed = Seed,
        StopSequences = Stop,
        ResponseFormat = ResponseFormat,
        Tools = Tools,
        ToolMode = ToolMode,
    };

    /// <summary>The request as generation options, with the same meaning as the chat client gives them.</summary>
    public GenerationOptions ToGenerationOptions()
    {
        if (Seed is < int.MinValue or > int.MaxValue)
        {
            throw OpenAiError.BadRequest($"'seed' must fit a 32-bit integer, but was {Seed}.", "seed", "invalid_value");
        }

        return new GenerationOptions
        {
            MaxNewTokens = MaxTokens,
            Temperature = Temperature,
            TopP = TopP,
            TopK = TopK,
            FrequencyPenalty = FrequencyPenalty,
            PresencePenalty = PresencePenalty,
            Seed = (int?)Seed,
            StopSequences = Stop,
            DoSample = Temperature is { } t ? t > 0 : TopP is not null || TopK is not null ? true : null,
        };
    }

    private static OpenAiRequest ParseCommon(JsonElement body, OpenAIEndpointOptions limits)
    {
        var request = new OpenAiRequest
        {
            Model = ShortString(body, "model", limits),
            Stream = Bool(body, "stream") ?? false,
            MaxTokens = Int(body, "max_tokens"),
            Temperature = Float(body, "temperature"),
            TopP = Float(body, "top_p"),
            TopK = Int(body, "top_k"),
            FrequencyPenalty = Float(body, "frequency_penalty"),
            PresencePenalty = Float(body, "presence_penalty"),
            Seed = Long(body, "seed"),
            Stop = ParseStop(body, limits),
        };
        _ = ShortString(body, "user", limits);
        if (TryGet(body, "stream_options", out var streamOptions))
        {
            if (streamOptions.ValueKind != JsonValueKind.Object)
            {
                throw OpenAiError.BadRequest("'stream_options' must be an object.", "stream_options", "invalid_type");
            }

            request.IncludeUsage = Bool(streamOptions, "include_usage", "stream_options.include_usage") ?? false;
        }

        Refuse(body, "n", v => !(v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n == 1), "only n = 1 is supported.");
        Refuse(body, "logprobs", v => v.ValueKind is not (JsonValueKind.False or JsonValueKind.Null), "log probabilities are not supported.");
        Refuse(body, "logit_bias", v => v.ValueKind == JsonValueKind.Object && v.EnumerateObject().Any(), "logit_bias is not supported.");
        return request;
    }

    private static void RefuseUnknown(JsonElement body, HashSet<string> endpointFields)
    {
        foreach (var property in body.EnumerateObject())
        {
            if (!CommonFields.Contains(property.Name) && !endpointFields.Contains(property.Name))
            {
                throw OpenAiError.BadRequest($"Unrecognized request argument supplied: {Quoted(property.Name)}.", Quoted(property.Name), "unknown_parameter");
            }
        }
    }

    // A field name as the message shows it: bounded, whatever the client sent.
    private static string Quoted(string name) => name.Length <= 64 ? name : name[..64] + "…";

    private ChatMessage ParseMessage(JsonElement message, string param, OpenAIEndpointOptions limits)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            throw OpenAiError.BadRequest($"'{param}' must be an object with 'role' and 'content'.", param);
        }

        foreach (var property in message.EnumerateObject())
        {
            if (!MessageFields.Contains(property.Name))
            {
                throw OpenAiError.BadRequest($"Unrecognized field {Quoted(property.Name)} in '{param}'.", $"{param}.{Quoted(property.Name)}", "unknown_parameter");
            }
        }

        _ = ShortString(message, "name", limits, $"{param}.name");
        var roleName = ShortString(message, "role", limits, $"{param}.role");
        var role = roleName switch
        {
            "system" or "developer" => ChatRole.System,
            "user" => ChatRole.User,
            "assistant" => ChatRole.Assistant,
            "tool" => ChatRole.Tool,
            null => throw OpenAiError.BadRequest($"Missing required parameter: '{param}.role'.", $"{param}.role", "missing_required_parameter"),
            var other => throw OpenAiError.BadRequest($"'{param}.role' is '{other}'; this server supports system, developer, user, assistant and tool messages.", $"{param}.role"),
        };
        var calls = TryGet(message, "tool_calls", out var toolCalls) && role == ChatRole.Assistant
            ? ParseToolCalls(toolCalls, $"{param}.tool_calls", limits)
            : TryGet(message, "tool_calls", out _)
                ? throw OpenAiError.BadRequest($"'{param}.tool_calls' is allowed on assistant messages only.", $"{param}.tool_calls")
                : [];
        var hasContent = message.TryGetProperty("content", out var content) && content.ValueKind != JsonValueKind.Null;
        if (!hasContent && calls.Count == 0)
        {
            throw OpenAiError.BadRequest($"Missing required parameter: '{param}.content'.", $"{param}.content", "missing_required_parameter");
        }

        var text = !hasContent ? string.Empty : content.ValueKind switch
        {
            JsonValueKind.String => content.GetString()!,
            JsonValueKind.Array => string.Concat(content.EnumerateArray().Select((part, i) =>
                part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var type) && type.ValueEquals("text")
                    && part.TryGetProperty("text", out var partText) && partText.ValueKind == JsonValueKind.String
                    ? partText.GetString()
                    : throw OpenAiError.BadRequest($"'{param}.content[{i}]' is not a text part; this server reads text only.", $"{param}.content[{i}]", "unsupported_parameter"))),
            _ => throw OpenAiError.BadRequest($"'{param}.content' must be a string or an array of text parts.", $"{param}.content"),
        };
        PromptCharacters += text.Length;
        if (role == ChatRole.Tool)
        {
            var callId = ShortString(message, "tool_call_id", limits, $"{param}.tool_call_id")
                ?? throw OpenAiError.BadRequest($"Missing required parameter: '{param}.tool_call_id'.", $"{param}.tool_call_id", "missing_required_parameter");
            return new ChatMessage(ChatRole.Tool, [new FunctionResultContent(callId, text)]);
        }

        if (calls.Count == 0)
        {
            return new ChatMessage(role, text);
        }

        List<AIContent> contents = text.Length > 0 ? [new TextContent(text)] : [];
        foreach (var call in calls)
        {
            PromptCharacters += call.Name.Length + (call.Arguments?.Sum(a => a.Key.Length + (a.Value?.ToString()?.Length ?? 0)) ?? 0);
            contents.Add(call);
        }

        return new ChatMessage(role, contents);
    }

    private static List<FunctionCallContent> ParseToolCalls(JsonElement calls, string param, OpenAIEndpointOptions limits)
    {
        if (calls.ValueKind != JsonValueKind.Array)
        {
            throw OpenAiError.BadRequest($"'{param}' must be an array of tool calls.", param, "invalid_type");
        }

        var list = new List<FunctionCallContent>();
        var index = 0;
        foreach (var call in calls.EnumerateArray())
        {
            var at = $"{param}[{index++}]";
            if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            {
                throw OpenAiError.BadRequest($"'{at}' must be {{\"id\": ..., \"type\": \"function\", \"function\": {{\"name\": ..., \"arguments\": \"...\"}}}}.", at);
            }

            var id = ShortString(call, "id", limits, $"{at}.id") ?? throw OpenAiError.BadRequest($"Missing required parameter: '{at}.id'.", $"{at}.id", "missing_required_parameter");
            var name = ShortString(function, "name", limits, $"{at}.function.name") ?? throw OpenAiError.BadRequest($"Missing required parameter: '{at}.function.name'.", $"{at}.function.name", "missing_required_parameter");
            var arguments = String(function, "arguments", $"{at}.function.arguments") ?? "{}";
            Dictionary<string, object?> parsed;
            try
            {
                using var document = JsonDocument.Parse(arguments);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw OpenAiError.BadRequest($"'{at}.function.arguments' must be a JSON object written as a string.", $"{at}.function.arguments");
                }

                parsed = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
            }
            catch (JsonException ex)
            {
                throw OpenAiError.BadRequest($"'{at}.function.arguments' is not valid JSON: {ex.Message}", $"{at}.function.arguments");
            }

            list.Add(new FunctionCallContent(id, name, parsed));
        }

        return list;
    }

    /// <summary><c>tools</c>: function definitions, declared to the model (the server never runs them).</summary>
    private static List<AITool>? ParseTools(JsonElement tools, OpenAIEndpointOptions limits)
    {
        if (tools.ValueKind != JsonValueKind.Array)
        {
            throw OpenAiError.BadRequest("'tools' must be an array of {\"type\": \"function\", \"function\": {...}}.", "tools", "invalid_type");
        }

        if (tools.GetArrayLength() > limits.MaxTools)
        {
            throw OpenAiError.BadRequest($"'tools' holds {tools.GetArrayLength()} tools; this server accepts at most {limits.MaxTools}.", "tools", "array_above_max_length");
        }

        if (tools.GetArrayLength() == 0)
        {
            return null;
        }

        var list = new List<AITool>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            var at = $"tools[{index++}]";
            if (tool.ValueKind != JsonValueKind.Object || String(tool, "type", $"{at}.type") != "function"
                || !tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            {
                throw OpenAiError.BadRequest($"'{at}' must be {{\"type\": \"function\", \"function\": {{\"name\": ..., \"parameters\": {{...}}}}}}.", at);
            }

            var name = String(function, "name", $"{at}.function.name")
                ?? throw OpenAiError.BadRequest($"Missing required parameter: '{at}.function.name'.", $"{at}.function.name", "missing_required_parameter");
            if (name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                throw OpenAiError.BadRequest($"'{at}.function.name' must be 1 to 64 letters, digits, underscores or dashes.", $"{at}.function.name", "invalid_value");
            }

            if (!names.Add(name))
            {
                throw OpenAiError.BadRequest($"'{at}.function.name' repeats the tool name '{name}'.", $"{at}.function.name", "invalid_value");
            }

            var description = String(function, "description", $"{at}.function.description");
            JsonElement schema;
            if (TryGet(function, "parameters", out var parameters))
            {
                schema = parameters.ValueKind == JsonValueKind.Object
                    ? parameters.Clone()
                    : throw OpenAiError.BadRequest($"'{at}.function.parameters' must be a JSON schema object.", $"{at}.function.parameters", "invalid_type");
            }
            else
            {
                using var empty = JsonDocument.Parse("""{"type":"object","properties":{}}""");
                schema = empty.RootElement.Clone();
            }

            _ = Bool(function, "strict", $"{at}.function.strict");
            list.Add(AIFunctionFactory.CreateDeclaration(name, description, schema));
        }

        return list;
    }

    /// <summary><c>tool_choice</c>: <c>auto</c>, <c>none</c>, <c>required</c> or <c>{"type":"function","function":{"name":...}}</c>.</summary>
    private static ChatToolMode ParseToolChoice(JsonElement choice, IList<AITool>? tools)
    {
        ChatToolMode mode = choice.ValueKind switch
        {
            JsonValueKind.String when choice.ValueEquals("auto") => ChatToolMode.Auto,
            JsonValueKind.String when choice.ValueEquals("none") => ChatToolMode.None,
            JsonValueKind.String when choice.ValueEquals("required") => ChatToolMode.RequireAny,
            JsonValueKind.Object when String(choice, "type", "tool_choice.type") == "function"
                && choice.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
                && String(function, "name", "tool_choice.function.name") is { } name => ChatToolMode.RequireSpecific(name),
            _ => throw OpenAiError.BadRequest("'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}.", "tool_choice", "invalid_value"),
        };
        if (mode is RequiredChatToolMode required)
        {
            if (tools is not { Count: > 0 })
            {
                throw OpenAiError.BadRequest("'tool_choice' requires a tool call, but the request has no 'tools'.", "tool_choice", "invalid_value");
            }

            if (required.RequiredFunctionName is { } named && !tools.Any(t => t.Name == named))
            {
                throw OpenAiError.BadRequest($"'tool_choice' names the function '{named}', which is not in 'tools'.", "tool_choice", "invalid_value");
            }
        }

        return mode;
    }

    /// <summary>OpenAI's response formats; the schema's keywords are checked by the chat client (a 400 naming one it lacks).</summary>
    private static ChatResponseFormatJson? ParseResponseFormat(JsonElement format)
    {
        var type = format.ValueKind == JsonValueKind.Object && format.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        switch (type)
        {
            case "text":
                return null;
            case "json_object":
                return ChatResponseFormat.Json;
            case "json_schema":
                if (!format.TryGetProperty("json_schema", out var spec) || spec.ValueKind != JsonValueKind.Object
                    || !spec.TryGetProperty("schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
                {
                    throw OpenAiError.BadRequest("'response_format' of type 'json_schema' needs 'json_schema': {\"name\": ..., \"schema\": {...}}.", "response_format", "invalid_value");
                }

                // strict or not, the output is constrained to the schema.
                return ChatResponseFormat.ForJsonSchema(schema.Clone(), String(spec, "name"), String(spec, "description"));
            default:
                throw OpenAiError.BadRequest("'response_format' must be {\"type\": \"text\"}, {\"type\": \"json_object\"} or {\"type\": \"json_schema\", \"json_schema\": {...}}.", "response_format", "invalid_value");
        }
    }

    private static void Refuse(JsonElement body, string name, Func<JsonElement, bool> unsupported, string why)
    {
        if (body.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null && unsupported(value))
        {
            throw OpenAiError.BadRequest($"'{name}' is not supported by this server: {why}", name, "unsupported_parameter");
        }
    }

    private static bool TryGet(JsonElement body, string name, out JsonElement value) =>
        body.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    private static string? String(JsonElement body, string name, string? param = null) =>
        !TryGet(body, name, out var value) ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString()
        : throw OpenAiError.BadRequest($"'{param ?? name}' must be a string.", param ?? name, "invalid_type");

    private static string? ShortString(JsonElement body, string name, OpenAIEndpointOptions limits, string? param = null) =>
        String(body, name, param) is { } value && value.Length > limits.MaxShortStringLength
            ? throw OpenAiError.BadRequest($"'{param ?? name}' is {value.Length} characters long; this server accepts at most {limits.MaxShortStringLength}.", param ?? name, "string_above_max_length")
            : String(body, name, param);

    private static bool? Bool(JsonElement body, string name, string? param = null) =>
        !TryGet(body, name, out var value) ? null
        : value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean()
        : throw OpenAiError.BadRequest($"'{param ?? name}' must be a boolean.", param ?? name, "invalid_type");

    private static float? Float(JsonElement body, string name)
    {
        if (!TryGet(body, name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number))
        {
            throw OpenAiError.BadRequest($"'{name}' must be a number.", name, "invalid_type");
        }

        // 1e308 is a number, just far out of any parameter's range (and of a float's).
        return Math.Abs(number) <= float.MaxValue
            ? (float)number
            : throw OpenAiError.BadRequest($"'{name}' is {value.GetRawText()}, which is out of range for this parameter.", name, "invalid_value");
    }

    private static int? Int(JsonElement body, string name)
    {
        if (!TryGet(body, name, out var value))
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number))
        {
            return number;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d) && Math.Floor(d) == d
            ? throw OpenAiError.BadRequest($"'{name}' is {value.GetRawText()}, which is out of range for this parameter.", name, "invalid_value")
            : throw OpenAiError.BadRequest($"'{name}' must be an integer.", name, "invalid_type");
    }

    private static long? Long(JsonElement body, string name) =>
        !TryGet(body, name, out var value) ? null
        : value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) ? number
        : throw OpenAiError.BadRequest($"'{name}' must be a 64-bit integer.", name, "invalid_type");

    private static List<string>? ParseStop(JsonElement body, OpenAIEndpointOptions limits)
    {
        if (!TryGet(body, "stop", out var stop))
        {
            return null;
        }

        List<string> list = stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array when stop.GetArrayLength() > limits.MaxStopSequences =>
                throw OpenAiError.BadRequest($"'stop' holds {stop.GetArrayLength()} sequences; at most {limits.MaxStopSequences} are allowed.", "stop", "array_above_max_length"),
            JsonValueKind.Array when stop.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) => [.. stop.EnumerateArray().Select(e => e.GetString()!)],
            _ => throw OpenAiError.BadRequest("'stop' must be a string or an array of strings.", "stop", "invalid_type"),
        };
        foreach (var sequence in list)
        {
            if (sequence.Length == 0)
            {
                throw OpenAiError.BadRequest("'stop' sequences must not be empty.", "stop", "invalid_value");
            }

            if (sequence.Length > limits.MaxStopSequenceLength)
            {
                throw OpenAiError.BadRequest(
                    string.Create(CultureInfo.InvariantCulture, $"A 'stop' sequence is {sequence.Length} characters long; at most {limits.MaxStopSequenceLength} are allowed."),
                    "stop", "string_above_max_length");
            }
        }

        return list;
    }
}
