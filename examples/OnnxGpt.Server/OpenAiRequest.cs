using System.Text.Json;
using Microsoft.Extensions.AI;
using OnnxGpt.Generation;

namespace OnnxGpt.Server;

/// <summary>
/// The fields of an OpenAI chat or completion request that this server reads. Fields it cannot honour (n &gt; 1,
/// tools, logprobs, echo, ...) are refused with a 400 naming them; fields that change nothing
/// (user, metadata, store) are ignored.
/// </summary>
internal sealed class OpenAiRequest
{
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

    public GptPrompt? Prompt { get; private set; }

    /// <summary><c>response_format</c>: null for text, <c>json_object</c> as JSON, <c>json_schema</c> with its schema (always strict).</summary>
    public ChatResponseFormatJson? ResponseFormat { get; private set; }

    public static async Task<JsonElement> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw OpenAiError.BadRequest("The request body must be a JSON object.");
            }

            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw OpenAiError.BadRequest($"We could not parse the JSON body of your request: {ex.Message}");
        }
    }

    public static OpenAiRequest ParseChat(JsonElement body)
    {
        var request = ParseCommon(body);
        if (!body.TryGetProperty("messages", out var messages) || messages.ValueKind == JsonValueKind.Null)
        {
            throw OpenAiError.BadRequest("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
        }

        if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            throw OpenAiError.BadRequest("'messages' must be a non-empty array of messages.", "messages");
        }

        var list = new List<ChatMessage>();
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            list.Add(ParseMessage(message, $"messages[{index++}]"));
        }

        request.Messages = list;
        Refuse(body, "tools", v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0, "tool calling is not supported.");
        Refuse(body, "functions", v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0, "function calling is not supported.");
        Refuse(body, "tool_choice", v => !(v.ValueKind == JsonValueKind.String && v.GetString() == "none"), "only 'none' is supported.");
        request.ResponseFormat = TryGet(body, "response_format", out var format) ? ParseResponseFormat(format) : null;
        Refuse(body, "top_logprobs", _ => true, "log probabilities are not supported.");
        if (body.TryGetProperty("max_completion_tokens", out _))
        {
            request.MaxTokens = Int(body, "max_completion_tokens");
        }

        return request;
    }

    public static OpenAiRequest ParseCompletion(JsonElement body)
    {
        var request = ParseCommon(body);
        if (!body.TryGetProperty("prompt", out var prompt) || prompt.ValueKind == JsonValueKind.Null)
        {
            throw OpenAiError.BadRequest("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
        }

        request.Prompt = prompt.ValueKind switch
        {
            JsonValueKind.String => GptPrompt.FromText(prompt.GetString()!),
            JsonValueKind.Array when prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String => GptPrompt.FromText(prompt[0].GetString()!),
            JsonValueKind.Array when prompt.GetArrayLength() > 0 && prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _)) =>
                GptPrompt.FromTokenIds(prompt.EnumerateArray().Select(e => e.GetInt32())),
            _ => throw OpenAiError.BadRequest("'prompt' must be a string, an array of one string, or an array of token ids (several prompts in one request are not supported).", "prompt"),
        };
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
    };

    /// <summary>The request as generation options, with the same meaning as the chat client gives them.</summary>
    public GenerationOptions ToGenerationOptions()
    {
        if (Seed is < int.MinValue or > int.MaxValue)
        {
            throw OpenAiError.BadRequest($"seed must fit a 32-bit integer, but was {Seed}.", "seed", "invalid_value");
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

    private static OpenAiRequest ParseCommon(JsonElement body)
    {
        var request = new OpenAiRequest
        {
            Model = String(body, "model"),
            Stream = Bool(body, "stream") ?? false,
            MaxTokens = Int(body, "max_tokens"),
            Temperature = Float(body, "temperature"),
            TopP = Float(body, "top_p"),
            TopK = Int(body, "top_k"),
            FrequencyPenalty = Float(body, "frequency_penalty"),
            PresencePenalty = Float(body, "presence_penalty"),
            Seed = Long(body, "seed"),
            Stop = ParseStop(body),
        };
        if (body.TryGetProperty("stream_options", out var streamOptions) && streamOptions.ValueKind == JsonValueKind.Object)
        {
            request.IncludeUsage = Bool(streamOptions, "include_usage", "stream_options.include_usage") ?? false;
        }

        Refuse(body, "n", v => !(v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n == 1), "only n = 1 is supported.");
        Refuse(body, "logprobs", v => v.ValueKind is not (JsonValueKind.False or JsonValueKind.Null), "log probabilities are not supported.");
        Refuse(body, "logit_bias", v => v.ValueKind == JsonValueKind.Object && v.EnumerateObject().Any(), "logit_bias is not supported.");
        return request;
    }

    private static ChatMessage ParseMessage(JsonElement message, string param)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            throw OpenAiError.BadRequest($"'{param}' must be an object with 'role' and 'content'.", param);
        }

        var role = String(message, "role", $"{param}.role") switch
        {
            "system" or "developer" => ChatRole.System,
            "user" => ChatRole.User,
            "assistant" => ChatRole.Assistant,
            null => throw OpenAiError.BadRequest($"Missing required parameter: '{param}.role'.", $"{param}.role", "missing_required_parameter"),
            var other => throw OpenAiError.BadRequest($"'{param}.role' is '{other}'; this server supports system, developer, user and assistant messages.", $"{param}.role"),
        };
        if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0)
        {
            throw OpenAiError.BadRequest("Tool calls are not supported.", $"{param}.tool_calls", "unsupported_parameter");
        }

        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
        {
            throw OpenAiError.BadRequest($"Missing required parameter: '{param}.content'.", $"{param}.content", "missing_required_parameter");
        }

        var text = content.ValueKind switch
        {
            JsonValueKind.String => content.GetString()!,
            JsonValueKind.Array => string.Concat(content.EnumerateArray().Select((part, i) =>
                part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var type) && type.ValueEquals("text")
                    && part.TryGetProperty("text", out var partText) && partText.ValueKind == JsonValueKind.String
                    ? partText.GetString()
                    : throw OpenAiError.BadRequest($"'{param}.content[{i}]' is not a text part; this server reads text only.", $"{param}.content[{i}]", "unsupported_parameter"))),
            _ => throw OpenAiError.BadRequest($"'{param}.content' must be a string or an array of text parts.", $"{param}.content"),
        };
        return new ChatMessage(role, text);
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

    private static bool? Bool(JsonElement body, string name, string? param = null) =>
        !TryGet(body, name, out var value) ? null
        : value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean()
        : throw OpenAiError.BadRequest($"'{param ?? name}' must be a boolean.", param ?? name, "invalid_type");

    private static float? Float(JsonElement body, string name) =>
        !TryGet(body, name, out var value) ? null
        : value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && Math.Abs(number) <= float.MaxValue ? (float)number
        : throw OpenAiError.BadRequest($"'{name}' must be a number.", name, "invalid_type");

    private static int? Int(JsonElement body, string name) =>
        !TryGet(body, name, out var value) ? null
        : value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) ? number
        : throw OpenAiError.BadRequest($"'{name}' must be an integer.", name, "invalid_type");

    private static long? Long(JsonElement body, string name) =>
        !TryGet(body, name, out var value) ? null
        : value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) ? number
        : throw OpenAiError.BadRequest($"'{name}' must be an integer.", name, "invalid_type");

    private static List<string>? ParseStop(JsonElement body)
    {
        if (!TryGet(body, "stop", out var stop))
        {
            return null;
        }

        return stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array when stop.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) => [.. stop.EnumerateArray().Select(e => e.GetString()!)],
            _ => throw OpenAiError.BadRequest("'stop' must be a string or an array of strings.", "stop", "invalid_type"),
        };
    }
}
