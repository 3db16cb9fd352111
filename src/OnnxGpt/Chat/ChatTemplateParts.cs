using Microsoft.Extensions.AI;

namespace OnnxGpt.Chat;

/// <summary>Helpers shared by the templates whose format has one system prompt and alternating user/assistant turns.</summary>
internal static class ChatTemplateParts
{
    /// <summary>
    /// Splits the leading system messages (joined by a blank line) from the rest, and checks that the rest are
    /// user and assistant messages only.
    /// </summary>
    public static (string? System, IReadOnlyList<ChatMessage> Turns) SplitSystem(IReadOnlyList<ChatMessage> messages, string templateName)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var system = new List<string>();
        var index = 0;
        while (index < messages.Count && messages[index].Role == ChatRole.System)
        {
            system.Add(messages[index].Text);
            index++;
        }

        var turns = new List<ChatMessage>(messages.Count - index);
        for (; index < messages.Count; index++)
        {
            var message = messages[index];
            if (message.Role != ChatRole.User && message.Role != ChatRole.Assistant)
            {
                throw new NotSupportedException(message.Role == ChatRole.System
                    ? $"The {templateName} chat template takes system messages only at the start of the conversation."
                    : $"The {templateName} chat template has no place for a message with role '{message.Role}'; it renders system, user and assistant messages.");
            }

            turns.Add(message);
        }

        return (system.Count > 0 ? string.Join("\n\n", system) : null, turns);
    }

    /// <summary>Checks that every message is a system, user or assistant message.</summary>
    public static void RequireKnownRoles(IReadOnlyList<ChatMessage> messages, string templateName)
    {
        ArgumentNullException.ThrowIfNull(messages);
        foreach (var message in messages)
        {
            if (message.Role != ChatRole.System && message.Role != ChatRole.User && message.Role != ChatRole.Assistant)
            {
                throw new NotSupportedException($"The {templateName} chat template has no place for a message with role '{message.Role}'; it renders system, user and assistant messages.");
            }
        }
    }
}
