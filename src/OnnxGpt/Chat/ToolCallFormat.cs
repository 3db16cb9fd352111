namespace OnnxGpt.Chat;

/// <summary>How a model writes tool calls in its output; <see cref="GptChatClient"/> parses them into <c>FunctionCallContent</c>.</summary>
public enum ToolCallFormat
{
    /// <summary>The model's output is never parsed for tool calls.</summary>
    None,

    /// <summary>Hermes and Qwen: <c>&lt;tool_call&gt;{"name": ..., "arguments": {...}}&lt;/tool_call&gt;</c>, once per call.</summary>
    Hermes,

    /// <summary>Llama 3.1 and 3.2: the whole reply is <c>{"name": ..., "parameters": {...}}</c> (optionally after <c>&lt;|python_tag|&gt;</c>).</summary>
    Llama3Json,

    /// <summary>Mistral: <c>[TOOL_CALLS][{"name": ..., "arguments": {...}, "id": ...}]</c>.</summary>
    Mistral,

    /// <summary>Phi-4-mini: <c>&lt;|tool_call|&gt;[{"name": ..., "arguments": {...}}]&lt;|/tool_call|&gt;</c>.</summary>
    Phi4Mini,
}
