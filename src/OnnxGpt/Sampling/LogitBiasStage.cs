namespace OnnxGpt.Sampling;

/// <summary>
/// Adds a fixed bias to the scores of chosen tokens (OpenAI's <c>logit_bias</c>). A bias of
/// <see cref="float.NegativeInfinity"/> removes the token; a large positive one all but forces it.
/// Ids outside the vocabulary are ignored.
/// </summary>
public sealed class LogitBiasStage : ISamplingStage
{
    private readonly int[] _ids;
    private readonly float[] _biases;

    /// <summary>Creates the stage.</summary>
    /// <param name="bias">The bias per token id.</param>
    /// <exception cref="ArgumentNullException"><paramref name="bias"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An id is negative, or a bias is NaN or positive infinity.</exception>
    public LogitBiasStage(IReadOnlyDictionary<int, float> bias)
    {
        ArgumentNullException.ThrowIfNull(bias);
        _ids = new int[bias.Count];
        _biases = new float[bias.Count];
        var n = 0;
        foreach (var (id, value) in bias)
        {
            if (id < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(bias), id, $"LogitBias token ids must be 0 or more, but {id} is not.");
            }

            if (float.IsNaN(value) || float.IsPositiveInfinity(value))
            {
                throw new ArgumentOutOfRangeException(nameof(bias), value, $"LogitBias for token {id} must be a finite number or negative infinity, but was {value}.");
            }

            _ids[n] = id;
            _biases[n] = value;
            n++;
        }

        Bias = bias;
    }

    /// <summary>The bias per token id.</summary>
    public IReadOnlyDictionary<int, float> Bias { get; }

    /// <inheritdoc />
    public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        for (var i = 0; i < _ids.Length; i++)
        {
            var id = _ids[i];
            if ((uint)id < (uint)logits.Length)
            {
                logits[id] += _biases[i];
            }
        }
    }
}
