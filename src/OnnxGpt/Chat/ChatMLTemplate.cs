using System.Text;
using Microsoft.Extensions.AI;

namespace OnnxGpt.Chat;

/// <summary>
/// ChatML (Qwen, SmolLM, OpenHermes and many fine-tunes):
/// <c>&lt;|im_start|&gt;user\nHi&lt;|im_end|&gt;\n&lt;|im_start|&gt;assistant\n</c>. Every role is rendered by its name.
/// </summary>
public sealed class ChatMLTemplate : IChatTemplate
{
    /// <inheritdoc />
    public string Name => "chatml";

    /// <inheritdoc />
    public IReadOnlyList<string> StopSequences { get; } = ["<|im_end|>"];

    /// <inheritdoc />
    public string Format(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var text = new StringBuilder();
        foreach (var message in messages)
        {
            text.Append("<|im_start|>").Append(message.Role.Value).Append('\n').Append(message.Text).Append("<|im_end|>\n");
        }

        if (addGenerationPrompt)
        {
            text.Append("<|im_start|>assistant\n");
        }

        return text.ToString();
    }
}
