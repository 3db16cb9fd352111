namespace OnnxGpt.Sampling;

/// <summary>
/// Forbids any n-gram from occurring twice (Hugging Face's <c>NoRepeatNGramLogitsProcessor</c>): every token that would
/// complete an n-gram already present in the sequence (prompt and generated tokens alike) is removed.
/// </summary>
public sealed class NoRepeatNGramStage : ISamplingStage
{
    /// <summary>Creates the stage.</summary>
    /// <param name="ngramSize">The n-gram length; at least 1 (1 bans every token already in the sequence).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ngramSize"/> is below 1.</exception>
    public NoRepeatNGramStage(int ngramSize)
    {
        if (ngramSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ngramSize), ngramSize, "NoRepeatNGramSize must be at least 1.");
        }

        NGramSize = ngramSize;
    }

    /// <summary>The n-gram length.</summary>
    public int NGramSize { get; }

    /// <inheritdoc />
    public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        var n = NGramSize;
        var length = tokenIds.Length;
        if (length + 1 < n)
        {
            return;
        }

        // The last n-1 tokens; every earlier n-gram that starts with them bans its last token.
        var prefix = tokenIds.Slice(length - n + 1, n - 1);
        for (var start = 0; start + n <= length; start++)
        {
            if (tokenIds.Slice(start, n - 1).SequenceEqual(prefix))
            {
                var banned = tokenIds[start + n - 1];
                if ((uint)banned < (uint)logits.Length)
                {
                    logits[banned] = float.NegativeInfinity;
                }
            }
        }
    }
}
