namespace OnnxGpt.Sampling;

/// <summary>
/// OpenAI's frequency and presence penalties: for every token t among the generated tokens,
/// <c>logit[t] -= count(t) * FrequencyPenalty + PresencePenalty</c>. Only generated tokens count, not the prompt:
/// the stage skips the first <see cref="PromptTokenCount"/> ids of the sequence it is given.
/// Positive values discourage repetition, negative ones encourage it.
/// </summary>
public sealed class FrequencyPresencePenaltyStage : ISamplingStage, IRequestScopedStage
{
    private int[] _counts = [];

    /// <summary>Creates the stage.</summary>
    /// <param name="frequencyPenalty">Subtracted once per occurrence of a token, in [-2, 2].</param>
    /// <param name="presencePenalty">Subtracted once from every token that occurred, in [-2, 2].</param>
    /// <param name="promptTokenCount">How many ids at the start of the sequence are the prompt (not penalized); 0 or more.</param>
    /// <exception cref="ArgumentOutOfRangeException">A penalty is outside [-2, 2], or <paramref name="promptTokenCount"/> is negative.</exception>
    public FrequencyPresencePenaltyStage(float frequencyPenalty, float presencePenalty, int promptTokenCount = 0)
    {
        if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2))
        {
            throw new ArgumentOutOfRangeException(nameof(frequencyPenalty), frequencyPenalty, "FrequencyPenalty must be in [-2, 2].");
        }

        if (!(presencePenalty >= -2 && presencePenalty <= 2))
        {
            throw new ArgumentOutOfRangeException(nameof(presencePenalty), presencePenalty, "PresencePenalty must be in [-2, 2].");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(promptTokenCount);
        FrequencyPenalty = frequencyPenalty;
        PresencePenalty = presencePenalty;
        PromptTokenCount = promptTokenCount;
    }

    /// <summary>The penalty per occurrence.</summary>
    public float FrequencyPenalty { get; }

    /// <summary>The penalty for having occurred at all.</summary>
    public float PresencePenalty { get; }

    /// <summary>How many ids at the start of the sequence are the prompt, which is not penalized.</summary>
    public int PromptTokenCount { get; }

    /// <inheritdoc />
    ISamplingStage IRequestScopedStage.ForRequest() => new FrequencyPresencePenaltyStage(FrequencyPenalty, PresencePenalty, PromptTokenCount);

    /// <inheritdoc />
    public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        if (tokenIds.Length <= PromptTokenCount)
        {
            return;
        }

        if (_counts.Length != logits.Length)
        {
            _counts = new int[logits.Length];
        }

        var counts = _counts.AsSpan();
        var generated = tokenIds[PromptTokenCount..];
        foreach (var id in generated)
        {
            if ((uint)id < (uint)counts.Length)
            {
                counts[id]++;
            }
        }

        // Each distinct token is penalized once, and its count cleared for the next call.
        foreach (var id in generated)
        {
            if ((uint)id < (uint)counts.Length && counts[id] > 0)
            {
                logits[id] -= (counts[id] * FrequencyPenalty) + PresencePenalty;
                counts[id] = 0;
            }
        }
    }
}
