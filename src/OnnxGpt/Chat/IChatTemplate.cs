using Microsoft.Extensions.AI;

namespace OnnxGpt.Chat;

/// <summary>
/// Turns a conversation into the prompt text a chat model was trained on, and names the text that ends the
/// assistant's turn. One class per format (<see cref="ChatMLTemplate"/>, <see cref="Llama2ChatTemplate"/>,
/// <see cref="Llama3ChatTemplate"/>, <see cref="Phi3ChatTemplate"/>, <see cref="GemmaChatTemplate"/>,
/// <see cref="MistralChatTemplate"/>, and <see cref="PlainChatTemplate"/> for base models);
/// <see cref="ChatTemplates"/> picks one from a model folder. Implement it for another format.
/// </summary>
/// <remarks>
/// Templates render what Hugging Face's <c>apply_chat_template(tokenize=False)</c> renders for the same format,
/// without the leading beginning-of-sequence token: the model's tokenizer adds that one itself.
/// </remarks>
public interface IChatTemplate
{
    /// <summary>A short name for the format (<c>chatml</c>, <c>llama2</c>, <c>llama3</c>, <c>phi3</c>, <c>gemma</c>, <c>mistral</c>, <c>plain</c>).</summary>
    string Name { get; }

    /// <summary>Text that ends the assistant's turn in this format; generation stops there and the text is not part of the reply.</summary>
    IReadOnlyList<string> StopSequences { get; }

    /// <summary>Renders a conversation as prompt text.</summary>
    /// <param name="messages">The messages, oldest first. Only their text is rendered.</param>
    /// <param name="addGenerationPrompt">Whether to end with the opening of an assistant turn, for the model to complete.</param>
    /// <returns>The prompt text.</returns>
    /// <exception cref="NotSupportedException">A message's role has no place in this format (the message says which).</exception>
    string Format(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt);
}
