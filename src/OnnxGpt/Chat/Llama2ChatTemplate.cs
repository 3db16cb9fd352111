using System.Text;
using Microsoft.Extensions.AI;

namespace OnnxGpt.Chat;

/// <summary>
/// Llama 2 chat: <c>[INST] &lt;&lt;SYS&gt;&gt;\nsystem\n&lt;&lt;/SYS&gt;&gt;\n\nHi [/INST] Hello &lt;/s&gt;&lt;s&gt;[INST] More [/INST]</c>.
/// The system prompt goes inside the first turn; texts are trimmed. The format has no separate generation prompt:
/// a conversation ending with a user turn is ready for the model.
/// </summary>
public sealed class Llama2ChatTemplate : IChatTemplate
{
    /// <inheritdoc />
    public string Name => "llama2";

    /// <inheritdoc />
    public IReadOnlyList<string> StopSequences { get; } = ["</s>"];

    /// <inheritdoc />
    public string Format(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var (system, turns) = ChatTemplateParts.SplitSystem(messages, Name);
        var text = new StringBuilder();
        for (var i = 0; i < turns.Count; i++)
        {
            var content = turns[i].Text;
            if (i == 0 && system is not null)
            {
                content = $"<<SYS>>\n{system}\n<</SYS>>\n\n{content}";
            }

            if (turns[i].Role == ChatRole.User)
            {
                // Hugging Face's template starts every user turn with bos; the tokenizer adds the first one.
                text.Append(i == 0 ? string.Empty : "<s>").Append("[INST] ").Append(content.Trim()).Append(" [/INST]");
            }
            else
            {
                text.Append(' ').Append(content.Trim()).Append(" </s>");
            }
        }

        return text.ToString();
    }
}
