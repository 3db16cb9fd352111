namespace OnnxGpt.Sampling;

/// <summary>
/// Prevents the end of the sequence too early (Hugging Face's <c>MinNewTokensLengthLogitsProcessor</c>): the
/// end-of-sequence tokens are removed until <see cref="MinNewTokens"/> tokens were generated after the prompt.
/// </summary>
public sealed class MinNewTokensStage : ISamplingStage
{
    private readonly int[] _eos;

    /// <summary>Creates the stage.</summary>
    /// <param name="minNewTokens">How many tokens must be generated before eos is allowed; 0 or more.</param>
    /// <param name="promptTokenCount">How many ids at the start of the sequence are the prompt; 0 or more.</param>
    /// <param name="eosTokenIds">The end-of-sequence token ids.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minNewTokens"/> or <paramref name="promptTokenCount"/> is negative.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="eosTokenIds"/> is null.</exception>
    public MinNewTokensStage(int minNewTokens, int promptTokenCount, IEnumerable<int> eosTokenIds)
    {
        if (minNewTokens < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(minNewTokens), minNewTokens, "MinNewTokens must be 0 or more.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(promptTokenCount);
        ArgumentNullException.ThrowIfNull(eosTokenIds);
        MinNewTokens = minNewTokens;
        PromptTokenCount = promptTokenCount;
        _eos = [.. eosTokenIds];
    }

    /// <summary>How many tokens must be generated before eos is allowed.</summary>
    public int MinNewTokens { get; }

    /// <summary>How many ids at the start of the sequence are the prompt.</summary>
    public int PromptTokenCount { get; }

    /// <summary>The end-of-sequence token ids.</summary>
    public IReadOnlyList<int> EosTokenIds => _eos;

    /// <inheritdoc />
    public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        if (tokenIds.Length - PromptTokenCount >= MinNewTokens)
        {
            return;
        }

        foreach (var id in _eos)
        {
            if ((uint)id < (uint)logits.Length)
            {
                logits[id] = float.NegativeInfinity;
            }
        }
    }
}
