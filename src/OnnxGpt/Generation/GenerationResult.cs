namespace OnnxGpt.Generation;

/// <summary>The outcome of one generation: its text and ids, why it ended, usage and timings.</summary>
public sealed class GenerationResult
{
    /// <summary>The generated text (stop sequences and end-of-sequence tokens excluded).</summary>
    public required string Text { get; init; }

    /// <summary>The prompt's token ids, as fed to the model.</summary>
    public required IReadOnlyList<int> PromptTokenIds { get; init; }

    /// <summary>The generated token ids, including a final end-of-sequence token if one ended the generation.</summary>
    public required IReadOnlyList<int> TokenIds { get; init; }

    /// <summary>Why the generation ended.</summary>
    public required FinishReason FinishReason { get; init; }

    /// <summary>The execution provider that ran the model.</summary>
    public required string ExecutionProvider { get; init; }

    /// <summary>The time from the request to its first generated token (prompt processing included).</summary>
    public required TimeSpan TimeToFirstToken { get; init; }

    /// <summary>The time from the request to its end.</summary>
    public required TimeSpan TotalTime { get; init; }

    /// <summary>
    /// Prompt tokens whose keys and values came from the conversation's kept cache instead of being run again
    /// (<see cref="GenerationOptions.ConversationId"/>); 0 otherwise.
    /// </summary>
    public int ReusedPromptTokenCount { get; init; }

    /// <summary>
    /// Tokens drafted by speculative decoding (<see cref="GenerationOptions.PromptLookupTokens"/> or a draft model,
    /// <see cref="Generation.GptOptions.DraftModelPath"/>) and verified by the model; 0 without speculation.
    /// </summary>
    public int DraftedTokenCount { get; init; }

    /// <summary>Drafted tokens the model kept (at most <see cref="DraftedTokenCount"/>); each saved one model run.</summary>
    public int AcceptedDraftTokenCount { get; init; }

    /// <summary>Number of prompt tokens.</summary>
    public int PromptTokenCount => PromptTokenIds.Count;

    /// <summary>Number of generated tokens.</summary>
    public int GeneratedTokenCount => TokenIds.Count;

    /// <summary>
    /// Decode speed: tokens generated after the first, per second of the time after the first
    /// (the prompt's processing is in <see cref="TimeToFirstToken"/>). 0 when fewer than two tokens were generated.
    /// </summary>
    public double TokensPerSecond
    {
        get
        {
            var decode = (TotalTime - TimeToFirstToken).TotalSeconds;
            return GeneratedTokenCount > 1 && decode > 0 ? (GeneratedTokenCount - 1) / decode : 0;
        }
    }
}
