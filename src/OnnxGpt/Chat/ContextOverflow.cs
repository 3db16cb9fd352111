namespace OnnxGpt.Chat;

/// <summary>What a <see cref="GptChatClient"/> does when a conversation no longer fits the model's context.</summary>
public enum ContextOverflow
{
    /// <summary>
    /// Drop the oldest turns after the leading system messages, whole turns at a time (a user message and the replies
    /// after it), until the prompt leaves <see cref="GptChatClientOptions.ReservedAnswerTokens"/> for the answer; the
    /// latest user message is always kept. The response's <see cref="GptChatClient.DroppedMessagesProperty"/> says how
    /// many messages were dropped.
    /// </summary>
    DropOldestTurns,

    /// <summary>Send the whole conversation: one that fills the context throws <see cref="Generation.PromptTooLongException"/>.</summary>
    Throw,
}
