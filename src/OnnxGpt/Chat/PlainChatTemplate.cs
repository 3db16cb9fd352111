using System.Globalization;
using System.Text;
using Microsoft.Extensions.AI;

namespace OnnxGpt.Chat;

/// <summary>
/// "Role: text" lines, for base models that were never trained on a chat format (such as the embedded
/// tiny-shakespeare): <c>System: Be brief.\nUser: hi\nAssistant:</c>. The reply stops where the model starts a new
/// user line. Roles are written with a capital first letter.
/// </summary>
public sealed class PlainChatTemplate : IChatTemplate
{
    /// <inheritdoc />
    public string Name => "plain";

    /// <inheritdoc />
    public IReadOnlyList<string> StopSequences { get; } = ["\nUser:"];

    /// <inheritdoc />
    public string Format(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var text = new StringBuilder();
        foreach (var message in messages)
        {
            text.Append(Label(message.Role)).Append(": ").Append(message.Text).Append('\n');
        }

        if (addGenerationPrompt)
        {
            text.Append("Assistant:");
        }

        return text.ToString();
    }

    private static string Label(ChatRole role)
    {
        var value = role.Value;
        return value.Length == 0 ? value : char.ToUpper(value[0], CultureInfo.InvariantCulture) + value[1..];
    }
}
