namespace OnnxGpt.Sampling;

/// <summary>
/// Keeps the K highest scores and removes the rest (Hugging Face's <c>TopKLogitsWarper</c>): every token scoring
/// below the K-th highest score is removed, so ties with the K-th are kept.
/// </summary>
public sealed class TopKStage : ISamplingStage, IRequestScopedStage
{
    private float[] _scratch = [];

    /// <summary>Creates the stage.</summary>
    /// <param name="topK">How many tokens to keep; at least 1.</param>
    /// <param name="minTokensToKeep">Never keep fewer than this many tokens.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topK"/> or <paramref name="minTokensToKeep"/> is below 1.</exception>
    public TopKStage(int topK, int minTokensToKeep = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(minTokensToKeep, 1);
        TopK = topK;
        MinTokensToKeep = minTokensToKeep;
    }

    /// <summary>How many tokens are kept.</summary>
    public int TopK { get; }

    /// <summary>The least number of tokens kept.</summary>
    public int MinTokensToKeep { get; }

    /// <inheritdoc />
    ISamplingStage IRequestScopedStage.ForRequest() => new TopKStage(TopK, MinTokensToKeep);

    /// <inheritdoc />
    public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        var k = Math.Min(Math.Max(TopK, MinTokensToKeep), logits.Length);
        if (k >= logits.Length)
        {
            return;
        }

        if (_scratch.Length != logits.Length)
        {
            _scratch = new float[logits.Length];
        }

        var scratch = _scratch.AsSpan();
        logits.CopyTo(scratch);
        var threshold = Selection.KthLargest(scratch, k);
        for (var i = 0; i < logits.Length; i++)
        {
            if (logits[i] < threshold)
            {
                logits[i] = float.NegativeInfinity;
            }
        }
    }
}
