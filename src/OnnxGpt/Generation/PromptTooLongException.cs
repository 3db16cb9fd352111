namespace OnnxGpt.Generation;

/// <summary>Thrown before any work when a prompt leaves no room in the model's context for a new token.</summary>
public sealed class PromptTooLongException : GptException
{
    /// <summary>Creates an exception with no message.</summary>
    public PromptTooLongException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">The message.</param>
    public PromptTooLongException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The underlying error.</param>
    public PromptTooLongException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for a prompt of <paramref name="promptTokenCount"/> tokens.</summary>
    /// <param name="promptTokenCount">The prompt's length in tokens.</param>
    /// <param name="contextLength">The model's context length.</param>
    public PromptTooLongException(int promptTokenCount, int contextLength)
        : base($"The prompt is {promptTokenCount} tokens long, but the model's context holds {contextLength} positions and at least one must be left for a new token. Shorten the prompt to at most {contextLength - 1} tokens.")
    {
        PromptTokenCount = promptTokenCount;
        ContextLength = contextLength;
    }

    /// <summary>The prompt's length in tokens.</summary>
    public int PromptTokenCount { get; }

    /// <summary>The model's context length.</summary>
    public int ContextLength { get; }
}
