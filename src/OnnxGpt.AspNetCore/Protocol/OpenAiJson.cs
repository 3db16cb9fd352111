using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OnnxGpt.AspNetCore;

/// <summary>OpenAI's wire format: snake_case names, nulls written where OpenAI writes them.</summary>
internal static class OpenAiJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,   // text as written ("'tis"), not \u0027tis; still valid JSON
    };
}

internal sealed record ErrorBody(ErrorDetail Error);

internal sealed record ErrorDetail(string Message, string Type, string? Param, string? Code);

internal sealed record Usage(long PromptTokens, long CompletionTokens, long TotalTokens);

internal sealed record ModelList(IReadOnlyList<ModelEntry> Data, [property: JsonPropertyOrder(-1)] string Object = "list");

internal sealed record ModelEntry(string Id, long Created, [property: JsonPropertyOrder(-1)] string Object = "model", string OwnedBy = "onnxgpt");

internal sealed record ChatCompletion(string Id, long Created, string Model, IReadOnlyList<ChatChoice> Choices, Usage Usage, [property: JsonPropertyOrder(-1)] string Object = "chat.completion");

internal sealed record ChatChoice(int Index, AssistantMessage Message, object? Logprobs, string? FinishReason);

internal sealed record AssistantMessage(
    string? Content,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ToolCall>? ToolCalls = null,
    string Role = "assistant");

/// <summary>OpenAI's <c>tool_calls[i]</c>: <c>{"id","type":"function","function":{"name","arguments"}}</c>, with <c>index</c> when streamed.</summary>
internal sealed record ToolCall(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Index,
    string Id,
    ToolCallFunction Function,
    string Type = "function");

/// <summary>The function a tool call names, with its arguments as a JSON text.</summary>
internal sealed record ToolCallFunction(string Name, string Arguments);

internal sealed record ChatCompletionChunk(
    string Id,
    long Created,
    string Model,
    IReadOnlyList<ChatChunkChoice> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Usage? Usage = null,
    [property: JsonPropertyOrder(-1)] string Object = "chat.completion.chunk");

internal sealed record ChatChunkChoice(int Index, Delta Delta, object? Logprobs, string? FinishReason);

internal sealed record Delta(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ToolCall>? ToolCalls = null);

internal sealed record Completion(
    string Id,
    long Created,
    string Model,
    IReadOnlyList<CompletionChoice> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Usage? Usage,
    [property: JsonPropertyOrder(-1)] string Object = "text_completion");

internal sealed record CompletionChoice(string Text, int Index, object? Logprobs, string? FinishReason);
