using Microsoft.Extensions.Logging;

namespace OnnxGpt.Chat;

/// <summary>The chat client's log messages.</summary>
internal static partial class ChatLog
{
    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "Conversation {ConversationId}: dropped the {Dropped} oldest messages to fit the context ({PromptTokens} prompt tokens of {Budget} allowed, {Reserved} of the model's {Context} kept for the answer)")]
    public static partial void DroppedOldestTurns(ILogger logger, string conversationId, int dropped, int promptTokens, int budget, int reserved, int context);
}
