using System.Text;
using Microsoft.Extensions.AI;

namespace OnnxGpt.Chat;

/// <summary>
/// Phi-3 instruct: <c>&lt;|system|&gt;\nsystem&lt;|end|&gt;\n&lt;|user|&gt;\nHi&lt;|end|&gt;\n&lt;|assistant|&gt;\n</c>.
/// Without a generation prompt the text ends with <c>&lt;|endoftext|&gt;</c>, as Phi-3's own template does.
/// </summary>
public sealed class Phi3ChatTemplate : IChatTemplate
{
    /// <inheritdoc />
    public string Name => "phi3";

    /// <inheritdoc />
    public IReadOnlyList<string> StopSequences { get; } = ["<|end|>"];

    /// <inheritdoc />
    public string Format(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ChatTemplateParts.RequireKnownRoles(messages, Name);
        var text = new StringBuilder();
        foreach (var message in messages)
        {
            text.Append("<|").Append(message.Role.Value).Append("|>\n").Append(message.Text).Append("<|end|>\n");
        }

        text.Append(addGenerationPrompt ? "<|assistant|>\n" : "<|endoftext|>");
        return text.ToString();
    }
}
