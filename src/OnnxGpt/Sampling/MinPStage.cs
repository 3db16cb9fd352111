namespace OnnxGpt.Sampling;

/// <summary>
/// Removes tokens whose probability is below MinP times the most likely token's probability
/// (Hugging Face's <c>MinPLogitsWarper</c>).
/// </summary>
public sealed class MinPStage : ISamplingStage, IRequestScopedStage
{
    private float[] _probabilities = [];

    /// <summary>Creates the stage.</summary>
    /// <param name="minP">The ratio, in [0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minP"/> is outside [0, 1].</exception>
    public MinPStage(float minP)
    {
        if (!(minP >= 0 && minP <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(minP), minP, "MinP must be in [0, 1].");
        }

        MinP = minP;
    }

    /// <summary>The ratio.</summary>
    public float MinP { get; }

    /// <inheritdoc />
    ISamplingStage IRequestScopedStage.ForRequest() => new MinPStage(MinP);

    /// <inheritdoc />
    public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        if (_probabilities.Length != logits.Length)
        {
            _probabilities = new float[logits.Length];
        }

        var probabilities = _probabilities.AsSpan();
        Selection.Softmax(logits, probabilities);
        var top = 0f;
        foreach (var p in probabilities)
        {
            top = MathF.Max(top, p);
        }

        // The most likely token always passes, which keeps at least one.
        var threshold = MinP * top;
        for (var i = 0; i < logits.Length; i++)
        {
            if (probabilities[i] < threshold)
            {
                logits[i] = float.NegativeInfinity;
            }
        }
    }
}
