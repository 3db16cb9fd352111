using System.Text;
using Microsoft.Extensions.AI;

namespace OnnxGpt.Chat;

/// <summary>
/// Mistral instruct, as Mistral-7B-Instruct-v0.3's template renders it: <c>[INST] Hi[/INST] Hello&lt;/s&gt;[INST] More[/INST]</c>.
/// The system prompt opens the last user turn, followed by a blank line. The format has no separate generation
/// prompt: a conversation ending with a user turn is ready for the model.
/// </summary>
public sealed class MistralChatTemplate : IChatTemplate
{
    /// <inheritdoc />
    public string Name => "mistral";

    /// <inheritdoc />
    public IReadOnlyList<string> StopSequences { get; } = ["</s>"];

    /// <inheritdoc />
    public string Format(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var (system, turns) = ChatTemplateParts.SplitSystem(messages, Name);
        var lastUser = -1;
        for (var i = 0; i < turns.Count; i++)
        {
            if (turns[i].Role == ChatRole.User)
            {
                lastUser = i;
            }
        }

        var text = new StringBuilder();
        for (var i = 0; i < turns.Count; i++)
        {
            if (turns[i].Role == ChatRole.User)
            {
                text.Append("[INST] ");
                if (i == lastUser && system is not null)
                {
                    text.Append(system).Append("\n\n");
                }

                text.Append(turns[i].Text).Append("[/INST]");
            }
            else
            {
                text.Append(' ').Append(turns[i].Text).Append("</s>");
            }
        }

        return text.ToString();
    }
}
