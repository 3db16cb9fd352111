using System.Text;
using Microsoft.Extensions.AI;

namespace OnnxGpt.Chat;

/// <summary>
/// Gemma instruct: <c>&lt;start_of_turn&gt;user\nHi&lt;end_of_turn&gt;\n&lt;start_of_turn&gt;model\n</c>. The assistant's
/// role is <c>model</c>; texts are trimmed. Gemma has no system role: as Gemma 3's template does, the system prompt
/// opens the first user turn, followed by a blank line.
/// </summary>
public sealed class GemmaChatTemplate : IChatTemplate
{
    /// <inheritdoc />
    public string Name => "gemma";

    /// <inheritdoc />
    public IReadOnlyList<string> StopSequences { get; } = ["<end_of_turn>"];

    /// <inheritdoc />
    public string Format(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var (system, turns) = ChatTemplateParts.SplitSystem(messages, Name);
        var text = new StringBuilder();
        var prefix = system is null ? string.Empty : system.Trim() + "\n\n";
        if (turns.Count == 0 && system is not null)
        {
            text.Append("<start_of_turn>user\n").Append(prefix).Append("<end_of_turn>\n");
        }

        for (var i = 0; i < turns.Count; i++)
        {
            var role = turns[i].Role == ChatRole.Assistant ? "model" : "user";
            text.Append("<start_of_turn>").Append(role).Append('\n')
                .Append(i == 0 ? prefix : string.Empty).Append(turns[i].Text.Trim()).Append("<end_of_turn>\n");
        }

        if (addGenerationPrompt)
        {
            text.Append("<start_of_turn>model\n");
        }

        return text.ToString();
    }
}
