namespace OnnxGpt.Sampling;

/// <summary>
/// Locally typical sampling (Hugging Face's <c>TypicalLogitsWarper</c>): ranks the tokens by how far their
/// information content (-log p) is from the distribution's entropy, and keeps the closest ones until their
/// probability reaches the mass. Ties with the last kept token are kept; at least <see cref="MinTokensToKeep"/> stay.
/// </summary>
public sealed class TypicalPStage : ISamplingStage, IRequestScopedStage
{
    private float[] _keys = [];
    private int[] _indices = [];
    private float[] _logits = [];
    private float[] _probabilities = [];

    /// <summary>Creates the stage.</summary>
    /// <param name="mass">The probability mass to keep, in (0, 1) (Hugging Face's <c>typical_p</c>).</param>
    /// <param name="minTokensToKeep">Never keep fewer than this many tokens.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mass"/> is outside (0, 1) or <paramref name="minTokensToKeep"/> is below 1.</exception>
    public TypicalPStage(float mass, int minTokensToKeep = 1)
    {
        if (!(mass > 0 && mass < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(mass), mass, "TypicalP must be in (0, 1).");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(minTokensToKeep, 1);
        Mass = mass;
        MinTokensToKeep = minTokensToKeep;
    }

    /// <summary>The probability mass kept.</summary>
    public float Mass { get; }

    /// <summary>The least number of tokens kept.</summary>
    public int MinTokensToKeep { get; }

    /// <inheritdoc />
    ISamplingStage IRequestScopedStage.ForRequest() => new TypicalPStage(Mass, MinTokensToKeep);

    /// <inheritdoc />
    public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        if (_keys.Length != logits.Length)
        {
            _keys = new float[logits.Length];
            _indices = new int[logits.Length];
            _logits = new float[logits.Length];
            _probabilities = new float[logits.Length];
        }

        // Removed tokens have probability 0: they sort last (their distance is infinite) and never count.
        var max = Selection.Max(logits);
        if (float.IsNegativeInfinity(max) || float.IsNaN(max))
        {
            return;
        }

        var sum = 0.0;
        var n = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            if (!float.IsNegativeInfinity(logits[i]))
            {
                sum += Math.Exp(logits[i] - max);
                _indices[n] = i;
                n++;
            }
        }

        // log_softmax, then the entropy -sum(p log p), as transformers computes them.
        var logSum = (float)Math.Log(sum);
        var entropy = 0.0;
        for (var j = 0; j < n; j++)
        {
            var normalized = logits[_indices[j]] - max - logSum;
            var p = MathF.Exp(normalized);
            entropy -= (double)normalized * p;
        }

        var ent = (float)entropy;
        for (var j = 0; j < n; j++)
        {
            var normalized = logits[_indices[j]] - max - logSum;
            _keys[j] = MathF.Abs(-normalized - ent);
        }

        var keys = _keys.AsSpan(0, n);
        var indices = _indices.AsSpan(0, n);
        keys.Sort(indices);

        var sortedLogits = _logits.AsSpan(0, n);
        for (var j = 0; j < n; j++)
        {
            sortedLogits[j] = logits[indices[j]];
        }

        var probabilities = _probabilities.AsSpan(0, n);
        Selection.Softmax(sortedLogits, probabilities);

        // last = how many cumulative probabilities stay below the mass, clamped to the last token.
        var last = 0;
        var cumulative = 0f;
        for (var j = 0; j < n; j++)
        {
            cumulative += probabilities[j];
            if (cumulative < Mass)
            {
                last++;
            }
        }

        last = Math.Min(last, n - 1);
        var threshold = keys[last];
        for (var j = Math.Min(MinTokensToKeep, n); j < n; j++)
        {
            if (keys[j] > threshold)
            {
                logits[indices[j]] = float.NegativeInfinity;
            }
        }
    }
}
