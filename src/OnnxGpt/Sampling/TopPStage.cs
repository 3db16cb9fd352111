namespace OnnxGpt.Sampling;

/// <summary>
/// Nucleus sampling (Hugging Face's <c>TopPLogitsWarper</c>): sorts the tokens from least to most likely and removes
/// those whose cumulative probability stays at or below 1 - P, always keeping the most likely ones.
/// </summary>
public sealed class TopPStage : ISamplingStage, IRequestScopedStage
{
    private float[] _keys = [];
    private int[] _indices = [];
    private float[] _probabilities = [];

    /// <summary>Creates the stage.</summary>
    /// <param name="topP">The probability mass to keep, in (0, 1].</param>
    /// <param name="minTokensToKeep">Never keep fewer than this many tokens.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topP"/> is outside (0, 1] or <paramref name="minTokensToKeep"/> is below 1.</exception>
    public TopPStage(float topP, int minTokensToKeep = 1)
    {
        if (!(topP > 0 && topP <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(topP), topP, "TopP must be in (0, 1].");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(minTokensToKeep, 1);
        TopP = topP;
        MinTokensToKeep = minTokensToKeep;
    }

    /// <summary>The probability mass kept.</summary>
    public float TopP { get; }

    /// <summary>The least number of tokens kept.</summary>
    public int MinTokensToKeep { get; }

    /// <inheritdoc />
    ISamplingStage IRequestScopedStage.ForRequest() => new TopPStage(TopP, MinTokensToKeep);

    /// <inheritdoc />
    public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        if (_keys.Length != logits.Length)
        {
            _keys = new float[logits.Length];
            _indices = new int[logits.Length];
            _probabilities = new float[logits.Length];
        }

        // Removed tokens have probability 0 and never count, so only the finite ones are sorted.
        var n = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            if (!float.IsNegativeInfinity(logits[i]))
            {
                _keys[n] = logits[i];
                _indices[n] = i;
                n++;
            }
        }

        var keys = _keys.AsSpan(0, n);
        var indices = _indices.AsSpan(0, n);
        keys.Sort(indices);
        var probabilities = _probabilities.AsSpan(0, n);
        Selection.Softmax(keys, probabilities);

        var threshold = 1f - TopP;
        var keepFrom = n - Math.Min(MinTokensToKeep, n);
        var cumulative = 0f;
        for (var i = 0; i < n; i++)
        {
            cumulative += probabilities[i];
            if (cumulative <= threshold && i < keepFrom)
            {
                logits[indices[i]] = float.NegativeInfinity;
            }
        }
    }
}
