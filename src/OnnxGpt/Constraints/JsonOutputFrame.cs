namespace OnnxGpt.Constraints;

/// <summary>
/// Output constrained to literal text, then one JSON value, then literal text: for example a tool call,
/// <c>&lt;tool_call&gt;\n</c> + <c>{"name": ..., "arguments": ...}</c> + <c>\n&lt;/tool_call&gt;</c>, where
/// <see cref="Schema"/> is an <c>anyOf</c> over the allowed tools' call objects. The chat client sets it through
/// <see cref="Generation.GenerationOptions.FramedJson"/>; generation ends with <c>FinishReason.Stop</c> right after the suffix.
/// </summary>
/// <param name="Prefix">Text the output starts with (may be empty).</param>
/// <param name="Schema">The JSON schema of the value; null: any JSON value.</param>
/// <param name="Suffix">Text the output ends with (may be empty).</param>
internal sealed record JsonOutputFrame(string Prefix, string? Schema, string Suffix);
